"""Turn an HTTP error response (ARM ``CloudError`` or anything else a proxy sends) into a typed ApiError."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import ApiError, api_error_class

_MAX_TEXT = 500  # a proxy's HTML error page is not a message anyone should read in full


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works on plain dicts too."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _decode(body: bytes | str | Mapping[str, Any] | None) -> tuple[Mapping[str, Any] | None, str]:
    if body is None:
        return None, ""
    if isinstance(body, Mapping):
        return body, ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        return None, text.strip()
    return (parsed, "") if isinstance(parsed, Mapping) else (None, text.strip())


def parse_cloud_error(
    status: int, body: bytes | str | Mapping[str, Any] | None, headers: Mapping[str, str]
) -> ApiError:
    """Build the right ApiError subclass; non-JSON bodies become the message (truncated)."""
    parsed, text = _decode(body)
    error: Mapping[str, Any] = {}
    if parsed is not None:
        inner = parsed.get("error")
        if isinstance(inner, str):  # OAuth-style {"error": "invalid_token", "error_description": ...}
            error = {"code": inner, "message": parsed.get("error_description") or parsed.get("message") or inner}
        else:
            error = inner if isinstance(inner, Mapping) else parsed
    code = error.get("code")
    message = error.get("message")
    details = error.get("details")
    target = error.get("target")
    return api_error_class(status)(
        status=status,
        code=str(code) if code else f"HTTP{status}",
        message=str(message) if message else (text[:_MAX_TEXT] or f"HTTP {status} with no error body"),
        target=str(target) if target else None,
        details=[dict(d) for d in details if isinstance(d, Mapping)] if isinstance(details, list) else [],
        request_id=header(headers, "x-ms-request-id"),
        correlation_id=header(headers, "x-ms-correlation-request-id"),
        retry_after=header(headers, "Retry-After"),
    )
