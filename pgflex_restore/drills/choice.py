"""Which recovery point a drill restores, and whether the backups are fresh enough (the RPO check).

Pure and deterministic, because the orchestrator calls it on every replay: time is the orchestration's time,
and "random" is a hash of the run id and the instance, so a replay (or a re-run of the same drill) picks the
same point while different runs spread over the window. Only VaultStore copies are drilled: an archived point
needs hours of rehydration, which is not what a daily drill should wait for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pgflex_restore.parsing import RecoveryPoint
from pgflex_restore.timeutil import format_datetime

from .plan import PointSelection

STALE = "stale-recovery-point"
NO_POINT = "no-recovery-point"


@dataclass(frozen=True)
class PointChoice:
    """The point to restore (None when the drill fails before restoring) and the facts for the record."""

    point: RecoveryPoint | None
    newest_age_seconds: float | None
    point_age_seconds: float | None
    failure: str | None = None
    message: str | None = None
    candidates: int = 0

    def summary(self) -> dict[str, Any]:
        point = self.point
        return {
            "recoveryPoint": {"id": point.id, "time": format_datetime(point.time)} if point else None,
            "pointAgeSeconds": self.point_age_seconds,
            "newestPointAgeSeconds": self.newest_age_seconds,
            "candidates": self.candidates,
        }


def seeded_index(seed: str, count: int) -> int:
    """A stable index in ``range(count)`` from a text seed (same on every machine and Python version)."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def choose_drill_point(
    points: Sequence[RecoveryPoint], selection: PointSelection, *, now: datetime, max_age: timedelta, seed: str
) -> PointChoice:
    """Apply the RPO check to the newest point, then pick the point the plan asks for."""
    usable = sorted((p for p in points if p.in_vault_store), key=lambda p: (p.time, p.id))
    if not usable:
        archived = sum(1 for p in points if p.in_archive_store)
        detail = f" ({archived} only in ArchiveStore, which drills do not rehydrate)" if archived else ""
        return PointChoice(None, None, None, NO_POINT, f"no restorable VaultStore recovery point{detail}")
    newest = usable[-1]
    newest_age = (now - newest.time).total_seconds()
    if newest_age > max_age.total_seconds():
        return PointChoice(
            newest, newest_age, newest_age, STALE,
            f"the newest recovery point ({format_datetime(newest.time)}) is {_human(newest_age)} old, "
            f"older than the plan's maxPointAge of {_human(max_age.total_seconds())}",
        )
    if selection.mode != "random" or selection.within_days is None:
        return PointChoice(newest, newest_age, newest_age, candidates=1)
    since = now - timedelta(days=selection.within_days)
    window = [p for p in usable if since <= p.time <= now] or [newest]
    chosen = window[seeded_index(seed, len(window))]
    return PointChoice(chosen, newest_age, (now - chosen.time).total_seconds(), candidates=len(window))


def _human(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
