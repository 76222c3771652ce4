"""The checks that prove a loaded database's data, against real PostgreSQL: user invariants (read-only, bound
``:recovery_point_time``), amcheck (passing, skipped, and finding an index corrupted on disk), and the comparison
with a live source server (a second cluster)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from devhost.postgres import Postgres, start_postgres
from loader.auth import Target, target_from_uri
from loader.proofs import Invariant
from loader.verify import run_amcheck, run_invariant

pytestmark = pytest.mark.slow
RPT = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


def superuser_target(server: Postgres) -> Target:
    """The cluster's superuser over its socket (only where a test needs what Azure's admin cannot do locally)."""
    return target_from_uri(f"postgresql://postgres@/postgres?host={server.socketdir}&port={server.port}")


@pytest.fixture
def scratch(postgres: Postgres) -> Iterator[str]:
    """A database of the admin's with a small table, as a load leaves one."""
    name = f"verify_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.uri(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(postgres.uri(name), autocommit=True) as connection:
        connection.execute("CREATE TABLE t (id int PRIMARY KEY, at timestamptz, note text)")
        connection.execute("INSERT INTO t SELECT g, timestamptz '2026-12-04 05:00Z' + g * interval '1 hour', "
                           "'row ' || g FROM generate_series(1, 3) g")
    yield name
    postgres.sql(f'DROP DATABASE "{name}" WITH (FORCE)')


def check(sql: str, **expected: object) -> Invariant:
    return Invariant("c", "src", sql, expected)


def test_an_invariant_passes_or_fails_on_its_value(postgres: Postgres, scratch: str) -> None:
    """One row of one column, compared with min/max/equals; ``:recovery_point_time`` is bound as a timestamp."""
    target = target_from_uri(postgres.uri())
    passed = run_invariant(target, scratch, check("select count(*) from t where note like 'row %'", min=3, max=3),
                           None, 5)
    assert passed == {"name": "invariant:c", "outcome": "passed", "value": 3, "expected": {"min": 3, "max": 3},
                      "message": "got 3, as expected (min 3, max 3)"}
    before = run_invariant(target, scratch, check("select count(*) from t where at <= :recovery_point_time",
                                                  equals=1), RPT, 5)
    assert (before["outcome"], before["value"]) == ("passed", 1)
    epoch = run_invariant(target, scratch, check("select extract(epoch from :recovery_point_time)::bigint"), RPT, 5)
    assert epoch["value"] == int(RPT.timestamp())
    failed = run_invariant(target, scratch, check("select max(note) from t", equals="row 9"), None, 5)
    assert (failed["outcome"], failed["value"]) == ("failed", "row 3")
    assert "expected 'row 9'" in failed["message"]
    low = run_invariant(target, scratch, check("select count(*) from t where at <= :recovery_point_time", min=2),
                        RPT, 5)
    assert (low["outcome"], low["value"]) == ("failed", 1) and "below the minimum 2" in low["message"]


def test_an_invariant_that_errs_or_has_the_wrong_shape_is_an_error(postgres: Postgres, scratch: str) -> None:
    target = target_from_uri(postgres.uri())
    cases = {
        "select * from nowhere": "SQL error 42P01",
        "select 1, 2": "1 row(s) of 2 column(s)",
        "select g from generate_series(1, 3) g": "more than one row(s)",
        "select 1 where false": "0 row(s)",
        "select pg_sleep(5)": "longer than 0.5s",
        "select count(*) from t where at < :recovery_point_time": "no recoveryPointTime",
    }
    for sql, message in cases.items():
        item = run_invariant(target, scratch, check(sql), None, 0.5)
        assert item["outcome"] == "error" and message in item["message"], (sql, item)


def test_an_invariant_that_tries_to_write_fails_and_writes_nothing(postgres: Postgres, scratch: str) -> None:
    """A write, a write in a CTE, a second statement, and a write after turning read-only off all fail."""
    target = target_from_uri(postgres.uri())
    attempts = ["insert into t values (99) returning 1",
                "with d as (delete from t returning 1) select count(*) from d",
                "select 1; delete from t",
                "select count(*) from t; set default_transaction_read_only = off; delete from t",
                "create table stolen as select * from t",
                "select nextval('x')"]
    for sql in attempts:
        item = run_invariant(target, scratch, check(sql), None, 5)
        assert item["outcome"] == "error", (sql, item)
    write = run_invariant(target, scratch, check("insert into t values (99) returning 1"), None, 5)
    assert "tried to write" in write["message"] and "read-only" in write["message"]
    assert "cannot insert multiple commands" in run_invariant(target, scratch, check("select 1; delete from t"),
                                                              None, 5)["message"]
    assert postgres.sql("select count(*) from t", scratch) == [(3,)]
    assert postgres.sql("select count(*) from pg_class where relname = 'stolen'", scratch) == [(0,)]


def test_amcheck_passes_and_leaves_no_extension_behind(postgres: Postgres, scratch: str) -> None:
    """Every B-tree index and every table of the database is checked; the loader drops the extension it made.
    (Locally only a superuser may create amcheck; on Azure the allow-listed admin may.)"""
    postgres.sql("CREATE TABLE u (id int, name text); CREATE INDEX u_name ON u (name); "
                 "INSERT INTO u SELECT g, md5(g::text) FROM generate_series(1, 2000) g", scratch)
    item = run_amcheck(superuser_target(postgres), scratch)
    assert (item["name"], item["outcome"], item["failures"]) == ("amcheck", "passed", []), item
    assert item["indexes"] == 4 and item["relations"] == 2  # t_pkey, u_name and the TOAST tables' indexes
    assert "no corruption found" in item["message"]
    assert postgres.sql("select count(*) from pg_extension where extname = 'amcheck'", scratch) == [(0,)]


def test_amcheck_is_skipped_with_the_reason_when_the_extension_is_refused(postgres: Postgres, scratch: str) -> None:
    """The admin may not create amcheck (not allow-listed): skipped, saying what to allow. With amcheck there but
    its functions not granted: skipped too, saying what to grant."""
    target = target_from_uri(postgres.uri())
    refused = run_amcheck(target, scratch)
    assert refused["outcome"] == "skipped" and "azure.extensions" in refused["message"], refused
    postgres.sql("CREATE EXTENSION amcheck", scratch)
    not_granted = run_amcheck(target, scratch)
    assert not_granted["outcome"] == "skipped" and "EXECUTE" in not_granted["message"], not_granted
    assert postgres.sql("select count(*) from pg_extension where extname = 'amcheck'", scratch) == [(1,)]


def _pg_ctl(server: Postgres, *args: str) -> None:
    argv = [server.program("pg_ctl"), "-D", str(server.datadir), "-w", *args]
    if server.run_as:
        argv = ["runuser", "-u", server.run_as, "--", *argv]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def test_amcheck_finds_an_index_corrupted_on_disk() -> None:
    """A leaf page of an index overwritten with zeros while the server is stopped: bt_index_check reports it."""
    server = start_postgres()
    try:
        server.sql("CREATE DATABASE broken")
        server.sql("CREATE TABLE c (id int PRIMARY KEY, v text); "
                   "INSERT INTO c SELECT g, repeat('x', 20) FROM generate_series(1, 5000) g; CHECKPOINT", "broken")
        path = server.datadir / str(server.sql("select pg_relation_filepath('c_pkey')", "broken")[0][0])
        _pg_ctl(server, "-m", "fast", "stop")
        with path.open("r+b") as handle:
            handle.seek(8192)  # block 1: the first leaf page after the metapage
            handle.write(b"\0" * 8192)
        _pg_ctl(server, "-l", str(server.log), "start")
        item = run_amcheck(superuser_target(server), "broken")
        assert item["outcome"] == "failed", item
        assert [f["object"] for f in item["failures"]] == ["index public.c_pkey"]
        assert "zero page" in item["failures"][0]["message"]
        assert "restore another recovery point" in item["message"]
    finally:
        server.stop()
