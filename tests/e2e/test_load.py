"""Restore into a server, end to end: a restore with a load section ends in a checked PostgreSQL database.

The whole stack runs here: the app in devhost, the emulator's vault, its Container Apps job (the real loader,
`python -m loader`, as a local process) and its flexible server (a real PostgreSQL shaped like Azure: extension
allowlist, the loader's Entra role signing in with tokens), Azurite for the files, the ledger and the queues.
The loader works in real time, so durable timers are paced (``paced_timers``) instead of jumped.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient

from devhost import Redelivery
from devhost.azurite import Azurite
from devhost.postgres import Postgres, start_postgres
from tests.e2e.stack import SUB, Stack, backup_instance, paced_timers, running_stack

RG = "rg-load"
JOB_NAME = "pg-loader"
SERVER_NAME = "pg-restored"
JOB = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.App/jobs/{JOB_NAME}"
SERVER = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{SERVER_NAME}"
OTHER_SERVER = SERVER.replace(SERVER_NAME, "pg-elsewhere")
LOADER_CLIENT = "5c1e0a4d-0000-4000-8000-0000000010ad"
LOADER_ROLE = "loader-mi"
IMAGE = "pgflexrestore.azurecr.io/loader:test"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    """The target server's PostgreSQL: Azure's extension allowlist enforced, the loader's Entra role made, and the
    one role the fixture dump grants to that its roles file lacks (an operator creates such roles beforehand;
    without it the loader reports the lost privileges as a loss and fails the database)."""
    server = start_postgres(extension_allowlist=[])
    server.create_entra_principal(LOADER_ROLE)
    server.sql("CREATE ROLE partner_sync NOLOGIN")
    try:
        yield server
    finally:
        server.stop()


def target_name(label: str) -> str:
    return f"{label}_{next(_names)}"


def load_resources(pg: Postgres, azurite: Azurite, *, job: dict[str, Any] | None = None,
                   server: dict[str, Any] | None = None) -> dict[str, Any]:
    """The loader job (its image runs the real loader) and the flexible server on ``pg``."""
    env = {"LOADER_PG_USER": LOADER_ROLE, "PGPORT": str(pg.port), "PGSSLMODE": "disable",
           "AZURE_CLIENT_ID": LOADER_CLIENT, "LOAD_STORAGE_CONNECTION_STRING": azurite.connection_string}
    job_spec: dict[str, Any] = {
        "replicaTimeout": 600, "identity": {"clientIds": [LOADER_CLIENT]},
        "images": {IMAGE: [sys.executable, "-m", "loader"]},
        "template": {"containers": [{"name": "loader", "image": IMAGE, "resources": {"cpu": 1.0, "memory": "2Gi"},
                                     "env": [{"name": k, "value": v} for k, v in env.items()]}]},
        **(job or {}),
    }
    server_spec: dict[str, Any] = {"postgres": {"superuserDsn": pg.superuser_dsn()},
                                   "loaderRoles": {LOADER_CLIENT: LOADER_ROLE},
                                   "timings": {"configurationSeconds": 20, "configurationRetryAfter": 10},
                                   **(server or {})}
    return {RG: {"jobs": {JOB_NAME: job_spec}, "flexibleServers": {SERVER_NAME: server_spec}}}


@contextmanager
def load_stack(azurite: Azurite, pg: Postgres, *, allow: str = SERVER, job: dict[str, Any] | None = None,
               server: dict[str, Any] | None = None, host_options: dict[str, Any] | None = None,
               env: dict[str, str] | None = None, instance: dict[str, Any] | None = None) -> Iterator[Stack]:
    options = {"auto_advance": False, **(host_options or {})}
    env = {"LOAD_TARGET_ALLOWLIST": allow, "LOAD_JOB": JOB, **(env or {})}
    with running_stack(azurite, {"pg1": instance or backup_instance()}, extra_env=env, host_options=options,
                       resource_groups=load_resources(pg, azurite, job=job, server=server)) as stack, \
            paced_timers(stack):
        yield stack


def restore_body(stack: Stack, load: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A restore with a load, under a file prefix of its own (the vault never overwrites files)."""
    body = stack.request_body(load={"server": SERVER, **load}, **extra)
    body["target"]["filePrefix"] = f"restored-{next(_names)}"
    return body


def rows(pg: Postgres, database: str, query: str) -> list[tuple[Any, ...]]:
    """As the superuser: the loaded database's own privileges (restored) may not let the admin connect."""
    return pg.sql(query, database)


def ledger(azurite: Azurite) -> dict[str, dict[str, Any]]:
    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client("pgflexloads")
    return {row["database"]: dict(row) for row in table.list_entities()}


def why(stack: Stack, result: dict[str, Any]) -> str:
    """A failed load's error, its load record and the tail of the loader's output, for an assertion message."""
    tails = [line for e in stack.emulator.executions() for line in e.get("output", [])[-30:]]
    return f"{result.get('error')}\n{result.get('load')}\n" + "\n".join(tails)


def assert_loaded(pg: Postgres, database: str) -> None:
    """The fixture dump's data is in the target database, and its extensions were created."""
    customers = rows(pg, database, "SELECT count(*) FROM public.customers")[0][0]
    assert customers > 0
    extensions = {r[0] for r in rows(pg, database, "SELECT extname FROM pg_extension")}
    assert {"hstore", "pg_trgm", "uuid-ossp"} <= extensions


def test_an_http_restore_with_load_ends_in_a_checked_database(azurite: Azurite, pg: Postgres) -> None:
    target = target_name("appdb")
    with load_stack(azurite, pg) as stack:
        result = stack.run(restore_body(stack, {"databases": {"appdb": target}}, requestId=f"http-{target}"),
                           timeout=180)
        assert result["status"] == "loaded", why(stack, result)
        load = result["load"]
        assert load["status"] == "loaded" and load["failedStep"] is None and load["serverId"] == SERVER
        assert [d["target"] for d in load["databases"]] == [target] and load["databases"][0]["status"] == "loaded"
        assert load["extensions"]["added"] == ["hstore", "pg_trgm", "uuid-ossp"]
        assert load["execution"]["status"] == "Succeeded"
        assert_loaded(pg, target)
        assert ledger(azurite)[target]["restoreId"] == result["restoreId"]
        assert len(stack.arm_requests("POST", f"{JOB_NAME}/start")) == 1
        assert len(stack.arm_requests("PUT", "azure.extensions")) == 1 + stack.reruns("load_put_extensions")
        status = stack.get_restore(result["restoreId"])["status"]
        assert status["phase"] == "succeeded" and status["execution"] == load["execution"]["name"]


def test_a_queued_restore_into_a_server_that_allows_the_extensions_puts_nothing(azurite: Azurite,
                                                                               pg: Postgres) -> None:
    target = target_name("appdb_q")
    allowed = "hstore,pg_trgm,uuid-ossp,vector"
    pg.set_allowed_extensions(allowed.split(","))  # what saving the parameter did on this server before
    server = {"configurations": {"azure.extensions": {"value": allowed}}}
    with load_stack(azurite, pg, server=server) as stack:
        body = restore_body(stack, {"databases": {"appdb": target}, "jobs": 2}, requestId=f"queue-{target}")
        stack.send_queue_message(body)
        state = stack.host.wait_for(f"restore-queue-{target}", timeout=180)
        result = state.output
        assert result["status"] == "loaded", why(stack, result)
        assert_loaded(pg, target)
        assert result["load"]["extensions"] == {"needed": ["hstore", "pg_trgm", "uuid-ossp"], "added": []}
        assert not stack.arm_requests("PUT", "azure.extensions")
        assert result["origin"]["via"] == "queue"


def test_a_server_off_the_allowlist_is_403_over_http_and_rejected_on_the_queue(azurite: Azurite,
                                                                               pg: Postgres) -> None:
    with load_stack(azurite, pg) as stack:
        body = stack.request_body(load={"server": OTHER_SERVER}, requestId="not-allowed")
        reply = stack.post_restore(body)
        assert reply.status_code == 403, reply.text
        assert reply.json()["error"]["details"][0]["field"] == "load.server"
        stack.send_queue_message(body)
        rejected_queue = f"{stack.queue}-rejected"
        stack.wait_until(lambda: stack.queue_messages(rejected_queue), timeout=60)
        (rejected,) = stack.queue_messages(rejected_queue)
        assert "LOAD_TARGET_ALLOWLIST" in rejected["reason"] and rejected["errors"][0]["field"] == "load.server"
        assert not stack.arm_requests(contains="Microsoft.App")


def test_on_exists_fail_leaves_an_existing_database_alone(azurite: Azurite, pg: Postgres) -> None:
    target = target_name("existing")
    pg.sql(f'CREATE DATABASE "{target}"')
    with load_stack(azurite, pg) as stack:
        result = stack.run(restore_body(stack, {"databases": {"appdb": target}}), timeout=180)
        assert result["status"] == "load_failed", result
        assert result["error"]["code"] == "LoadCreateFailed" and result["load"]["failedStep"] == "create"
        assert rows(pg, target, "SELECT count(*) FROM pg_class WHERE relname = 'customers'")[0][0] == 0
        assert target not in ledger(azurite)


def started_requests(stack: Stack) -> list[dict[str, Any]]:
    """The LOAD_REQUEST of every job start the app sent, in order."""
    out = []
    for request in stack.arm_requests("POST", f"{JOB_NAME}/start"):
        env = {e["name"]: e.get("value") for e in request["body"]["containers"][0]["env"]}
        out.append(json.loads(env["LOAD_REQUEST"]))
    return out


def test_replace_drops_only_a_database_this_app_created(azurite: Azurite, pg: Postgres) -> None:
    mine, theirs = target_name("mine"), target_name("theirs")
    pg.sql(f'CREATE DATABASE "{theirs}"')
    with load_stack(azurite, pg) as stack:
        refused = stack.run(restore_body(stack, {"databases": {"appdb": theirs}, "onExists": "replace"},
                                         requestId=f"theirs-{theirs}"), timeout=180)
        assert refused["status"] == "load_failed" and refused["error"]["code"] == "LoadCreateFailed", refused
        assert refused["error"]["loaderCode"] == "TargetDatabaseExists" and theirs not in ledger(azurite)
        first = stack.run(restore_body(stack, {"databases": {"appdb": mine}}, requestId=f"first-{mine}"),
                          timeout=180)
        assert first["status"] == "loaded", why(stack, first)
        oid = int(ledger(azurite)[mine]["oid"])
        assert oid == pg.sql("SELECT oid FROM pg_database WHERE datname = %s", params=(mine,))[0][0]
        rows(pg, mine, "CREATE TABLE public.added_after_the_load (x int)")
        again = stack.run(restore_body(stack, {"databases": {"appdb": mine}, "onExists": "replace"},
                                       requestId=f"again-{mine}"), timeout=180)
        assert {"database": mine, "oid": oid} in started_requests(stack)[-1]["replaceable"]  # from the ledger
        assert again["status"] == "loaded", why(stack, again)
        assert rows(pg, mine, "SELECT to_regclass('public.added_after_the_load')")[0][0] is None  # replaced
        assert_loaded(pg, mine)
        assert ledger(azurite)[mine]["restoreId"] == again["restoreId"]


def test_an_extension_the_server_cannot_allow_fails_the_extensions_step(azurite: Azurite, pg: Postgres) -> None:
    server = {"configurations": {"azure.extensions": {"allowedValues": "pg_trgm,uuid-ossp"}}}
    with load_stack(azurite, pg, server=server) as stack:
        result = stack.run(restore_body(stack, {"databases": {"appdb": target_name("noext")}}), timeout=180)
        assert result["status"] == "load_failed", result
        assert result["error"]["code"] == "LoadExtensionsFailed" and "hstore" in result["error"]["message"]
        assert result["load"]["failedStep"] == "extensions"
        assert not stack.arm_requests("POST", f"{JOB_NAME}/start")


def test_a_loader_execution_that_fails_without_a_report_is_load_job_failed(azurite: Azurite, pg: Postgres) -> None:
    job = {"images": {IMAGE: [sys.executable, "-c", "import sys; sys.exit(3)"]}}
    with load_stack(azurite, pg, job=job) as stack:
        result = stack.run(restore_body(stack, {"databases": {"appdb": target_name("crash")}}), timeout=180)
        assert result["status"] == "load_failed", result
        assert result["error"]["code"] == "LoadJobFailed" and result["load"]["execution"]["status"] == "Failed"


def test_a_redelivered_start_starts_one_execution(azurite: Azurite, pg: Postgres) -> None:
    target = target_name("redelivered")
    options = {"redelivery": Redelivery(point="after", activities=frozenset({"load_start_execution"}))}
    with load_stack(azurite, pg, host_options=options) as stack:
        result = stack.run(restore_body(stack, {"databases": {"appdb": target}}, requestId=f"redo-{target}"),
                           timeout=180)
        assert result["status"] == "loaded", why(stack, result)
        assert [r[0] for r in stack.host.engine.redelivered] == ["load_start_execution"]
        assert len(stack.arm_requests("POST", f"{JOB_NAME}/start")) == 1
        assert len(stack.arm_requests("GET", f"{JOB_NAME}/executions")) >= 1  # the re-run looked first
        assert_loaded(pg, target)


def test_cancelling_a_loading_restore_stops_its_loader_execution(azurite: Azurite, pg: Postgres) -> None:
    job = {"images": {IMAGE: [sys.executable, "-c", "import time; time.sleep(120)"]}}
    with load_stack(azurite, pg, job=job) as stack:
        reply = stack.post_restore(restore_body(stack, {"databases": {"appdb": target_name("cancel")}}))
        restore_id = reply.json()["restoreId"]
        stack.wait_until(lambda: stack.get_restore(restore_id)["status"].get("executionStatus") == "Running",
                         timeout=120)
        status = stack.get_restore(restore_id)["status"]
        assert status["phase"] == "loading" and status["loadStep"] == "running"
        cancelled = requests.post(f"{stack.api}/restores/{restore_id}/cancel", headers=stack.key, timeout=30)
        assert cancelled.status_code == 202, cancelled.text
        assert cancelled.json()["loadExecution"] == status["execution"]
        assert f"loader execution {status['execution']} was stopped" in cancelled.json()["message"]
        stack.wait_until(lambda: all(e["status"] == "Stopped" for e in stack.emulator.executions()), timeout=30)
        assert len(stack.arm_requests("POST", "/stop")) == 1


def test_a_failed_configuration_operation_fails_the_extensions_step(azurite: Azurite, pg: Postgres) -> None:
    server = {"failures": {"configuration": {"code": "InternalServerError", "message": "could not save"}}}
    with load_stack(azurite, pg, server=server) as stack:
        result = stack.run(restore_body(stack, {"databases": {"appdb": target_name("cfgfail")}}), timeout=180)
        assert result["status"] == "load_failed", result
        assert result["error"]["code"] == "LoadExtensionsFailed" and result["error"]["armCode"] == "InternalServerError"
        assert not stack.arm_requests("POST", f"{JOB_NAME}/start")


def test_a_start_answered_202_and_odd_statuses_are_waited_out(azurite: Azurite, pg: Postgres) -> None:
    """POST start answers 202 + Location, the execution shows Degraded and Unknown while it runs, and the program
    exits 0 without a report: the restore waits through all of it and says the report is missing."""
    job = {"images": {IMAGE: [sys.executable, "-c", "import time; time.sleep(1)"]},
           "start": {"status": 202, "seconds": 20, "retryAfter": 5}, "interludes": ["Degraded", "Unknown"]}
    with load_stack(azurite, pg, job=job) as stack:
        result = stack.run(restore_body(stack, {"databases": {"appdb": target_name("odd")}}), timeout=180)
        assert result["status"] == "load_failed", result
        assert result["error"]["code"] == "LoadReportFailed" and result["load"]["execution"]["status"] == "Succeeded"
        assert len(stack.arm_requests("POST", f"{JOB_NAME}/start")) == 1
        # The start's Location was followed (a re-run of the start found the execution by listing instead).
        assert stack.arm_requests("GET", "Microsoft.App/locations") or stack.reruns("load_start_execution")


def test_at_the_deadline_the_loader_execution_is_stopped_and_the_record_says_so(azurite: Azurite,
                                                                               pg: Postgres) -> None:
    job = {"images": {IMAGE: [sys.executable, "-c", "import time; time.sleep(300)"]}}
    with load_stack(azurite, pg, job=job, env={"RESTORE_TIMEOUT": "PT1H"}) as stack:
        result = stack.run(restore_body(stack, {"databases": {"appdb": target_name("late")}}), timeout=180)
        assert result["status"] == "deadline_exceeded", result
        name = result["load"]["execution"]["name"]
        assert result["load"]["execution"]["stopped"] is True
        assert f"the loader execution {name} was stopped" in result["error"]["message"]
        stack.wait_until(lambda: [e["status"] for e in stack.emulator.executions()] == ["Stopped"], timeout=30)


def test_a_load_without_load_job_is_a_configuration_error_over_http_and_on_the_queue(azurite: Azurite) -> None:
    with running_stack(azurite, extra_env={"LOAD_TARGET_ALLOWLIST": SERVER}) as stack:
        body = stack.request_body(load={"server": SERVER}, requestId="no-loader-job")
        reply = stack.post_restore(body)
        assert reply.status_code == 500 and reply.json()["error"]["code"] == "ConfigurationError", reply.text
        assert "LOAD_JOB" in reply.json()["error"]["message"]
        stack.send_queue_message(body)
        rejected_queue = f"{stack.queue}-rejected"
        stack.wait_until(lambda: stack.queue_messages(rejected_queue), timeout=60)
        (rejected,) = stack.queue_messages(rejected_queue)
        assert rejected["reason"].startswith("configuration error") and "LOAD_JOB" in rejected["reason"]
        assert stack.instance("restore-no-loader-job") is None


def test_databases_are_the_restored_files_names_whatever_their_archives_say(azurite: Azurite,
                                                                            pg: Postgres) -> None:
    """The server's database "billing" is restored as <prefix>_billing.sql, an archive whose header names the
    database it was dumped from: the extensions it needs are found by the file's name, as the loader loads it."""
    target = target_name("billing")
    with load_stack(azurite, pg, instance=backup_instance(databases=["billing", "reporting"])) as stack:
        result = stack.run(restore_body(stack, {"databases": {"billing": target}}), timeout=180)
        assert result["status"] == "loaded", why(stack, result)
        assert result["load"]["extensions"]["needed"] == ["hstore", "pg_trgm", "uuid-ossp"]
        assert [d["source"] for d in result["load"]["databases"]] == ["billing"]
        assert_loaded(pg, target)


def test_a_start_whose_answer_is_lost_is_found_not_posted_again(azurite: Azurite, pg: Postgres) -> None:
    target = target_name("lost")
    with load_stack(azurite, pg) as stack:
        stack.emulator.inject_fault("drop-after-processing", count=1, method="POST", path="/start$")
        result = stack.run(restore_body(stack, {"databases": {"appdb": target}}), timeout=180)
        assert result["status"] == "loaded", why(stack, result)
        assert len(stack.arm_requests("POST", f"{JOB_NAME}/start")) == 1
        assert len(stack.emulator.executions()) == 1
        assert_loaded(pg, target)
