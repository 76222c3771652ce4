"""The loading drill's pure verdicts: scratch names, batches, phases, RTO/RPO, row counts, the check list."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_restore.drills.plan import PlanError
from pgflex_restore.drills.proof import (
    batch_bounds,
    checks_seconds,
    compare_rows,
    files_with_hashes,
    first_failure,
    loader_checks,
    phases,
    row_counts,
    rpo,
    rto,
    scratch_name,
    structure_check,
    target_check,
)
from pgflex_restore.drills.run import build_run_input, load_plan
from pgflex_restore.settings import Settings

DRILL = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-drill"


def test_scratch_name_is_the_run_and_database_lower_cased() -> None:
    assert scratch_name("drill-20261125T030000Z:0003", "Sales-DB") == "drill_20261125t030000z_0003_sales_db"


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_scratch_names_are_safe_short_and_distinct_when_cut(drill_id: str, database: str) -> None:
    name = scratch_name(drill_id, database)
    assert re.fullmatch(r"drill_[a-z0-9_]*", name) and len(name.encode()) <= 63
    if len(f"drill_{drill_id}_{database}".lower()) > 63 and not drill_id.startswith("drill-"):
        assert re.fullmatch(r".*_[0-9a-f]{8}", name)
        assert scratch_name(drill_id, database + "x") != name


def target(server: str | None, jobs: int = 1) -> dict[str, Any]:
    return {"proof": {"load": {"server": server, "jobs": jobs}} if server else None}


def test_batches_hold_at_most_jobs_loads_per_drill_server() -> None:
    targets = [target("a"), target("a"), target("b"), target(None), target("a")]
    assert batch_bounds(targets, 4) == [(0, 1), (1, 4), (4, 5)]
    assert batch_bounds([target("a", 2)] * 5, 10) == [(0, 2), (2, 4), (4, 5)]
    assert batch_bounds([target(None)] * 5, 2, start=1) == [(1, 3), (3, 5)]


@given(st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.integers(1, 3)), max_size=30),
       st.integers(1, 6))
def test_batches_cover_every_target_in_order_within_both_limits(spec: list[tuple[str | None, int]],
                                                                concurrency: int) -> None:
    jobs = {"a": 2, "b": 1}
    targets = [target(s, jobs.get(s or "", 1)) for s, _ in spec]
    bounds = batch_bounds(targets, concurrency)
    assert [i for b, e in bounds for i in range(b, e)] == list(range(len(targets)))
    for begin, end in bounds:
        assert 0 < end - begin <= concurrency
        for server, limit in jobs.items():
            assert sum(1 for t in targets[begin:end] if t["proof"] and t["proof"]["load"]["server"] == server) \
                <= limit


def test_phases_come_from_the_orchestration_and_job_times() -> None:
    restore = {"startedAt": "2026-12-04T08:00:10Z", "finishedAt": "2026-12-04T08:10:00Z",
               "job": {"startTime": "2026-12-04T08:01:00Z", "durationSeconds": 480.0}}
    got = phases(started="2026-12-04T08:00:00Z", selected="2026-12-04T08:00:05Z", restore=restore,
                 load_started="2026-12-04T08:10:30Z", load_finished="2026-12-04T08:20:30Z", checks_seconds=60.0,
                 finished="2026-12-04T08:21:00Z")
    assert got == {"select": 5.0, "validate": 50.0, "restoreJob": 480.0, "load": 540.0, "checks": 60.0,
                   "total": 1260.0}
    assert phases(started="2026-12-04T08:00:00Z", selected=None, restore=None, load_started=None,
                  load_finished=None, checks_seconds=None, finished="2026-12-04T08:00:01Z") == {"total": 1.0}


def test_checks_time_adds_the_loaders_checks_steps() -> None:
    report = {"durations": {"total": 9.0}, "databases": [{"durations": {"checks": 1.5}}, {"durations": {}},
                                                         {"durations": {"checks": 0.25}}]}
    assert checks_seconds(report) == 1.75
    assert checks_seconds(None) is None and checks_seconds({"databases": []}) is None


def test_rto_and_rpo_breach_only_over_a_target() -> None:
    assert rto(100.0, 60.0)["breached"] and not rto(100.0, None)["breached"] and not rto(30.0, 60.0)["breached"]
    assert rpo(7200.0, 3600.0) == {"ageSeconds": 7200.0, "target": 3600.0, "breached": True}
    assert target_check("rto", rto(100.0, 60.0))["outcome"] == "failed"
    assert target_check("rpo", rpo(10.0, 60.0))["outcome"] == "passed"
    assert target_check("rto", rto(10.0, None))["outcome"] == "skipped"


def table(db: str, name: str, rows: int) -> dict[str, Any]:
    return {"database": db, "schema": "public", "name": name, "rows": rows}


def test_row_counts_fail_a_big_drop_an_empty_or_missing_table_and_note_new_ones() -> None:
    previous = [table("s", "orders", 100), table("s", "items", 100), table("s", "gone", 5), table("s", "x", 0),
                table("s", "emptied", 3)]
    current = [table("s", "orders", 60), table("s", "items", 49), table("s", "emptied", 0), table("s", "new", 1)]
    check = compare_rows(current, previous, max_drop=0.5, previous_run="drill-1")
    assert check["outcome"] == "failed"
    assert [d["name"] for d in check["dropped"]] == ["emptied", "gone", "items"]
    assert check["new"] == [{"database": "s", "schema": "public", "name": "new"}]
    assert "drill-1" in check["message"]
    assert compare_rows(current[:1], previous[:1], max_drop=0.5)["outcome"] == "passed"
    assert compare_rows(current, None, max_drop=0.5)["outcome"] == "skipped"


@given(st.integers(1, 10_000), st.integers(0, 10_000), st.floats(0, 1))
def test_a_table_fails_exactly_when_it_lost_more_than_max_drop(before: int, now: int, drop: float) -> None:
    check = compare_rows([table("d", "t", now)], [table("d", "t", before)], max_drop=drop)
    assert (check["outcome"] == "failed") == (now == 0 or now < before * (1 - drop))


REPORT: dict[str, Any] = {
    "files": [{"name": "drills/r/pg1/pg1_sales.sql", "bytes": 10, "sha256": "ab" * 32}],
    "databases": [{
        "source": "sales", "target": "drill_x_sales",
        "objects": {"expected": 5, "found": 4, "missing": [{"type": "INDEX", "schema": "public", "name": "ix"}]},
        "tables": [{"schema": "public", "name": "orders", "rows": 10, "hasData": True},
                   {"schema": "public", "name": "items", "rows": 0, "hasData": True}],
        "checks": [{"name": "invariant:orders", "outcome": "error", "message": "syntax"},
                   {"name": "amcheck", "outcome": "passed", "message": "ok"}],
    }, {
        "source": "crm", "target": "drill_x_crm", "objects": {"expected": 1, "found": 1, "missing": []},
        "tables": [{"schema": "public", "name": "people", "rows": 20, "hasData": True}],
        "checks": [{"name": "amcheck", "outcome": "failed", "message": "corrupt"}],
    }],
}


def test_structure_names_missing_objects_and_tables_emptied_by_the_load() -> None:
    check = structure_check(REPORT)
    assert check["outcome"] == "failed" and check["missing"][0]["name"] == "ix"
    assert check["emptyTables"] == [{"database": "sales", "schema": "public", "name": "items"}]
    assert structure_check({"databases": [REPORT["databases"][1]]})["outcome"] == "passed"
    assert structure_check(None)["outcome"] == "skipped"


def test_loader_checks_merge_databases_and_count_errors_as_failures() -> None:
    checks = {c["name"]: c for c in loader_checks(REPORT)}
    assert checks["invariant:orders"]["outcome"] == "failed" and checks["invariant:orders"]["error"]
    assert "could not run" in (first_failure([checks["invariant:orders"]], "pg1") or ("", ""))[1]
    assert checks["amcheck"]["outcome"] == "failed" and checks["amcheck"]["database"] == "crm"


def test_row_counts_and_hashes_come_from_the_report() -> None:
    assert [t["name"] for t in row_counts(REPORT)] == ["people", "orders", "items"]
    files = files_with_hashes([{"name": "drills/r/pg1/pg1_sales.sql"}, {"name": "pg1_roles.sql"}], REPORT)
    assert files == [{"name": "drills/r/pg1/pg1_sales.sql", "sha256": "ab" * 32}, {"name": "pg1_roles.sql"}]


def test_the_first_failure_names_server_check_and_advice_breaches_last() -> None:
    checks = [{"name": "rto", "outcome": "failed", "message": "slow"},
              {"name": "invariant:orders", "outcome": "failed", "message": "0 < 1"}]
    reason, message = first_failure(checks, "pg1") or ("", "")
    assert reason == "check-failed" and message.startswith("pg1: check invariant:orders failed: 0 < 1")
    assert "1 more" in message
    assert first_failure(checks[:1], "pg1") == ("rto-breached", first_failure(checks[:1], "pg1")[1])  # type: ignore[index]
    assert first_failure([{"name": "files", "outcome": "passed"}], "pg1") is None


def test_a_loading_plan_needs_load_job() -> None:
    env = {"RESTORE_TARGET_ALLOWLIST": "https://acct.blob.core.windows.net/drills", "LOAD_TARGET_ALLOWLIST": DRILL,
           "DRILL_PLAN": '{"container": "https://acct.blob.core.windows.net/drills", "vaults": ["/subscriptions/s1/'
                         'resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"], "load": {"server": "'
                         + DRILL + '"}}'}
    with pytest.raises(PlanError, match="LOAD_JOB"):
        load_plan(Settings.from_env(env))
    job = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.App/jobs/loader"
    settings = Settings.from_env({**env, "LOAD_JOB": job})
    plan = load_plan(settings)
    assert build_run_input("drill-x", datetime(2026, 1, 1, tzinfo=UTC), plan, settings)["loadJob"] == job
