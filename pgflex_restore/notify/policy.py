"""How often and how patiently a notification is tried: pure, so the orchestrator can decide its durable timers.

Three attempts at most; between them the receiver's Retry-After (on 429 and 503, or any retryable answer), cut
to a minute, else a short backoff. A notification runs after the restore's result is final and never changes
it, so the bound matters only for how soon the orchestration completes: a few seconds normally, at most about
two minutes and three request timeouts when a receiver is down.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_ATTEMPTS = 3
BACKOFF_SECONDS = (5.0, 20.0)  # before the 2nd and 3rd attempts when the receiver says nothing
MAX_RETRY_AFTER_SECONDS = 60.0  # a longer Retry-After is cut to this
# Timeouts, throttling and server errors may pass; any other 4xx (or a redirect) will not.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def is_retryable(status: int) -> bool:
    """May another attempt succeed after this HTTP status?"""
    return status in RETRYABLE_STATUSES or status >= 500


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): the receiver's Retry-After, at most
    MAX_RETRY_AFTER_SECONDS (at least a second), else the backoff step."""
    if retry_after is not None:
        return min(max(retry_after, 1.0), MAX_RETRY_AFTER_SECONDS)
    return BACKOFF_SECONDS[min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1]
