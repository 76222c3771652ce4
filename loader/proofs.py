"""The checks that prove a load's data, beyond "every object is there" (docs/loading.md, "Checks that prove the
data"): user invariants, amcheck and the comparison with the live source. Pure: what to run, how to bind
``:recovery_point_time``, and how to judge what the server answered.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

RECOVERY_POINT_PARAMETER = "recovery_point_time"
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
BAD_OUTCOMES = (FAILED, ERROR)


@dataclass(frozen=True)
class Invariant:
    """A user check: ``sql`` run read-only in the loaded copy of ``database`` (the source name); one row of one
    column expected, compared with ``expected`` (``min``, ``max``, ``equals``)."""

    name: str
    database: str
    sql: str
    expected: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceComparison:
    """Compare the loaded rows with the live source server's estimates (``compareWithSource``). ``port`` None:
    the target's port (5432 on Azure; the local stand-in's when the emulator runs the loader)."""

    host: str
    port: int | None = None
    min_row_ratio: float = 0.5


def bind_recovery_point(text: str) -> tuple[str, bool]:
    """The SQL as psycopg takes it with named parameters: every ``:recovery_point_time`` outside literals,
    quoted names and comments becomes ``%(recovery_point_time)s``, every ``%`` is doubled. Whether the parameter
    is used. Never formats a value into the text."""
    out: list[str] = []
    used = False
    index, length = 0, len(text)
    token = ":" + RECOVERY_POINT_PARAMETER
    while index < length:
        char = text[index]
        end = _skip_quoted(text, index)
        if end > index:
            out.append(text[index:end].replace("%", "%%"))
            index = end
            continue
        if (text.startswith(token, index) and (index == 0 or text[index - 1] != ":")
                and not _is_word(text[index + len(token): index + len(token) + 1])):
            out.append(f"%({RECOVERY_POINT_PARAMETER})s")
            used = True
            index += len(token)
            continue
        out.append("%%" if char == "%" else char)
        index += 1
    return "".join(out), used


def _is_word(char: str) -> bool:
    return bool(char) and (char.isalnum() or char in "_$")


def _skip_quoted(text: str, index: int) -> int:
    """The end of the literal, quoted name, dollar-quoted text or comment starting at ``index`` (or ``index``)."""
    char = text[index]
    if char in ("'", '"'):
        position = index + 1
        while True:
            found = text.find(char, position)
            if found < 0:
                return len(text)
            if text.startswith(char * 2, found):
                position = found + 2
                continue
            return found + 1
    if text.startswith("--", index):
        found = text.find("\n", index)
        return len(text) if found < 0 else found + 1
    if text.startswith("/*", index):
        found = text.find("*/", index + 2)
        return len(text) if found < 0 else found + 2
    if char == "$" and (index == 0 or not _is_word(text[index - 1])):
        close = text.find("$", index + 1)
        tag = text[index:close + 1] if close > 0 else ""
        if tag and all(_is_word(c) and not c.isdigit() for c in tag[1:-1]) and not tag[1:2].isdigit():
            found = text.find(tag, close + 1)
            return len(text) if found < 0 else found + len(tag)
    return index


def as_value(value: Any) -> Any:
    """A JSON-able value: numbers stay numbers (Decimal too), booleans and null stay, anything else is text."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _equal(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    if expected is None or value is None:
        return value is expected
    left, right = _number(value), _number(expected)
    if isinstance(expected, int | float) and left is not None and right is not None:
        return left == right
    return str(value) == str(expected)


def judge(value: Any, expected: Mapping[str, Any]) -> tuple[str, str]:
    """``passed`` or ``failed``, and a message saying why."""
    problems = []
    if "equals" in expected and not _equal(value, expected["equals"]):
        problems.append(f"expected {expected['equals']!r}")
    bounds = {key: expected[key] for key in ("min", "max") if key in expected}
    if bounds:
        number = _number(value)
        if number is None:
            problems.append(f"not a number, so not within {_describe(bounds)}")
        elif "min" in bounds and number < float(bounds["min"]):
            problems.append(f"below the minimum {bounds['min']}")
        elif "max" in bounds and number > float(bounds["max"]):
            problems.append(f"above the maximum {bounds['max']}")
    if problems:
        return FAILED, f"got {value!r}: " + "; ".join(problems)
    return PASSED, f"got {value!r}" + (f", as expected ({_describe(expected)})" if expected else "")


def _describe(expected: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {expected[key]!r}" for key in ("min", "max", "equals") if key in expected)


def invariant_item(check: Invariant, outcome: str, value: Any, message: str) -> dict[str, Any]:
    """The report's item for one invariant."""
    return {"name": f"invariant:{check.name}", "outcome": outcome, "value": value,
            "expected": dict(check.expected), "message": message}


def source_estimate(reltuples: float | None, live: int | None) -> int | None:
    """The source's row estimate for a table: ``reltuples`` when known (>= 0), else the statistics' live
    tuples when positive; None when unknown."""
    if reltuples is not None and reltuples >= 0:
        return round(reltuples)
    if live is not None and live > 0:
        return int(live)
    return None


def compare_rows(loaded: Mapping[tuple[str, str], int | None], source: Mapping[tuple[str, str], int | None],
                 min_row_ratio: float) -> dict[str, Any]:
    """The report's ``sourceComparison`` for one database. A table the source estimates at 0 or cannot estimate
    is not failed; a table of the source that did not load has 0 rows; tables only in the copy are left out
    (the source changed since the backup: drift)."""
    tables, failed = [], []
    for schema, name in sorted(source):
        estimate = source[(schema, name)]
        rows = loaded.get((schema, name))
        ratio = None if not estimate else round((rows or 0) / estimate, 4)
        item = {"schema": schema, "name": name, "rows": rows, "sourceRows": estimate, "ratio": ratio}
        tables.append(item)
        if ratio is not None and ratio < min_row_ratio:
            failed.append(item)
    if failed:
        names = ", ".join(f"{t['schema']}.{t['name']} ({t['rows'] or 0} of ~{t['sourceRows']})" for t in failed[:5])
        message = (f"{len(failed)} table(s) hold less than {min_row_ratio:g} of the source's estimated rows: {names}; "
                   "check that the backup is recent and complete")
        outcome = FAILED
    else:
        message = f"{len(tables)} table(s) compared; none below {min_row_ratio:g} of the source's estimate"
        outcome = PASSED
    return {"name": "sourceComparison", "outcome": outcome, "minRowRatio": min_row_ratio, "tables": tables,
            "failed": failed, "message": message}


def failed_names(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """The checks that fail the database (``failed`` or ``error``)."""
    return [str(item.get("name")) for item in items if item.get("outcome") in BAD_OUTCOMES]
