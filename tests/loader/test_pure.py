"""The loader's pure logic: file classification, the database script, safety decisions, the request, the
report, the checks and the CLI's ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loader.checks import CatalogObject, empty_tables_with_data, object_check, table_rows
from loader.dbscript import database_script, rewrite, split_statements
from loader.files import classify, collect, report_name, stem
from loader.ledger import Ledger
from loader.report import Report, step_error_code
from loader.request import RequestError, parse_request, parse_request_text
from loader.safety import CREATE, REPLACE, UnsafeTarget, decide
from loader.toc import parse_toc

ARCHIVE_HEAD = b"PGDMP\x01\x0e\x00"


def test_files_are_classified_by_content_then_name() -> None:
    files = [classify(name, 10, head, "r42") for name, head in [
        ("r42_sales.sql", ARCHIVE_HEAD), ("r42_roles.sql", b"--\n-- PostgreSQL database cluster dump"),
        ("r42_tablespace.sql", b"--"), ("r42_schema.sql", b"--"), ("r42_roles_and_more.sql", b"--"),
        ("r42_load-report.json", b"{"), ("r420_x.sql", ARCHIVE_HEAD), ("r42/roles.sql", ARCHIVE_HEAD)]]
    found = collect([f for f in files if f is not None])
    assert sorted(found.databases) == ["roles", "sales"]  # an archive is a database, whatever its name
    assert sorted(found.scripts) == ["roles", "schema", "tablespace"]
    assert [f.name for f in found.other] == ["r42_roles_and_more.sql"]
    assert files[5] is None and files[6] is None
    assert stem("r42_Sales.dump", "r42") == "Sales"
    assert stem("other_x.sql", "r42") is None
    assert report_name("r42") == "r42_load-report.json"


CREATE_SCRIPT = """\
--
-- PostgreSQL database dump
--

\\restrict abc

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: src; Type: DATABASE; Schema: -; Owner: app_owner
--

CREATE DATABASE src WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';


ALTER DATABASE src OWNER TO app_owner;

\\unrestrict abc
\\connect src
COMMENT ON DATABASE src IS 'the src; database -- not a comment
second line';
ALTER DATABASE src CONNECTION LIMIT = 7;
ALTER DATABASE src SET work_mem TO '8MB';
GRANT CONNECT ON DATABASE src TO reader;
"""


def test_the_database_script_is_renamed_and_split() -> None:
    script = database_script(CREATE_SCRIPT, "src", "src restored")
    assert script.create == ('CREATE DATABASE "src restored" WITH TEMPLATE = template0 ENCODING = \'UTF8\' '
                             "LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';")
    assert script.owner == "app_owner"
    assert script.rest == [
        "COMMENT ON DATABASE \"src restored\" IS 'the src; database -- not a comment\nsecond line';",
        'ALTER DATABASE "src restored" CONNECTION LIMIT = 7;',
        "ALTER DATABASE \"src restored\" SET work_mem TO '8MB';",
        'GRANT CONNECT ON DATABASE "src restored" TO reader;',
    ]


def test_quoted_source_names_are_renamed_too() -> None:
    assert rewrite('ALTER DATABASE "My DB" SET x TO 1;', "My DB", "t") == 'ALTER DATABASE "t" SET x TO 1;'
    assert rewrite("ALTER DATABASE srcx SET x TO 1;", "src", "t") == "ALTER DATABASE srcx SET x TO 1;"
    assert split_statements("-- only a comment\n\\connect x\n") == []


def test_safety_creates_new_targets_and_replaces_only_listed_oids() -> None:
    existing = {"postgres": 5, "mine": 100, "theirs": 200}
    assert decide(["new"], existing, on_exists="fail", replaceable=[])[0].action == CREATE
    decision = decide(["mine"], existing, on_exists="replace", replaceable=[{"database": "mine", "oid": 100}])[0]
    assert (decision.action, decision.oid) == (REPLACE, 100)
    with pytest.raises(UnsafeTarget) as refused:
        decide(["mine", "theirs", "new"], existing, on_exists="fail", replaceable=[{"database": "mine", "oid": 100}])
    assert set(refused.value.problems) == {"mine", "theirs"}
    with pytest.raises(UnsafeTarget, match="did not create"):
        decide(["theirs"], existing, on_exists="replace", replaceable=[{"database": "mine", "oid": 100}])
    with pytest.raises(UnsafeTarget, match="oid 100, not the oid 99"):
        decide(["mine"], existing, on_exists="replace", replaceable=[{"database": "mine", "oid": 99}])


def test_request_parsing_and_every_problem_at_once() -> None:
    request = parse_request({"runId": "r1", "source": {"containerUrl": "https://a.blob.core.windows.net/c",
                                                        "prefix": "p"}, "server": {"host": "h"},
                             "databases": {"sales": "sales2"}, "onExists": "replace", "jobs": 8,
                             "replaceable": [{"database": "sales2", "oid": 7}]})
    assert (request.prefix, request.host, request.databases, request.jobs) == ("p", "h", {"sales": "sales2"}, 8)
    assert (request.on_exists, request.roles) == ("replace", "apply")
    with pytest.raises(RequestError) as bad:
        parse_request({"source": {"prefix": ""}, "onExists": "drop", "roles": "x", "jobs": 0,
                       "databases": {"a": "t", "b": "t"}, "replaceable": [{"database": "x"}]})
    assert set(bad.value.problems) == {"source.containerUrl", "source.prefix", "server", "onExists", "roles",
                                       "jobs", "databases", "replaceable"}
    with pytest.raises(RequestError, match="not set"):
        parse_request_text(None)
    with pytest.raises(RequestError, match="not JSON"):
        parse_request_text("{")


def test_report_records_the_first_failure_and_its_advice() -> None:
    report = Report("r1", "host", "2026-01-01T00:00:00Z")
    report.fail("restore", step_error_code("restore"), "first")
    report.fail("checks", step_error_code("checks"), "second")
    report.finish("2026-01-01T00:01:00Z", 60.0)
    out = json.loads(report.to_json())
    assert (out["status"], out["failedStep"], out["error"]["code"]) == ("failed", "restore", "LoadRestoreFailed")
    assert out["error"]["advice"] and out["durations"]["total"] == 60.0
    assert set(out) == {"runId", "status", "failedStep", "error", "server", "startedAt", "finishedAt", "created",
                        "roles", "databases", "durations", "files"}
    clean = Report("r2", "host", "t")
    clean.finish("t2", 1.0)
    assert clean.to_dict()["status"] == "loaded"


def test_checks_find_missing_objects_and_empty_tables() -> None:
    toc = parse_toc("1; 1259 1 TABLE s t o\n2; 2606 2 CONSTRAINT s t t_pkey o\n3; 1259 3 INDEX s i o\n"
                    "4; 1259 4 VIEW s v o\n5; 0 5 TABLE DATA s t o\n6; 0 0 ACL s TABLE t o\n")
    found = [CatalogObject("table", "s", "t"), CatalogObject("constraint", "s", "t t_pkey"),
             CatalogObject("index", "s", "other")]
    check = object_check(toc.checked_objects(), found)
    assert (check["expected"], check["found"]) == (4, 2)
    assert check["missing"] == [{"type": "INDEX", "schema": "s", "name": "i"},
                                {"type": "VIEW", "schema": "s", "name": "v"}]
    tables = table_rows(toc.of("TABLE"), {("s", "t"): 0}, {("s", "t"): True})
    assert tables == [{"schema": "s", "name": "t", "rows": 0, "hasData": True}]
    assert empty_tables_with_data(tables) == tables
    assert empty_tables_with_data([{"rows": 0, "hasData": False}, {"rows": 3, "hasData": True}]) == []


def test_ledger_keeps_created_databases_per_server(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "state" / "ledger.json")
    assert ledger.replaceable("h:5432") == []
    ledger.record("h:5432", [{"database": "a", "oid": 1}, {"database": "b", "oid": None}], run_id="r1",
                  created_at="t")
    ledger.record("h:5432", [{"database": "a", "oid": 9}], run_id="r2", created_at="t2")
    ledger.record("other:5432", [{"database": "c", "oid": 3}], run_id="r3", created_at="t3")
    assert ledger.replaceable("h:5432") == [{"database": "a", "oid": 9}]
    assert ledger.read()["h:5432"]["a"]["runId"] == "r2"
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        Ledger(tmp_path / "bad.json").replaceable("h")
