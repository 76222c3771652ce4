"""Drill result records: one per instance per run, one summary per run; their Table rows; the alert message.

Records are plain camelCase dicts (they cross the durable boundary and the HTTP API as they are). A Table row
keeps the few columns a query or a dashboard needs as properties and the whole record as JSON in ``record``,
trimmed to stay under Table storage's 64 KiB property limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
SUMMARY_ROW = "summary"
ALERT_SCHEMA = "pgflex-restore/drill-alert/v1"
MAX_RECORD_CHARS = 30_000  # a Table string property holds 64 KiB of UTF-16


def classify_restore_failure(result: Mapping[str, Any]) -> str:
    """The drill reason for a restore orchestration that did not succeed, from its result record."""
    status = result.get("status")
    if status == "deadline_exceeded":
        return "deadline-exceeded"
    if result.get("job"):
        return "restore-job-failed"
    if result.get("validated") or result.get("restoreOperation") or result.get("jobId"):
        return "restore-failed"  # validation passed: the restore request itself was refused or went wrong
    if result.get("validateOperation") or result.get("recoveryPoint"):
        return "validation-failed"
    return "restore-failed"


def instance_row_key(vault: str, instance_name: str) -> str:
    """RowKey of an instance row: Table keys may not hold / \\ # ? so the ARM id is not used."""
    return f"instance:{vault}:{instance_name}"


def _trim(record: Mapping[str, Any]) -> str:
    text = json.dumps(record, sort_keys=True, default=str)
    if len(text) <= MAX_RECORD_CHARS:
        return text
    slim = dict(record)
    files = list(slim.get("files") or [])
    slim["files"] = files[:20]
    slim["filesTruncated"] = len(files)
    slim["databases"] = {k: {"size": (v or {}).get("size")} for k, v in (slim.get("databases") or {}).items()}
    if isinstance(slim.get("load"), Mapping):
        slim["load"] = {k: slim["load"].get(k) for k in ("status", "failedStep", "error")}
    slim["checks"] = [_slim_check(c) for c in slim.get("checks") or []]
    text = json.dumps(slim, sort_keys=True, default=str)
    if len(text) <= MAX_RECORD_CHARS:
        return text
    slim["rowCounts"] = list(slim.get("rowCounts") or [])[:50]
    text = json.dumps(slim, sort_keys=True, default=str)
    if len(text) <= MAX_RECORD_CHARS:
        return text
    keep = ("runId", "backupInstance", "instanceName", "vault", "server", "status", "reason", "message",
            "failedCheck", "phases", "rto", "rpo", "tables", "scratch")
    return json.dumps({k: record.get(k) for k in keep if k in record} | {"recordTruncated": True,
                      "checks": [{k: c.get(k) for k in ("name", "outcome")} for c in record.get("checks") or []]},
                      default=str)


def _slim_check(check: Mapping[str, Any]) -> dict[str, Any]:
    """A check item with its lists cut to 10 (the full lists are in the loader's report)."""
    return {k: (v[:10] if isinstance(v, list) else v) for k, v in check.items()}


def instance_entity(record: Mapping[str, Any]) -> dict[str, Any]:
    """The Table row of one instance's drill result."""
    entity = {
        "PartitionKey": record["runId"],
        "RowKey": instance_row_key(str(record.get("vault")), str(record.get("instanceName"))),
        "kind": "instance",
        "status": record.get("status"),
        "reason": record.get("reason") or "",
        "server": record.get("server") or "",
        "backupInstance": record.get("backupInstance"),
        "jobId": record.get("jobId") or "",
        "totalBytes": int(record.get("totalBytes") or 0),
        "finishedAt": record.get("finishedAt") or "",
        "record": _trim(record),
    }
    # Unknown is not zero: a drill with no point has no point age (a query for fresh points must not match it).
    for key in ("pointAgeSeconds", "restoreDurationSeconds"):
        if record.get(key) is not None:
            entity[key] = float(record[key])
    return entity


def summary_entity(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The Table row of one run's summary."""
    return {
        "PartitionKey": summary["runId"],
        "RowKey": SUMMARY_ROW,
        "kind": "summary",
        "status": summary.get("status"),
        "scheduledAt": summary.get("scheduledAt") or "",
        "finishedAt": summary.get("finishedAt") or "",
        "total": int(summary.get("total") or 0),
        "passed": int(summary.get("passed") or 0),
        "failed": int(summary.get("failed") or 0),
        "skipped": int(summary.get("skipped") or 0),
        "record": _trim(summary),
    }


def record_from_entity(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The record a row holds (the JSON column), or the row's own columns for a row without one."""
    raw = entity.get("record")
    if isinstance(raw, str) and raw:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
    return {k: v for k, v in entity.items() if k not in ("PartitionKey", "RowKey", "record")}


def summarize_run(run: Mapping[str, Any], results: Iterable[Mapping[str, Any]], *, started_at: str,
                  finished_at: str, cleanup: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's summary: counts, overall status, the failures in one line each, and the cleanup record.

    ``run`` is the run orchestration's input (runId, scheduledAt, plan).
    """
    items = list(results)
    plan = run.get("plan") or {}
    counts = {s: sum(1 for r in items if r.get("status") == s) for s in (PASSED, FAILED, SKIPPED)}
    return {
        "runId": run["runId"],
        "kind": "summary",
        "status": FAILED if counts[FAILED] else PASSED,
        "scheduledAt": run.get("scheduledAt"),
        "startedAt": started_at,
        "finishedAt": finished_at,
        "total": len(items),
        **counts,
        "failures": [
            {"backupInstance": r.get("backupInstance"), "server": r.get("server"), "reason": r.get("reason")}
            for r in items if r.get("status") == FAILED
        ],
        "cleanup": dict(cleanup or {}),
        "plan": {k: plan.get(k) for k in ("container", "recoveryPoint", "maxPointAge", "concurrency", "retention")},
    }


def alert_message(record: Mapping[str, Any], *, details_path: str) -> dict[str, Any]:
    """The JSON sent to the alert queue for a failed drill (one message per failed instance).

    Delivery is at least once (an activity may run again after a host crash): consumers dedupe on ``alertId``.
    """
    point = record.get("recoveryPoint") or {}
    return {
        "schema": ALERT_SCHEMA,
        "alertId": f"{record.get('runId')}|{record.get('backupInstance') or record.get('instanceName')}",
        "type": "RestoreDrillFailed",
        "severity": "Sev1" if record.get("reason") in ("stale-recovery-point", "rpo-breached") else "Sev2",
        "runId": record.get("runId"),
        "backupInstance": record.get("backupInstance"),
        "vault": record.get("vault"),
        "server": record.get("server"),
        "reason": record.get("reason"),
        "message": record.get("message"),
        "problems": [{"code": p.get("code"), "message": p.get("message")} for p in record.get("problems") or []],
        "recoveryPoint": {"id": point.get("id"), "time": point.get("time")} if point else None,
        "pointAgeSeconds": record.get("pointAgeSeconds"),
        "jobId": record.get("jobId"),
        "occurredAt": record.get("finishedAt"),
        "details": details_path,
        "check": record.get("failedCheck"),
    }


SCRATCH_ALERT_TYPE = "RestoreDrillScratchNotDropped"


def scratch_alert(record: Mapping[str, Any], *, details_path: str) -> dict[str, Any]:
    """The alert for scratch databases a drill could not drop (sent whatever the drill's verdict): they hold a
    copy of production data on the drill server until someone drops them."""
    scratch = record.get("scratch") or {}
    names = ", ".join(str(d.get("database")) for d in scratch.get("databases") or []) or "(see the record)"
    return {
        "schema": ALERT_SCHEMA,
        "alertId": f"{record.get('runId')}|{record.get('backupInstance') or record.get('instanceName')}|scratch",
        "type": SCRATCH_ALERT_TYPE,
        "severity": "Sev2",
        "runId": record.get("runId"),
        "backupInstance": record.get("backupInstance"),
        "vault": record.get("vault"),
        "server": record.get("server"),
        "reason": "scratch-not-dropped",
        "check": None,
        "message": f"{record.get('server')}: the drill's scratch databases on {scratch.get('server')} were not "
                   f"dropped ({scratch.get('error')}): drop {names} on the drill server by hand",
        "scratch": dict(scratch),
        "occurredAt": record.get("finishedAt"),
        "details": details_path,
    }
