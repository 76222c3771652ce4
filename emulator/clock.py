"""Clocks for the emulator: every timeline (operations, jobs, throttle refill) reads one of these.

The emulator never assumes its own class: anything with ``now() -> aware UTC datetime`` works, so a test
host (devhost) can share one virtual clock with the emulator.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the emulator needs from a clock."""

    def now(self) -> datetime: ...


class RealClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that only moves when told to, so tests can play hours of timeline in milliseconds."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware datetime (UTC)")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, dt: datetime) -> None:
        if dt.tzinfo is None:
            raise ValueError("VirtualClock.set needs an aware datetime (UTC)")
        with self._lock:
            self._now = dt.astimezone(UTC)


def utc_now(clock: Clock) -> datetime:
    """The clock's time as aware UTC, whatever tz the caller's clock returns."""
    value = clock.now()
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def arm_time(dt: datetime) -> str:
    """ARM's timestamp spelling: seven fractional digits and a Z, e.g. 2026-01-31T02:00:00.0000000Z."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}0Z"


def timespan(delta: timedelta) -> str:
    """A .NET TimeSpan string (``hh:mm:ss.fffffff``) as the jobs API writes ``duration``."""
    total = max(delta, timedelta(0))
    days, rem = divmod(int(total.total_seconds()), 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if days:
        text = f"{days}.{text}"
    if total.microseconds:
        text += f".{total.microseconds:06d}0"
    return text


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 timestamp (up to 7 fractional digits, Z or offset) into aware UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if "." in value:
        head, _, tail = value.partition(".")
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
        zone = tail[len(digits):]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
