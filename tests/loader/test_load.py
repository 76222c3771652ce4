"""Loading real dumps into the real (flexible-server-shaped) PostgreSQL: the database comes out like the
dumped one, and the report says so."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from devhost.postgres import Postgres
from tests.loader.conftest import PREFIX, Dumps, allow_extensions, run_load, unique

pytestmark = pytest.mark.slow

TABLES_SQL = ("select n.nspname, c.relname, c.relkind, coalesce(c.relacl::text, '') from pg_class c "
              "join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('s', 'sales') order by 1, 2")


def _one(postgres: Postgres, statement: str, *params: object) -> tuple[object, ...]:
    with psycopg.connect(postgres.superuser_dsn()) as connection:
        row = connection.execute(statement, params).fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture(scope="module")
def loaded(postgres: Postgres, dumps: Dumps, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str]:
    allow_extensions(postgres)
    folder = dumps.copy(tmp_path_factory.mktemp("files"))
    shop, crm = unique("shop"), unique("crm")
    report = run_load(postgres, folder, databases={"shop": shop, "crm": crm}, jobs=2)
    written = json.loads((folder / f"{PREFIX}_load-report.json").read_text()) if \
        (folder / f"{PREFIX}_load-report.json").exists() else None
    assert written is None  # the in-process load returns the report; writing it is the caller's (CLI, job)
    return report.to_dict(), shop, crm


def test_the_load_succeeds_and_every_object_and_row_is_there(loaded: tuple[dict, str, str]) -> None:
    report, shop, crm = loaded
    assert report["status"] == "loaded", json.dumps(report, indent=1)
    assert report["failedStep"] is None and report["error"] is None
    assert [c["database"] for c in report["created"]] == [shop, crm]
    by_target = {d["target"]: d for d in report["databases"]}
    entry = by_target[shop]
    assert entry["status"] == "loaded"
    assert entry["archive"]["version"] == "1.14-0" and entry["archive"]["dumpedFrom"].startswith("15.")
    assert entry["objects"]["missing"] == [] and entry["objects"]["expected"] >= 12
    tables = {(t["schema"], t["name"]): t for t in entry["tables"]}
    assert tables[("s", "t")] == {"schema": "s", "name": "t", "rows": 500, "hasData": True}
    assert tables[("s", "empty")]["hasData"] is False and tables[("s", "empty")]["rows"] == 0
    assert tables[("sales", "orders_2025")]["rows"] + tables[("sales", "orders_2026")]["rows"] == 300
    assert tables[("sales", "orders")]["rows"] == 300
    assert tables[("sales", "orders")]["hasData"] is False  # a partitioned table's rows are its partitions'
    assert set(entry["durations"]) >= {"download", "create", "restore", "analyze", "checks"}
    assert all(m["class"] == "harmless" for m in entry["messages"])
    assert by_target[crm]["status"] == "loaded"


def test_the_database_keeps_its_settings_comment_privileges_and_owner(postgres: Postgres,
                                                                      loaded: tuple[dict, str, str]) -> None:
    report, shop, _ = loaded
    row = _one(postgres, "select pg_get_userbyid(datdba), datconnlimit, datacl::text, shobj_description(oid, "
                         "'pg_database'), pg_encoding_to_char(encoding), datcollate from pg_database "
                         "where datname = %s", shop)
    assert row[0] == "app_owner" and row[1] == 7
    assert "reader=c/app_owner" in str(row[2])
    assert row[3] == "the shop's data" and row[4] == "UTF8" and row[5] == "C.UTF-8"
    settings = _one(postgres, "select setconfig from pg_db_role_setting s join pg_database d on d.oid = "
                              "s.setdatabase where d.datname = %s", shop)
    assert settings == (["work_mem=8MB"],)
    entry = next(d for d in report["databases"] if d["target"] == shop)
    assert entry["owners"] == "kept"


def test_objects_grants_extensions_sequences_and_large_objects_match_the_source(
        postgres: Postgres, dumps: Dumps, loaded: tuple[dict, str, str]) -> None:
    _, shop, _ = loaded
    assert postgres.sql(TABLES_SQL, shop) == dumps.source.sql(TABLES_SQL, "shop")  # same objects, same ACLs
    extensions = {r[0] for r in postgres.sql("select extname from pg_extension", shop)}
    assert extensions >= {"pg_trgm", "hstore", "uuid-ossp"}
    assert postgres.sql("select last_value from sales.invoice_no", shop) == [(42,)]
    assert postgres.sql("select relispopulated from pg_class where relname = 'mv'", shop) == [(True,)]
    assert postgres.sql("select c from s.mv", shop) == [(500,)]
    assert postgres.sql("select count(*) from pg_largeobject_metadata", shop) == [(2,)]
    assert postgres.sql("select pg_get_userbyid(relowner) from pg_class where relname = 't'", shop) == \
        [("app_owner",)]
    assert postgres.sql("select obj_description('s.t'::regclass)", shop) == [("the main table",)]
    probe = "select count(*), max(h -> 'k'), max(u::text) from s.t where note like '%row 1%'"
    assert postgres.sql(probe, shop) == dumps.source.sql(probe, "shop")


def test_roles_come_from_the_roles_file_without_superuser_replication_or_bypassrls(
        postgres: Postgres, loaded: tuple[dict, str, str]) -> None:
    report, _, _ = loaded
    roles = dict((r[0], r[1:]) for r in postgres.sql(
        "select rolname, rolsuper, rolreplication, rolbypassrls from pg_roles "
        "where rolname in ('app_owner', 'reader', 'writer', 'power_user')"))
    assert set(roles) == {"app_owner", "reader", "writer", "power_user"}
    assert all(flags == (False, False, False) for flags in roles.values())
    assert postgres.sql("select pg_has_role('writer', 'reader', 'member')") == [(True,)]
    assert report["roles"]["applied"] >= 4
    # The loader gave itself no lasting membership to keep the owners.
    assert postgres.sql("select pg_has_role('pgadmin', 'app_owner', 'member')") == [(False,)]


def test_owners_that_the_loader_cannot_act_as_mean_no_owner(loaded: tuple[dict, str, str]) -> None:
    report, _, crm = loaded
    entry = next(d for d in report["databases"] if d["target"] == crm)
    assert entry["owners"].startswith("not kept (--no-owner)") and "postgres" in entry["owners"]


def test_a_dump_without_a_roles_file_or_with_roles_skipped_still_loads(postgres: Postgres, dumps: Dumps,
                                                                       tmp_path: Path) -> None:
    folder = dumps.copy(tmp_path, prefix="crmonly", only=("crm",))
    target = unique("crm")
    report = run_load(postgres, folder, prefix="crmonly", databases={"crm": target}, roles="skip", jobs=1)
    assert report.status == "loaded", report.to_json()
    assert report.roles["applied"] == 0
    assert postgres.sql("select count(*) from contacts", target) == [(20,)]


def test_a_database_without_an_archive_fails_the_find_step(postgres: Postgres, dumps: Dumps, tmp_path: Path) -> None:
    folder = dumps.copy(tmp_path, prefix="partial", only=("crm", "roles"))
    (folder / "partial_notes.sql").write_text("-- a plain SQL file that is neither an archive nor a known script\n")
    report = run_load(postgres, folder, prefix="partial", databases={"crm": unique("crm"), "shop": unique("shop")})
    assert (report.status, report.failed_step, report.created) == ("failed", "find", [])
    assert report.error is not None and report.error["code"] == "DumpMissing"
    assert "shop" in report.error["message"] and "found crm" in report.error["message"]
