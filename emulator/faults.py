"""Injected faults (429, 5xx, dropped connections, slow answers, operation URLs on another host) and ARM's
per-subscription token buckets."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .scenario import Throttle

FAULT_KINDS = ("status", "drop", "drop-after-processing", "delay", "foreign-operation-url")
# The headers of a 202 that a foreign-operation-url fault moves to another host (Azure-AsyncOperation by default).
OPERATION_HEADERS = ("Azure-AsyncOperation", "Location")
_DEFAULT_CODES = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
                  503: "ServiceUnavailable", 504: "GatewayTimeout"}


@dataclass
class Fault:
    """Applies to the next ``count`` requests whose method and path match."""

    kind: str
    count: int = 1
    status: int = 503
    code: str | None = None
    message: str | None = None
    retry_after: int | None = None
    delay_seconds: float = 0.0
    method: str | None = None
    path: str | None = None  # regular expression searched in the request path
    query: str | None = None  # regular expression searched in the decoded query string (e.g. "skipToken")
    url: str | None = None  # foreign-operation-url: the origin (scheme://host[:port]) the operation URLs point to
    headers: tuple[str, ...] = ("Azure-AsyncOperation",)  # foreign-operation-url: which headers to move
    hits: int = 0

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> Fault:
        """Build from the control API's JSON (camelCase keys)."""
        kind = str(raw.get("kind", "status"))
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        status = int(raw.get("status", 429 if raw.get("retryAfter") is not None else 503))
        fault = Fault(
            kind=kind, count=int(raw.get("count", 1)), status=status, code=raw.get("code"),
            message=raw.get("message"),
            retry_after=int(raw["retryAfter"]) if raw.get("retryAfter") is not None else None,
            delay_seconds=float(raw.get("delaySeconds", 0)), method=raw.get("method"), path=raw.get("path"),
            query=raw.get("query"), url=raw.get("url"),
            headers=tuple(raw.get("headers") or ("Azure-AsyncOperation",)),
        )
        for pattern in (fault.path, fault.query):
            if pattern:
                re.compile(pattern)
        if kind == "foreign-operation-url":
            _check_origin(fault.url)
            unknown = [h for h in fault.headers if h not in OPERATION_HEADERS]
            if unknown or not fault.headers:
                raise ValueError(f"headers must be some of {', '.join(OPERATION_HEADERS)}")
        return fault

    def matches(self, method: str, path: str, query: str = "") -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.query and re.search(self.query, query) is None:
            return False
        return not self.path or re.search(self.path, path) is not None

    def moved(self, headers: dict[str, str]) -> dict[str, str]:
        """foreign-operation-url: the answer's operation URLs with their origin replaced, path and query kept.

        The request itself was processed (a restore's job started), as when a misconfigured or hostile endpoint
        answers: only where the client is told to poll changes.
        """
        if self.url is None:
            return dict(headers)
        origin = urlsplit(self.url)
        moved = dict(headers)
        for name in self.headers:
            if name in moved:
                parts = urlsplit(moved[name])
                moved[name] = urlunsplit((origin.scheme, origin.netloc, parts.path, parts.query, parts.fragment))
        return moved

    def error_code(self) -> str:
        return self.code or _DEFAULT_CODES.get(self.status, "InternalServerError")

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "remaining": self.count - self.hits, "status": self.status,
                "method": self.method, "path": self.path, "query": self.query, "retryAfter": self.retry_after,
                "delaySeconds": self.delay_seconds, "url": self.url, "headers": list(self.headers)}


def _check_origin(url: str | None) -> None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError("url must be an origin such as https://elsewhere.example or http://127.0.0.1:8081")


class FaultPlan:
    """Queue of injected faults; the first matching one with hits left is taken."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, query: str = "") -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.hits < fault.count and fault.matches(method, path, query):
                    fault.hits += 1
                    return fault
            self._faults = [f for f in self._faults if f.hits < f.count]
            return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults if f.hits < f.count]


@dataclass
class _Bucket:
    capacity: float
    rate: float
    tokens: float
    updated: datetime

    def refill(self, now: datetime) -> None:
        elapsed = max((now - self.updated).total_seconds(), 0.0)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now


@dataclass
class ThrottleDecision:
    allowed: bool
    remaining: int
    retry_after: int = 0
    header: str = "x-ms-ratelimit-remaining-subscription-reads"


@dataclass
class Throttler:
    """Token buckets per subscription and kind ("reads"/"writes"), refilled on the emulator clock."""

    config: dict[str, Throttle] = field(default_factory=dict)
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, subscription: str, throttle: Throttle | None) -> None:
        with self._lock:
            key = subscription.lower()
            self.config = {k: v for k, v in self.config.items() if k.lower() != key}
            if throttle is not None:
                self.config[subscription] = throttle
            self._buckets = {k: v for k, v in self._buckets.items() if k[0] != key}

    def consume(self, subscription: str, kind: str, now: datetime) -> ThrottleDecision:
        header = f"x-ms-ratelimit-remaining-subscription-{kind}"
        with self._lock:
            throttle = next((t for s, t in self.config.items() if s.lower() == subscription.lower()), None)
            if throttle is None:
                # Unthrottled: still send the header, as ARM always does, with ARM's default capacity.
                default = Throttle()
                capacity = default.reads_bucket if kind == "reads" else default.writes_bucket
                return ThrottleDecision(True, int(capacity) - 1, header=header)
            capacity = throttle.reads_bucket if kind == "reads" else throttle.writes_bucket
            rate = throttle.reads_per_second if kind == "reads" else throttle.writes_per_second
            key = (subscription.lower(), kind)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, rate, capacity, now)
            bucket.refill(now)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return ThrottleDecision(True, int(bucket.tokens), header=header)
            wait = math.ceil((1 - bucket.tokens) / rate) if rate > 0 else 3600
            return ThrottleDecision(False, 0, max(wait, 1), header=header)
