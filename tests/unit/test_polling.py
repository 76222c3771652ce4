"""Poll policy: Retry-After parsing, clamping, deterministic backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime as http_date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_restore.polling import PollPolicy, parse_retry_after

NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
POLICY = PollPolicy(5, 600, 30)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("60", 60.0), (" 10 ", 10.0), ("0", 0.0), ("1.5", 1.5), (None, None), ("", None), ("soon", None),
     ("-5", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    """Delta-seconds, HTTP-dates (past means now), and garbage as None."""
    assert parse_retry_after(value, now=NOW) == seconds


def test_parse_retry_after_http_date_in_future() -> None:
    """An HTTP-date 90 s ahead gives 90 s."""
    assert parse_retry_after(http_date(NOW + timedelta(seconds=90), usegmt=True), now=NOW) == 90.0


def test_parse_retry_after_naive_minus_zero_date() -> None:
    """'-0000' dates count as UTC."""
    assert parse_retry_after("Sun, 01 Nov 2026 02:01:00 -0000", now=NOW) == 60.0


@given(st.integers(min_value=0, max_value=10**9))
def test_retry_after_integer_property(seconds: int) -> None:
    """Any delta-seconds integer parses to itself and next_wait stays within bounds."""
    assert parse_retry_after(str(seconds), now=NOW) == float(seconds)
    assert POLICY.min_seconds <= POLICY.next_wait(str(seconds), now=NOW) <= POLICY.max_seconds


@given(st.text(max_size=40))
def test_retry_after_never_raises(text: str) -> None:
    """Arbitrary header text never raises; the wait is always within bounds."""
    result = parse_retry_after(text, now=NOW)
    assert result is None or result >= 0
    assert POLICY.min_seconds <= POLICY.next_wait(text, now=NOW) <= POLICY.max_seconds


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_retry_after_http_date_property(when: datetime) -> None:
    """Any HTTP-date gives max(0, when - now) to the second."""
    aware = when.replace(microsecond=0, tzinfo=UTC)
    expected = max(0.0, (aware - NOW).total_seconds())
    assert parse_retry_after(http_date(aware, usegmt=True), now=NOW) == expected


def test_next_wait_clamps_and_defaults() -> None:
    """Retry-After is clamped to [min, max]; absent gives the default."""
    assert POLICY.next_wait("60", now=NOW) == 60
    assert POLICY.next_wait("0", now=NOW) == 5
    assert POLICY.next_wait("99999", now=NOW) == 600
    assert POLICY.next_wait(None, now=NOW) == 30


def test_retry_wait_backoff_is_deterministic() -> None:
    """Without Retry-After: default * 2**attempt capped at max; with it: Retry-After wins."""
    assert [POLICY.retry_wait(a, None, now=NOW) for a in range(7)] == [30, 60, 120, 240, 480, 600, 600]
    assert POLICY.retry_wait(3, "7", now=NOW) == 7
    assert POLICY.retry_wait(10_000, None, now=NOW) == 600
    assert POLICY.retry_wait(-1, None, now=NOW) == 30


@given(st.integers(min_value=0, max_value=1000))
def test_retry_wait_monotonic(attempt: int) -> None:
    """Backoff never shrinks with more attempts and stays within bounds."""
    a = POLICY.retry_wait(attempt, None, now=NOW)
    b = POLICY.retry_wait(attempt + 1, None, now=NOW)
    assert POLICY.min_seconds <= a <= b <= POLICY.max_seconds


@pytest.mark.parametrize("args", [(10, 5, 7), (1, 10, 20), (-1, 10, 5), (float("nan"), 10, 5)])
def test_policy_validation(args: tuple[float, float, float]) -> None:
    """Inconsistent bounds are refused."""
    with pytest.raises(ValueError):
        PollPolicy(*args)
