"""Drill activities on storage: verify the restored files, record results, send alerts, delete old drill files.

Each does one outside call (or one batch of them) and returns the ``{"ok": true, ...}`` envelope the
orchestrator's ArmSteps expects. Storage calls fail fast (no SDK retries, bounded timeouts) and a storage error
comes back as the envelope's error, retryable when another attempt may pass: the orchestrator waits it out on
durable timers up to the drill's deadline. Left to the SDK, each call slept through its own backoff (about 90 s
per blob or queue call while storage was down), so a drill whose storage died stayed Running for many minutes.
Verification reads the files by range (a few KiB per file), never whole.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

from activities.payload import Payload
from clients import container_client
from pgflex_restore import telemetry
from pgflex_restore.drills.evidence import (
    build_document,
    evidence_columns,
    instance_records,
    newest_earlier_evidence,
    previous_link,
    run_fields,
    stored_evidence,
)
from pgflex_restore.drills.records import SUMMARY_ROW, instance_entity, summary_entity
from pgflex_restore.drills.run import FILES_ROOT, run_time
from pgflex_restore.drills.verify import HEAD_CACHE, BlobFile, verify_restored_files
from pgflex_restore.settings import get_settings
from pgflex_restore.storage import queue_client, table_service_client
from pgflex_restore.timeutil import format_datetime, parse_datetime

if TYPE_CHECKING:
    from azure.data.tables import TableClient

DRILL_VERIFY_FILES = "drill_verify_files"
DRILL_RECORD_RESULT = "drill_record_result"
DRILL_RECORD_RUN = "drill_record_run"
DRILL_SEND_ALERT = "drill_send_alert"
DRILL_CLEANUP = "drill_cleanup"
CLEANUP_ROW = "cleanup"
PARALLEL_READS = 8
# Every storage call of these activities: one try, bounded waits (the orchestrator does the retrying).
STORAGE_CALL: dict[str, Any] = {"retry_total": 0, "connection_timeout": 5, "read_timeout": 30}

log = logging.getLogger(__name__)
bp = df.Blueprint()


def storage_step(what: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one activity's storage work; a storage failure becomes the envelope's error (``what`` names the step).

    Unreachable storage, timeouts, 5xx, 408, 429 and 403 (a role assignment still spreading) may pass on another
    attempt; any other refusal (a missing container, a bad request) will not. A bug still raises.
    """
    try:
        return action()
    except AzureError as exc:
        status = getattr(exc, "status_code", None)
        retryable = status is None or status in (403, 408, 429) or status >= 500
        detail = (str(exc).strip().splitlines() or [""])[0][:300]
        log.warning("drill storage step failed (%s): %s: %s", what, type(exc).__name__, detail)
        return {"ok": False, "error": {
            "code": "StorageUnavailable" if retryable else "StorageError", "retryable": retryable,
            "message": f"{what}: {type(exc).__name__}{f' (HTTP {status})' if status else ''}: {detail}"}}


def results() -> TableClient:
    """The results table, without the create-on-first-use call (made only when a call finds no table)."""
    return table_service_client().get_table_client(get_settings().drill_results_table)


def creating_table(table: TableClient, action: Callable[[], Any]) -> Any:
    """``action()``, creating the table first if it answers TableNotFound (a fresh storage account)."""
    try:
        return action()
    except ResourceNotFoundError as exc:
        if getattr(exc, "error_code", None) != "TableNotFound":
            raise
    with contextlib.suppress(ResourceExistsError):
        table.create_table(**STORAGE_CALL)
    return action()


def verify_files(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: containerUrl, prefix, leaf, expectedDatabases. Output: the verification report."""
    return storage_step("reading the restored files", lambda: _verify_files(payload))


def _verify_files(payload: dict[str, Any]) -> dict[str, Any]:
    container = container_client(payload["containerUrl"])
    prefix: str = payload["prefix"]
    files = [BlobFile(b.name[len(prefix):], int(b.size or 0))
             for b in container.list_blobs(name_starts_with=prefix, **STORAGE_CALL)]
    reads = {"count": 0, "bytes": 0}

    def fetch(name: str, offset: int, length: int) -> bytes:
        data: bytes = container.download_blob(prefix + name, offset=offset, length=length,
                                             **STORAGE_CALL).readall()
        reads["count"] += 1
        reads["bytes"] += len(data)
        return data

    # Every file's head (magic, header, TOC; all of a small file) in parallel: one ranged GET each.
    with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
        heads = dict(zip((f.name for f in files), pool.map(
            lambda f: fetch(f.name, 0, min(HEAD_CACHE, f.size)) if f.size else b"", files), strict=True))

    def read(name: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        head = heads.get(name, b"")
        if offset + length <= len(head):
            return head[offset:offset + length]
        return fetch(name, offset, length)

    report = verify_restored_files(files, read, leaf=payload.get("leaf") or "",
                                   expected_databases=payload.get("expectedDatabases"))
    report.update(rangedReads=reads["count"], bytesRead=reads["bytes"])
    return {"ok": True, "report": report}


def record_result(payload: dict[str, Any]) -> dict[str, Any]:
    """Upsert one instance's row (a replayed activity writes the same row again, harmlessly), then count its
    verdict and RTO in telemetry (once per process: telemetry.py)."""
    def write() -> dict[str, Any]:
        table = results()
        creating_table(table, lambda: table.upsert_entity(instance_entity(payload["record"]), **STORAGE_CALL))
        return {"ok": True}

    outcome = storage_step("writing the drill's row to the results table", write)
    if outcome.get("ok"):
        telemetry.drill_recorded(payload["record"])
    return outcome


def record_run(payload: dict[str, Any]) -> dict[str, Any]:
    """Upsert the run's summary row with its evidence hash, chained to the newest earlier run's hash.

    One query reads this run's rows and the earlier runs' summaries. Re-delivered, it finds its own summary
    row and keeps the link that row stored, so the same run recorded twice stores the same hash.
    """
    summary = payload["summary"]
    run_id = str(summary["runId"])
    quoted = run_id.replace("'", "''")

    def write() -> dict[str, Any]:
        table = results()
        rows = creating_table(table, lambda: list(table.query_entities(
            f"PartitionKey eq '{quoted}' or (RowKey eq '{SUMMARY_ROW}' and PartitionKey lt '{quoted}')",
            **STORAGE_CALL)))
        evidence = run_evidence(summary, rows)
        table.upsert_entity(_summary_row(summary, evidence), **STORAGE_CALL)
        return {"ok": True, "evidence": evidence}

    return storage_step("writing the run's summary row to the results table", write)


def _summary_row(summary: dict[str, Any], evidence: dict[str, Any] | None) -> dict[str, Any]:
    """The summary row: records.py's columns, plus startedAt and the evidence as columns of their own (they
    must survive the record JSON's trimming, since the hash is rebuilt from the row)."""
    entity = summary_entity({**summary, "evidence": evidence} if evidence else summary)
    entity["startedAt"] = summary.get("startedAt") or ""
    if evidence:
        entity.update(evidence_columns(evidence))
    return entity


def run_evidence(summary: dict[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{hash, previousRunId, previousHash}`` of the run, from its rows as stored (rows: this run's and the
    earlier summaries)."""
    run_id = str(summary["runId"])
    own = next((r for r in rows if r.get("PartitionKey") == run_id and r.get("RowKey") == SUMMARY_ROW), None)
    recorded = stored_evidence(own) if own else None
    if recorded:
        previous = previous_link(recorded["previousRunId"], recorded["previousHash"])
    else:
        previous = newest_earlier_evidence(rows, run_id)
    document = build_document(run_fields(_summary_row(summary, None)), instance_records(rows, run_id), previous)
    return {"hash": document["hash"], "previousRunId": (previous or {}).get("runId"),
            "previousHash": (previous or {}).get("hash")}


def send_alert(payload: dict[str, Any]) -> dict[str, Any]:
    """Put one alert on DRILL_ALERTS_QUEUE as JSON text (creating the queue if it answers QueueNotFound)."""
    def send() -> dict[str, Any]:
        queue = queue_client(get_settings().drill_alerts_queue)
        text = json.dumps(payload["alert"], sort_keys=True)
        try:
            sent = queue.send_message(text, **STORAGE_CALL)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                queue.create_queue(**STORAGE_CALL)
            sent = queue.send_message(text, **STORAGE_CALL)
        return {"ok": True, "messageId": sent.id}

    return storage_step("putting the alert on the alert queue", send)


def cleanup(payload: dict[str, Any]) -> dict[str, Any]:
    """Delete drill files of runs older than the retention; record what went in the results table.

    Input: containerUrl, runId (kept whatever its age), now (the orchestration's time), retentionSeconds.
    Only ``drills/<run id>/...`` blobs are considered: the run id carries the run's time, so ages are measured
    on the orchestration's clock, and nothing the drills did not write is ever touched.

    The activity may run more than once (its first outcome lost): the plan is recorded before anything is
    deleted, and each run's figures are the largest any attempt planned, so a second attempt, which finds the
    files already gone, reports what the first one deleted rather than nothing.
    """
    container = container_client(payload["containerUrl"])
    cutoff = parse_datetime(payload["now"]) - timedelta(seconds=float(payload["retentionSeconds"]))
    current = payload["runId"]
    doomed: list[str] = []
    planned: dict[str, dict[str, int]] = {}
    for blob in container.list_blobs(name_starts_with=f"{FILES_ROOT}/", **STORAGE_CALL):
        parts = blob.name.split("/")
        run = parts[1] if len(parts) > 2 else ""
        when = run_time(run)
        if run == current or when is None or when >= cutoff:
            continue
        doomed.append(blob.name)
        stats = planned.setdefault(run, {"files": 0, "bytes": 0})
        stats["files"] += 1
        stats["bytes"] += int(blob.size or 0)
    table = results()
    runs = _merge_plans(_recorded_plan(table, current), planned)
    record = {
        "cutoff": format_datetime(cutoff),
        "deletedFiles": sum(s["files"] for s in runs.values()),
        "deletedBytes": sum(s["bytes"] for s in runs.values()),
        "deletedRuns": sorted(runs),
    }
    row = {
        "PartitionKey": current, "RowKey": CLEANUP_ROW, "kind": "cleanup",
        "deletedFiles": record["deletedFiles"], "deletedBytes": record["deletedBytes"],
        "record": json.dumps({**record, "perRun": runs}, sort_keys=True),
    }
    creating_table(table, lambda: table.upsert_entity(row, **STORAGE_CALL))
    for name in doomed:
        with contextlib.suppress(ResourceNotFoundError):  # a concurrent attempt deleted it first
            container.delete_blob(name, **STORAGE_CALL)
    return {"ok": True, **record}


def _recorded_plan(table: Any, run_id: str) -> dict[str, dict[str, int]]:
    """What an earlier attempt of this run's cleanup planned, if one got as far as recording it."""
    try:
        row = table.get_entity(run_id, CLEANUP_ROW, **STORAGE_CALL)
    except ResourceNotFoundError:  # no such row, or no table yet
        return {}
    per_run = json.loads(row.get("record") or "{}").get("perRun") or {}
    return {str(run): {"files": int(s.get("files", 0)), "bytes": int(s.get("bytes", 0))}
            for run, s in per_run.items() if isinstance(s, dict)}


def _merge_plans(earlier: dict[str, dict[str, int]], now: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Later attempts see a subset of what the first one planned (files only go), so the larger figure wins."""
    merged = {run: dict(stats) for run, stats in earlier.items()}
    for run, stats in now.items():
        known = merged.setdefault(run, {"files": 0, "bytes": 0})
        known["files"] = max(known["files"], stats["files"])
        known["bytes"] = max(known["bytes"], stats["bytes"])
    return merged


@bp.activity_trigger(input_name="payload")
def drill_verify_files(payload: Payload) -> dict[str, Any]:
    return verify_files(payload)


@bp.activity_trigger(input_name="payload")
def drill_record_result(payload: Payload) -> dict[str, Any]:
    return record_result(payload)


@bp.activity_trigger(input_name="payload")
def drill_record_run(payload: Payload) -> dict[str, Any]:
    return record_run(payload)


@bp.activity_trigger(input_name="payload")
def drill_send_alert(payload: Payload) -> dict[str, Any]:
    return send_alert(payload)


@bp.activity_trigger(input_name="payload")
def drill_cleanup(payload: Payload) -> dict[str, Any]:
    return cleanup(payload)
