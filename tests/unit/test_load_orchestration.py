"""The load sub-orchestration and the restore's load phase, driven as generators: every step and its failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrations.load import LOAD_ORCHESTRATION, LoadRun, load_input
from orchestrations.restore import RestoreRun
from pgflex_restore.models import RestoreRequest
from pgflex_restore.polling import PollPolicy
from pgflex_restore.restore_plan import RestorePlan
from pgflex_restore.settings import Settings
from tests.orchestration_driver import FakeContext, Task, activities, drive
from tests.unit.test_restore_orchestration import TRACKED_OK, happy

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
SERVER = "/subscriptions/s1/resourceGroups/db/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-restored"
JOB = "/subscriptions/s1/resourceGroups/app/providers/Microsoft.App/jobs/loader"
HOST = "pg-restored.postgres.database.azure.com"
TEMPLATE = {"containers": [{"name": "loader", "image": "img", "env": [{"name": "A", "value": "1"}]}]}
REPORT = {"runId": "r1", "status": "loaded", "failedStep": None, "error": None, "server": HOST,
          "created": [{"database": "sales_restored", "oid": 16452}], "databases": [{"source": "sales"}]}


def ok(**values: Any) -> dict[str, Any]:
    return {"ok": True, "armCalls": 1, **values}


def failed(code: str, *, status: int | None = None, retryable: bool = False) -> dict[str, Any]:
    return {"ok": False, "armCalls": 1, "error": {"code": code, "message": f"{code}!", "status": status,
                                                  "retryable": retryable}}


def execution(status: str) -> dict[str, Any]:
    state = {"Succeeded": "succeeded", "Failed": "failed", "Stopped": "stopped"}.get(status, "running")
    return ok(execution={"name": "loader-1", "status": status, "state": state, "startTime": None, "endTime": None})


def answers(**overrides: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {
        "load_get_server": [ok(server={"host": HOST, "version": "16", "state": "Ready"})],
        "load_read_extensions": [ok(extensions=["pg_trgm"], dumps=[])],
        "load_get_extensions": [ok(configuration={"value": ["pg_trgm"], "allowedValues": ["pg_trgm", "hstore"]})],
        "load_ledger_read": [ok(replaceable=[{"database": "old", "oid": 7}])],
        "load_get_job": [ok(template=TEMPLATE)],
        "load_start_execution": [ok(start={"execution": {"name": "loader-1", "id": None}})],
        "load_get_execution": [execution("Running"), execution("Succeeded")],
        "load_read_report": [ok(report=REPORT)],
        "load_ledger_record": [ok(recorded=1)],
    }
    out.update(overrides)
    return out


class Host:
    def __init__(self, answers: dict[str, list[Any]]) -> None:
        self.answers = {k: list(v) for k, v in answers.items()}

    def __call__(self, task: Task) -> Any:
        if task[0] == "timer":
            return None
        queue = self.answers.get(task[1])
        assert queue, f"unexpected call to {task[1]}"
        return queue.pop(0)


def load_state(**extra: Any) -> dict[str, Any]:
    state = load_input(restore_id="r1", load={"server": SERVER, "databases": {"sales": "sales_restored"},
                                              "onExists": "replace", "roles": "apply", "jobs": 4},
                       job=JOB, container_url="https://a.blob.core.windows.net/c", prefix="p",
                       deadline=NOW + timedelta(hours=1), poll=PollPolicy(5, 600, 30), max_retries=2,
                       polls_per_generation=10)
    return {**state, **extra}


def run_load(given: dict[str, list[Any]], state: dict[str, Any] | None = None) -> tuple[Any, FakeContext]:
    context = FakeContext(state or load_state(), NOW, instance_id="r1:load")
    host = Host(given)
    result = drive(LoadRun(context).run(), context, host)
    leftover = {k: v for k, v in host.answers.items() if v}
    assert not leftover, f"answers never asked for: {leftover}"
    return result, context


def payloads(context: FakeContext, name: str) -> list[dict[str, Any]]:
    return [t[2] for t in context.scheduled if t[0] == "activity" and t[1] == name]


def test_the_happy_path_starts_one_execution_and_records_what_it_created() -> None:
    result, context = run_load(answers())
    assert result["status"] == "loaded" and result["error"] is None
    assert activities(context) == ["load_get_server", "load_read_extensions", "load_get_extensions",
                                   "load_ledger_read", "load_get_job", "load_start_execution",
                                   "load_get_execution", "load_get_execution", "load_read_report",
                                   "load_ledger_record"]
    (start,) = payloads(context, "load_start_execution")
    document = start["body"]["containers"][0]["env"][-1]
    assert document["name"] == "LOAD_REQUEST" and '"replaceable":[{"database":"old","oid":7}]' in document["value"]
    assert '"host":"' + HOST in document["value"] and start["runId"] == "r1"
    assert payloads(context, "load_ledger_record")[0]["created"] == REPORT["created"]
    load = result["load"]
    assert (load["status"], load["server"], load["serverId"], load["job"]) == ("loaded", HOST, SERVER, JOB)
    assert load["execution"]["status"] == "Succeeded" and load["extensions"] == {"needed": ["pg_trgm"],
                                                                                   "added": []}
    assert load["created"] == REPORT["created"] and load["databases"] == REPORT["databases"]
    assert result["armCalls"] == 10
    assert payloads(context, "load_read_extensions")[0]["databases"] == ["sales"]


def test_missing_extensions_are_put_as_the_union_and_the_operation_is_polled() -> None:
    result, context = run_load(answers(
        load_read_extensions=[ok(extensions=["pg_trgm", "hstore"])],
        load_get_extensions=[ok(configuration={"value": ["pg_trgm"], "allowedValues": None})],
        load_put_extensions=[ok(operation={"statusUrl": "https://arm/op", "retryAfter": "15", "done": False})],
        get_operation_status=[ok(status={"state": "running", "status": "InProgress"}),
                              ok(status={"state": "succeeded", "status": "Succeeded"})]))
    assert result["status"] == "loaded"
    assert payloads(context, "load_put_extensions")[0]["value"] == "pg_trgm,hstore"
    timers = [t[1] for t in context.scheduled if t[0] == "timer"]
    assert timers[0] == NOW + timedelta(seconds=15)  # the PUT's Retry-After
    assert result["load"]["extensions"]["added"] == ["hstore"]


def test_a_failed_configuration_operation_fails_the_extensions_step() -> None:
    result, _ = run_load(answers(
        load_read_extensions=[ok(extensions=["hstore"])],
        load_put_extensions=[ok(operation={"statusUrl": "https://arm/op", "done": False})],
        get_operation_status=[ok(status={"state": "failed", "status": "Failed"},
                                 error={"code": "InvalidParameterValue", "message": "no"})],
        load_ledger_read=[], load_get_job=[], load_start_execution=[], load_get_execution=[], load_read_report=[],
        load_ledger_record=[]))
    assert result["status"] == "load_failed" and result["error"]["code"] == "LoadExtensionsFailed"
    assert result["error"]["armCode"] == "InvalidParameterValue"
    assert result["load"]["failedStep"] == "extensions" and result["load"]["status"] == "failed"


def test_an_extension_the_server_cannot_allow_fails_before_anything_is_written() -> None:
    result, context = run_load(answers(
        load_read_extensions=[ok(extensions=["timescaledb"])],
        load_ledger_read=[], load_get_job=[], load_start_execution=[], load_get_execution=[], load_read_report=[],
        load_ledger_record=[]))
    assert result["error"]["code"] == "LoadExtensionsFailed" and "timescaledb" in result["error"]["message"]
    assert "load_put_extensions" not in activities(context)


@pytest.mark.parametrize(("server", "code"), [
    (ok(server={"host": HOST, "state": "Stopped"}), "LoadServerFailed"),
    (failed("ResourceNotFound", status=404), "LoadServerFailed"),
    (failed("ServerNotAllowed"), "LoadServerFailed"),
])
def test_the_server_must_exist_be_allowed_and_be_ready(server: dict[str, Any], code: str) -> None:
    result, context = run_load({"load_get_server": [server]})
    assert result["status"] == "load_failed" and result["error"]["code"] == code
    assert activities(context) == ["load_get_server"]


def test_a_failed_execution_without_a_report_is_load_job_failed() -> None:
    result, _ = run_load(answers(load_get_execution=[execution("Failed")], load_read_report=[ok(report=None)],
                                 load_ledger_record=[]))
    assert result["status"] == "load_failed" and result["error"]["code"] == "LoadJobFailed"
    assert result["load"]["failedStep"] == "job" and result["load"]["execution"]["status"] == "Failed"


def test_a_failed_report_names_its_step_and_its_created_databases_still_reach_the_ledger() -> None:
    report = {**REPORT, "status": "failed", "failedStep": "restore",
              "error": {"code": "PgRestoreFailed", "message": "pg_restore exited 1", "advice": "see messages"}}
    result, context = run_load(answers(load_get_execution=[execution("Failed")], load_read_report=[ok(report=report)]))
    assert result["error"]["code"] == "LoadRestoreFailed" and result["error"]["loaderCode"] == "PgRestoreFailed"
    assert result["load"]["status"] == "failed" and result["load"]["failedStep"] == "restore"
    assert len(payloads(context, "load_ledger_record")) == 1


def test_a_start_answered_202_is_polled_at_its_location() -> None:
    result, context = run_load(answers(
        load_start_execution=[ok(start={"execution": None, "resultUrl": "https://arm/loc", "retryAfter": "7"})],
        load_get_start_result=[ok(start={"execution": None, "resultUrl": "https://arm/loc"}),
                               ok(start={"execution": {"name": "loader-1", "id": "x"}})]))
    assert result["status"] == "loaded"
    assert next(t[1] for t in context.scheduled if t[0] == "timer") == NOW + timedelta(seconds=7)


def test_a_transient_start_failure_retries_with_the_same_first_attempt_time() -> None:
    result, context = run_load(answers(load_start_execution=[
        failed("GatewayTimeout", status=504, retryable=True),
        ok(start={"execution": {"name": "loader-1"}}, alreadyStarted=True)]))
    assert result["status"] == "loaded"
    first, second = payloads(context, "load_start_execution")
    assert first["attemptedAt"] == second["attemptedAt"]  # the re-run looks for its execution before posting


def test_at_the_deadline_the_execution_is_stopped() -> None:
    running = [execution("Running")] * 120  # every 30 s for the hour left
    result, context = run_load(answers(load_get_execution=running, load_read_report=[], load_ledger_record=[],
                                       load_stop_execution=[ok(stopped="loader-1")]),
                               load_state(pollsPerGeneration=1000))
    assert result["status"] == "deadline"
    (stop,) = payloads(context, "load_stop_execution")
    assert (stop["job"], stop["name"]) == (JOB, "loader-1")
    assert result["load"]["execution"]["stopped"] is True


def test_polling_continues_as_new_and_the_next_generation_only_polls() -> None:
    result, context = run_load(answers(load_get_execution=[execution("Running")] * 2, load_read_report=[],
                                       load_ledger_record=[]), load_state(pollsPerGeneration=2))
    assert result is None and context.continued is not None
    assert context.continued["stage"] == "poll" and context.continued["polls"] == 2
    assert context.continued["record"]["execution"]["name"] == "loader-1"
    result, context = run_load({"load_get_execution": [execution("Succeeded")],
                                "load_read_report": [ok(report=REPORT)], "load_ledger_record": [ok()]},
                               context.continued)
    assert result["status"] == "loaded" and result["armCalls"] == 11  # 8 before continuing, 3 after
    assert activities(context) == ["load_get_execution", "load_read_report", "load_ledger_record"]


def restore_plan_with_load() -> dict[str, Any]:
    target = "https://acct.blob.core.windows.net/restores"
    settings = Settings.from_env({"RESTORE_TARGET_ALLOWLIST": target, "LOAD_TARGET_ALLOWLIST": SERVER,
                                  "LOAD_JOB": JOB, "MAX_TRANSIENT_RETRIES": "2"})
    bi = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1/backupInstances/pg1"
    # (The pre-flight's reads are pinned down in test_preflight_orchestration.py.)
    request = RestoreRequest.from_dict({"backupInstance": bi, "target": {"containerUrl": target, "filePrefix": "p"},
                                        "load": {"server": SERVER}, "preflight": False},
                                       allowlist=settings.restore_target_allowlist,
                                       load_allowlist=settings.load_target_allowlist)
    return RestorePlan.create("r1", request, settings).to_dict()


@pytest.mark.parametrize(("loaded", "status", "code"), [
    ({"status": "loaded", "error": None, "load": {"status": "loaded"}, "armCalls": 9}, "loaded", None),
    ({"status": "load_failed", "error": {"code": "LoadChecksFailed"}, "load": {"status": "failed"}},
     "load_failed", "LoadChecksFailed"),
    ({"status": "deadline", "error": None, "load": {"execution": {"name": "e", "stopped": True}}},
     "deadline_exceeded", "DeadlineExceeded"),
    (RuntimeError("terminated"), "load_failed", "LoadJobFailed"),
])
def test_the_restore_loads_after_its_job_and_reports_the_load(loaded: Any, status: str, code: str | None) -> None:
    context = FakeContext(restore_plan_with_load(), NOW, instance_id="r1")
    given = happy()

    def host(task: Task) -> Any:
        if task[0] == "timer":
            return None
        if task[0] == "sub":
            if task[1] == LOAD_ORCHESTRATION:
                assert task[3] == "r1:load" and task[2]["prefix"] == "p" and task[2]["job"] == JOB
                return loaded
            return TRACKED_OK
        return given[task[1]].pop(0)

    result = drive(RestoreRun(context).run(), context, host)
    assert result["status"] == status and (result["error"] or {}).get("code") == code
    assert "load" in result
    if status == "deadline_exceeded":
        assert "loader execution e was stopped" in result["error"]["message"]
    if status == "loaded":
        assert result["load"] == {"status": "loaded"} and result["armCalls"] >= 9
        assert context.status["phase"] == "succeeded"


def test_a_start_that_may_have_started_is_looked_for_before_posting_again() -> None:
    result, context = run_load(answers(
        load_start_execution=[{"ok": False, "armCalls": 1, "error": {
            "code": "GatewayTimeout", "message": "timeout", "status": 504, "retryable": True,
            "outcomeUnknown": True}}],
        load_find_execution=[ok(execution=None), ok(execution={"name": "loader-1", "id": None})]))
    assert result["status"] == "loaded"
    assert activities(context).count("load_start_execution") == 1  # found: never posted again
    assert [p["since"] for p in payloads(context, "load_find_execution")] == [
        payloads(context, "load_start_execution")[0]["attemptedAt"]] * 2


def test_a_start_never_found_is_posted_again_with_the_first_attempts_time() -> None:
    unknown = {"ok": False, "armCalls": 1, "error": {"code": "ActivityFailed", "message": "worker recycled",
                                                     "retryable": True, "crash": True}}
    result, context = run_load(answers(
        load_start_execution=[unknown, ok(start={"execution": {"name": "loader-1"}})],
        load_find_execution=[ok(execution=None)] * 4))
    assert result["status"] == "loaded"
    first, second = payloads(context, "load_start_execution")
    assert first["attemptedAt"] == second["attemptedAt"]


def test_a_start_refused_for_good_fails_the_job_step() -> None:
    result, context = run_load(answers(
        load_start_execution=[failed("AuthorizationFailed", status=403)], load_get_execution=[],
        load_read_report=[], load_ledger_record=[]))
    assert result["error"]["code"] == "LoadJobFailed" and "Container Apps Jobs Operator" in result["error"]["advice"]
    assert "load_find_execution" not in activities(context)
