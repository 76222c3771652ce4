"""Sending one notification: one POST and what its answer means (policy.py decides the next attempt).

The POST goes through ``http.client``, not ``requests``: urllib3 logs every request line (path and query
included) at DEBUG, and a webhook's path and query are its secret. Nothing here puts the URL into an exception,
a log line or a result; an answer's body excerpt is kept only with the URL's parts taken out (`redact`).
Redirects are not followed: a receiver that moved must be reconfigured, not guessed at.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pgflex_restore.errors import NotificationError

from .policy import is_retryable, retry_after_seconds

TIMEOUT_SECONDS = 15.0
MAX_EXCERPT_CHARS = 200
_READ_BYTES = 4096
EVENTGRID_SCOPE = "https://eventgrid.azure.net/.default"
EVENTGRID_API_VERSION = "2018-01-01"


@dataclass(frozen=True)
class Answer:
    """The receiver's answer: status, Retry-After header (raw), and the start of the body."""

    status: int
    retry_after: str | None
    body: str


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = TIMEOUT_SECONDS) -> Answer:
    """POST ``body``; NotificationError (retryable) when no answer came. The error text names no URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(host, parts.port, timeout=timeout,
                                                 context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers={**headers, "Content-Length": str(len(body))})
        response = connection.getresponse()
        text = response.read(_READ_BYTES).decode("utf-8", "replace")
        return Answer(response.status, response.getheader("Retry-After"), text)
    except (OSError, http.client.HTTPException) as exc:
        raise NotificationError(f"no answer ({_what_failed(exc, timeout)})", retryable=True) from None
    finally:
        connection.close()


def outcome(answer: Answer, url: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The activity's result for an answer: delivered (2xx), or why not and whether another attempt may help."""
    if 200 <= answer.status < 300:
        return {"delivered": True, "status": answer.status, "retryable": False, "retryAfter": None, "error": None}
    retryable = is_retryable(answer.status)
    said = redact(" ".join(answer.body.split()), url)[:MAX_EXCERPT_CHARS]
    if 300 <= answer.status < 400:
        said = "redirects are not followed; configure the URL the receiver redirects to"
    error = f"HTTP {answer.status}{f': {said}' if said else ''}"
    return {"delivered": False, "status": answer.status, "retryable": retryable, "error": error,
            "retryAfter": retry_after_seconds(answer.retry_after, now=now) if retryable else None}


def failure(exc: NotificationError) -> dict[str, Any]:
    """The activity's result when no answer came (or none could be asked for)."""
    return {"delivered": False, "status": exc.status, "retryable": exc.retryable, "retryAfter": None,
            "error": str(exc)}


def eventgrid_url(endpoint: str) -> str:
    """The topic endpoint with the api-version Event Grid requires (unless the setting names one)."""
    if "api-version=" in (urlsplit(endpoint).query or ""):
        return endpoint
    return f"{endpoint}{'&' if '?' in endpoint else '?'}api-version={EVENTGRID_API_VERSION}"


def redact(text: str, url: str) -> str:
    """``text`` without the URL or any of its secret parts (path, query, their longer pieces), raw or decoded."""
    parts = urlsplit(url)
    pieces = {url, parts.path, parts.query, f"{parts.path}?{parts.query}"}
    pieces.update(segment for segment in parts.path.split("/") if len(segment) >= 6)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        pieces.update(p for p in (value, f"{name}={value}") if len(p) >= 6)
    pieces.update({unquote(p) for p in pieces})
    for piece in sorted((p for p in pieces if len(p) > 1), key=len, reverse=True):
        text = text.replace(piece, "***")
    return text


def _what_failed(exc: BaseException, timeout: float) -> str:
    """The kind of failure only: socket and TLS errors can quote the host, never the path, but keep it short."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or type(exc).__name__}"
    return type(exc).__name__
