"""The loader's safety rules, each against the real server: a database that exists is never touched unless the
request allows it and the ledger's oid matches, an archive too new is refused before anything is created, no
role comes out with SUPERUSER/REPLICATION/BYPASSRLS, and a loss fails the load with a record of what it made."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.postgres import Postgres, start_postgres
from tests.loader.conftest import EXTENSIONS, Dumps, allow_extensions, run_load, unique

pytestmark = pytest.mark.slow


def _oid(postgres: Postgres, name: str) -> int | None:
    rows = postgres.sql(f"select oid from pg_database where datname = '{name}'")  # noqa: S608 - test names
    return int(str(rows[0][0])) if rows else None


def _role_exists(postgres: Postgres, name: str) -> bool:
    return bool(postgres.sql(f"select 1 from pg_roles where rolname = '{name}'"))  # noqa: S608 - test names


def _crm_folder(dumps: Dumps, tmp_path: Path, prefix: str, probe_role: str) -> Path:
    """The crm dump and a roles file that would create ``probe_role``: whether it exists afterwards tells
    whether the load got as far as the roles."""
    folder = dumps.copy(tmp_path, prefix=prefix, only=("crm",))
    (folder / f"{prefix}_roles.sql").write_text(f"CREATE ROLE {probe_role};\nALTER ROLE {probe_role} WITH "
                                                "NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN;\n")
    return folder


def test_an_existing_database_fails_the_load_before_anything_is_created(postgres: Postgres, dumps: Dumps,
                                                                         tmp_path: Path) -> None:
    taken, fresh, probe = unique("taken"), unique("fresh"), unique("probe_role")
    postgres.sql(f"CREATE DATABASE {taken}")
    postgres.sql("CREATE TABLE keep_me (id int)", taken)
    oid = _oid(postgres, taken)
    folder = _crm_folder(dumps, tmp_path, "exists", probe)
    shop = dumps.copy(tmp_path, prefix="exists", only=("shop",))
    assert shop == folder
    report = run_load(postgres, folder, prefix="exists", databases={"crm": taken, "shop": fresh})
    assert (report.status, report.failed_step) == ("failed", "create")
    assert report.error is not None and report.error["code"] == "TargetDatabaseExists"
    assert taken in report.error["message"] and "onExists is fail" in report.error["message"]
    assert report.created == []
    assert _oid(postgres, taken) == oid and postgres.sql("select count(*) from keep_me", taken) == [(0,)]
    assert _oid(postgres, fresh) is None and not _role_exists(postgres, probe)


def test_replace_refuses_a_database_off_the_replaceable_list(postgres: Postgres, dumps: Dumps,
                                                             tmp_path: Path) -> None:
    theirs, mine = unique("theirs"), unique("mine")
    postgres.sql(f"CREATE DATABASE {theirs}")
    oid = _oid(postgres, theirs)
    folder = _crm_folder(dumps, tmp_path, "offlist", unique("probe_role"))
    report = run_load(postgres, folder, prefix="offlist", databases={"crm": theirs}, on_exists="replace",
                      replaceable=[{"database": mine, "oid": 1}])
    assert (report.status, report.failed_step) == ("failed", "create")
    assert report.error is not None and "did not create it" in report.error["message"]
    assert report.created == [] and _oid(postgres, theirs) == oid


def test_replace_refuses_a_database_whose_oid_changed(postgres: Postgres, dumps: Dumps, tmp_path: Path) -> None:
    name = unique("remade")
    postgres.sql(f"CREATE DATABASE {name}")
    recorded = _oid(postgres, name)
    postgres.sql(f"DROP DATABASE {name}")
    postgres.sql(f"CREATE DATABASE {name}")  # someone else made it again: same name, another oid
    now = _oid(postgres, name)
    assert now != recorded
    folder = _crm_folder(dumps, tmp_path, "remade", unique("probe_role"))
    report = run_load(postgres, folder, prefix="remade", databases={"crm": name}, on_exists="replace",
                      replaceable=[{"database": name, "oid": recorded}])
    assert (report.status, report.failed_step) == ("failed", "create")
    assert report.error is not None and f"not the oid {recorded}" in report.error["message"]
    assert report.created == [] and _oid(postgres, name) == now


def test_replace_drops_and_recreates_a_database_the_app_created(postgres: Postgres, dumps: Dumps,
                                                               tmp_path: Path) -> None:
    name = unique("again")
    allow_extensions(postgres)
    folder = dumps.copy(tmp_path, prefix="again", only=("shop", "roles"))
    first = run_load(postgres, folder, prefix="again", databases={"shop": name})
    assert first.status == "loaded", first.to_json()
    owner = f"select pg_get_userbyid(datdba) from pg_database where datname = '{name}'"  # noqa: S608
    assert postgres.sql(owner) == [("app_owner",)]  # the dumped owner, not the loader: dropping needs its rights
    postgres.sql("INSERT INTO s.t (id) VALUES (9999)", name)
    second = run_load(postgres, folder, prefix="again", databases={"shop": name}, on_exists="replace",
                      replaceable=first.created)
    assert second.status == "loaded", second.to_json()
    assert _oid(postgres, name) == second.created[0]["oid"]
    assert postgres.sql("select count(*) from s.t", name) == [(500,)]  # the row added since is gone
    assert postgres.sql("select pg_has_role('pgadmin', 'app_owner', 'member')") == [(False,)]


def test_an_archive_newer_than_pg_restore_is_refused_before_anything_is_created(postgres: Postgres, dumps: Dumps,
                                                                                tmp_path: Path) -> None:
    probe, target = unique("probe_role"), unique("newer")
    folder = _crm_folder(dumps, tmp_path, "newer", probe)
    archive = folder / "newer_crm.sql"
    data = bytearray(archive.read_bytes())
    assert data[:8] == b"PGDMP\x01\x0e\x00"
    data[6] = 16  # archive 1.16: what pg_dump 17 and 18 write; PostgreSQL 15's pg_restore reads up to 1.14
    archive.write_bytes(bytes(data))
    listing = subprocess.run([postgres.program("pg_restore"), "--list", str(archive)], capture_output=True,
                             text=True, check=False)
    assert "unsupported version (1.16)" in listing.stderr  # what pg_restore itself would say, too late
    report = run_load(postgres, folder, prefix="newer", databases={"crm": target})
    assert (report.status, report.failed_step) == ("failed", "version")
    assert report.error is not None and report.error["code"] == "ArchiveTooNew"
    assert "1.16-0" in report.error["message"] and "17 or 18" in report.error["message"]
    assert report.created == [] and report.databases[0].archive["version"] == "1.16-0"
    assert _oid(postgres, target) is None and not _role_exists(postgres, probe)


def test_no_role_comes_out_of_a_load_with_superuser_replication_or_bypassrls(postgres: Postgres, dumps: Dumps,
                                                                             tmp_path: Path) -> None:
    power, member = unique("power"), unique("member")
    folder = dumps.copy(tmp_path, prefix="power", only=("crm",))
    (folder / "power_roles.sql").write_text(
        f"CREATE ROLE {power};\nALTER ROLE {power} WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION "
        f"BYPASSRLS;\nCREATE ROLE {member};\nALTER ROLE {member} WITH NOSUPERUSER LOGIN NOREPLICATION NOBYPASSRLS;\n"
        f"ALTER ROLE {member} SUPERUSER;\nALTER ROLE {member} WITH REPLICATION;\nALTER ROLE {member} BYPASSRLS;\n"
        f"GRANT azure_pg_admin TO {member} GRANTED BY azuresu;\nALTER ROLE pgadmin WITH SUPERUSER;\n")
    allow_extensions(postgres)
    report = run_load(postgres, folder, prefix="power", databases={"crm": unique("power")})
    assert report.status == "loaded", report.to_json()
    names = f"'{power}', '{member}', 'pgadmin'"
    flags = postgres.sql("select rolname, rolsuper, rolreplication, rolbypassrls from pg_roles "  # noqa: S608
                         f"where rolname in ({names})")
    assert sorted(flags) == sorted([(power, False, False, False), (member, False, False, False),
                                    ("pgadmin", False, False, False)])
    assert postgres.sql(f"select pg_has_role('{member}', 'azure_pg_admin', 'member')") == [(False,)]


def test_a_loss_fails_the_load_and_the_report_keeps_what_was_created(postgres: Postgres, dumps: Dumps,
                                                                     tmp_path: Path) -> None:
    source, ghost = dumps.source, unique("ghost")
    database = unique("lossy")
    source.sql(f"CREATE ROLE {ghost} NOLOGIN")
    source.sql(f"CREATE DATABASE {database}")
    source.sql("CREATE TABLE public.secret (id int); INSERT INTO public.secret VALUES (1); "  # noqa: S608
               f"GRANT SELECT ON public.secret TO {ghost}", database)
    archive = tmp_path / f"lossy_{database}.sql"
    subprocess.run([source.program("pg_dump"), "-Fc", "-d", source.superuser_dsn(database), "-f", str(archive)],
                   check=True, capture_output=True, timeout=60)
    target = unique("lossy_target")
    report = run_load(postgres, tmp_path, prefix="lossy", databases={database: target}, roles="skip")
    out = report.to_dict()
    assert (out["status"], out["failedStep"]) == ("failed", "restore")
    assert out["error"]["code"] == "LoadRestoreFailed"
    assert out["created"] == [{"database": target, "oid": _oid(postgres, target)}]
    losses = [m for m in out["databases"][0]["messages"] if m["class"] == "loss"]
    assert losses and any(ghost in m["message"] for m in losses)
    assert out["databases"][0]["status"] == "failed"
    assert out["databases"][0]["objects"]["missing"] == []  # the checks still ran: what did load is on record
    assert out["databases"][0]["tables"] == [{"schema": "public", "name": "secret", "rows": 1, "hasData": True}]
    assert postgres.sql("select count(*) from secret", target) == [(1,)]  # the rest did load


def test_an_extension_the_admin_may_not_create_fails_the_extensions_step(postgres: Postgres, dumps: Dumps,
                                                                        tmp_path: Path) -> None:
    source, database = dumps.source, unique("statdb")
    source.sql(f"CREATE DATABASE {database}")
    source.sql("CREATE EXTENSION pg_stat_statements; CREATE TABLE public.t (id int); INSERT INTO t VALUES (1)",
               database)
    subprocess.run([source.program("pg_dump"), "-Fc", "-d", source.superuser_dsn(database), "-f",
                    str(tmp_path / f"ext_{database}.sql")], check=True, capture_output=True, timeout=60)
    target = unique("stat_target")
    report = run_load(postgres, tmp_path, prefix="ext", databases={database: target}, roles="skip").to_dict()
    assert (report["status"], report["failedStep"]) == ("failed", "extensions")
    assert report["error"]["code"] == "LoadExtensionsFailed"
    assert report["created"] == [{"database": target, "oid": _oid(postgres, target)}]
    losses = [m for m in report["databases"][0]["messages"] if m["class"] == "loss"]
    assert any("pg_stat_statements" in m["message"] for m in losses), losses
    assert postgres.sql("select count(*) from pg_class where relname = 't'", target) == [(0,)]  # stopped there


def test_an_unreachable_server_fails_with_a_report(dumps: Dumps, tmp_path: Path) -> None:
    from loader.auth import target_from_uri
    from loader.run import LoadOptions, load
    from loader.sources import LocalSource

    folder = dumps.copy(tmp_path, prefix="away", only=("crm",))
    report = load(LoadOptions(run_id="away", prefix="away"), LocalSource(folder),
                  target_from_uri("postgresql://pgadmin:x@127.0.0.1:1/postgres"),
                  program=dumps.source.program("pg_restore"))
    assert (report.status, report.failed_step) == ("failed", "create")
    assert report.error is not None and report.error["code"] == "ServerUnreachable" and report.created == []


@pytest.fixture(scope="module")
def azure_pg() -> Iterator[Postgres]:
    """A cluster of its own that enforces Azure's extension allowlist, with nothing allowed at first."""
    server = start_postgres(extension_allowlist=[])
    try:
        yield server
    finally:
        server.stop()


def test_extensions_off_the_allowlist_fail_the_extensions_step_until_allowed(azure_pg: Postgres, dumps: Dumps,
                                                                            tmp_path: Path) -> None:
    folder = dumps.copy(tmp_path, prefix="allow", only=("shop", "roles"))
    refused = run_load(azure_pg, folder, prefix="allow", databases={"shop": "shop_refused"}).to_dict()
    assert (refused["status"], refused["failedStep"]) == ("failed", "extensions")
    losses = [m for m in refused["databases"][0]["messages"] if m["class"] == "loss"]
    assert any("is not allow-listed" in m["message"] for m in losses), losses
    allow_extensions(azure_pg)
    assert sorted(azure_pg.allowed_extensions()) == sorted(EXTENSIONS)
    loaded = run_load(azure_pg, folder, prefix="allow", databases={"shop": "shop_allowed"})
    assert loaded.status == "loaded", loaded.to_json()
    assert azure_pg.sql("select count(*) from pg_extension where extname <> 'plpgsql'", "shop_allowed") == [(3,)]
