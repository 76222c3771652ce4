"""The token bucket the app paces its ARM calls by: burst, refill, and the wait it reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pgflex_restore.pacing import ARM_BUCKETS, READS, WRITES, Bucket, call_kind, subscription_of

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def drain(bucket: Bucket, now: datetime, arrival: datetime | None = None) -> tuple[int, datetime | None, float]:
    """Take tokens at one instant until one must wait: (taken, arrival time before that, its wait)."""
    taken = 0
    while True:
        after, wait = bucket.reserve(arrival, now)
        if wait > 0:
            return taken, arrival, wait
        arrival, taken = after, taken + 1


def test_a_burst_then_the_refill_rate() -> None:
    bucket = Bucket(burst=10, rate=5)
    taken, arrival, wait = drain(bucket, T0)
    assert taken == 10 and wait == pytest.approx(0.2)
    taken, arrival, _ = drain(bucket, T0 + timedelta(seconds=1), arrival)
    assert taken == 5  # one second refills rate tokens


def test_an_idle_bucket_refills_to_the_burst_and_no_further() -> None:
    bucket = Bucket(burst=4, rate=1)
    _, arrival, _ = drain(bucket, T0)
    taken, _, _ = drain(bucket, T0 + timedelta(hours=1), arrival)
    assert taken == 4


def test_waiting_the_reported_time_gets_a_token() -> None:
    bucket = Bucket(burst=3, rate=2)
    _, arrival, wait = drain(bucket, T0)
    assert bucket.reserve(arrival, T0 + timedelta(seconds=wait))[1] == 0
    assert bucket.reserve(arrival, T0 + timedelta(seconds=wait * 0.9))[1] > 0


def test_waiting_callers_queue_for_their_own_slots() -> None:
    """Each reservation takes the next slot, one interval after the one before: no herd racing for a token."""
    bucket = Bucket(burst=2, rate=4)
    arrival: datetime | None = None
    waits = []
    for _ in range(6):
        arrival, wait = bucket.reserve(arrival, T0)
        waits.append(wait)
    assert waits == [0, 0, 0.25, 0.5, 0.75, 1.0]


def test_the_app_leaves_room_under_arms_documented_buckets() -> None:
    """ARM: reads 250 burst refilled 25/s, writes 200 burst refilled 10/s; the app stays below both."""
    assert ARM_BUCKETS[READS].burst < 250 and ARM_BUCKETS[READS].rate < 25
    assert ARM_BUCKETS[WRITES].burst < 200 and ARM_BUCKETS[WRITES].rate < 10


def test_kinds_and_subscriptions_from_urls() -> None:
    assert call_kind("GET") == READS and call_kind("post") == WRITES and call_kind("DELETE") == WRITES
    url = "https://management.azure.com/subscriptions/ABC-1/resourceGroups/rg/providers/x?api-version=1"
    assert subscription_of(url) == "abc-1"
    assert subscription_of("https://management.azure.com/providers/Microsoft.DataProtection/operations") is None
