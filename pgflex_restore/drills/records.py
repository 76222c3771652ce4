"""Drill result records: one per instance per run, one summary per run; their Table rows; the alert message.

Records are plain camelCase dicts (they cross the durable boundary and the HTTP API as they are). A Table row
keeps the few columns a query or a dashboard needs as properties and the whole record as JSON in ``record``,
trimmed to stay under Table storage's 64 KiB property limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pgflex_restore.inputs import nesting_depth

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


UNREADABLE = "unreadable"
MAX_DEPTH = 32  # drill records nest 4 deep; far deeper JSON is not a record, and would strain every encoder
SHOWN_CHARS = 200
_VERDICTS = {"instance": (PASSED, FAILED, SKIPPED), SUMMARY_ROW: (PASSED, FAILED)}


def record_from_entity(entity: Any) -> dict[str, Any]:
    """The record a row holds (the JSON column, or the row's own columns for a row without one); never raises.

    A row that cannot be read as a drill record (the JSON column is not JSON text of an object, a key field has
    the wrong type, rows edited by hand or written by something else) comes back as a stand-in every reader can
    show: ``{"status": "unreadable", "unreadable": {"row": "<run>/<row key>", "problem": "..."}}`` plus runId and
    kind when known. One bad row must not take the API or the dashboard down with it.
    """
    record, problem = read_row(entity)
    if problem is None:
        return record
    keys = entity if isinstance(entity, Mapping) else {}
    marker: dict[str, Any] = {"status": UNREADABLE,
                              "unreadable": {"row": _clip(f"{_key(keys, 'PartitionKey')}/{_key(keys, 'RowKey')}"),
                                             "problem": _clip(problem)}}
    for name, column in (("runId", "PartitionKey"), ("kind", "kind")):
        if isinstance(keys.get(column), str):
            marker[name] = _clip(keys[column])
    return marker


def read_row(entity: Any) -> tuple[dict[str, Any], str | None]:
    """``(record, None)`` for a row that reads as a drill record, else ``({}, what is wrong)``. Pure and total."""
    if not isinstance(entity, Mapping):
        return {}, f"not a table row: {_kind_of(entity)}"
    raw = entity.get("record")
    if raw is None or raw == "":
        record = {k: v for k, v in entity.items() if isinstance(k, str) and k not in ("PartitionKey", "RowKey",
                                                                                     "record")}
        source = "no record column, and the row's own"
    else:
        if not isinstance(raw, str):
            return {}, f"the record column holds {_kind_of(raw)}, not JSON text"
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return {}, f"the record column is not JSON ({type(exc).__name__}: {exc}): {raw[:60]!r}"
        if not isinstance(data, dict):
            return {}, f"the record column holds {_kind_of(data)} in JSON, not an object"
        if too_deep(data):
            return {}, f"the record JSON nests deeper than {MAX_DEPTH} levels"
        record, source = data, "its"
    problem = _key_problem(entity, record)
    return (record, None) if problem is None else ({}, f"{source} {problem}")


def _key_problem(entity: Mapping[str, Any], record: Mapping[str, Any]) -> str | None:
    """What makes a decoded record unusable: a key field (run, verdict, which instance) missing or mistyped."""
    row_key = str(entity.get("RowKey") or "")
    kind = "instance" if row_key.startswith("instance:") else SUMMARY_ROW if row_key == SUMMARY_ROW else None
    if "runId" in record and not isinstance(record["runId"], str):
        return f"runId is {_kind_of(record['runId'])}, expected text"
    if kind is None:
        return None
    status = record.get("status")
    if status not in _VERDICTS[kind]:
        return f"status is {_kind_of(status)}, expected {' or '.join(_VERDICTS[kind])}"
    if kind == "instance":
        names = [record.get(k) for k in ("backupInstance", "instanceName")]
        if any(n is not None and not isinstance(n, str) for n in names) or not any(names):
            return (f"backupInstance and instanceName are {_kind_of(names[0])} and {_kind_of(names[1])}, "
                    "expected text naming the backup instance")
    return None


def too_deep(value: Any) -> bool:
    """Nesting beyond MAX_DEPTH, counted without recursion."""
    return nesting_depth(value) > MAX_DEPTH


def _kind_of(value: Any) -> str:
    """A value described for a person: its type, and the value itself when short."""
    if value is None:
        return "missing"
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
    kind = kinds.get(type(value), f"a {type(value).__name__}")
    short = isinstance(value, bool | float | str) or (isinstance(value, int) and abs(value) < 10**30)
    shown = repr(value) if short else ""
    return f"{kind} {shown[:40]}" if shown and len(shown) <= 40 else kind


def _key(entity: Mapping[str, Any], name: str) -> str:
    value = entity.get(name)
    return value if isinstance(value, str) else "?"


def _clip(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "\u2026"


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
        "recordError": record.get("recordError"),  # set: the table has no row of this drill; this alert is all
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


UNRECORDED_ALERT_TYPE = "RestoreDrillNotRecorded"


def unrecorded_alert(record: Mapping[str, Any], *, details_path: str) -> dict[str, Any]:
    """The alert for a drill outcome (an instance's record or a run's summary) the results table did not take:
    sent through the queue, which may still work when the table does not, so the verdict is not lost unseen."""
    instance = record.get("backupInstance") or record.get("instanceName")
    return {
        "schema": ALERT_SCHEMA,
        "alertId": f"{record.get('runId')}|{instance or 'run'}|unrecorded",
        "type": UNRECORDED_ALERT_TYPE,
        "severity": "Sev2",
        "runId": record.get("runId"),
        "backupInstance": record.get("backupInstance"),
        "vault": record.get("vault"),
        "server": record.get("server"),
        "reason": "not-recorded",
        "check": None,
        "message": lost_outcome(record) or "the drill's outcome could not be recorded",
        "verdict": record.get("status"),
        "recordError": record.get("recordError"),
        "occurredAt": record.get("finishedAt"),
        "details": details_path,
    }


def lost_outcome(record: Mapping[str, Any]) -> str | None:
    """One line saying what of a drill's outcome was not recorded (its row, its alert) and what the verdict was;
    None when nothing was lost. ``record`` is an instance record or a run summary."""
    lost = []
    if record.get("recordError"):
        lost.append(f"its row could not be written to the results table ({record['recordError']})")
    if record.get("alertError"):
        lost.append(f"its alert could not be put on the alert queue ({record['alertError']})")
    if not lost:
        return None
    if record.get("kind") == "summary":
        what = (f"the run summary ({record.get('status')}: {record.get('passed')} passed, {record.get('failed')} "
                f"failed, {record.get('skipped')} skipped)")
    else:
        what = (f"the drill of {record.get('server') or record.get('instanceName')} ({record.get('backupInstance')}"
                f"; {record.get('status')}, {record.get('reason') or 'no failure'}: {record.get('message')})")
    return f"{what}: " + "; ".join(lost)
