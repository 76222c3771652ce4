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
import os
import threading
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

from pgflex_restore.client import DataProtectionClient, make_credential
from pgflex_restore.settings import Settings, get_settings
from pgflex_restore.storage import CONNECTION, queue_client, table_service_client
from pgflex_restore.target_urls import normalize_container_url

if TYPE_CHECKING:
    from azure.data.tables import TableClient
    from azure.storage.blob import ContainerClient
    from azure.storage.queue import QueueClient

__all__ = ["alerts_queue", "app_credential", "arm_client", "container_client", "reset", "results_table"]


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
    """One credential per identity, so azure-identity's token cache works across activity calls.

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


def arm_client(settings: Settings) -> tuple[DataProtectionClient, _CountingAdapter]:
    """A client on the shared credential and pooled session; the adapter counts this thread's requests from now."""
    session, adapter = _session(settings.arm_endpoint)
    adapter.start_count()
    client = DataProtectionClient(
        settings.arm_endpoint,
        settings.api_version,
        _credential(settings),
        session=session,
        timeout=settings.http_timeout,
        credential_factory=lambda: _credential(settings, fresh=True),
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
    """A table of the Functions storage account (created on first use): drill results, restore attempts."""
    from azure.core.exceptions import ResourceExistsError

    service = table_service_client()
    key = f"table:{name}:{service.url}"
    if key not in _ensured:
        with contextlib.suppress(ResourceExistsError):
            service.create_table(name)
        _ensured.add(key)
    return service.get_table_client(name)


ATTEMPTS_TABLE = "restoreattempts"


def attempt_seen(key: str) -> bool | None:
    """Record that a restore POST for `key` is about to be sent; whether one was recorded before (a re-run).

    The marker lives in the Functions storage account, beside the task hub; None when that account is not
    configured or not reachable (the caller then treats every run as a possible re-run).
    """
    import logging
    import os

    from azure.core.exceptions import ResourceExistsError

    if not os.environ.get(CONNECTION) and not os.environ.get(f"{CONNECTION}__accountName"):
        return None
    try:
        table = results_table(ATTEMPTS_TABLE)
        try:
            table.create_entity({"PartitionKey": "restore", "RowKey": key})
        except ResourceExistsError:
            return True
        return False
    except Exception as exc:  # any failure only means "unknown": the caller then takes the safe path
        logging.getLogger(__name__).warning("restore attempt not recorded (%s); looking for the job first", exc)
        return None


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


def reset() -> None:
    """Forget every cached client: credentials, ARM sessions, and which tables and queues exist."""
    with _credentials_lock:
        _credentials.clear()
        for session, _ in _sessions.values():
            session.close()
        _sessions.clear()
        _ensured.clear()
