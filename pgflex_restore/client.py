"""The Microsoft.DataProtection REST client: one method per call the restore flow makes, nothing more.

It sends one request (plus at most one retry after a rejected token), parses the answer and returns it with the
headers the orchestrator needs. It never sleeps and never polls: waiting is the orchestrator's job (durable
timers). Status and result URLs from response headers are sent exactly as received, and only to the exact
origin (scheme, host, port) of the ARM endpoint the client was configured with (arm_url.check_arm_url), so the
bearer token never leaves ARM. Tokens and query strings are never logged.
"""

from __future__ import annotations

import base64
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from . import telemetry
from .arm_url import OffArmUrl, check_arm_url, parse_origin, shown
from .cloud_error import header, parse_cloud_error
from .errors import DataProtectionError, PacedError, TransportError
from .ids import BackupInstanceId, VaultId, job_guid
from .jobs import Job, parse_job
from .lro import AsyncOperation, OperationPoll, OperationResultPoll
from .pacing import call_kind, subscription_of
from .parsing import (
    BackupInstance,
    RecoveryPoint,
    parse_backup_instance,
    parse_operation_result,
    parse_operation_status,
    parse_recovery_point,
)
from .point_scan import PointScan
from .target_urls import without_query
from .timeutil import format_filter_datetime

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


__all__ = [
    "AsyncOperation",
    "DataProtectionClient",
    "OperationPoll",
    "OperationResultPoll",
]

logger = logging.getLogger(__name__)

_TOKEN_REJECTED = re.compile(r"expired|invalid\w*token|token\w*invalid", re.IGNORECASE)
_CLAIMS = re.compile(r'claims="([^"]+)"', re.IGNORECASE)
_PATH_SAFE = "/-._~:@!$&'()*+,;="
_MAX_PAGES = 10_000


def _challenge_claims(response: requests.Response) -> str | None:
    """The decoded ``claims`` of a CAE challenge in WWW-Authenticate, if any (ARM sends it base64url)."""
    found = _CLAIMS.search(header(response.headers, "WWW-Authenticate") or "")
    if not found:
        return None
    raw = found.group(1)
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return raw


def _never_sent(exc: BaseException) -> bool:
    """True only when the request certainly did not reach the server (connect refused / timed out, TLS)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return True
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        if isinstance(item, NewConnectionError | ConnectTimeoutError):
            return True
        if isinstance(item, BaseException):
            stack.extend([getattr(item, "reason", None), item.__cause__, item.__context__, *item.args])
    return False


class _Bearer(requests.auth.AuthBase):
    """The token as the request's auth, not a plain header: with no auth set, requests puts a ``.netrc`` login
    for the host in its place (``trust_env``), and the ARM call would go out with someone's Basic credentials."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class DataProtectionClient:
    """Calls Microsoft.DataProtection for one ARM endpoint and api-version; every method raises typed errors.

    :param credential: any azure-core TokenCredential (identity.make_credential builds the app's); tokens are
        requested for ``{arm_endpoint}/.default``.
    :param credential_factory: builds a fresh credential when ARM rejects a token as expired/invalid
        (a new credential has an empty cache, so the retry really gets a new token).
    :param timeout: ``(connect, read)`` seconds for every request.
    :param pacer: asked ``(method, url)`` before each request; a positive answer is the seconds until the
        slot it reserved in the subscription's token bucket, and the request is not sent (PacedError).
    :param first_call_reserved: the first request already has its slot (reserved by the attempt before, which
        waited for it), so it goes without asking the pacer.
    """

    def __init__(
        self,
        arm_endpoint: str,
        api_version: str,
        credential: TokenCredential,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (10, 60),
        credential_factory: Callable[[], TokenCredential] | None = None,
        pacer: Callable[[str, str], float] | None = None,
        first_call_reserved: bool = False,
    ) -> None:
        self.arm_endpoint = arm_endpoint.rstrip("/")
        try:
            self._arm = parse_origin(self.arm_endpoint)
        except OffArmUrl as exc:
            raise ValueError(f"arm_endpoint {shown(arm_endpoint)!r} is not usable: {exc}") from None
        self.api_version = api_version
        self.scope = f"{self.arm_endpoint}/.default"
        self.timeout = timeout
        self._credential = credential
        self._credential_factory = credential_factory
        self._pacer = pacer
        self._prepaid: set[tuple[str, str]] = set()
        self._first_reserved = first_call_reserved
        self._session = session or requests.Session()

    @property
    def session(self) -> requests.Session:
        """The requests session (callers that passed one in may close it themselves)."""
        return self._session

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    # -- plumbing -------------------------------------------------------------------------------------------

    def _url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        params = {"api-version": self.api_version, **(query or {})}
        encoded = "&".join(f"{key}={quote(value, safe='')}" for key, value in params.items())
        return f"{self.arm_endpoint}{quote(path, safe=_PATH_SAFE)}?{encoded}"

    def _token(self, *, fresh: bool = False, claims: str | None = None) -> str:
        """A bearer token; ``fresh`` rebuilds the credential (empty cache) or, without a factory, asks again
        passing the challenge's claims, which makes azure-identity bypass its cache."""
        if fresh and self._credential_factory is not None:
            self._credential = self._credential_factory()
        try:
            if claims:
                return self._credential.get_token(self.scope, claims=claims).token
            return self._credential.get_token(self.scope).token
        except DataProtectionError:
            raise  # the app's own credential already says what is wrong, and whether a retry can help
        except Exception as exc:
            raise TransportError(
                f"could not get a token for {self.scope}: {type(exc).__name__}: {exc}",
                request_sent=False,
                advice="check the Function App's managed identity (AZURE_CLIENT_ID) or the local Azure login",
            ) from exc

    def _send(self, method: str, url: str, body: Mapping[str, Any] | None = None) -> requests.Response:
        """Every request goes through here, so every URL (built or from a response) passes the one check."""
        try:
            check_arm_url(url, self._arm)
        except OffArmUrl as exc:  # never sent at all, not even without the token
            raise DataProtectionError(
                f"refusing to send the ARM token to {shown(url)}: {exc} ({self.arm_endpoint})",
                advice=f"the service answered with a URL off ARM (refused for its {exc.part}); check ARM_ENDPOINT",
            ) from None
        if (method, url) in self._prepaid:
            self._prepaid.discard((method, url))
        else:
            self._pace(method, url)
        response = self._send_once(method, url, body, self._token())
        if response.status_code == 401 and self._token_rejected(response):
            logger.info("ARM rejected the token as expired/invalid; retrying once with a fresh token")
            token = self._token(fresh=True, claims=_challenge_claims(response))
            response = self._send_once(method, url, body, token)
        return response

    def _pace(self, method: str, url: str) -> None:
        if self._first_reserved:
            self._first_reserved = False
            return
        if self._pacer is not None:
            wait = self._pacer(method, url)
            if wait > 0:
                raise PacedError(call_kind(method), subscription_of(url) or "(none)", wait)

    def _send_once(self, method: str, url: str, body: Mapping[str, Any] | None, token: str) -> requests.Response:
        headers = {"x-ms-client-request-id": str(uuid.uuid4()), "Accept": "application/json"}
        prepared = self._session.prepare_request(requests.Request(method, url, headers=headers, json=body,
                                                                  auth=_Bearer(token)))
        prepared.url = url  # exactly as received or built: no re-quoting by requests
        env = self._session.merge_environment_settings(url, {}, None, None, None)
        try:
            response = self._session.send(prepared, timeout=self.timeout, allow_redirects=False, **env)
        except requests.RequestException as exc:
            telemetry.arm_call(method, url, None)
            sent = not _never_sent(exc)
            raise TransportError(
                f"{method} {without_query(url)} got no response ({type(exc).__name__}); "
                f"{'the server may have received it' if sent else 'it was not sent'}",
                request_sent=sent,
            ) from exc
        telemetry.arm_call(method, url, response.status_code)
        logger.debug(
            "%s %s -> %s client-request-id=%s request-id=%s correlation-id=%s",
            method, without_query(url), response.status_code, headers["x-ms-client-request-id"],
            header(response.headers, "x-ms-request-id"), header(response.headers, "x-ms-correlation-request-id"),
        )
        return response

    @staticmethod
    def _token_rejected(response: requests.Response) -> bool:
        error = parse_cloud_error(401, response.content, response.headers)
        challenge = header(response.headers, "WWW-Authenticate") or ""
        return bool(_TOKEN_REJECTED.search(error.code)) or any(
            marker in challenge for marker in ("invalid_token", "insufficient_claims")
        )

    @staticmethod
    def _check(response: requests.Response, ok: tuple[int, ...] = (200,)) -> None:
        if response.status_code not in ok:
            raise parse_cloud_error(response.status_code, response.content, response.headers)

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        if not response.content.strip():
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            raise DataProtectionError(
                f"HTTP {response.status_code} with a body that is not JSON", retryable=True,
                advice="the service answered garbage; the call is retried",
            ) from exc
        if not isinstance(data, dict):
            raise DataProtectionError(f"HTTP {response.status_code} body is not a JSON object", retryable=True)
        return data

    def _pages(self, url: str, *, enough: Callable[[list[dict[str, Any]]], bool] | None = None) -> list[dict[str, Any]]:
        """Every item of a paged list; stops early once ``enough(page_items)`` says the rest cannot matter."""
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        next_url: str | None = url
        while next_url:
            values, link = self._page(next_url, seen)
            items.extend(values)
            next_url = link if not (enough and enough(values)) else None
        return items

    def _page(self, url: str, seen: set[str]) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a list: its items and its nextLink (None at the end); ``seen`` catches paging loops."""
        if url in seen or len(seen) >= _MAX_PAGES:
            raise DataProtectionError(f"paging loop at {shown(url)}: the same nextLink came back")
        seen.add(url)
        response = self._send("GET", url)
        self._check(response)
        page = self._json(response)
        link = page.get("nextLink")
        values = [v for v in page.get("value") or [] if isinstance(v, dict)]
        return values, link if isinstance(link, str) and link else None

    def _lro(self, url: str, body: Mapping[str, Any]) -> AsyncOperation:
        response = self._send("POST", url, body)
        self._check(response, (200, 201, 202, 204))
        headers = response.headers
        done = response.status_code != 202
        job_id = None
        if done:
            try:
                job_id = parse_operation_result(self._json(response))
            except DataProtectionError:  # accepted all the same: never raise a retryable error after a 2xx POST
                logger.warning("%s answered %s with an unreadable body; the job must be looked up",
                               without_query(url), response.status_code)
        return AsyncOperation(
            status_url=header(headers, "Azure-AsyncOperation"),
            result_url=header(headers, "Location"),
            retry_after=header(headers, "Retry-After"),
            job_id=job_id,
            done=done,
            request_id=header(headers, "x-ms-request-id"),
            correlation_id=header(headers, "x-ms-correlation-request-id"),
        )

    # -- the REST calls -------------------------------------------------------------------------------------

    def _recovery_points_url(self, bi: BackupInstanceId, start: datetime | None, end: datetime | None) -> str:
        clauses = []
        if start is not None:
            clauses.append(f"startDate eq '{format_filter_datetime(start)}'")
        if end is not None:
            clauses.append(f"endDate eq '{format_filter_datetime(end)}'")
        query = {"$filter": " and ".join(clauses)} if clauses else None
        return self._url(f"{bi.path}/recoveryPoints", query)

    def _parse_points(self, bi: BackupInstanceId, items: list[dict[str, Any]]) -> list[RecoveryPoint]:
        """Points the service lists without a time are skipped (logged): they cannot be chosen."""
        points = []
        for item in items:
            try:
                points.append(parse_recovery_point(item))
            except ValueError as exc:
                logger.warning("skipping an unusable recovery point of %s: %s", bi, exc)
        return points

    def list_recovery_points(
        self, bi: BackupInstanceId, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[RecoveryPoint]:
        """RecoveryPoints_List, every page; ``start``/``end`` (aware) become the CLI-style ``$filter``.

        :raises ApiError: an error response. :raises TransportError: no response.
        """
        return self._parse_points(bi, self._pages(self._recovery_points_url(bi, start, end)))

    def scan_recovery_points(self, bi: BackupInstanceId, scan: PointScan) -> PointScan:
        """RecoveryPoints_List window by window and page by page until ``scan`` has what it needs.

        The scan is updated after every page, so when a page fails (the exception propagates) it holds the
        nextLink reached: passing it back in resumes there. :raises ApiError, TransportError:
        """
        seen: set[str] = set()
        while not scan.finished:
            values, link = self._page(scan.next_link or self._recovery_points_url(bi, *scan.window_bounds()), seen)
            scan.feed(self._parse_points(bi, values), link)
        return scan

    def get_recovery_point(self, bi: BackupInstanceId, recovery_point_id: str) -> RecoveryPoint:
        """RecoveryPoints_Get: one point by its name (the last segment of a full ARM id is taken).

        :raises ApiError: 404 when the instance has no such point. :raises TransportError:
        """
        name = recovery_point_id.rstrip("/").rsplit("/", 1)[-1]
        response = self._send("GET", self._url(f"{bi.path}/recoveryPoints/{name}"))
        self._check(response)
        return parse_recovery_point(self._json(response))

    def validate_restore(self, bi: BackupInstanceId, restore_body: Mapping[str, Any]) -> AsyncOperation:
        """BackupInstances_ValidateForRestore with the body wrapped as ValidateRestoreRequestObject.

        ``restore_body`` is the unwrapped restore body (it is wrapped here unless already wrapped).
        A 202 without Azure-AsyncOperation and Location returns both URLs None: look for the outcome elsewhere.
        :raises ApiError, TransportError:
        """
        wrapped = restore_body if "restoreRequestObject" in restore_body else {"restoreRequestObject": restore_body}
        return self._lro(self._url(f"{bi.path}/validateRestore"), wrapped)

    def pace_restore(self, bi: BackupInstanceId) -> None:
        """Take the token for the restore POST now (PacedError when there is none), before anything is recorded
        about the attempt; ``trigger_restore`` then sends without asking the pacer again."""
        url = self._url(f"{bi.path}/restore")
        self._pace("POST", url)
        self._prepaid.add(("POST", url))

    def trigger_restore(self, bi: BackupInstanceId, restore_body: Mapping[str, Any]) -> AsyncOperation:
        """BackupInstances_TriggerRestore. Not retried here: a TransportError with ``request_sent`` means the
        restore may have started, so look for its job (``list_jobs``) before posting again.

        :raises ApiError, TransportError:
        """
        return self._lro(self._url(f"{bi.path}/restore"), restore_body)

    def get_operation_status(self, status_url: str) -> OperationPoll:
        """GET the Azure-AsyncOperation URL exactly as received. :raises ApiError, TransportError:"""
        response = self._send("GET", status_url)
        self._check(response, (200, 202))
        return OperationPoll(parse_operation_status(self._json(response)), header(response.headers, "Retry-After"))

    def get_operation_result(self, result_url: str) -> OperationResultPoll:
        """GET the Location URL exactly as received: 202 = still running. :raises ApiError, TransportError:"""
        response = self._send("GET", result_url)
        self._check(response, (200, 202, 204))
        retry_after = header(response.headers, "Retry-After")
        if response.status_code == 202:
            return OperationResultPoll(done=False, job_id=None, retry_after=retry_after)
        return OperationResultPoll(True, parse_operation_result(self._json(response)), retry_after)

    def get_job(self, vault: VaultId, job_id: str) -> Job:
        """Jobs_Get; ``job_id`` may be a full ARM id or the bare GUID. :raises ApiError, TransportError:"""
        response = self._send("GET", self._url(f"{vault.path}/backupJobs/{job_guid(job_id)}"))
        self._check(response)
        return parse_job(self._json(response))

    def list_jobs(self, vault: VaultId, *, started_since: datetime | None = None) -> list[Job]:
        """Jobs_List, every page; with ``started_since``, paging stops at a page whose jobs, listed newest first,
        all started before it (Jobs_List has no filter, and a busy vault holds thousands of jobs); a page in any
        other order never stops it. :raises ApiError, TransportError:"""
        def older_page(values: list[dict[str, Any]]) -> bool:
            starts = [job.start_time for job in map(parse_job, values)]
            if started_since is None or not starts or any(t is None for t in starts):
                return False
            known = [t for t in starts if t is not None]
            return all(a >= b for a, b in pairwise(known)) and known[0] < started_since

        pages = self._pages(self._url(f"{vault.path}/backupJobs"), enough=older_page)
        return [parse_job(item) for item in pages]

    def list_backup_instances(self, vault: VaultId) -> list[BackupInstance]:
        """BackupInstances_List, every page. :raises ApiError, TransportError:"""
        return [parse_backup_instance(i) for i in self._pages(self._url(f"{vault.path}/backupInstances"))]
