"""Drill records: reasons from restore results, Table rows within limits, the alert message, the summary."""

from __future__ import annotations

import json

from pgflex_restore.drills.records import (
    MAX_RECORD_CHARS,
    alert_message,
    classify_restore_failure,
    instance_entity,
    record_from_entity,
    summarize_run,
)


def test_restore_failures_map_to_drill_reasons() -> None:
    assert classify_restore_failure({"status": "deadline_exceeded"}) == "deadline-exceeded"
    assert classify_restore_failure({"status": "failed", "job": {"status": "Failed"}}) == "restore-job-failed"
    assert classify_restore_failure({"status": "failed", "restoreOperation": "u"}) == "restore-failed"
    assert classify_restore_failure({"status": "failed", "validateOperation": "u"}) == "validation-failed"
    # Validation passed, then the restore POST was refused (no operation, no job): a restore failure.
    refused = {"status": "failed", "validateOperation": "u", "validated": True, "recoveryPoint": {"id": "rp"}}
    assert classify_restore_failure(refused) == "restore-failed"
    assert classify_restore_failure({"status": "failed"}) == "restore-failed"


def test_instance_row_keeps_columns_and_a_trimmed_record() -> None:
    """Huge file lists are trimmed so the row stays under Table storage's property limit."""
    record = {"runId": "drill-1", "vault": "v", "instanceName": "bi", "status": "failed", "reason": "x",
              "files": [{"name": f"f{i}" * 40, "size": i} for i in range(2000)], "databases": {}}
    entity = instance_entity(record)
    assert entity["PartitionKey"] == "drill-1" and entity["RowKey"] == "instance:v:bi"
    assert len(entity["record"]) <= MAX_RECORD_CHARS
    back = record_from_entity(entity)
    assert back["filesTruncated"] == 2000 and len(back["files"]) == 20


def test_alert_is_plain_json_with_the_reason() -> None:
    record = {"runId": "drill-1", "backupInstance": "/bi", "server": "pg1", "reason": "stale-recovery-point",
              "message": "old", "problems": [], "recoveryPoint": {"id": "rp", "time": "t"}}
    alert = alert_message(record, details_path="/api/drills/drill-1")
    assert json.loads(json.dumps(alert)) == alert
    assert (alert["type"], alert["severity"], alert["reason"]) == ("RestoreDrillFailed", "Sev1",
                                                                   "stale-recovery-point")


def test_summary_counts() -> None:
    results = [{"status": "passed"}, {"status": "failed", "reason": "r", "server": "s"}, {"status": "skipped"}]
    summary = summarize_run({"runId": "drill-1", "plan": {"concurrency": 2}}, results, started_at="a",
                            finished_at="b", cleanup={"deletedFiles": 3})
    assert (summary["status"], summary["passed"], summary["failed"], summary["skipped"]) == ("failed", 1, 1, 1)
    assert summary["failures"] == [{"backupInstance": None, "server": "s", "reason": "r"}]
    assert summary["cleanup"]["deletedFiles"] == 3


def test_unknown_ages_are_left_out_of_the_row_not_written_as_zero() -> None:
    """A failed drill with no recovery point has no point age; 0 would read as a perfectly fresh backup."""
    unknown = instance_entity({"runId": "drill-1", "vault": "v", "instanceName": "bi", "status": "failed",
                               "pointAgeSeconds": None, "restoreDurationSeconds": None})
    assert "pointAgeSeconds" not in unknown and "restoreDurationSeconds" not in unknown
    known = instance_entity({"runId": "drill-1", "vault": "v", "instanceName": "bi", "status": "passed",
                             "pointAgeSeconds": 3600, "restoreDurationSeconds": 0})
    assert (known["pointAgeSeconds"], known["restoreDurationSeconds"]) == (3600.0, 0.0)
