"""The notice: one restore's or drill run's start or end, as plain JSON (the generic webhook's documented body).

Orchestrators build notices (pure, deterministic: every field comes from the result record or the input and the
orchestration's time), and the delivery activity renders them per target type (payloads.py). ``deliveryId`` is
stable for one event of one restore or run (a UUID from kind, id and event), so a delivery the host runs twice
carries the same id: receivers deduplicate on it (the ``Idempotency-Key`` header, the CloudEvents ``id``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pgflex_restore.progress import SUCCESS_STATUSES
from pgflex_restore.timeutil import format_datetime, parse_datetime

SCHEMA = "pgflex-restore/notification@1"
# Fixed, so the same restore always gets the same delivery ids, in every deployment and every replay.
_NAMESPACE = uuid.UUID("5d0c3c8e-6f3a-4c7e-9a59-2f6f7c1d0b21")
MAX_MESSAGE_CHARS = 500
MAX_FAILURES_LISTED = 10


def delivery_id(kind: str, subject_id: str, event: str) -> str:
    """The stable id of one event of one restore or drill run."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}|{subject_id}|{event}"))


def restore_started(plan: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A restore orchestration began (``plan`` is the RestorePlan's dict)."""
    request = plan.get("request") or {}
    target = request.get("target") or {}
    details = {
        "backupInstance": plan.get("backupInstance"),
        "recoveryPoint": {"requested": request.get("recoveryPoint") or "latest", "before": request.get("before")},
        "target": {"containerUrl": target.get("containerUrl"), "filePrefix": target.get("filePrefix")},
        "validateOnly": bool(plan.get("validateOnly")),
        "load": bool(request.get("load")),
        "via": (plan.get("origin") or {}).get("via"),
    }
    stamp = format_datetime(at)
    return _notice("restore", "started", str(plan["restoreId"]), "running", stamp, started_at=stamp,
                   finished_at=None, error=None, details=details, links=_restore_links(str(plan["restoreId"])))


def restore_ended(result: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A restore's result record is final (``result`` is that record)."""
    restore_id = str(result["restoreId"])
    point = result.get("recoveryPoint") or {}
    details = {
        "backupInstance": result.get("backupInstance"),
        "recoveryPoint": {"id": point.get("id"), "time": point.get("time"), "store": point.get("store")},
        "target": dict(result.get("target") or {}),
        "validateOnly": bool(result.get("validateOnly")),
        "jobId": result.get("jobId"),
        "jobMayBeRunning": bool(result.get("jobMayBeRunning")),
        "via": (result.get("origin") or {}).get("via"),
    }
    return _notice("restore", "ended", restore_id, str(result.get("status")), format_datetime(at),
                   started_at=result.get("startedAt"), finished_at=result.get("finishedAt"),
                   error=_error(result.get("error")), details=details, links=_restore_links(restore_id))


def drill_started(run: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A drill run began (``run`` is the run orchestration's input)."""
    plan = run.get("plan") or {}
    details = {"scheduledAt": run.get("scheduledAt"), "container": plan.get("container"),
               "vaults": len(plan.get("vaults") or []), "via": (run.get("origin") or {}).get("via")}
    stamp = format_datetime(at)
    return _notice("drill", "started", str(run["runId"]), "running", stamp, started_at=stamp, finished_at=None,
                   error=None, details=details, links=_drill_links(str(run["runId"])))


def drill_ended(summary: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A drill run's summary is final: one notice for the whole run, whatever the number of servers drilled."""
    failures = list(summary.get("failures") or [])
    details = {
        "scheduledAt": summary.get("scheduledAt"),
        "total": summary.get("total"), "passed": summary.get("passed"), "failed": summary.get("failed"),
        "skipped": summary.get("skipped"),
        "failures": [{"backupInstance": _leaf(f.get("backupInstance")), "server": f.get("server"),
                      "reason": f.get("reason")} for f in failures[:MAX_FAILURES_LISTED]],
    }
    error = None
    if summary.get("error"):
        error = {"code": "DrillRunFailed", "message": str(summary["error"])[:MAX_MESSAGE_CHARS]}
    elif failures:
        reasons = sorted({str(f.get("reason")) for f in failures})
        error = {"code": "DrillsFailed", "message": f"{len(failures)} of {summary.get('total')} drills failed "
                                                    f"({', '.join(reasons)})"[:MAX_MESSAGE_CHARS]}
    run_id = str(summary["runId"])
    return _notice("drill", "ended", run_id, str(summary.get("status")), format_datetime(at),
                   started_at=summary.get("startedAt"), finished_at=summary.get("finishedAt"), error=error,
                   details=details, links=_drill_links(run_id))


def outcome_of(kind: str, event: str, status: str) -> str:
    """``running`` for a start, else ``success`` or ``failure``: what a receiver filters on."""
    if event == "started":
        return "running"
    good = SUCCESS_STATUSES if kind == "restore" else {"passed"}
    return "success" if status in good else "failure"


def with_link_base(notice: Mapping[str, Any], base: str | None) -> dict[str, Any]:
    """The notice with its links made absolute on the app's public URL (NOTIFY_LINK_BASE), when one is known."""
    if not base:
        return dict(notice)
    links = {name: f"{base.rstrip('/')}{path}" if isinstance(path, str) and path.startswith("/") else path
             for name, path in (notice.get("links") or {}).items()}
    return {**notice, "links": links}


def _notice(kind: str, event: str, subject_id: str, status: str, occurred_at: str, *, started_at: str | None,
            finished_at: str | None, error: dict[str, Any] | None, details: dict[str, Any],
            links: dict[str, str]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": kind,
        "event": event,
        "id": subject_id,
        "deliveryId": delivery_id(kind, subject_id, event),
        "status": status,
        "outcome": outcome_of(kind, event, status),
        "occurredAt": occurred_at,
        "timings": {"startedAt": started_at, "finishedAt": finished_at,
                    "durationSeconds": _duration(started_at, finished_at)},
        "error": error,
        "details": details,
        "links": links,
    }


def _error(error: object) -> dict[str, Any] | None:
    if not isinstance(error, Mapping):
        return None
    message = error.get("message")
    return {"code": error.get("code"), "message": str(message)[:MAX_MESSAGE_CHARS] if message else None,
            "advice": str(error["advice"])[:MAX_MESSAGE_CHARS] if error.get("advice") else None}


def _duration(started_at: str | None, finished_at: str | None) -> float | None:
    if not started_at or not finished_at:
        return None
    try:
        return round((parse_datetime(finished_at) - parse_datetime(started_at)).total_seconds(), 3)
    except ValueError:
        return None


def _restore_links(restore_id: str) -> dict[str, str]:
    return {"status": f"/api/restores/{quote(restore_id, safe='')}"}


def _drill_links(run_id: str) -> dict[str, str]:
    run = quote(run_id, safe="")
    return {"status": f"/api/drills/{run}", "evidence": f"/api/drills/{run}/evidence",
            "dashboard": "/api/drills/dashboard"}


def _leaf(arm_id: object) -> str | None:
    return str(arm_id).rstrip("/").rsplit("/", 1)[-1] if arm_id else None
