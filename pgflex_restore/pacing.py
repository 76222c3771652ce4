"""Pace ARM calls to the subscription's token buckets instead of discovering the limit by 429s.

ARM throttles each subscription and principal with token buckets: reads 250 burst refilled 25 per second,
writes 200 burst refilled 10 per second. A fleet drill starts dozens of restores at once, each listing, posting
and polling, so without pacing it spends its first minute on 429s. Every ARM call of the app takes a token from
one shared bucket per subscription and kind first; when there is none, it reserves the next one, the call is not
sent, and the caller waits until its slot (a durable timer, like any Retry-After), then calls without asking again.

The bucket is kept as one instant, the generic cell rate algorithm's "theoretical arrival time": a call may go
when that instant is no further ahead of now than the burst allows, and each call (or reservation) moves it on
by one interval.
One instant is cheap to store and to update with an optimistic-concurrency write. Pure: storage is the
caller's (clients.py keeps it in a table of the Functions storage account).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

READS = "reads"
WRITES = "writes"
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/?#]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Bucket:
    """A token bucket: ``burst`` tokens at most, refilled at ``rate`` per second."""

    burst: float
    rate: float

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=1 / self.rate)

    @property
    def tolerance(self) -> timedelta:
        """How far the theoretical arrival time may run ahead of now: the burst, less the call being made."""
        return self.interval * max(self.burst - 1, 0)

    def reserve(self, arrival: datetime | None, now: datetime) -> tuple[datetime, float]:
        """Reserve the next free slot: (the new arrival time, seconds from now until the slot; 0 = go now).

        The slot is the caller's once reserved: it waits that long and then calls without asking again, so
        waiting callers form a queue instead of all waking at once to race for the same few tokens.
        """
        start = max(arrival, now) if arrival is not None else now
        wait = max(start - now - self.tolerance, timedelta(0))
        return start + self.interval, wait.total_seconds()


# ARM's documented buckets, with room left for everything else the same principal and subscription do (the
# portal, deployments, other apps on the identity): the app takes at most 80% of the burst and 90% of the refill.
ARM_BUCKETS: dict[str, Bucket] = {READS: Bucket(burst=200, rate=22.5), WRITES: Bucket(burst=160, rate=9)}


def call_kind(method: str) -> str:
    """ARM counts GET and HEAD against the read bucket, everything else against the write bucket."""
    return READS if method.upper() in ("GET", "HEAD") else WRITES


def subscription_of(url: str) -> str | None:
    """The subscription an ARM URL addresses (lower case), or None for a URL outside any subscription."""
    found = _SUBSCRIPTION.search(urlsplit(url).path)
    return found.group(1).lower() if found else None


def parse_arm_budget(text: str) -> tuple[Bucket, Bucket] | None:
    """The ARM_BUDGET setting: ``reads=BURST/RATE,writes=BURST/RATE`` (either part may be left out, keeping the
    default), or ``off``. Returns (reads, writes), or None for off."""
    if text.strip().lower() == "off":
        return None
    buckets = dict(ARM_BUCKETS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, value = part.partition("=")
        burst, _, rate = value.partition("/")
        if kind.strip().lower() not in buckets:
            raise ValueError(f"{part!r}: expected reads=BURST/RATE or writes=BURST/RATE (or off)")
        try:
            bucket = Bucket(float(burst), float(rate))
        except ValueError:
            raise ValueError(f"{part!r}: BURST and RATE must be numbers, e.g. reads=200/22.5") from None
        if not (bucket.burst >= 1 and bucket.rate > 0):
            raise ValueError(f"{part!r}: BURST must be at least 1 and RATE above 0")
        buckets[kind.strip().lower()] = bucket
    return buckets[READS], buckets[WRITES]
