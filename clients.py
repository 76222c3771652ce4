"""The app's outside clients, in one place for triggers and activities alike: the ARM client on the app's
credential, and the Blob, Table and Queue clients of the drills and alerts.

Clients are process-wide and shared by concurrent invocations: one credential per identity (so azure-identity's
token cache works across calls), one pooled HTTP session per ARM endpoint (so calls reuse TLS connections), and
tables and queues created once. `reset()` forgets all of it; tests and benchmarks call it when they point the
app at a fresh emulator or Azurite.

The drill container is read with the app's own identity, except when it lives in the Functions storage account
and that account is configured by connection string (Azurite locally): then the connection string's key is the
app's credential. Tables and queues live in the Functions storage account, connected the same way the Functions
host connects (``AzureWebJobsStorage``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from requests.adapters import HTTPAdapter

from pgflex_restore.client import DataProtectionClient
from pgflex_restore.errors import ConfigurationError
from pgflex_restore.identity import make_credential
from pgflex_restore.load_client import LoadClient
from pgflex_restore.pacing import READS, Bucket, call_kind, subscription_of
from pgflex_restore.preflight_client import PreflightClient
from pgflex_restore.settings import Settings, get_settings
from pgflex_restore.storage import CONNECTION, queue_client, table_service_client
from pgflex_restore.table_rest import TableConflict, TableEndpoint, TableRest
from pgflex_restore.target_urls import normalize_container_url
from pgflex_restore.timeutil import format_datetime, parse_datetime

if TYPE_CHECKING:
    from azure.data.tables import TableClient
    from azure.storage.blob import ContainerClient
    from azure.storage.queue import QueueClient

log = logging.getLogger(__name__)

__all__ = ["alerts_queue", "app_credential", "arm_client", "container_client", "load_arm_client",
           "preflight_arm_client", "reset", "results_table", "table_if_configured", "take_arm_token"]


class _CountingAdapter(HTTPAdapter):
    """Counts the requests the current thread sent, including those that got no response.

    One adapter (and its connection pool) serves every activity, so calls to ARM reuse TLS connections; an
    activity runs on one thread from start to end, so a per-thread count is that activity's count.
    """

    def __init__(self) -> None:
        super().__init__(pool_maxsize=16)
        self._counts = threading.local()

    def start_count(self) -> None:
        self._counts.sent = 0

    @property
    def sent(self) -> int:
        return int(getattr(self._counts, "sent", 0))

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self._counts.sent = self.sent + 1
        return super().send(request, *args, **kwargs)


_sessions: dict[str, tuple[requests.Session, _CountingAdapter]] = {}
_credentials: dict[tuple[str, str | None], Any] = {}
_credentials_lock = threading.Lock()


def _credential(settings: Settings, *, fresh: bool = False) -> Any:
    """One credential per identity, so the credential's token cache works across activity calls.

    ``fresh`` replaces it: the client asks for that when ARM rejects a token as expired, and every later
    activity must use the new credential, not the cache that still holds the rejected token.
    """
    key = (settings.arm_endpoint, settings.client_id)
    with _credentials_lock:
        if fresh or key not in _credentials:
            _credentials[key] = make_credential(settings)
        return _credentials[key]


def app_credential(settings: Settings) -> Any:
    """The app's identity (the same object for every caller, so tokens are cached), for storage clients too."""
    return _credential(settings)


def _session(arm_endpoint: str) -> tuple[requests.Session, _CountingAdapter]:
    """The process's pooled session for one ARM endpoint."""
    with _credentials_lock:
        if arm_endpoint not in _sessions:
            adapter = _CountingAdapter()
            session = requests.Session()
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _sessions[arm_endpoint] = (session, adapter)
        return _sessions[arm_endpoint]


def arm_client(settings: Settings, *, now: datetime | None = None,
               reserved: bool = False) -> tuple[DataProtectionClient, _CountingAdapter]:
    """A client on the shared credential and pooled session; the adapter counts this thread's requests from now.

    With ``now`` (the orchestration's time) and a Functions storage account, every call is paced to the
    subscription's ARM token buckets, shared by every activity of the app (``take_arm_token``); ``reserved``:
    the first call has its slot already.
    """
    return _arm_client(DataProtectionClient, settings, now, reserved)


def load_arm_client(settings: Settings, *, now: datetime | None = None,
                    reserved: bool = False) -> tuple[LoadClient, _CountingAdapter]:
    """The same, for a load's calls (flexible server, loader job): same credential, session and pacing."""
    return _arm_client(LoadClient, settings, now, reserved)


def preflight_arm_client(settings: Settings, *, now: datetime | None = None,
                         reserved: bool = False) -> tuple[PreflightClient, _CountingAdapter]:
    """The same, for the pre-flight's reads (vault, storage, role assignments, the load's server)."""
    return _arm_client(PreflightClient, settings, now, reserved)


_Client = TypeVar("_Client", bound=DataProtectionClient)


def _arm_client(cls: type[_Client], settings: Settings, now: datetime | None,
                reserved: bool) -> tuple[_Client, _CountingAdapter]:
    session, adapter = _session(settings.arm_endpoint)
    adapter.start_count()
    client = cls(
        settings.arm_endpoint,
        settings.api_version,
        _credential(settings),
        session=session,
        timeout=settings.http_timeout,
        credential_factory=lambda: _credential(settings, fresh=True),
        pacer=_pacer(settings, now),
        first_call_reserved=reserved,
    )
    return client, adapter


_ensured: set[str] = set()  # tables and queues known to exist


def container_client(container_url: str) -> ContainerClient:
    """A ContainerClient for a drill container URL, authenticated as the app."""
    from azure.storage.blob import BlobServiceClient, ContainerClient

    wanted = normalize_container_url(container_url)
    connection = os.environ.get(CONNECTION)
    if connection:
        service = BlobServiceClient.from_connection_string(connection)
        name = wanted.rsplit("/", 1)[-1]
        if normalize_container_url(f"{service.url.rstrip('/')}/{name}") == wanted:
            return service.get_container_client(name)
    return ContainerClient.from_container_url(wanted, credential=app_credential(get_settings()))


def results_table(name: str) -> TableClient:
    """A table of the Functions storage account (created on first use), through the Tables SDK: drill results."""
    from azure.core.exceptions import ResourceExistsError

    service = table_service_client()
    key = f"table:{name}:{service.url}"
    if key not in _ensured:
        with contextlib.suppress(ResourceExistsError):
            service.create_table(name)
        _ensured.add(key)
    return service.get_table_client(name)


def table_if_configured(name: str) -> TableClient | None:
    """A table of the Functions storage account (created on first use), or None when no account is configured
    (a CLI run without storage): the load ledger then has nothing to read and nowhere to write."""
    return results_table(name) if _has_storage() else None


ATTEMPTS_TABLE = "restoreattempts"


def attempt_seen(key: str, kind: str = "restore") -> bool | None:
    """Record that a restore POST (or a loader job start: ``kind``) for `key` is about to be sent; whether one was
    recorded before (a re-run).

    The marker lives in the Functions storage account, beside the task hub; None when that account is not
    configured or not reachable (the caller then treats every run as a possible re-run).
    """
    if not _has_storage():
        return None
    try:
        _hot_table(ATTEMPTS_TABLE).insert({"PartitionKey": kind, "RowKey": key})
    except TableConflict:
        return True
    except Exception as exc:  # any failure only means "unknown": the caller then takes the safe path
        log.warning("restore attempt not recorded (%s); looking for the job first", exc)
        return None
    return False


STARTS_TABLE = "instancestarts"
STALE_CLAIM = timedelta(minutes=5)


def claim_start(instance_id: str) -> bool | None:
    """Claim the right to start ``instance_id``: True when this caller won, False when another start claimed it
    first, None when the Functions storage account is not configured or does not answer (the extension's own
    check is then all there is). One row per task hub and instance id, never deleted: an id runs once."""
    if not _has_storage():
        return None
    entity = {"PartitionKey": _hub(), "RowKey": instance_id, "claimedAt": format_datetime(datetime.now(UTC))}
    try:
        _hot_table(STARTS_TABLE).insert(entity)
    except TableConflict:
        return False
    except Exception as exc:
        log.warning("start of %s not claimed (%s); relying on the extension's running-instance check",
                    instance_id, exc)
        return None
    return True


def take_stale_claim(instance_id: str) -> bool:
    """Take over a claim whose start never created the instance (its host died in between) once it is older
    than STALE_CLAIM; False while it is fresh, or when another caller took it over first."""
    try:
        table = _hot_table(STARTS_TABLE)
        found = table.get(_hub(), instance_id)
        if found is None:
            return False
        entity, etag = found
        claimed_at = parse_datetime(str(entity.get("claimedAt")))
        now = datetime.now(UTC)
        if now - claimed_at < STALE_CLAIM:
            return False
        table.replace({"PartitionKey": _hub(), "RowKey": instance_id, "claimedAt": format_datetime(now)}, etag)
    except (TableConflict, ValueError):
        return False
    except Exception as exc:
        log.warning("stale start claim of %s not taken over (%s)", instance_id, exc)
        return False
    return True


def release_claim(instance_id: str) -> None:
    """Give up this caller's claim when its start failed before the instance existed: the claim is marked stale
    at once, so the retry that follows (the caller's, or the queue's) takes it over instead of answering with a
    restore that will never run."""
    try:
        table = _hot_table(STARTS_TABLE)
        found = table.get(_hub(), instance_id)
        if found is not None:
            table.replace({"PartitionKey": _hub(), "RowKey": instance_id,
                           "claimedAt": format_datetime(datetime(2000, 1, 1, tzinfo=UTC))}, found[1])
    except Exception as exc:  # the claim then goes stale by itself after STALE_CLAIM
        log.warning("start claim of %s not released (%s); a retry can take it over after %s", instance_id, exc,
                    STALE_CLAIM)


def _hub() -> str:
    return os.environ.get("TASKHUB_NAME") or "app"


def alerts_queue(name: str) -> QueueClient:
    """The alert queue (created on first use); messages are plain JSON text."""
    from azure.core.exceptions import ResourceExistsError

    client = queue_client(name)
    key = f"queue:{name}:{client.url}"
    if key not in _ensured:
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        _ensured.add(key)
    return client


BUDGET_TABLE = "armbudget"
_BUDGET_TRIES = 32  # each loss is another taker's win: more than the concurrent activities of a few workers
_hot_tables: dict[str, TableRest] = {}


def _has_storage() -> bool:
    """Is a Functions storage account configured? TableEndpoint decides, as it does for the table calls."""
    try:
        TableEndpoint.from_env(os.environ)
    except ConfigurationError:
        return False
    return True


def _pacer(settings: Settings, now: datetime | None) -> Callable[[str, str], float] | None:
    budget = settings.arm_budget
    if now is None or budget is None or not _has_storage():
        return None
    return lambda method, url: take_arm_token(method, url, now, budget)


def take_arm_token(method: str, url: str, now: datetime, budget: tuple[Bucket, Bucket]) -> float:
    """Take a token from the subscription's shared ARM bucket, or reserve the next one: the seconds until it is
    the caller's (0: call now).

    The bucket is one row per app, subscription and kind (reads/writes) in the Functions storage account, updated
    with optimistic concurrency so concurrent activities on any number of workers share it. The pacer never
    stops a call by failing itself: when storage does not answer the call goes, and when the row stays contended
    (as many takers as tries won the race before this one) it waits one refill interval.
    """
    subscription = subscription_of(url)
    if subscription is None:
        return 0.0
    kind = call_kind(method)
    bucket = budget[0] if kind == READS else budget[1]
    # One budget per app: its task hub names it (apps sharing an identity could share one; tests on virtual
    # clocks must not).
    partition = f"{_hub()}-{subscription}"
    try:
        table = _hot_table(BUDGET_TABLE)
        for _ in range(_BUDGET_TRIES):
            found = table.get(partition, kind)
            arrival, wait = bucket.reserve(parse_datetime(found[0]["arrival"]) if found else None, now)
            entity = {"PartitionKey": partition, "RowKey": kind, "arrival": format_datetime(arrival)}
            try:
                if found:
                    table.replace(entity, found[1])
                else:
                    table.insert(entity)
            except TableConflict:
                continue  # another activity took a token (or made the row) meanwhile: read it again
            return wait
        log.info("ARM budget row %s/%s stayed contended; the call waits one interval", subscription, kind)
        return bucket.interval.total_seconds()
    except Exception as exc:  # the pacer is an optimisation: it never fails the ARM call it guards
        log.warning("ARM budget not consulted (%s: %s); sending the call unpaced", type(exc).__name__, exc)
    return 0.0


def _hot_table(name: str) -> TableRest:
    """A table read or written on every ARM call's path: plain HTTP on one pooled session (table_rest.py says
    why not the SDK), one client per storage account and table."""
    endpoint = TableEndpoint.from_env(os.environ)
    with _credentials_lock:
        key = f"{endpoint.url}/{name}"
        if key not in _hot_tables:
            session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_maxsize=16))
            session.mount("https://", HTTPAdapter(pool_maxsize=16))
            _hot_tables[key] = TableRest(endpoint, name, session)
        return _hot_tables[key]


def reset() -> None:
    """Forget every cached client: credentials, ARM sessions, and which tables and queues exist."""
    with _credentials_lock:
        _credentials.clear()
        for session, _ in _sessions.values():
            session.close()
        _sessions.clear()
        _ensured.clear()
        for table in _hot_tables.values():
            table.session.close()
        _hot_tables.clear()
