"""The load's ARM shapes as pure functions: server, azure.extensions, the job start body, executions, the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_restore.load_arm import (
    LOAD_REQUEST_ENV,
    ExtensionsConfiguration,
    configuration_body,
    execution_state,
    job_template,
    load_request,
    own_execution,
    parse_configuration,
    parse_execution,
    parse_server,
    parse_started,
    plan_extensions,
    split_list,
    start_body,
)
from pgflex_restore.load_report import (
    ledger_entities,
    ledger_partition,
    ledger_row_key,
    load_outcome,
    replaceable_from,
    report_blob_name,
    restored_database,
    step_error,
    step_error_code,
    summarize_report,
)

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
JOB_BODY = {"properties": {"template": {
    "containers": [{"name": "loader", "image": "acr.io/loader:1", "resources": {"cpu": 1.0, "memory": "2Gi"},
                    "env": [{"name": "LOADER_PG_USER", "value": "loader-mi"}, {"name": "S", "secretRef": "s"},
                            {"name": LOAD_REQUEST_ENV, "value": "{\"stale\": true}"}],
                    "probes": [{"type": "Liveness"}], "volumeMounts": [{"volumeName": "v"}]}],
    "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}]}}}


def test_the_server_gives_host_version_and_state() -> None:
    server = parse_server({"id": "/x", "name": "pg", "properties": {
        "fullyQualifiedDomainName": "pg.postgres.database.azure.com", "version": 16, "state": "Ready",
        "network": {"publicNetworkAccess": "Enabled"}}})
    assert (server.host, server.version, server.state, server.ready) == (
        "pg.postgres.database.azure.com", "16", "Ready", True)
    assert not parse_server({"properties": {"state": "Stopped"}}).ready
    assert parse_server({}).to_dict()["host"] is None


def test_azure_extensions_and_the_union_a_put_sets() -> None:
    config = parse_configuration({"properties": {"value": "PG_TRGM, vector,,", "source": "user-override",
                                                 "allowedValues": "pg_trgm,vector,postgis,hstore"}})
    assert config.value == ("PG_TRGM", "vector") and config.allowed_values == ("pg_trgm", "vector", "postgis",
                                                                               "hstore")
    plan = plan_extensions(["pg_trgm", "hstore", "plpgsql", "Postgis"], config)
    assert plan.missing == ("hstore", "postgis") and plan.not_allowed == ()
    assert plan.value == "PG_TRGM,vector,hstore,postgis"  # the current value first, as it was
    assert configuration_body(plan.value) == {"properties": {"value": plan.value, "source": "user-override"}}
    assert plan_extensions(["plpgsql", "pg_trgm"], config).missing == ()  # nothing to PUT
    assert plan_extensions(["timescaledb"], config).not_allowed == ("timescaledb",)
    assert plan_extensions(["x"], ExtensionsConfiguration((), None)).not_allowed == ()  # unknown: let ARM say


@given(st.lists(st.sampled_from(["a", "b", "c", "d", "plpgsql"])), st.lists(st.sampled_from(["a", "b", "e"]),
                                                                            unique=True))
def test_the_new_value_keeps_every_current_extension_and_adds_every_needed_one(needed: list[str],
                                                                                current: list[str]) -> None:
    plan = plan_extensions(needed, ExtensionsConfiguration(tuple(current), None))
    value = split_list(plan.value)
    assert value[:len(current)] == current
    assert set(value) == set(current) | (set(needed) - {"plpgsql"})
    assert len(value) == len(set(value))


def test_the_start_body_restates_the_whole_template_with_load_request() -> None:
    template = job_template(JOB_BODY)
    document = load_request(run_id="r1", container_url="https://a/c", prefix="p", host="h",
                            load={"server": "/s", "databases": {"a": "b"}, "onExists": "replace", "roles": "skip",
                                  "jobs": 2}, replaceable=[{"database": "b", "oid": 5, "restoreId": "x"}])
    assert document == {"runId": "r1", "source": {"containerUrl": "https://a/c", "prefix": "p"},
                        "server": {"host": "h"}, "databases": {"a": "b"}, "onExists": "replace", "roles": "skip",
                        "jobs": 2, "replaceable": [{"database": "b", "oid": 5}]}
    body = start_body(template, document)
    (container,) = body["containers"]
    assert set(container) == {"name", "image", "resources", "env"}  # a JobExecutionContainer: no probes, mounts
    env = {e["name"]: e for e in container["env"]}
    assert env["LOADER_PG_USER"] == {"name": "LOADER_PG_USER", "value": "loader-mi"}
    assert env["S"] == {"name": "S", "secretRef": "s"}  # secrets restated, by reference
    assert json.loads(env[LOAD_REQUEST_ENV]["value"]) == document
    assert body["initContainers"] == [{"name": "init", "image": "busybox", "command": ["true"]}]
    without = load_request(run_id="r", container_url="u", prefix="p", host="h", load={"server": "/s"},
                           replaceable=[])
    assert "databases" not in without and without["jobs"] == 4 and without["onExists"] == "fail"


def test_a_job_without_containers_is_refused() -> None:
    with pytest.raises(ValueError, match="LOAD_JOB"):
        job_template({"properties": {"template": {"containers": []}}})


def test_start_answers_and_executions() -> None:
    assert parse_started({"name": "loader-abc", "id": "/j/executions/loader-abc"}).name == "loader-abc"
    assert parse_started({"id": "/jobs/j/executions/loader-xyz"}).name == "loader-xyz"
    with pytest.raises(ValueError, match="names no execution"):
        parse_started({})
    document = json.dumps({"runId": "restore-1"})
    execution = parse_execution({"name": "e1", "properties": {
        "status": "Running", "startTime": "2026-11-01T08:00:00Z", "endTime": "2026-11-01T08:01:00Z",
        "template": {"containers": [{"env": [{"name": "X", "value": "1"},
                                             {"name": LOAD_REQUEST_ENV, "value": document}]}]}}})
    assert (execution.state, execution.run_id, execution.start_time) == ("running", "restore-1", T0)
    assert execution.to_dict()["endTime"] == "2026-11-01T08:01:00Z"  # an end time decides nothing
    assert parse_execution({"id": "/x/executions/e2", "properties": {}}).to_dict()["name"] == "e2"


@pytest.mark.parametrize(("status", "state"), [
    ("Running", "running"), ("Processing", "running"), ("Degraded", "running"), ("Unknown", "running"),
    (None, "running"), ("Succeeded", "succeeded"), ("failed", "failed"), ("Stopped", "stopped"), ("New", "running")])
def test_execution_states(status: str | None, state: str) -> None:
    assert execution_state(status) == state


def test_own_execution_matches_the_run_id_since_the_first_attempt() -> None:
    def execution(name: str, run_id: str | None, start: datetime | None) -> Any:
        env = [{"name": LOAD_REQUEST_ENV, "value": json.dumps({"runId": run_id})}] if run_id else []
        return parse_execution({"name": name, "properties": {
            "status": "Running", "startTime": start.isoformat() if start else None,
            "template": {"containers": [{"env": env}]}}})

    listed = [execution("old", "r1", T0 - timedelta(days=1)), execution("other", "r2", T0),
              execution("none", None, T0), execution("mine", "r1", T0 - timedelta(minutes=1))]
    found = own_execution(listed, "r1", T0)
    assert found is not None and found.name == "mine"
    assert own_execution(listed[:3], "r1", T0) is None


def test_the_report_is_capped_for_the_result_record() -> None:
    report = {"runId": "r", "status": "loaded", "created": [{"database": "a", "oid": 1}],
              "roles": {"applied": 1, "skipped": [{"statement": str(i)} for i in range(60)], "errors": []},
              "databases": [{"source": "a", "tables": [{"name": str(i)} for i in range(250)],
                             "messages": [], "objects": {"missing": [{"name": str(i)} for i in range(51)]}}]}
    summary = summarize_report(report)
    assert len(summary["roles"]["skipped"]) == 50 and summary["roles"]["skippedOmitted"] == 10
    database = summary["databases"][0]
    assert len(database["tables"]) == 200 and database["tablesOmitted"] == 50
    assert database["objects"]["missingOmitted"] == 1 and "messagesOmitted" not in database
    assert summarize_report({"status": "failed"}) == {"status": "failed"}
    assert report_blob_name("restore-42") == "restore-42_load-report.json"


def test_outcomes_and_error_codes() -> None:
    assert step_error_code("restore") == "LoadRestoreFailed" and step_error_code(None) == "LoadJobFailed"
    assert load_outcome({"status": "loaded"}, "succeeded") == ("loaded", None)
    status, error = load_outcome({"status": "failed", "failedStep": "checks",
                                  "error": {"code": "MissingObjects", "message": "2 tables missing", "advice": "a"}},
                                 "failed")
    assert status == "load_failed" and error is not None
    assert (error["code"], error["loaderCode"], error["message"], error["advice"]) == (
        "LoadChecksFailed", "MissingObjects", "2 tables missing", "a")
    assert load_outcome(None, "failed")[1]["code"] == "LoadJobFailed"  # type: ignore[index]
    assert load_outcome(None, "stopped")[1]["code"] == "LoadJobFailed"  # type: ignore[index]
    assert load_outcome(None, "succeeded")[1]["code"] == "LoadReportFailed"  # type: ignore[index]
    assert load_outcome({"status": "loaded"}, "failed")[1]["code"] == "LoadJobFailed"  # type: ignore[index]
    status, error = load_outcome({"status": "running", "created": [{"database": "sales", "oid": 7}]}, "stopped")
    assert status == "load_failed" and error is not None and error["code"] == "LoadJobFailed"
    assert "ended stopped before the load finished; it had created: sales" in error["message"]


def test_step_errors_keep_the_arm_code_and_advise_about_the_step() -> None:
    error = step_error("job", {"code": "AuthorizationFailed", "message": "no", "status": 403,
                               "correlationId": "c1", "advice": "Backup Operator on the vault"})
    assert error["code"] == "LoadJobFailed" and error["armCode"] == "AuthorizationFailed"
    assert "Container Apps Jobs Operator" in error["advice"] and error["correlationId"] == "c1"
    assert step_error("ledger", {"code": "X", "message": "m", "advice": "a"})["advice"] == "a"


def test_the_ledger_rows_and_what_they_make_replaceable() -> None:
    rows = ledger_entities("PG.example.com", [{"database": "sales/2026#1", "oid": 4294967295},
                                              {"database": "bad", "oid": "1"}, {"oid": 3}],
                           restore_id="r1", created_at="2026-11-01T08:00:00Z")
    assert rows == [{"PartitionKey": "pg.example.com", "RowKey": "sales%2F2026%231", "database": "sales/2026#1",
                     "oid": "4294967295", "restoreId": "r1", "createdAt": "2026-11-01T08:00:00Z"}]
    assert replaceable_from([*rows, {"database": "z", "oid": "x"}, {"database": "a", "oid": "7"}]) == [
        {"database": "a", "oid": 7}, {"database": "sales/2026#1", "oid": 4294967295}]
    assert ledger_partition("Host.Example.com.") == "host.example.com"


@given(st.text(min_size=1, max_size=63), st.text(min_size=1, max_size=63))
def test_row_keys_are_table_safe_and_never_collide(a: str, b: str) -> None:
    for key in (ledger_row_key(a), ledger_row_key(b)):
        assert not any(c in key for c in "/\\#?") and not any(ord(c) < 32 or ord(c) == 127 for c in key)
    assert (ledger_row_key(a) == ledger_row_key(b)) == (a == b)


@pytest.mark.parametrize(("name", "database"), [
    ("restore-42_sales.sql", "sales"), ("restore-42_Sales Q1.dump", "Sales Q1"), ("restore-42/x", "x"),
    ("restore-420_sales.sql", None), ("restore-42_load-report.json", None), ("other_sales.sql", None),
    ("restore-42", None)])
def test_a_restored_file_is_its_database_by_name_as_the_loader_reads_it(name: str, database: str | None) -> None:
    assert restored_database(name, "restore-42") == database
