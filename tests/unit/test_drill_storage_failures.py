"""Drills whose storage fails (issue 17 item 6), driven as plain generators: retries stop at the drill's deadline,
a verdict the table did not take is alerted through the queue, and what could not be recorded at all is logged at
ERROR, once, not on replays. The storage activities' envelope is checked against real azure-core errors."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from activities.drill_results import storage_step
from orchestrations.drill import BOOKKEEPING_DEADLINE, DrillRun, InstanceDrill, drill_deadline
from tests.orchestration_driver import FakeContext, activities, drive

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
VAULT = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
RESTORE = {"poll": {"min": 5, "max": 600, "default": 30}, "timeoutSeconds": 1800, "maxTransientRetries": 8}
PATIENT = {**RESTORE, "maxTransientRetries": 50}  # retries outlast every deadline
TARGET = {"id": f"{VAULT}/backupInstances/bi", "name": "bi", "vault": "v1", "server": "pg", "prefix": "drills/x/",
          "leaf": "pg", "expectedDatabases": None}
DOWN = {"ok": False, "error": {"code": "StorageUnavailable", "message": "table: ServiceRequestError: refused",
                               "retryable": True}}
GONE = {"ok": False, "error": {"code": "StorageError", "message": "queue: 404", "retryable": False}}
FRESH = (NOW - timedelta(hours=5)).isoformat()


def drill_input(restore: dict[str, Any] = RESTORE) -> dict[str, Any]:
    return {"runId": "drill-1", "index": 0, "target": TARGET, "container": "https://a.blob.core.windows.net/d",
            "selection": {"mode": "latest"}, "maxPointAgeSeconds": 8 * 86400, "restore": restore}


def instance_answers(context: FakeContext, storage: dict[str, dict[str, Any]]) -> Any:
    """A drill that restores in an hour; ``storage`` answers the storage activities by name (default: ok)."""
    def answer(task: tuple[Any, ...]) -> Any:
        if task[0] == "timer":
            return None
        if task[0] == "sub":
            context.current_utc_datetime += timedelta(hours=1)
            return {"status": "succeeded", "jobId": "j", "startedAt": NOW.isoformat(),
                    "finishedAt": (NOW + timedelta(hours=1)).isoformat()}
        if task[1] == "drill_choose_point":
            return {"ok": True, "choice": {"point": {"id": "rp", "time": FRESH, "stores": []},
                                           "pointAgeSeconds": 18000.0}}
        if task[1] in storage:
            return storage[task[1]]
        if task[1] == "drill_verify_files":
            return {"ok": True, "report": {"files": [], "databases": {"appdb": {}}, "problems": [], "totalBytes": 1}}
        return {"ok": True}
    return answer


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]


def test_storage_gone_for_good_ends_the_drill_at_its_deadline_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    """Every storage call fails, retryably, and retries outlast every deadline: verify retries for its own
    BOOKKEEPING_DEADLINE, the record until the drill's deadline, and the alert, due after it, gets one attempt."""
    context = FakeContext(drill_input(PATIENT), NOW, instance_id="drill-1:0000")
    storage = {name: DOWN for name in ("drill_verify_files", "drill_record_result", "drill_send_alert")}
    record = drive(InstanceDrill(context).run(), context, instance_answers(context, storage))
    deadline = drill_deadline(NOW, drill_input(PATIENT))
    assert deadline == NOW + timedelta(minutes=30) + 2 * BOOKKEEPING_DEADLINE
    assert (record["status"], record["reason"]) == ("failed", "drill-error")
    assert record["message"] == ("DeadlineExceeded: still failing at the deadline: StorageUnavailable: table: "
                                 "ServiceRequestError: refused")
    timers = [t[1] for t in context.scheduled if t[0] == "timer"]
    assert NOW + timedelta(hours=1) + BOOKKEEPING_DEADLINE in timers  # verify gave up after its own two hours
    assert max(timers) == deadline and context.current_utc_datetime == deadline
    names = activities(context)
    assert names[-2:] == ["drill_record_result", "drill_send_alert"] and names.count("drill_send_alert") == 1
    assert record["recordError"] == record["alertError"] == record["message"]
    [line] = errors(caplog)
    assert line.startswith("drill run drill-1: not recorded: the drill of pg (")
    assert "its row could not be written to the results table (" in line and "its alert could not be put" in line


def test_a_verdict_the_table_did_not_take_is_alerted_through_the_queue(caplog: pytest.LogCaptureFixture) -> None:
    """A passing drill whose row cannot be written raises a RestoreDrillNotRecorded alert; the alert went out, so
    nothing is lost unseen, but the missing row is still logged."""
    context = FakeContext(drill_input(), NOW, instance_id="drill-1:0000")
    record = drive(InstanceDrill(context).run(), context,
                   instance_answers(context, {"drill_record_result": GONE}))
    assert record["status"] == "passed" and record["recordError"] == "StorageError: queue: 404"
    [alert] = [t[2]["alert"] for t in context.scheduled if t[0] == "activity" and t[1] == "drill_send_alert"]
    assert (alert["type"], alert["verdict"], alert["recordError"]) == ("RestoreDrillNotRecorded", "passed",
                                                                       "StorageError: queue: 404")
    assert "alertError" not in record
    assert [line.split(": ")[1] for line in errors(caplog)] == ["not recorded"]


def test_a_failed_drill_alert_says_its_row_is_missing() -> None:
    context = FakeContext(drill_input(), NOW, instance_id="drill-1:0000")
    verify = {"ok": False, "error": {"code": "StorageError", "message": "no container", "retryable": False}}
    drive(InstanceDrill(context).run(), context,
          instance_answers(context, {"drill_verify_files": verify, "drill_record_result": GONE}))
    [alert] = [t[2]["alert"] for t in context.scheduled if t[0] == "activity" and t[1] == "drill_send_alert"]
    assert (alert["type"], alert["reason"], alert["recordError"]) == ("RestoreDrillFailed", "drill-error",
                                                                      "StorageError: queue: 404")


def test_nothing_is_logged_on_a_replay(caplog: pytest.LogCaptureFixture) -> None:
    context = FakeContext(drill_input(), NOW, instance_id="drill-1:0000")
    context.is_replaying = True  # type: ignore[attr-defined]
    storage = {name: GONE for name in ("drill_record_result", "drill_send_alert")}
    record = drive(InstanceDrill(context).run(), context, instance_answers(context, storage))
    assert record["recordError"] and record["alertError"] and errors(caplog) == []


def test_a_run_whose_summary_cannot_be_written_alerts_it_and_ends_in_time(caplog: pytest.LogCaptureFixture) -> None:
    """The summary and its RestoreDrillNotRecorded alert share one BOOKKEEPING_DEADLINE; with both failing, the
    run still completes with its verdict, and the log has it."""
    plan = {"container": "https://a.blob.core.windows.net/drills", "vaults": [VAULT], "concurrency": 3}
    context = FakeContext({"runId": "drill-1", "scheduledAt": NOW.isoformat(), "plan": plan, "restore": RESTORE},
                          NOW, "drill-1")

    def answer(task: tuple[Any, ...]) -> Any:
        if task[0] == "all":
            return [{"status": "failed", "reason": "drill-error", "backupInstance": TARGET["id"], "server": "pg"}]
        if task[0] == "timer":
            return None
        if task[1] == "drill_list_instances":
            return {"ok": True, "instances": [{**TARGET, "datasourceType": "Microsoft.DBforPostgreSQL/flexibleServers",
                                               "source": "vault"}]}
        return DOWN if task[1] in ("drill_record_run", "drill_send_alert") else {"ok": True}

    summary = drive(DrillRun(context).run(), context, answer)
    assert (summary["status"], summary["failed"]) == ("failed", 1)
    assert context.current_utc_datetime <= NOW + BOOKKEEPING_DEADLINE
    alerts = [t[2]["alert"] for t in context.scheduled if t[0] == "activity" and t[1] == "drill_send_alert"]
    assert {a["type"] for a in alerts} == {"RestoreDrillNotRecorded"} and alerts[0]["verdict"] == "failed"
    [line] = errors(caplog)
    assert line.startswith("drill run drill-1: not recorded: the run summary (failed: 0 passed, 1 failed, 0 skipped)")


@pytest.mark.parametrize(("exc", "code", "retryable"), [
    (ServiceRequestError("connection refused"), "StorageUnavailable", True),
    (HttpResponseError("server busy", response=None), "StorageUnavailable", True),
])
def test_storage_errors_become_the_envelope(exc: Exception, code: str, retryable: bool) -> None:
    """Without a status (no answer) a storage error may pass on a retry; the status decides otherwise."""
    def fail() -> dict[str, Any]:
        raise exc

    result = storage_step("reading the restored files", fail)
    assert result["ok"] is False and result["error"]["code"] == code
    assert result["error"]["retryable"] is retryable
    assert result["error"]["message"].startswith(f"reading the restored files: {type(exc).__name__}")


def test_storage_status_decides_whether_to_retry() -> None:
    for status, retryable in ((404, False), (400, False), (409, False), (403, True), (408, True), (429, True),
                              (500, True), (503, True)):
        def fail(status: int = status) -> dict[str, Any]:
            error = HttpResponseError("refused")
            error.status_code = status
            raise error

        assert storage_step("x", fail)["error"]["retryable"] is retryable, status
