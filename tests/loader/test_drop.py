"""The loader's ``drop`` action against the real PostgreSQL: it drops a database only when its name still has the
recorded oid, reports ``absent`` and ``oidChanged``, and is harmless to repeat; as the job runs it, the report is
written next to the files as ``<prefix>_drop-report.json`` and printed last."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from devhost.postgres import Postgres
from loader.auth import target_from_uri
from loader.drop import drop_databases
from tests.loader.conftest import unique
from tests.loader.test_job import _job_env, _run_job

pytestmark = pytest.mark.slow


def _create(postgres: Postgres, name: str, owner: str | None = None) -> int:
    """A database as the admin makes it (or the superuser, for another owner); its oid."""
    if owner:
        postgres.sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    else:
        with psycopg.connect(postgres.uri(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"'.encode())
    return int(postgres.sql("select oid from pg_database where datname = %s", params=(name,))[0][0])


def _exists(postgres: Postgres, name: str) -> bool:
    return bool(postgres.sql("select 1 from pg_database where datname = %s", params=(name,)))


def test_drop_drops_only_the_exact_name_and_oid(postgres: Postgres) -> None:
    mine, theirs, gone, bystander = unique("drill_a"), unique("drill_b"), unique("drill_c"), unique("drill_a")
    owner = unique("dumped_owner")
    postgres.sql(f'CREATE ROLE "{owner}" NOLOGIN')
    mine_oid, bystander_oid = _create(postgres, mine, owner=owner), _create(postgres, bystander)
    recorded = _create(postgres, theirs)
    postgres.sql(f'DROP DATABASE "{theirs}"')
    remade = _create(postgres, theirs)  # someone else made the name again: another oid
    session = psycopg.connect(postgres.uri(mine))  # a session left in the scratch database
    try:
        report = drop_databases("run-1", target_from_uri(postgres.uri()), [
            {"database": mine, "oid": mine_oid}, {"database": theirs, "oid": recorded},
            {"database": gone, "oid": 12345}]).to_dict()
    finally:
        session.close()
    assert report["action"] == "drop" and report["status"] == "failed" and report["runId"] == "run-1"
    outcomes = {item["database"]: item["outcome"] for item in report["dropped"]}
    assert outcomes == {mine: "dropped", theirs: "oidChanged", gone: "absent"}
    changed = next(item for item in report["dropped"] if item["outcome"] == "oidChanged")
    assert str(remade) in changed["error"] and changed["oid"] == recorded
    assert report["error"]["code"] == "DropFailed" and theirs in report["error"]["message"]
    assert not _exists(postgres, mine)
    assert _exists(postgres, theirs) and _exists(postgres, bystander)  # never anything else
    assert postgres.sql("select oid from pg_database where datname = %s", params=(bystander,)) == [(bystander_oid,)]
    assert postgres.sql("select pg_has_role('pgadmin', %s, 'member')", params=(owner,)) == [(False,)]
    again = drop_databases("run-1", target_from_uri(postgres.uri()), [{"database": mine, "oid": mine_oid}])
    assert again.status == "dropped" and again.dropped[0]["outcome"] == "absent"  # a repeat is harmless
    postgres.sql(f'DROP DATABASE "{theirs}"')
    postgres.sql(f'DROP DATABASE "{bystander}"')


def test_drop_never_drops_the_servers_own_databases(postgres: Postgres) -> None:
    oid = int(postgres.sql("select oid from pg_database where datname = 'postgres'")[0][0])
    report = drop_databases("run-3", target_from_uri(postgres.uri()), [{"database": "postgres", "oid": oid}])
    assert report.status == "failed" and report.dropped[0]["outcome"] == "failed"
    assert "never dropped" in report.dropped[0]["error"] and _exists(postgres, "postgres")


def test_drop_reports_an_unreachable_server_for_every_database(postgres: Postgres) -> None:
    target = target_from_uri(postgres.uri()).with_params(port="1", connect_timeout="3")
    report = drop_databases("run-2", target, [{"database": "x", "oid": 1}, {"database": "y", "oid": 2}])
    assert report.status == "failed" and report.error is not None and report.error["code"] == "ServerUnreachable"
    assert [item["outcome"] for item in report.dropped] == ["failed", "failed"]


def test_the_job_drops_and_writes_its_report_next_to_the_files(postgres: Postgres, tmp_path: Path) -> None:
    name = unique("drill_job")
    oid = _create(postgres, name)
    request = {"runId": "drill-7", "action": "drop", "source": {"folder": str(tmp_path), "prefix": "drill-7"},
               "server": {"host": "127.0.0.1"}, "databases": [{"database": name, "oid": oid}]}
    code, report, stderr = _run_job(_job_env(postgres, request, LOADER_PG_USER="pgadmin",
                                             LOADER_PG_PASSWORD="admin-password-for-local-tests"))
    assert code == 0, stderr
    assert report["status"] == "dropped" and report["dropped"] == [{"database": name, "oid": oid,
                                                                    "outcome": "dropped"}]
    assert json.loads((tmp_path / "drill-7_drop-report.json").read_text()) == report
    assert not _exists(postgres, name)
    code, report, _ = _run_job(_job_env(postgres, {**request, "databases": [{"database": name, "oid": oid + 1}]},
                                        LOADER_PG_USER="pgadmin", LOADER_PG_PASSWORD="admin-password-for-local-tests"))
    assert code == 0 and report["dropped"][0]["outcome"] == "absent"  # type: ignore[index]
