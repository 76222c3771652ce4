"""How long to wait before the next poll or retry: pure, deterministic arithmetic.

Orchestrators replay, so nothing here reads the clock or draws random numbers: ``now`` is always passed in
(``context.current_utc_datetime``) and backoff has no jitter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pgflex_restore.settings import Settings

_SECONDS = re.compile(r"^\d{1,12}(?:\.\d+)?\Z")
_MAX_ATTEMPT_EXPONENT = 60  # 2**60 * anything already exceeds every sane max_seconds


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date; None if absent/garbage.

    A date in the past means "now" (0). ``now`` must be aware; it is only used for the HTTP-date form.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _SECONDS.match(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC per RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class PollPolicy:
    """Bounds of every wait (``min_seconds``..``max_seconds``) and the wait when the service names none."""

    min_seconds: float = 5.0
    max_seconds: float = 600.0
    default_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in ("min_seconds", "max_seconds", "default_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not self.min_seconds <= self.default_seconds <= self.max_seconds:
            raise ValueError(
                f"need min_seconds <= default_seconds <= max_seconds, got "
                f"{self.min_seconds} / {self.default_seconds} / {self.max_seconds}"
            )

    def to_dict(self) -> dict[str, float]:
        """The form that crosses the durable boundary (restore plans, tracker inputs, drill runs)."""
        return {"min": self.min_seconds, "max": self.max_seconds, "default": self.default_seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PollPolicy:
        return cls(float(data["min"]), float(data["max"]), float(data["default"]))

    @classmethod
    def from_settings(cls, settings: Settings) -> PollPolicy:
        """POLL_MIN_SECONDS, POLL_MAX_SECONDS and POLL_DEFAULT_SECONDS."""
        return cls(settings.poll_min_seconds, settings.poll_max_seconds, settings.poll_default_seconds)

    def clamp(self, seconds: float) -> float:
        """Keep a wait inside the bounds (a 0 s Retry-After must not become a hot loop)."""
        return min(self.max_seconds, max(self.min_seconds, seconds))

    def next_wait(self, retry_after: str | None, *, now: datetime) -> float:
        """Wait before the next status poll: Retry-After clamped, else the default (the job GET sends none)."""
        seconds = parse_retry_after(retry_after, now=now)
        return self.clamp(self.default_seconds if seconds is None else seconds)

    def retry_wait(self, attempt: int, retry_after: str | None, *, now: datetime) -> float:
        """Wait before retrying a transient failure; ``attempt`` counts from 0.

        Retry-After wins when sent; otherwise ``default * 2**attempt``, capped at max. No jitter: replay-safe.
        """
        seconds = parse_retry_after(retry_after, now=now)
        if seconds is not None:
            return self.clamp(seconds)
        exponent = min(max(attempt, 0), _MAX_ATTEMPT_EXPONENT)
        return self.clamp(self.default_seconds * (2**exponent))
