"""Drill activities on storage: verify the restored files, record results, send alerts, delete old drill files.

Each does one outside call (or one batch of them) and returns the ``{"ok": true, ...}`` envelope the
orchestrator's ArmSteps expects; an unexpected storage error raises and is retried by the orchestrator.
Verification reads the files by range (a few KiB per file), never whole.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
from azure.core.exceptions import ResourceNotFoundError

from activities.payload import Payload
from clients import alerts_queue, container_client, results_table
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
from pgflex_restore.timeutil import format_datetime, parse_datetime

DRILL_VERIFY_FILES = "drill_verify_files"
DRILL_RECORD_RESULT = "drill_record_result"
DRILL_RECORD_RUN = "drill_record_run"
DRILL_SEND_ALERT = "drill_send_alert"
DRILL_CLEANUP = "drill_cleanup"
CLEANUP_ROW = "cleanup"
PARALLEL_READS = 8

bp = df.Blueprint()


def verify_files(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: containerUrl, prefix, leaf, expectedDatabases. Output: the verification report."""
    container = container_client(payload["containerUrl"])
    prefix: str = payload["prefix"]
    files = [BlobFile(b.name[len(prefix):], int(b.size or 0)) for b in container.list_blobs(name_starts_with=prefix)]
    reads = {"count": 0, "bytes": 0}

    def fetch(name: str, offset: int, length: int) -> bytes:
        data: bytes = container.download_blob(prefix + name, offset=offset, length=length).readall()
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
    results_table(get_settings().drill_results_table).upsert_entity(instance_entity(payload["record"]))
    telemetry.drill_recorded(payload["record"])
    return {"ok": True}


def record_run(payload: dict[str, Any]) -> dict[str, Any]:
    """Upsert the run's summary row with its evidence hash, chained to the newest earlier run's hash.

    One query reads this run's rows and the earlier runs' summaries. Re-delivered, it finds its own summary
    row and keeps the link that row stored, so the same run recorded twice stores the same hash.
    """
    summary = payload["summary"]
    run_id = str(summary["runId"])
    table = results_table(get_settings().drill_results_table)
    quoted = run_id.replace("'", "''")
    rows = list(table.query_entities(
        f"PartitionKey eq '{quoted}' or (RowKey eq '{SUMMARY_ROW}' and PartitionKey lt '{quoted}')"))
    evidence = run_evidence(summary, rows)
    entity = _summary_row(summary, evidence)
    table.upsert_entity(entity)
    return {"ok": True, "evidence": evidence}


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
    """Put one alert on DRILL_ALERTS_QUEUE as JSON text."""
    sent = alerts_queue(get_settings().drill_alerts_queue).send_message(json.dumps(payload["alert"], sort_keys=True))
    return {"ok": True, "messageId": sent.id}


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
    for blob in container.list_blobs(name_starts_with=f"{FILES_ROOT}/"):
        parts = blob.name.split("/")
        run = parts[1] if len(parts) > 2 else ""
        when = run_time(run)
        if run == current or when is None or when >= cutoff:
            continue
        doomed.append(blob.name)
        stats = planned.setdefault(run, {"files": 0, "bytes": 0})
        stats["files"] += 1
        stats["bytes"] += int(blob.size or 0)
    table = results_table(get_settings().drill_results_table)
    runs = _merge_plans(_recorded_plan(table, current), planned)
    record = {
        "cutoff": format_datetime(cutoff),
        "deletedFiles": sum(s["files"] for s in runs.values()),
        "deletedBytes": sum(s["bytes"] for s in runs.values()),
        "deletedRuns": sorted(runs),
    }
    table.upsert_entity({
        "PartitionKey": current, "RowKey": CLEANUP_ROW, "kind": "cleanup",
        "deletedFiles": record["deletedFiles"], "deletedBytes": record["deletedBytes"],
        "record": json.dumps({**record, "perRun": runs}, sort_keys=True),
    })
    for name in doomed:
        with contextlib.suppress(ResourceNotFoundError):  # a concurrent attempt deleted it first
            container.delete_blob(name)
    return {"ok": True, **record}


def _recorded_plan(table: Any, run_id: str) -> dict[str, dict[str, int]]:
    """What an earlier attempt of this run's cleanup planned, if one got as far as recording it."""
    try:
        row = table.get_entity(run_id, CLEANUP_ROW)
    except ResourceNotFoundError:
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
