"""The dashboard's issue-16 elements (failing check, RTO per phase against the target, largest tables' trend,
point age against the RPO target), and that no record shape, however odd, stops the page from rendering."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgflex_restore.drills.dashboard import failing_check, phases_of, render_dashboard

KEYS = ("runId", "backupInstance", "instanceName", "server", "status", "reason", "message", "startedAt",
        "pointAgeSeconds", "restoreDurationSeconds", "databases", "phases", "rto", "rpo", "checks", "tables",
        "passed", "failed", "skipped", "cleanup", "evidence", "finishedAt")


def drill(run: int, *, status: str = "passed", rows: int = 1000, load: float = 300.0, **extra: Any) -> dict[str, Any]:
    return {
        "runId": f"drill-2026110{run}T030000Z", "backupInstance": "/bi/pg-sales-bi", "server": "pg-sales",
        "instanceName": "pg-sales-bi", "status": status, "startedAt": f"2026-11-0{run}T03:00:00Z",
        "pointAgeSeconds": 5400.0, "restoreDurationSeconds": 700.0,
        "phases": {"select": 3.0, "validate": 10.0, "restoreJob": 600.0, "load": load, "checks": 40.0,
                   "total": 653.0 + load},
        "rto": {"seconds": 653.0 + load, "target": 1800.0, "breached": 653.0 + load > 1800},
        "rpo": {"ageSeconds": 5400.0, "target": 86400.0, "breached": False},
        "checks": [{"name": "files", "outcome": "passed", "message": "ok"}],
        "tables": [{"database": "sales", "schema": "public", "name": "orders", "rows": rows},
                   {"database": "sales", "schema": "public", "name": "customers", "rows": rows // 10}],
        **extra,
    }


def test_failing_check_rto_phases_and_table_trend_are_drawn() -> None:
    failed_check = [{"name": "rowCounts", "outcome": "failed", "message": "sales.public.orders: 1000 -> 0"},
                    {"name": "rto", "outcome": "failed", "message": "late"}]
    records = [drill(1), drill(2, load=2000.0), drill(3, status="failed", rows=0, checks=failed_check,
                                                       reason="check-failed")]
    page = render_dashboard([{"runId": "drill-20261103T030000Z", "status": "failed",
                              "evidence": {"hash": "ab12" * 16}}], records, generated_at="now")
    assert failing_check(records[2]) == "rowCounts: sales.public.orders: 1000 -> 0"
    assert '<td class="failing-check">rowCounts: sales.public.orders: 1000 -&gt; 0</td>' in page
    rto = re.search(r'<svg id="rto-chart-0".*?</svg>', page)
    assert rto and rto.group(0).count('class="phase phase-') == 15  # 3 drills x 5 phases
    assert rto.group(0).count('class="rto-target') == 3 and 'class="rto-target breached"' in rto.group(0)
    rows = re.search(r'<svg id="rows-chart-0".*?</svg>', page)
    assert rows and rows.group(0).count('class="table-trend"') == 2 and "sales.public.orders" in rows.group(0)
    assert "1.5 h (target 24.0 h)" in page and "ab12ab12ab12ab12" in page
    assert "<script" not in page and "http" not in page


def test_older_records_without_the_new_fields_still_show() -> None:
    old = {"runId": "drill-1", "backupInstance": "a", "server": "pg", "status": "failed", "reason": "dump-truncated",
           "startedAt": "2026-11-01T03:00:00Z", "restoreDurationSeconds": 600}
    assert failing_check(old) == "dump-truncated" and phases_of(old) == {"restoreJob": 600.0}
    page = render_dashboard([], [old], generated_at="now")
    assert "no row counts yet" in page and 'class="phase phase-restoreJob"' in page


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                 max_size=3), max_leaves=8)
FIELDS = st.sampled_from((*KEYS, "rows", "name", "outcome", "target", "seconds", "breached", "total", "load"))
RECORD = st.dictionaries(FIELDS, JSON | st.dictionaries(FIELDS, JSON, max_size=4)
                         | st.lists(st.dictionaries(FIELDS, JSON, max_size=4), max_size=3), max_size=10)


@pytest.mark.parametrize("odd", [{"databases": 5}, {"passed": "many"}, {"cleanup": "none"}, {"startedAt": 5},
                                 {"pointAgeSeconds": float("inf")}, {"checks": "failed"}, {"tables": {"rows": 1}}])
def test_the_shapes_that_used_to_answer_500_render(odd: dict[str, Any]) -> None:
    page = render_dashboard([{"runId": "drill-1", **odd}], [drill(1, **odd)], generated_at="now")
    assert 'id="servers"' in page and "drill-1" in page


@settings(max_examples=150, deadline=None)
@given(st.lists(RECORD.map(lambda r: {"backupInstance": "/bi/pg-sales-bi", "runId": "drill-9", **r}), max_size=4),
       st.lists(RECORD, max_size=3))
def test_rows_of_unexpected_types_never_break_the_page(instances: list[dict[str, Any]],
                                                       runs: list[dict[str, Any]]) -> None:
    page = render_dashboard(runs, [*instances, drill(1)], generated_at="now")
    assert page.endswith("</html>") and "<script" not in page
