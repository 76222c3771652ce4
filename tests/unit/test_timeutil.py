"""Time text parsing: instants, ISO durations, .NET TimeSpans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_restore.timeutil import (
    format_datetime,
    format_filter_datetime,
    format_iso_duration,
    parse_datetime,
    parse_duration_or_seconds,
    parse_elapsed_seconds,
    parse_iso_duration,
    parse_service_datetime,
)


def test_parse_datetime_converts_offsets_to_utc() -> None:
    """An offset is honoured and the result is UTC."""
    assert parse_datetime("2026-11-01T03:00:00+01:00") == datetime(2026, 11, 1, 2, tzinfo=UTC)


def test_parse_datetime_accepts_seven_fraction_digits() -> None:
    """The service writes .NET's 7-digit fractions."""
    assert parse_datetime("2019-11-20T09:49:44.0478496Z").microsecond == 47849


@pytest.mark.parametrize("text", ["", "  ", "yesterday", "2026-11-01T02:00:00", "2026-13-01T00:00:00Z"])
def test_parse_datetime_rejects_bad_or_naive(text: str) -> None:
    """Naive or malformed instants are refused with a ValueError."""
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_parse_datetime_out_of_range() -> None:
    """An instant that leaves datetime's range when converted to UTC is a ValueError."""
    with pytest.raises(ValueError, match="out of range"):
        parse_datetime("0001-01-01T00:00:00+01:00")


def test_parse_datetime_rejects_non_string() -> None:
    """Non-strings are refused."""
    with pytest.raises(ValueError):
        parse_datetime(123)  # type: ignore[arg-type]


def test_parse_service_datetime_is_lenient() -> None:
    """Responses: None for absent, garbage and the 0001-01-01 sentinel."""
    assert parse_service_datetime(None) is None
    assert parse_service_datetime("garbage") is None
    assert parse_service_datetime("0001-01-01T00:00:00Z") is None
    assert parse_service_datetime("2019-11-20T09:49:46Z") == datetime(2019, 11, 20, 9, 49, 46, tzinfo=UTC)


def test_format_datetime_round_trip_and_naive_refused() -> None:
    """Z form, microseconds only when present; naive refused."""
    assert format_datetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert format_datetime(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02T03:04:05.000006Z"
    with pytest.raises(ValueError):
        format_datetime(datetime(2026, 1, 2))


def test_filter_datetime_matches_cli_format() -> None:
    """Seven fraction digits and a Z, like the Azure CLI."""
    tz = timezone(timedelta(hours=2))
    assert format_filter_datetime(datetime(2024, 1, 31, 2, tzinfo=tz)) == "2024-01-31T00:00:00.0000000Z"
    with pytest.raises(ValueError):
        format_filter_datetime(datetime(2024, 1, 31))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT24H", timedelta(hours=24)),
        ("P1D", timedelta(days=1)),
        ("PT90M", timedelta(minutes=90)),
        ("P1DT2H3M4.5S", timedelta(days=1, hours=2, minutes=3, seconds=4.5)),
        ("p15d", timedelta(days=15)),
        ("P2W", timedelta(weeks=2)),
    ],
)
def test_parse_iso_duration(text: str, expected: timedelta) -> None:
    """Common ISO 8601 durations."""
    assert parse_iso_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "7D", "P1Y", "P1M", "PT1H2", "P1DT", "1h"])
def test_parse_iso_duration_rejects(text: str) -> None:
    """Malformed durations and calendar units are refused."""
    with pytest.raises(ValueError):
        parse_iso_duration(text)


def test_parse_iso_duration_non_string_and_overflow() -> None:
    """Non-strings and absurd sizes are ValueErrors, not crashes."""
    with pytest.raises(ValueError):
        parse_iso_duration(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        parse_iso_duration("P99999999999999D")


def test_duration_or_seconds() -> None:
    """Settings accept plain seconds as well."""
    assert parse_duration_or_seconds("86400") == timedelta(days=1)
    assert parse_duration_or_seconds("PT1H") == timedelta(hours=1)
    with pytest.raises(ValueError):
        parse_duration_or_seconds("9" * 20)


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)))
def test_iso_duration_round_trip(value: timedelta) -> None:
    """format_iso_duration and parse_iso_duration are inverse (to the microsecond)."""
    parsed = parse_iso_duration(format_iso_duration(value))
    assert abs(parsed - value) <= timedelta(microseconds=1)


def test_format_iso_duration_zero_and_negative() -> None:
    """Zero has a form; negative does not."""
    assert format_iso_duration(timedelta(0)) == "PT0S"
    with pytest.raises(ValueError):
        format_iso_duration(timedelta(seconds=-1))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:02:11.9724387", 131.9724387),
        ("00:00:00", 0.0),
        ("1.02:03:04.5", 93784.5),
        ("PT1H2M3.5S", 3723.5),
        ("PT0S", 0.0),
    ],
)
def test_parse_elapsed_seconds(text: str, seconds: float) -> None:
    """Both the TimeSpan form the service sends and the ISO form the spec names."""
    result = parse_elapsed_seconds(text)
    assert result is not None
    assert result == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "soon", "00:61:00", "00:00:75", 12, "P1Y"])
def test_parse_elapsed_seconds_unknown(value: object) -> None:
    """Unknown durations are None, never an exception."""
    assert parse_elapsed_seconds(value) is None


@given(
    st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59), st.integers(0, 9_999_999)
)
def test_elapsed_timespan_property(days: int, h: int, m: int, s: int, f: int) -> None:
    """Any well-formed TimeSpan parses to its value in seconds."""
    text = f"{days}.{h:02d}:{m:02d}:{s:02d}.{f:07d}"
    result = parse_elapsed_seconds(text)
    assert result == pytest.approx(days * 86400 + h * 3600 + m * 60 + s + f / 1e7)
