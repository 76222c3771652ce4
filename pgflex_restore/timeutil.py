"""Time text in the forms ARM and our callers use: ISO 8601 instants, ISO 8601 durations, .NET TimeSpans.

Kept in one place so settings, the request model and the response parsers agree on what "UTC" and
"P15D" mean, and so the lenient parsing the service needs (7-digit fractions, `0001-01-01` sentinels)
is written once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .inputs import excerpt

_ISO_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?\Z")
_MAX_DURATION_DIGITS = 12  # a setting of a trillion seconds is a typo, not a timeout

# .NET DateTime.MinValue: ARM writes it for "not ended yet".
_DOTNET_MIN_YEAR = 1


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 instant that names its offset (``Z`` or ``+hh:mm``) into an aware UTC datetime.

    Naive text is refused: a restore "before 02:00" must not silently mean the server's local time.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected an ISO 8601 date-time such as 2026-11-01T02:00:00Z")
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{excerpt(value)} is not an ISO 8601 date-time such as 2026-11-01T02:00:00Z") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{excerpt(value)} has no time zone; add Z or an offset such as +01:00")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{excerpt(value)} is out of range") from exc


def parse_service_datetime(value: object) -> datetime | None:
    """Lenient parse for response fields: None for absent, unparsable or the .NET `0001-01-01` sentinel."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed.year <= _DOTNET_MIN_YEAR:
        return None
    return parsed


def format_datetime(value: datetime) -> str:
    """Render an aware datetime as UTC with a ``Z`` (microseconds only when present); the wire form."""
    if value.tzinfo is None:
        raise ValueError("refusing to format a naive datetime; attach a time zone first")
    utc = value.astimezone(UTC)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def format_filter_datetime(value: datetime) -> str:
    """Render an instant the way the Azure CLI writes it into a recovery-point ``$filter`` (7 fraction digits)."""
    if value.tzinfo is None:
        raise ValueError("recovery point filter times must be time-zone aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def parse_iso_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration (``P15D``, ``PT24H``, ``P1DT2H``, ``PT90M``, ``PT1.5S``, ``P2W``).

    Years and months are refused: their length depends on the calendar, and a timeout must be exact.
    """
    if not isinstance(text, str):
        raise ValueError("expected an ISO 8601 duration such as PT24H")
    match = _ISO_DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{excerpt(text)} is not an ISO 8601 duration such as P15D or PT24H "
                         "(years/months unsupported)")
    parts = {name: float(val) for name, val in match.groupdict().items() if val is not None}
    try:
        return timedelta(
            weeks=parts.get("weeks", 0.0),
            days=parts.get("days", 0.0),
            hours=parts.get("hours", 0.0),
            minutes=parts.get("minutes", 0.0),
            seconds=parts.get("seconds", 0.0),
        )
    except OverflowError as exc:
        raise ValueError(f"{excerpt(text)} is too long a duration") from exc


def parse_duration_or_seconds(text: str) -> timedelta:
    """A setting's duration: ISO 8601 (``PT24H``) or a plain number of seconds (``86400``)."""
    value = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        if len(value.split(".")[0]) > _MAX_DURATION_DIGITS:
            raise ValueError(f"{excerpt(value)} seconds is too long a duration")
        return timedelta(seconds=float(value))
    return parse_iso_duration(value)


def format_iso_duration(value: timedelta) -> str:
    """Render a timedelta as an ISO 8601 duration (``P1DT2H3M4.5S``); inverse of parse_iso_duration."""
    micros = value // timedelta(microseconds=1)
    if micros < 0:
        raise ValueError("negative durations have no ISO 8601 form here")
    days, rest = divmod(micros, 86_400_000_000)
    hours, rest = divmod(rest, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, fraction = divmod(rest, 1_000_000)
    out = "P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or fraction:
        clock += f"{seconds}.{fraction:06d}".rstrip("0").rstrip(".") + "S"
    if clock:
        out += "T" + clock
    return out if out != "P" else "PT0S"


def parse_elapsed_seconds(value: object) -> float | None:
    """Seconds in a job's ``duration``: .NET TimeSpan (``1.02:03:04.5``, ``00:02:11.9724387``) or ISO 8601.

    The spec says ISO 8601 but the service writes TimeSpans; accept both and return None for anything else.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    span = _TIMESPAN.match(text)
    if span is not None:
        minutes, seconds = int(span["m"]), int(span["s"])
        if minutes > 59 or seconds > 59:
            return None
        fraction = float("0." + span["f"]) if span["f"] else 0.0
        days = int(span["days"]) if span["days"] else 0
        return days * 86400 + int(span["h"]) * 3600 + minutes * 60 + seconds + fraction
    try:
        return parse_iso_duration(text).total_seconds()
    except ValueError:
        return None


def cron_expression(ncrontab: str) -> str:
    """The croniter form of an NCRONTAB schedule, as the Functions host reads it: 6 fields (seconds first) or 5
    (no seconds). Raises ValueError for anything the host would refuse."""
    from croniter import croniter

    fields = ncrontab.split()
    if len(fields) not in (5, 6):
        raise ValueError(f"{excerpt(ncrontab)} is not an NCRONTAB expression: 6 fields (second minute hour day month "
                         "weekday) or 5 (minute hour day month weekday)")
    expression = " ".join(fields[1:] + fields[:1]) if len(fields) == 6 else " ".join(fields)
    if not croniter.is_valid(expression):
        raise ValueError(f"{excerpt(ncrontab)} is not a valid NCRONTAB expression")
    return expression
