"""What every ARM activity shares: a client on the process's one credential, and the JSON result envelope.

Activities return ``{"ok": true, ...}`` or ``{"ok": false, "error": {...}}`` instead of raising for service
errors, because the orchestrator only ever sees a failed activity as a plain text exception: a dict keeps the
ARM code, the correlation id and whether a retry can help. ``armCalls`` counts the HTTP requests each
activity sent, so the result record can report how polite a restore was.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from pgflex_restore.client import DataProtectionClient, make_credential
from pgflex_restore.errors import ConfigurationError, DataProtectionError, PgflexError
from pgflex_restore.settings import Settings, get_settings

log = logging.getLogger(__name__)


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


def reset_credentials() -> None:
    """Forget cached credentials and sessions (tests point the app at a fresh emulator)."""
    with _credentials_lock:
        _credentials.clear()
        for session, _ in _sessions.values():
            session.close()
        _sessions.clear()


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


def run_arm(call: Callable[[DataProtectionClient, Settings], Mapping[str, Any]]) -> dict[str, Any]:
    """Run one ARM interaction and wrap its outcome in the envelope the orchestrators expect.

    Service errors keep their ARM code and retryability; bad settings and bad input (ids, times, requests that no
    longer validate) are permanent. Only a real bug escapes as an exception (and is retried as a crash).
    """
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        return {"ok": False, "error": permanent_error("ConfigurationError", str(exc)), "armCalls": 0}
    client, counter = arm_client(settings)
    try:
        result = dict(call(client, settings))
    except DataProtectionError as exc:
        log.warning("ARM call failed: %s", exc)
        return {"ok": False, "error": exc.to_dict(), "armCalls": counter.sent}
    except (PgflexError, ValueError) as exc:
        code = str(getattr(exc, "code", "") or type(exc).__name__)
        return {"ok": False, "error": permanent_error(code, str(exc)), "armCalls": counter.sent}
    return {"ok": True, **result, "armCalls": counter.sent}


def permanent_error(code: str, message: str, advice: str = "") -> dict[str, Any]:
    """An error dict for failures that no retry can fix, shaped like DataProtectionError.to_dict()."""
    return {"type": "PermanentError", "code": code, "message": message, "advice": advice, "retryable": False}
