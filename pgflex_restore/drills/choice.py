"""Which recovery point a drill restores, and whether the backups are fresh enough (the RPO check).

Pure and deterministic: time is the orchestration's time, and "random" is the point of the window with the
lowest hash of the run id, the instance and the point's id, so a re-run of the same drill picks the same point
while different runs spread over the window, and the pick can be made page by page. Only VaultStore copies are
drilled: an archived point needs hours of rehydration, which is not what a daily drill should wait for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pgflex_restore.parsing import RecoveryPoint
from pgflex_restore.point_scan import VAULT_STORE, PointScan
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

    def to_dict(self) -> dict[str, Any]:
        """JSON for the durable boundary (the activity's result)."""
        return {"point": self.point.to_dict() if self.point else None, "newestAgeSeconds": self.newest_age_seconds,
                "pointAgeSeconds": self.point_age_seconds, "failure": self.failure, "message": self.message,
                "candidates": self.candidates}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PointChoice:
        point = RecoveryPoint.from_dict(raw["point"]) if raw.get("point") else None
        return cls(point, raw.get("newestAgeSeconds"), raw.get("pointAgeSeconds"), raw.get("failure"),
                   raw.get("message"), int(raw.get("candidates") or 0))

    def summary(self) -> dict[str, Any]:
        point = self.point
        return {
            "recoveryPoint": {"id": point.id, "time": format_datetime(point.time)} if point else None,
            "pointAgeSeconds": self.point_age_seconds,
            "newestPointAgeSeconds": self.newest_age_seconds,
            "candidates": self.candidates,
        }


def drill_scan(selection: PointSelection, *, now: datetime, seed: str) -> PointScan:
    """The scan a drill needs: VaultStore copies up to ``now``; with a random selection, also the window's pick."""
    random = selection.mode == "random" and selection.within_days is not None
    since = now - timedelta(days=selection.within_days or 0) if random else None
    return PointScan(anchor=now, end=now, data_store=VAULT_STORE, pick_since=since, seed=seed if random else None)


def decide(scan: PointScan, *, now: datetime, max_age: timedelta) -> PointChoice:
    """Apply the RPO check to the newest point, then take the scan's pick (the newest when the window is empty)."""
    newest = scan.newest
    if newest is None:
        archived = scan.archived_only
        detail = f" ({archived} only in ArchiveStore, which drills do not rehydrate)" if archived else ""
        return PointChoice(None, None, None, NO_POINT, f"no restorable VaultStore recovery point{detail}")
    newest_age = (now - newest.time).total_seconds()
    if newest_age > max_age.total_seconds():
        return PointChoice(
            newest, newest_age, newest_age, STALE,
            f"the newest recovery point ({format_datetime(newest.time)}) is {_human(newest_age)} old, "
            f"older than the plan's maxPointAge of {_human(max_age.total_seconds())}",
        )
    if scan.seed is None:
        return PointChoice(newest, newest_age, newest_age, candidates=1)
    chosen = scan.pick or newest
    return PointChoice(chosen, newest_age, (now - chosen.time).total_seconds(), candidates=max(scan.candidates, 1))


def choose_drill_point(
    points: Sequence[RecoveryPoint], selection: PointSelection, *, now: datetime, max_age: timedelta, seed: str
) -> PointChoice:
    """The same choice from points already in hand (any order)."""
    return decide(drill_scan(selection, now=now, seed=seed).fold_all(points), now=now, max_age=max_age)


def _human(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
