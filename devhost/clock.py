"""Clocks the host runs on: a virtual one tests can jump, or the real UTC clock for CLI runs.

Durable timers, timer triggers and every history timestamp read the host's clock, never the wall clock, so a
24-hour virtual job runs in seconds and stays reproducible.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the host (and the DataProtection emulator) need from a clock."""

    def now(self) -> datetime: ...


class RealClock:
    """datetime.now(UTC); timers wait in real time."""

    virtual = False

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A settable, thread-safe clock; listeners hear every change so waiting workers wake at once."""

    virtual = True

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware datetime (UTC)")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float | timedelta = 0.0, **delta: float) -> datetime:
        """Move forward by `seconds` (or a timedelta, or timedelta keywords such as hours=3)."""
        step = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds, **delta)
        if step < timedelta(0):
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._now += step
            now = self._now
        self._notify()
        return now

    def set(self, when: datetime) -> datetime:
        """Jump to `when`; never backwards (history timestamps must stay monotonic)."""
        if when.tzinfo is None:
            raise ValueError("VirtualClock needs an aware datetime (UTC)")
        with self._lock:
            if when < self._now:
                raise ValueError(f"cannot move the clock back from {self._now} to {when}")
            self._now = when.astimezone(UTC)
            now = self._now
        self._notify()
        return now

    def advance_to(self, when: datetime) -> datetime:
        """Move to `when` if that is later (atomic; never fails on a concurrent advance)."""
        with self._lock:
            if when > self._now:
                self._now = when.astimezone(UTC)
            now = self._now
        self._notify()
        return now

    def subscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


def is_virtual(clock: Clock) -> bool:
    return bool(getattr(clock, "virtual", False))


def dotnet_timestamp(when: datetime) -> str:
    """The host's history timestamp form: UTC, 'Z', seven fractional digits."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def api_timestamp(when: datetime) -> str:
    """The management API's createdTime/lastUpdatedTime form."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO timestamp (Z or offset, up to 7 fractional digits) into an aware UTC datetime."""
    from dateutil import parser

    parsed = parser.isoparse(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
