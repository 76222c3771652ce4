"""NOTIFY_TARGETS: where restores and drills report that they started or ended, checked strictly at start-up.

A webhook URL is a secret (Teams and Slack URLs in full: whoever has one can post to the channel; a generic
webhook's path and query often hold a token), and app settings are echoed into logs when they are wrong. So no
error here ever repeats a URL: problems name the entry by its index and type only. Orchestrations never see the
URL either: they get `snapshot` (index, ``<type> <host>`` label, a digest to notice a changed setting), and the
delivery activity reads the URL from the settings by index.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pgflex_restore.target_urls import is_loopback_host

TYPES = ("webhook", "teams", "slack", "eventgrid")
EVENTS = ("started", "ended")
KINDS = ("restore", "drill")
DEFAULT_EVENTS = ("ended",)
MAX_TARGETS = 20
MAX_URL_CHARS = 2048
# Event Grid custom topics publish at <topic>.<region>-1.eventgrid.azure.net/api/events.
EVENTGRID_PATH = "/api/events"
_KEYS = {"type", "url", "endpoint", "events", "on"}


@dataclass(frozen=True)
class NotifyTarget:
    """One configured receiver. ``url`` is the secret part and stays out of every repr, log and record."""

    type: str
    url: str = field(repr=False)
    events: tuple[str, ...] = DEFAULT_EVENTS
    on: tuple[str, ...] = KINDS

    @property
    def host(self) -> str:
        """The host (and an explicit port): what a record and a log line may say about the target."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return f"{host}:{parts.port}" if parts.port else host

    @property
    def label(self) -> str:
        """``<type> <host>``, e.g. ``teams prod-12.westus.logic.azure.com``."""
        return f"{self.type} {self.host}"

    @property
    def digest(self) -> str:
        """A short fingerprint of the whole entry: a delivery notices when the entry at its index was changed since
        the restore started (a SHA-256 prefix reveals nothing of a URL that is worth keeping secret)."""
        text = json.dumps([self.type, self.url, list(self.events), list(self.on)], separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_notify_targets(text: str) -> tuple[NotifyTarget, ...]:
    """The targets of a NOTIFY_TARGETS value; ValueError naming every bad entry by index (never by URL)."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        reason = getattr(exc, "msg", "invalid JSON")
        raise ValueError(f"not valid JSON ({reason}); expected a list such as "
                         '[{"type": "webhook", "url": "https://..."}]') from None
    if not isinstance(raw, list):
        raise ValueError(f"expected a JSON list of targets, got a JSON {_json_type(raw)}")
    if len(raw) > MAX_TARGETS:
        raise ValueError(f"at most {MAX_TARGETS} targets, got {len(raw)}")
    problems: list[str] = []
    targets: list[NotifyTarget] = []
    for index, entry in enumerate(raw):
        try:
            targets.append(_target(entry))
        except ValueError as exc:
            kind = entry.get("type") if isinstance(entry, dict) and entry.get("type") in TYPES else None
            problems.append(f"entry {index}{f' ({kind})' if kind else ''}: {exc}")
    seen: dict[tuple[str, str], int] = {}
    for index, target in enumerate(targets if not problems else ()):
        key = (target.type, target.url)
        if key in seen:
            problems.append(f"entry {index} ({target.type}): the same target as entry {seen[key]}")
        seen.setdefault(key, index)
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(targets)


def snapshot(targets: tuple[NotifyTarget, ...], kind: str) -> list[dict[str, Any]]:
    """What an orchestration of ``kind`` (restore or drill) is told about its targets: no URL, only the index,
    the label, the digest and the events wanted. Taken when it starts, as every other setting is."""
    return [{"index": index, "label": t.label, "digest": t.digest, "events": list(t.events)}
            for index, t in enumerate(targets) if kind in t.on]


def _target(entry: object) -> NotifyTarget:
    if not isinstance(entry, dict):
        raise ValueError(f"expected an object, got a JSON {_json_type(entry)}")
    unknown = sorted(str(k) for k in entry if k not in _KEYS)
    if unknown:
        raise ValueError(f"unknown keys {unknown}; allowed: {sorted(_KEYS)}")
    kind = entry.get("type")
    if kind not in TYPES:
        shown = repr(kind) if isinstance(kind, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", kind) else "given"
        raise ValueError(f"type {shown} is not one of {', '.join(TYPES)}")
    key, other = ("endpoint", "url") if kind == "eventgrid" else ("url", "endpoint")
    if other in entry:
        raise ValueError(f"type {kind} takes {key!r}, not {other!r}")
    if key not in entry:
        raise ValueError(f"{key!r} is required")
    url = _url(entry[key], key, eventgrid=kind == "eventgrid")
    events = _choices(entry, "events", EVENTS, DEFAULT_EVENTS)
    on = _choices(entry, "on", KINDS, KINDS)
    return NotifyTarget(kind, url, events, on)


def _url(value: object, key: str, *, eventgrid: bool) -> str:
    """Checks a target URL; messages describe what is wrong, never the URL itself."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key!r} must be a non-empty string")
    text = value.strip()
    if len(text) > MAX_URL_CHARS:
        raise ValueError(f"{key!r} is longer than {MAX_URL_CHARS} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F or ord(c) > 0x7E for c in text):
        raise ValueError(f"{key!r} holds spaces, control or non-ASCII characters (percent-encode them)")
    try:
        parts = urlsplit(text)
        _ = parts.port
    except ValueError:
        raise ValueError(f"{key!r} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{key!r} must be an https:// URL with a host")
    if scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(f"{key!r} must use https (plain http only for loopback hosts)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{key!r} must not carry user credentials (user:password@)")
    if parts.fragment:
        raise ValueError(f"{key!r} must not have a #fragment")
    if eventgrid:
        if parts.path.rstrip("/") != EVENTGRID_PATH:
            raise ValueError(f"'endpoint' must be the topic endpoint, ending in {EVENTGRID_PATH} "
                             "(https://<topic>.<region>-1.eventgrid.azure.net/api/events)")
        if parts.query and any(not p.startswith("api-version=") for p in parts.query.split("&")):
            raise ValueError("'endpoint' takes no query except api-version (the app authenticates with its "
                             "managed identity, never a key)")
    return text


def _choices(entry: dict[str, Any], key: str, allowed: tuple[str, ...], default: tuple[str, ...]) -> tuple[str, ...]:
    if key not in entry:
        return default
    value = entry[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key!r} must be a non-empty list drawn from {list(allowed)}")
    bad = [v for v in value if v not in allowed]
    if bad:
        raise ValueError(f"{key!r}: {len(bad)} value(s) not among {list(allowed)}")
    if len(set(value)) != len(value):
        raise ValueError(f"{key!r} lists a value twice")
    return tuple(v for v in allowed if v in value)


def _json_type(value: object) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")
