"""List responses: ``{"value": [...], "nextLink": absolute URL with $skipToken}``, and the recovery point $filter."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from .clock import parse_time
from .errors import ArmError

_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ge|gt|le|lt)\s+(?:'([^']*)'|(\w+))\s*$", re.IGNORECASE)
T = TypeVar("T")
FILTER_FIELDS = ("startDate", "endDate", "isVisible", "restorePointDataStoreId", "extendedInfo", "restorePointState")


def page(items: Sequence[T], query: dict[str, str], base: str, path: str, size: int, *,
         render: Callable[[T], dict[str, Any]] | None = None) -> dict[str, Any]:
    """One page of ``items`` from the request's $skipToken, with a nextLink while more remain; only the page's
    items are rendered, so a page costs the same however long the list is."""
    offset = _offset(query.get("$skipToken"))
    window = items[offset : offset + size]
    body: dict[str, Any] = {"value": [render(item) for item in window] if render else list(window)}
    if offset + size < len(items):
        params = {k: v for k, v in query.items() if k != "$skipToken"}
        params["$skipToken"] = _token(offset + size)
        encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        body["nextLink"] = f"{base}{path}?{encoded}"
    return body


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"skip": offset}).encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = int(value["skip"])
        if offset < 0:
            raise ValueError(offset)
        return offset
    except (ValueError, KeyError, TypeError) as exc:
        raise ArmError(400, "InvalidSkipToken", f"The $skipToken '{token}' is not valid.") from exc


def parse_filter(text: str | None) -> dict[str, tuple[str, str]]:
    """Parse ``startDate eq '...' and endDate eq '...'`` (the CLI's form) into field -> (op, value)."""
    if not text or not text.strip():
        return {}
    result: dict[str, tuple[str, str]] = {}
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(clause)
        if not match:
            raise ArmError(400, "UserErrorInvalidFilter", f"The $filter clause '{clause}' is not valid; "
                           "use e.g. startDate eq '2024-01-31T00:00:00.0000000Z' and endDate eq '...'.",
                           target="$filter")
        name, op, quoted, bare = match.groups()
        field = next((f for f in FILTER_FIELDS if f.lower() == name.lower()), None)
        if field is None:
            raise ArmError(400, "UserErrorInvalidFilter",
                           f"'{name}' is not a filterable property; use one of {', '.join(FILTER_FIELDS)}.",
                           target="$filter")
        result[field] = (op.lower(), quoted if quoted is not None else bare)
    return result


def time_window(filters: dict[str, tuple[str, str]]) -> tuple[datetime | None, datetime | None]:
    """The (start, end) bounds the filter asks for; bad timestamps are a 400."""
    bounds: list[datetime | None] = []
    for field in ("startDate", "endDate"):
        if field not in filters:
            bounds.append(None)
            continue
        try:
            bounds.append(parse_time(filters[field][1]))
        except ValueError as exc:
            raise ArmError(400, "UserErrorInvalidFilter",
                           f"'{filters[field][1]}' is not a valid {field}.", target="$filter") from exc
    return bounds[0], bounds[1]
