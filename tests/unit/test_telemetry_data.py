"""What telemetry exports, as data: operation kinds, status classes, a restore's spans, a drill's verdict, the
record's phase times, and the restore orchestrator's one telemetry step (driven directly)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from orchestrations.load import LOAD_ORCHESTRATION
from orchestrations.restore import run_restore
from pgflex_restore.progress import phase_times
from pgflex_restore.telemetry_data import (
    RESTORE_PHASES,
    arm_call_attributes,
    drill_telemetry,
    operation_kind,
    restore_summary,
    restore_telemetry,
    status_class,
)
from tests.orchestration_driver import FakeContext, Task, activities, drive
from tests.unit.test_load_orchestration import restore_plan_with_load
from tests.unit.test_restore_orchestration import NOW, TRACKED_OK, Host, failed, happy, plan

ARM = "https://management.azure.com"
SUB = "/subscriptions/s1/resourceGroups/rg/providers"
DP = f"{SUB}/Microsoft.DataProtection/backupVaults/v1"


@pytest.mark.parametrize(("path", "kind"), [
    (f"{DP}/backupInstances/pg1/recoveryPoints?api-version=2026-06-01&$filter=x",
     "Microsoft.DataProtection/backupVaults/backupInstances/recoveryPoints"),
    (f"{DP}/backupInstances/pg1/recoveryPoints/rp-0",
     "Microsoft.DataProtection/backupVaults/backupInstances/recoveryPoints"),
    (f"{DP}/backupInstances/pg1/restore", "Microsoft.DataProtection/backupVaults/backupInstances/restore"),
    (f"{DP}/backupInstances/pg1/validateRestore",
     "Microsoft.DataProtection/backupVaults/backupInstances/validateRestore"),
    (f"{DP}/backupJobs/1111", "Microsoft.DataProtection/backupVaults/backupJobs"),
    ("/subscriptions/s1/providers/Microsoft.DataProtection/locations/westeurope/operationStatus/abc",
     "Microsoft.DataProtection/locations/operationStatus"),
    (f"{SUB}/Microsoft.DBforPostgreSQL/flexibleServers/pg/configurations/azure.extensions",
     "Microsoft.DBforPostgreSQL/flexibleServers/configurations"),
    (f"{SUB}/Microsoft.App/jobs/loader/executions/loader-x1/stop", "Microsoft.App/jobs/executions/stop"),
    (f"{SUB}/Microsoft.App/jobs/loader/start", "Microsoft.App/jobs/start"),
    ("/metadata/identity/oauth2/token", "other"),
    ("/subscriptions/s1/providers", "other"),
])
def test_the_operation_kind_names_resource_types_never_names(path: str, kind: str) -> None:
    assert operation_kind(ARM + path) == kind


def test_status_classes_and_the_arm_call_attributes() -> None:
    assert [status_class(s) for s in (200, 202, 301, 404, 429, 503, None, 0, 600)] == [
        "2xx", "2xx", "3xx", "4xx", "4xx", "5xx", "none", "none", "none"]
    assert arm_call_attributes("get", f"{ARM}{DP}/backupJobs", 200) == {
        "method": "GET", "statusClass": "2xx", "operation": "Microsoft.DataProtection/backupVaults/backupJobs"}


def _at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_phase_times_run_from_each_phase_to_the_next_and_keep_only_working_phases() -> None:
    entered = [("selecting", _at(0)), ("validating", _at(5)), ("restoring", _at(40)), ("tracking", _at(100)),
               ("succeeded", _at(700))]
    times = phase_times(entered, _at(700), RESTORE_PHASES)
    assert list(times) == ["selecting", "validating", "restoring", "tracking"]
    assert times["validating"] == {"startedAt": "2026-11-01T02:00:05Z", "finishedAt": "2026-11-01T02:00:40Z",
                                   "durationSeconds": 35.0}
    assert times["tracking"]["finishedAt"] == "2026-11-01T02:11:40Z"  # the next phase is not a working one
    assert phase_times([("selecting", _at(0))], _at(1.5), RESTORE_PHASES)["selecting"]["durationSeconds"] == 1.5


def record(status: str = "succeeded", error: dict[str, Any] | None = None) -> dict[str, Any]:
    entered = [("selecting", _at(0)), ("validating", _at(5)), ("restoring", _at(40)), ("tracking", _at(100))]
    return {"restoreId": "restore-x", "status": status, "backupInstance": f"{DP}/backupInstances/pg1",
            "recoveryPoint": {"id": "rp-0", "time": "t", "store": "VaultStore"}, "jobId": "job-1",
            "origin": {"via": "http"}, "startedAt": "2026-11-01T02:00:00Z", "finishedAt": "2026-11-01T02:11:40Z",
            "phases": phase_times(entered, _at(700), RESTORE_PHASES), "error": error, "load": {"huge": "report"}}


def test_a_succeeded_restore_is_a_root_span_with_a_child_per_phase_in_order() -> None:
    summary = restore_summary(record())
    assert "load" not in summary and summary["recoveryPoint"] == "rp-0" and summary["via"] == "http"
    data = restore_telemetry(summary)
    assert data.root.name == "restore" and data.root.error is None
    assert (data.root.start, data.root.end) == (_at(0), _at(700))
    assert data.root.attributes == {"restoreId": "restore-x", "status": "succeeded", "recoveryPoint": "rp-0",
                                    "backupInstance": f"{DP}/backupInstances/pg1", "jobId": "job-1", "via": "http"}
    assert [s.name for s in data.phases] == ["restore.selecting", "restore.validating", "restore.restoring",
                                             "restore.tracking"]
    assert all(s.start < s.end and s.error is None for s in data.phases)
    assert [(a["phase"], seconds) for a, seconds in data.durations] == [
        ("selecting", 5.0), ("validating", 35.0), ("restoring", 60.0), ("tracking", 600.0)]
    assert data.key == "restore|restore-x"


def test_a_failed_restore_marks_the_root_and_the_phase_it_failed_in() -> None:
    data = restore_telemetry(restore_summary(record("failed", {"code": "UserErrorX", "message": "m"})))
    assert data.root.error == "UserErrorX" and data.root.attributes["errorCode"] == "UserErrorX"
    assert [s.error for s in data.phases] == [None, None, None, "UserErrorX"]
    assert {a["status"] for a, _ in data.durations} == {"failed"}


def test_a_drill_verdict_with_its_rto() -> None:
    passed = {"runId": "drill-1", "backupInstance": "bi-1", "server": "pg-a", "status": "passed", "reason": None,
              "startedAt": "2026-11-01T03:00:00Z", "finishedAt": "2026-11-01T03:02:30Z"}
    data = drill_telemetry(passed)
    assert data.attributes == {"verdict": "passed", "server": "pg-a"} and data.rto_seconds == 150.0
    assert data.key == "drill|drill-1|bi-1"
    proved = drill_telemetry({**passed, "status": "failed", "reason": "rto-breached", "rto": {"seconds": 7200.0}})
    assert proved.attributes["reason"] == "rto-breached" and proved.rto_seconds == 7200.0
    assert drill_telemetry({**passed, "status": "failed", "reason": "dump-truncated"}).rto_seconds is None
    assert drill_telemetry({**passed, "status": "skipped", "server": None, "instanceName": "pg-b"}).attributes == {
        "verdict": "skipped", "server": "pg-b"}


def _run(plan_input: dict[str, Any], answers: dict[str, list[Any]]) -> tuple[dict[str, Any], FakeContext]:
    context = FakeContext(plan_input, NOW, instance_id="r1")
    return drive(run_restore(context), context, Host(answers)), context


def test_the_restore_hands_its_final_record_to_the_telemetry_activity_last_when_telemetry_is_on() -> None:
    on = plan(APPLICATIONINSIGHTS_CONNECTION_STRING="InstrumentationKey=00000000-0000-0000-0000-000000000000")
    result, context = _run(on, {**happy(), "restore_telemetry": [{"ok": True, "emitted": True}]})
    assert activities(context)[-1] == "restore_telemetry"
    sent = context.scheduled[-1][2]["restore"]
    assert sent == restore_summary(result) and sent["status"] == "succeeded"
    assert list(result["phases"]) == ["selecting", "validating", "restoring", "tracking"]
    assert result["phases"]["validating"]["startedAt"] == "2026-11-01T02:00:00Z"  # selecting took no time here
    assert result["phases"]["tracking"]["finishedAt"] == result["finishedAt"]


def test_no_telemetry_activity_without_the_setting_and_a_failing_one_changes_nothing() -> None:
    result, context = _run(plan(), happy())
    assert "restore_telemetry" not in activities(context) and result["status"] == "succeeded"
    on = plan(APPLICATIONINSIGHTS_CONNECTION_STRING="InstrumentationKey=00000000-0000-0000-0000-000000000000")
    boom = RuntimeError("Activity function 'restore_telemetry' failed: boom")
    result, context = _run(on, {**happy(validate_restore=[failed("UserErrorX")]), "restore_telemetry": [boom]})
    assert result["status"] == "failed" and result["error"]["code"] == "UserErrorX"
    assert list(result["phases"]) == ["selecting", "validating"]


def test_a_restore_with_a_load_has_a_loading_phase_and_span() -> None:
    context = FakeContext({**restore_plan_with_load(), "telemetry": True}, NOW, instance_id="r1")
    given = {**happy(), "restore_telemetry": [{"ok": True, "emitted": True}]}

    def host(task: Task) -> Any:
        if task[0] == "timer":
            return None
        if task[0] == "sub" and task[1] == LOAD_ORCHESTRATION:
            context.current_utc_datetime += timedelta(minutes=20)  # the loader works for 20 minutes
            return {"status": "loaded", "error": None, "load": {"status": "loaded"}, "armCalls": 9}
        if task[0] == "sub":
            return TRACKED_OK
        return given[task[1]].pop(0)

    result = drive(run_restore(context), context, host)
    assert result["status"] == "loaded" and list(result["phases"]) == [*RESTORE_PHASES]
    assert result["phases"]["loading"]["durationSeconds"] == 1200.0
    data = restore_telemetry(context.scheduled[-1][2]["restore"])
    assert [s.name for s in data.phases][-1] == "restore.loading" and data.root.error is None
