"""What a restore reports while it runs: its own custom status merged with its job tracker's.

The restore orchestration and its job-tracking sub-orchestration each publish a small custom status; callers
(``GET /api/restores/{id}``, the CLI's progress line) want one view. Retries add up across the two: each counts
only its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Durable runtime statuses after which an instance changes no more ("Canceled" is the extension's old name).
FINISHED_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


def merge_progress(restore: Mapping[str, Any] | None, tracker: Mapping[str, Any] | None) -> dict[str, Any]:
    """The restore's status, updated with the tracker's job status, progress, polls and next check."""
    merged = dict(restore or {})
    if not tracker:
        return merged
    for key, value in tracker.items():
        if key not in ("phase", "retries"):
            merged[key] = value
    retries = int(merged.get("retries") or 0) + int(tracker.get("retries") or 0)
    if retries:
        merged["retries"] = retries
    return merged
