"""Which target databases a load may create or replace: decided before anything is created. Pure.

A database that exists is never touched, unless ``onExists`` is ``replace`` and the database is on the
``replaceable`` list (the ledger of databases this app created) with the same oid: a database of that name that
was dropped and made again by someone else has another oid, and is theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CREATE, REPLACE = "create", "replace"


@dataclass(frozen=True)
class Decision:
    target: str
    action: str  # CREATE or REPLACE
    oid: int | None = None  # the oid to drop, for REPLACE


class UnsafeTarget(Exception):
    """Some target database may not be touched; ``problems`` maps each to why."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {why}" for name, why in problems.items()))


def decide(targets: Sequence[str], existing: Mapping[str, int], *, on_exists: str,
           replaceable: Sequence[Mapping[str, object]]) -> list[Decision]:
    """One decision per target, or UnsafeTarget listing every target that may not be touched."""
    allowed = {str(item.get("database")): item.get("oid") for item in replaceable}
    problems: dict[str, str] = {}
    decisions: list[Decision] = []
    for target in targets:
        if target not in existing:
            decisions.append(Decision(target, CREATE))
            continue
        oid = existing[target]
        if on_exists != "replace":
            problems[target] = "the database exists (onExists is fail)"
        elif target not in allowed:
            problems[target] = "the database exists and this app did not create it (not in replaceable)"
        elif _as_int(allowed[target]) != oid:
            problems[target] = (f"the database exists with oid {oid}, not the oid {allowed[target]} this app "
                                "recorded: it was made again by someone else")
        else:
            decisions.append(Decision(target, REPLACE, oid))
    if problems:
        raise UnsafeTarget(problems)
    return decisions


def _as_int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None
