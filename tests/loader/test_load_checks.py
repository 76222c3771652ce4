"""A load that proves its data, end to end against real servers: the report's ``files`` (SHA-256 as hashlib
computes it), each database's ``checks`` (invariants, amcheck, sourceComparison against a second cluster standing
for the live source), and a failed check failing the load at ``checks`` (``LoadChecksFailed``)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devhost.postgres import Postgres
from loader.proofs import Invariant, SourceComparison
from loader.verify import Proofs
from tests.loader.conftest import Dumps, allow_extensions, run_load, unique

pytestmark = pytest.mark.slow
RPT = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


def test_a_load_reports_every_files_sha256_and_its_passing_checks(postgres: Postgres, dumps: Dumps,
                                                                  tmp_path: Path) -> None:
    allow_extensions(postgres)
    dumps.source.sql("ANALYZE", "shop")
    folder = dumps.copy(tmp_path)
    shop = unique("shop")
    proofs = Proofs(checks=[Invariant("rows", "shop", "select count(*) from s.t", {"min": 500, "max": 500}),
                            Invariant("at", "shop", "select extract(year from :recovery_point_time)::int",
                                      {"equals": 2026}),
                            Invariant("other", "crm", "select 1 / 0")],  # crm is not loaded here: not run
                    amcheck=True, compare_with_source=SourceComparison("127.0.0.1", dumps.source.port, 0.5),
                    recovery_point_time=RPT)
    report = run_load(postgres, folder, databases={"shop": shop}, jobs=2, proofs=proofs).to_dict()
    assert report["status"] == "loaded", report["error"]
    on_disk = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.iterdir()}
    assert {f["name"]: f["sha256"] for f in report["files"]} == on_disk  # the unloaded crm dump and scripts too
    assert {f["name"]: f["bytes"] for f in report["files"]} == {p.name: p.stat().st_size for p in folder.iterdir()}
    (entry,) = report["databases"]
    checks = {c["name"]: c for c in entry["checks"]}
    assert list(checks) == ["invariant:rows", "invariant:at", "amcheck", "sourceComparison"]
    assert (checks["invariant:rows"]["outcome"], checks["invariant:rows"]["value"]) == ("passed", 500)
    assert (checks["invariant:at"]["outcome"], checks["invariant:at"]["value"]) == ("passed", 2026)
    # The admin may not create amcheck on this server (not allow-listed): skipped, and the load still passes.
    assert checks["amcheck"]["outcome"] == "skipped" and "azure.extensions" in checks["amcheck"]["message"]
    comparison = checks["sourceComparison"]
    assert comparison["outcome"] == "passed" and comparison["failed"] == [] and comparison["minRowRatio"] == 0.5
    tables = {(t["schema"], t["name"]): t for t in comparison["tables"]}
    assert tables[("s", "t")] == {"schema": "s", "name": "t", "rows": 500, "sourceRows": 500, "ratio": 1.0}
    assert tables[("s", "empty")]["ratio"] is None  # the source estimates 0 rows: never failed


def _dump(server: Postgres, database: str, out: Path) -> None:
    done = subprocess.run([server.program("pg_dump"), "-Fc", "-d", server.superuser_dsn(database), "-f", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_a_failed_invariant_or_a_source_that_outgrew_the_copy_fails_the_load_at_checks(
        postgres: Postgres, source_pg: Postgres, tmp_path: Path) -> None:
    """The source gains rows after the backup: the copy holds a tenth of them (below minRowRatio). A table made
    after the backup is not compared (drift), an empty one never fails; invariants fail and err."""
    name = unique("drift")
    source_pg.sql(f'CREATE DATABASE "{name}"')
    source_pg.sql("CREATE TABLE items (id int PRIMARY KEY, at timestamptz); CREATE TABLE quiet (id int); "
                  "INSERT INTO items SELECT g, timestamptz '2026-12-04 05:00Z' + g * interval '1 minute' "
                  "FROM generate_series(1, 100) g", name)
    _dump(source_pg, name, tmp_path / f"r9_{name}.sql")
    source_pg.sql("INSERT INTO items SELECT g, now() FROM generate_series(101, 1000) g; "
                  "CREATE TABLE later AS SELECT g FROM generate_series(1, 50) g", name)
    source_pg.sql("ANALYZE", name)
    target = unique("drift_copy")
    proofs = Proofs(checks=[Invariant("enough", name, "select count(*) from items", {"min": 1000}),
                            Invariant("before", name, "select count(*) from items where at <= :recovery_point_time",
                                      {"equals": 60}),
                            Invariant("broken", name, "select * from missing_table")],
                    compare_with_source=SourceComparison("127.0.0.1", source_pg.port, 0.5),
                    recovery_point_time=RPT)
    report = run_load(postgres, tmp_path, prefix="r9", databases={name: target}, roles="skip", jobs=1,
                      proofs=proofs).to_dict()
    assert (report["status"], report["failedStep"]) == ("failed", "checks")
    assert report["error"]["code"] == "LoadChecksFailed"
    assert "invariant:enough, invariant:broken, sourceComparison" in report["error"]["message"]
    (entry,) = report["databases"]
    assert entry["status"] == "failed" and entry["objects"]["missing"] == []
    checks = {c["name"]: c for c in entry["checks"]}
    assert (checks["invariant:enough"]["outcome"], checks["invariant:enough"]["value"]) == ("failed", 100)
    assert checks["invariant:enough"]["expected"] == {"min": 1000}
    assert (checks["invariant:before"]["outcome"], checks["invariant:before"]["value"]) == ("passed", 60)
    assert checks["invariant:broken"]["outcome"] == "error" and "missing_table" in checks["invariant:broken"]["message"]
    comparison = checks["sourceComparison"]
    assert comparison["outcome"] == "failed"
    assert comparison["failed"] == [{"schema": "public", "name": "items", "rows": 100, "sourceRows": 1000,
                                     "ratio": 0.1}]
    assert sorted(t["name"] for t in comparison["tables"]) == ["items", "quiet"]  # "later" is not in the dump
    assert report["created"] and report["created"][0]["database"] == target  # so a drop can remove it
    assert postgres.sql("select count(*) from items", target) == [(100,)]


def test_a_source_that_cannot_be_reached_is_an_error(postgres: Postgres, dumps: Dumps, tmp_path: Path) -> None:
    folder = dumps.copy(tmp_path, prefix="unreach", only=("crm",))
    proofs = Proofs(compare_with_source=SourceComparison("127.0.0.1", 1, 0.5))
    report = run_load(postgres, folder, prefix="unreach", databases={"crm": unique("crm")}, roles="skip", jobs=1,
                      proofs=proofs).to_dict()
    (item,) = report["databases"][0]["checks"]
    assert (item["name"], item["outcome"]) == ("sourceComparison", "error")
    assert "source server 127.0.0.1" in item["message"]
    assert report["error"]["code"] == "LoadChecksFailed"


def test_load_request_carries_the_checks_to_the_loader(postgres: Postgres, dumps: Dumps, tmp_path: Path) -> None:
    """``python -m loader``'s entry point maps LOAD_REQUEST's checks, recoveryPointTime, amcheck and
    compareWithSource onto the load (in-process here; test_job runs the process)."""
    import io

    from loader.__main__ import main

    folder = dumps.copy(tmp_path, prefix="req", only=("crm",))
    target = unique("crm")
    request = {"runId": "req-1", "source": {"folder": str(folder), "prefix": "req"}, "server": {"host": "127.0.0.1"},
               "databases": {"crm": target}, "roles": "skip", "jobs": 1, "recoveryPointTime": "2026-12-04T06:00:00Z",
               "checks": [{"name": "contacts", "database": "crm", "sql": "select count(*) from contacts",
                           "equals": 20},
                          {"name": "hour", "database": "crm",
                           "sql": "select extract(hour from :recovery_point_time at time zone 'UTC')::int",
                           "equals": 6}],
               "amcheck": True, "compareWithSource": {"host": "127.0.0.1", "port": dumps.source.port}}
    # (Without "port" the loader would use the target's, PGPORT: see test_the_source_port_defaults_to_the_targets.)
    env = {"LOAD_REQUEST": json.dumps(request), "LOADER_PG_USER": "pgadmin", "PGPORT": str(postgres.port),
           "LOADER_PG_PASSWORD": "admin-password-for-local-tests", "LOADER_PG_BINDIR": str(postgres.bindir)}
    out, err = io.StringIO(), io.StringIO()
    assert main(env, stdout=out, stderr=err) == 0, err.getvalue() + out.getvalue()
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert report == json.loads((folder / "req_load-report.json").read_text())
    checks = {c["name"]: c["outcome"] for c in report["databases"][0]["checks"]}
    assert checks == {"invariant:contacts": "passed", "invariant:hour": "passed", "amcheck": "skipped",
                      "sourceComparison": "passed"}
    assert [f["name"] for f in report["files"]] == ["req_crm.sql"]


def test_the_source_port_defaults_to_the_targets(postgres: Postgres) -> None:
    """No ``port`` in compareWithSource: the target's (PGPORT; 5432 on Azure), so a drill on the emulator, whose
    servers are one local PostgreSQL, compares without knowing its port."""
    from loader.auth import target_from_env
    from loader.verify import source_target

    target = target_from_env("127.0.0.1", {"LOADER_PG_USER": "pgadmin", "LOADER_PG_PASSWORD": "x",
                                           "PGPORT": str(postgres.port)})
    assert source_target(target, SourceComparison("127.0.0.1"), {}).port == str(postgres.port)
    assert source_target(target, SourceComparison("db.example", 6432), {}).params["sslmode"] == "require"
    azure = target_from_env("pg.example", {"LOADER_PG_USER": "u", "LOADER_PG_PASSWORD": "x"})
    assert source_target(azure, SourceComparison("src.example"), {}).port == "5432"
