"""Drills that prove the data, end to end: devhost + emulator + Azurite + a real PostgreSQL as the drill server.

Each drill restores the emulator's files, loads them through the emulator's loader job (the real loader, as a
local process) into ``drill_<run>_<db>`` scratch databases, checks them, and drops them. Every test, passing or
failing, ends with no scratch database left on the real server (the ``pg`` fixture asserts it after each test).
"""

from __future__ import annotations

import itertools
import json
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from devhost.azurite import Azurite
from devhost.postgres import Postgres, start_postgres
from pgflex_restore.drills.run import run_id_for
from tests.e2e.drill_stack import DrillStack, drill_stack
from tests.e2e.stack import backup_instance, paced_timers
from tests.e2e.test_load import JOB, LOADER_ROLE, SERVER, load_resources

QUICK = {"validateSeconds": 2, "validateRetryAfter": 5, "restoreSeconds": 2, "restoreRetryAfter": 5,
         "jobSeconds": 60}
_runs = itertools.count(1)


def scratch_left(pg: Postgres) -> list[str]:
    return [r[0] for r in pg.sql("SELECT datname FROM pg_database WHERE datname LIKE 'drill\\_%' ORDER BY 1")]


@pytest.fixture(scope="module")
def server() -> Iterator[Postgres]:
    """The drill server's PostgreSQL, shaped as in test_load (Azure's extension allowlist, the loader's role)."""
    pg = start_postgres(extension_allowlist=[])
    pg.create_entra_principal(LOADER_ROLE)
    pg.sql("CREATE ROLE partner_sync NOLOGIN")
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def pg(server: Postgres) -> Iterator[Postgres]:
    """The drill server; after the test, whatever it asserted, no scratch database may be left on it."""
    assert scratch_left(server) == []
    yield server
    left = scratch_left(server)
    for name in left:  # leave the next test a clean server, then fail this one
        server.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert left == [], f"scratch databases left on the drill server: {left}"


def drilling(azurite: Azurite, pg: Postgres, job: dict[str, Any] | None = None) -> Any:
    """A drill stack whose plan can load into the emulator's flexible server (the real ``pg``)."""
    return drill_stack(azurite, {"pg1": backup_instance(timings=QUICK)},
                       extra_env={"LOAD_TARGET_ALLOWLIST": SERVER, "LOAD_JOB": JOB},
                       host_options={"auto_advance": False}, resource_groups=load_resources(pg, azurite, job=job))


def run(drills: DrillStack, **proof: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One drill run of the stack's one server with the given proof keys: (summary, instance record)."""
    plan = drills.plan(load={"server": SERVER, "jobs": 1}, **proof)
    run_id = run_id_for(drills.stack.clock.now(), f"t{next(_runs)}{uuid.uuid4().hex[:6]}")
    with paced_timers(drills.stack):
        summary = drills.run(plan, run_id=run_id, timeout=240)
    rows = drills.rows(summary["runId"])
    record = next(r for k, r in rows.items() if k.startswith("instance:"))
    return summary, record


def checks_of(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in record.get("checks") or []}


def why(drills: DrillStack, record: dict[str, Any]) -> str:
    tails = [line for e in drills.stack.emulator.executions() for line in e.get("output", [])[-20:]]
    return json.dumps({k: record.get(k) for k in ("reason", "message", "load", "scratch", "checks")},
                      default=str)[:4000] + "\n" + "\n".join(tails)


def test_a_drill_loads_checks_measures_and_drops(azurite: Azurite, pg: Postgres) -> None:
    invariant = {"name": "customers", "database": "appdb", "sql": "SELECT count(*) FROM public.customers",
                 "min": 1}
    with drilling(azurite, pg) as drills:
        summary, record = run(drills, checks=[invariant], amcheck=True, rtoTarget="PT6H", rpoTarget="P2D")
        assert record["status"] == "passed", why(drills, record)
        assert summary["passed"] == 1 and record["message"].endswith("scratch databases dropped")
        checks = checks_of(record)
        assert {"files", "structure", "rowCounts", "invariant:customers", "amcheck", "rto", "rpo"} <= set(checks)
        assert checks["rowCounts"]["outcome"] == "skipped"  # the first drill of this server: the baseline
        assert all(checks[n]["outcome"] == "passed" for n in ("files", "structure", "invariant:customers", "rto",
                                                              "rpo"))
        # amcheck is allowed on the drill server for the load; the local stand-in still refuses to create it for
        # the loader's role (an untrusted extension), which the loader reports as skipped, not as a failure
        assert "amcheck" in record["load"]["extensions"]["needed"]
        assert checks["amcheck"]["outcome"] in ("passed", "skipped"), checks["amcheck"]
        assert {"select", "validate", "restoreJob", "load", "checks", "total"} <= set(record["phases"])
        assert record["rto"]["breached"] is False and record["rto"]["target"] == 6 * 3600.0
        assert record["rpo"]["ageSeconds"] == record["pointAgeSeconds"]
        scratch = record["scratch"]
        assert scratch["outcome"] == "dropped" and scratch["server"] == SERVER
        assert sorted(d["database"].rsplit("_", 1)[-1] for d in scratch["databases"]) == ["appdb", "reporting"]
        assert all(d["database"].startswith("drill_") for d in scratch["databases"])
        assert record["tables"] and record["tables"][0]["rows"] >= record["tables"][-1]["rows"]
        hashed = [f for f in record["files"] if f.get("kind") == "database"]
        assert hashed and all(len(f["sha256"]) == 64 for f in hashed)
        assert drills.alerts() == []


def seed_previous(drills: DrillStack, record: dict[str, Any], factor: int) -> None:
    """Make ``record`` (a passing drill of this server) say its tables held ``factor`` times the rows they hold."""
    table = TableServiceClient.from_connection_string(drills.stack.azurite.connection_string) \
        .get_table_client(drills.table)
    row_key = next(k for k in drills.rows(record["runId"]) if k.startswith("instance:"))
    entity = dict(table.get_entity(record["runId"], row_key))
    previous = {**record, "rowCounts": [{**t, "rows": max(1, t["rows"]) * factor} for t in record["rowCounts"]]}
    table.upsert_entity({**entity, "record": json.dumps(previous)})


def test_a_row_drop_since_the_previous_passing_drill_fails_with_an_alert(azurite: Azurite, pg: Postgres) -> None:
    with drilling(azurite, pg) as drills:
        _, first = run(drills)
        assert first["status"] == "passed", why(drills, first)
        seed_previous(drills, first, factor=10)
        _, record = run(drills)
        assert (record["status"], record["reason"]) == ("failed", "check-failed"), why(drills, record)
        assert record["failedCheck"] == "rowCounts" and checks_of(record)["rowCounts"]["dropped"]
        assert record["scratch"]["outcome"] == "dropped"
        alert = next(a for a in drills.alerts() if a["runId"] == record["runId"])
        assert alert["check"] == "rowCounts" and "pg1" in alert["message"] and "rowCounts" in alert["message"]


def test_a_failing_invariant_fails_the_drill_and_still_drops(azurite: Azurite, pg: Postgres) -> None:
    invariant = {"name": "no-customers", "database": "appdb", "sql": "SELECT count(*) FROM public.customers",
                 "max": 0}
    with drilling(azurite, pg) as drills:
        _, record = run(drills, checks=[invariant])
        assert (record["status"], record["reason"]) == ("failed", "check-failed"), why(drills, record)
        assert record["failedCheck"] == "invariant:no-customers"
        assert checks_of(record)["invariant:no-customers"]["outcome"] == "failed"
        assert record["scratch"]["outcome"] == "dropped"
        alert = drills.alerts()[0]
        assert alert["check"] == "invariant:no-customers" and alert["reason"] == "check-failed"


def test_an_rto_target_breached_fails_with_its_own_reason(azurite: Azurite, pg: Postgres) -> None:
    with drilling(azurite, pg) as drills:
        _, record = run(drills, rtoTarget="PT1S")
        assert (record["status"], record["reason"]) == ("failed", "rto-breached"), why(drills, record)
        assert record["rto"]["breached"] and record["rto"]["seconds"] > 1
        assert record["scratch"]["outcome"] == "dropped"
        alert = drills.alerts()[0]
        assert alert["reason"] == "rto-breached" and alert["check"] == "rto" and "rtoTarget" in alert["message"]


def dump_without_data(pg: Postgres, table: str) -> bytes:
    """The emulator's appdb dump made again with the real pg_dump, leaving out ``table``'s data."""
    import subprocess

    from emulator.storage import database_dump

    work = f"dumpsrc_{uuid.uuid4().hex[:8]}"
    pg.sql(f'CREATE DATABASE "{work}"')
    try:
        dsn = pg.superuser_dsn(work)
        subprocess.run([pg.program("pg_restore"), "--no-owner", "--no-privileges", "-d", dsn],
                       input=database_dump("appdb"), capture_output=True, check=False, timeout=60)
        out = subprocess.run([pg.program("pg_dump"), "-Fc", f"--exclude-table-data={table}", "-d", dsn],
                             capture_output=True, check=True, timeout=60)
        return out.stdout
    finally:
        pg.sql(f'DROP DATABASE "{work}" WITH (FORCE)')


def test_a_dump_missing_a_tables_data_fails_row_counts(azurite: Azurite, pg: Postgres,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The vault's files are well-formed dumps, but one table's data is gone: verification passes, and the
    comparison with the previous passing drill finds the table empty."""
    import emulator.state

    variant = dump_without_data(pg, "public.customers")
    real = emulator.state.restored_files

    def without_customers(prefix: str, *args: Any) -> dict[str, bytes]:
        files = real(prefix, *args)
        return {name: variant if name.endswith("_appdb.sql") else data for name, data in files.items()}

    with drilling(azurite, pg) as drills:
        _, first = run(drills)
        assert first["status"] == "passed", why(drills, first)
        monkeypatch.setattr(emulator.state, "restored_files", without_customers)
        _, record = run(drills)
        assert (record["status"], record["reason"]) == ("failed", "check-failed"), why(drills, record)
        dropped = checks_of(record)["rowCounts"]["dropped"]
        assert {(d["database"], d["name"], d["rows"]) for d in dropped} == {("appdb", "customers", 0)}
        assert record["scratch"]["outcome"] == "dropped"
        # orders' foreign key to the now empty customers cannot be created either: structure fails first
        structure = checks_of(record)["structure"]
        assert structure["outcome"] == "failed" and structure["missing"][0]["type"] == "FK CONSTRAINT"
        alert = next(a for a in drills.alerts() if a["runId"] == record["runId"])
        assert alert["check"] == "structure" and "1 more failed check" in alert["message"]


def test_a_failed_load_still_drops_what_it_created(azurite: Azurite, pg: Postgres) -> None:
    """Without a role the dump grants to, the loader loses privileges (a loss): the load fails at its restore
    step after creating the scratch databases, and the drill drops them all the same."""
    pg.sql("DROP ROLE partner_sync")
    try:
        with drilling(azurite, pg) as drills:
            _, record = run(drills)
            assert (record["status"], record["reason"]) == ("failed", "load-failed"), why(drills, record)
            step = record["load"]["failedStep"]
            assert step in ("create", "restore") and f"Load{step.capitalize()}Failed" in record["message"]
            scratch = record["scratch"]
            assert scratch["outcome"] == "dropped" and scratch["databases"], why(drills, record)
            assert [a["reason"] for a in drills.alerts()] == ["load-failed"]
    finally:
        pg.sql("CREATE ROLE partner_sync NOLOGIN")


def test_a_loader_that_dies_without_a_report_is_load_failed_and_the_unknown_scratch_is_alerted(
        azurite: Azurite, pg: Postgres) -> None:
    job = {"images": {"pgflexrestore.azurecr.io/loader:test": [sys.executable, "-c", "import sys; sys.exit(3)"]}}
    with drilling(azurite, pg, job=job) as drills:
        _, record = run(drills)
        assert (record["status"], record["reason"]) == ("failed", "load-failed"), why(drills, record)
        assert record["scratch"]["outcome"] == "failed" and "drop them" in record["scratch"]["error"]
        alerts = {a["type"]: a for a in drills.alerts()}
        assert alerts["RestoreDrillFailed"]["reason"] == "load-failed"
        assert alerts["RestoreDrillScratchNotDropped"]["alertId"].endswith("|scratch")


@pytest.fixture
def live_source(pg: Postgres) -> Iterator[Postgres]:
    """The drilled server's live databases (the emulator's fixture dumps, analysed) on the same PostgreSQL."""
    import subprocess

    from emulator.storage import database_dump

    for database in ("appdb", "reporting"):
        pg.sql(f'CREATE DATABASE "{database}"')
        subprocess.run([pg.program("pg_restore"), "--no-owner", "--no-privileges", "-d",
                        pg.superuser_dsn(database)], input=database_dump(database), capture_output=True,
                       check=False, timeout=60)
        pg.sql("ANALYZE", database)
    try:
        yield pg
    finally:
        for database in ("appdb", "reporting"):
            pg.sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def source_drilling(azurite: Azurite, pg: Postgres) -> Any:
    """As ``drilling``, with the backup instance's data source (rg-db/pg1) a flexible server on ``pg`` too."""
    groups = load_resources(pg, azurite)
    groups["rg-db"] = {"flexibleServers": {"pg1": dict(groups["rg-load"]["flexibleServers"]["pg-restored"])}}
    return drill_stack(azurite, {"pg1": backup_instance(timings=QUICK)},
                       extra_env={"LOAD_TARGET_ALLOWLIST": SERVER, "LOAD_JOB": JOB},
                       host_options={"auto_advance": False}, resource_groups=groups)


def test_compare_with_source_passes_then_fails_below_min_row_ratio(azurite: Azurite, live_source: Postgres) -> None:
    with source_drilling(azurite, live_source) as drills:
        _, record = run(drills, compareWithSource=True)
        assert record["status"] == "passed", why(drills, record)
        assert checks_of(record)["sourceComparison"]["outcome"] == "passed"
        # the live server's customers grew to 4x since the point: the restored copy is below minRowRatio 0.9
        live_source.sql("ALTER TABLE public.customers DROP CONSTRAINT customers_pkey CASCADE", "appdb")
        for _ in range(2):
            live_source.sql("INSERT INTO public.customers SELECT * FROM public.customers", "appdb")
        live_source.sql("ANALYZE", "appdb")
        _, record = run(drills, compareWithSource=True, minRowRatio=0.9)
        assert (record["status"], record["failedCheck"]) == ("failed", "sourceComparison"), why(drills, record)
        failed = checks_of(record)["sourceComparison"]["failed"]
        assert [t["name"] for t in failed] == ["customers"], failed
        assert record["scratch"]["outcome"] == "dropped"
