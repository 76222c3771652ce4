"""What a restore reports while it runs: its own custom status merged with its job tracker's and its loader's.

The restore orchestration and its job-tracking and load sub-orchestrations each publish a small custom status;
callers (``GET /api/restores/{id}``, the CLI's progress line) want one view. Retries add up across them: each
counts only its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from .timeutil import format_datetime

# Durable runtime statuses after which an instance changes no more ("Canceled" is the extension's old name).
FINISHED_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})

# A result record's ``status``: the restore's outcome (not the durable runtime status above). ``loaded`` and
# ``load_failed`` end a restore with a load section whose files were restored; ``preflight_failed`` one the
# pre-flight stopped before anything was posted.
RESULT_STATUSES = frozenset({"succeeded", "validated", "failed", "deadline_exceeded", "loaded", "load_failed",
                             "preflight_failed"})
SUCCESS_STATUSES = frozenset({"succeeded", "validated", "loaded"})


def merge_progress(restore: Mapping[str, Any] | None, tracker: Mapping[str, Any] | None,
                   loader: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The restore's status, updated with the tracker's job status, progress, polls and next check, then with the
    loader's step, server, execution and next check (the later phase wins where both say something)."""
    merged = dict(restore or {})
    for sub in (tracker, loader):
        if not sub:
            continue
        for key, value in sub.items():
            if key not in ("phase", "retries"):
                merged[key] = value
        retries = int(merged.get("retries") or 0) + int(sub.get("retries") or 0)
        if retries:
            merged["retries"] = retries
    return merged


def phase_times(entered: Sequence[tuple[str, datetime]], finished: datetime,
                phases: Collection[str]) -> dict[str, dict[str, Any]]:
    """The result record's ``phases``: each of ``phases`` that was entered, from when it began until the next
    phase began (or the restore finished), as ``{startedAt, finishedAt, durationSeconds}``."""
    times: dict[str, dict[str, Any]] = {}
    for index, (name, start) in enumerate(entered):
        end = entered[index + 1][1] if index + 1 < len(entered) else finished
        if name in phases:
            times[name] = {"startedAt": format_datetime(start), "finishedAt": format_datetime(end),
                           "durationSeconds": round((end - start).total_seconds(), 3)}
    return times
