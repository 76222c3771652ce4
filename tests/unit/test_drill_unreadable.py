"""Reading drill rows is total (issue 17 item 6): a row that is not a drill record comes back as an ``unreadable``
stand-in with its key and what is wrong, never an exception, and the dashboard lists it instead of failing."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgflex_restore.drills.dashboard import render_dashboard, unreadable
from pgflex_restore.drills.records import (
    SHOWN_CHARS,
    instance_entity,
    lost_outcome,
    read_row,
    record_from_entity,
    summary_entity,
    unrecorded_alert,
)

RUN = "drill-20261101T030000Z"
GOOD = {"runId": RUN, "backupInstance": "/bi/pg1", "instanceName": "pg1", "vault": "v", "server": "pg1",
        "status": "passed", "startedAt": "2026-11-01T03:00:00Z", "pointAgeSeconds": 3600.0}


def row(key: str = "instance:v:pg1", **columns: Any) -> dict[str, Any]:
    return {"PartitionKey": RUN, "RowKey": key, "kind": "instance", **columns}


def test_rows_the_app_writes_read_back_unchanged() -> None:
    assert record_from_entity(instance_entity(GOOD)) == GOOD
    summary = {"runId": RUN, "kind": "summary", "status": "failed", "total": 2, "failed": 1}
    assert record_from_entity(summary_entity(summary)) == summary
    cleanup = {"PartitionKey": RUN, "RowKey": "cleanup", "kind": "cleanup", "record": json.dumps({"cutoff": "x"})}
    assert record_from_entity(cleanup) == {"cutoff": "x"}
    # A row without the JSON column still reads from its own columns when they make a record.
    bare = row(status="failed", backupInstance="/bi/pg1", reason="x")
    assert record_from_entity(bare) == {"kind": "instance", "status": "failed", "backupInstance": "/bi/pg1",
                                        "reason": "x"}


@pytest.mark.parametrize(("entity", "problem"), [
    (row(record="not json {"), "the record column is not JSON (JSONDecodeError"),
    (row(record="[" * 5000 + "]" * 5000), "the record column is not JSON (RecursionError"),
    (row(record=json.dumps({"a": json.loads("[" * 40 + "]" * 40)})), "the record JSON nests deeper than 32 levels"),
    (row(record="[1, 2]"), "the record column holds a list in JSON, not an object"),
    (row(record=12), "the record column holds a number 12, not JSON text"),
    (row(record=b"{}"), "the record column holds a bytes, not JSON text"),
    (row(record=json.dumps({**GOOD, "status": 5})), "its status is a number 5, expected passed or failed or skipped"),
    (row(record=json.dumps({**GOOD, "status": None})), "its status is missing"),
    (row(record=json.dumps({**GOOD, "runId": 20261101})), "its runId is a number 20261101, expected text"),
    (row(record=json.dumps({**GOOD, "backupInstance": 7})), "its backupInstance and instanceName are a number 7"),
    (row(record=json.dumps({**GOOD, "backupInstance": None, "instanceName": ""})),
     "its backupInstance and instanceName are missing and text ''"),
    (row("summary", record=json.dumps({"runId": RUN, "status": "skipped"})),
     "its status is text 'skipped', expected passed or failed"),
    (row(server="pg1"), "no record column, and the row's own status is missing"),
    ("not a row", "not a table row: text 'not a row'"),
])
def test_a_row_that_is_not_a_record_is_a_stand_in_naming_its_key_and_problem(entity: Any, problem: str) -> None:
    record = record_from_entity(entity)
    assert record["status"] == "unreadable"
    assert record["unreadable"]["problem"].startswith(problem), record["unreadable"]["problem"]
    if isinstance(entity, dict):
        assert record["unreadable"]["row"] == f"{RUN}/{entity['RowKey']}" and record["runId"] == RUN
    assert read_row(entity)[0] == {}


def test_the_stand_in_is_bounded() -> None:
    """A huge key or column does not make a huge stand-in (the page and the API show it)."""
    record = record_from_entity(row("instance:" + "k" * 900, record="x" * 60_000, kind="k" * 900))
    assert len(record["unreadable"]["row"]) == SHOWN_CHARS and record["unreadable"]["row"].endswith("\u2026")
    assert len(record["unreadable"]["problem"]) <= SHOWN_CHARS and len(record["kind"]) == SHOWN_CHARS


VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                   max_size=3), max_leaves=10)
RECORD_COLUMN = VALUES | VALUES.map(json.dumps) | st.text(max_size=40) | st.binary(max_size=8)
ENTITY = st.fixed_dictionaries(
    {"PartitionKey": st.text(max_size=30) | st.integers(), "RowKey": st.sampled_from(["summary", "cleanup",
                                                                                      "instance:v:pg1", "other"])},
    optional={"record": RECORD_COLUMN, "kind": VALUES, "status": VALUES, "backupInstance": VALUES})


@settings(max_examples=300, deadline=None)
@given(ENTITY)
def test_reading_any_row_never_raises_and_the_result_serializes(entity: dict[str, Any]) -> None:
    record = record_from_entity(entity)
    json.dumps(record, default=str)
    if record.get("status") == "unreadable" and isinstance(record.get("unreadable"), dict):
        assert len(record["unreadable"]["problem"]) <= SHOWN_CHARS
    elif entity["RowKey"].startswith("instance:"):
        assert record["status"] in ("passed", "failed", "skipped")


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_the_dashboard_lists_unreadable_rows_escaped_and_still_draws_the_rest() -> None:
    bad = [record_from_entity(row("instance:v:<b>x</b>", record="<script>alert(1)</script>")),
           record_from_entity(row("instance:v:n", record=json.dumps({**GOOD, "status": 5})))]
    odd = {**GOOD, "backupInstance": "/bi/pg2", "message": Unprintable(), "pointAgeSeconds": 10**400,
           "phases": {"load": 10**400}}
    runs = [record_from_entity(row("summary", record="oops")), {"runId": RUN, "status": "passed"}]
    page = render_dashboard(runs, [GOOD, odd, *bad], generated_at="now")
    assert "<script" not in page and "<b>x</b>" not in page
    table = re.search(r'<table id="unreadable">.*?</table>', page)
    assert table
    rows = [unescape(r) for r in re.findall(r"<tr><td><code>(.*?)</code>", table.group(0))]
    assert rows == [f"{RUN}/summary", f"{RUN}/instance:v:<b>x</b>", f"{RUN}/instance:v:n", f"{RUN}/pg1"]
    assert "could not be drawn: RuntimeError: no text" in page  # the record that broke its row
    assert "4 rows could not be read" in page and ">pg1</td>" in page and 'id="age-chart"' in page


def test_unreadable_knows_the_stand_in_and_nothing_else() -> None:
    assert unreadable(GOOD) is None
    assert unreadable({"status": "unreadable"}) is None  # no marker: a record with an odd verdict, drawn as such
    assert unreadable(record_from_entity(row(record="x"))) == {
        "row": f"{RUN}/instance:v:pg1", "problem": "the record column is not JSON (JSONDecodeError: Expecting "
                                                   "value: line 1 column 1 (char 0)): 'x'"}
    assert unreadable(5) == {"row": "?", "problem": "not a record: int"}


def test_a_lost_outcome_is_one_line_and_an_alert() -> None:
    assert lost_outcome(GOOD) is None
    lost = {**GOOD, "reason": None, "message": "restored and verified", "recordError": "StorageUnavailable: down"}
    line = lost_outcome(lost)
    assert line == ("the drill of pg1 (/bi/pg1; passed, no failure: restored and verified): its row could not be "
                    "written to the results table (StorageUnavailable: down)")
    alert = unrecorded_alert(lost, details_path=f"/api/drills/{RUN}")
    assert (alert["type"], alert["reason"], alert["verdict"], alert["alertId"]) == (
        "RestoreDrillNotRecorded", "not-recorded", "passed", f"{RUN}|/bi/pg1|unrecorded")
    assert alert["message"] == line and json.loads(json.dumps(alert)) == alert
    summary = {"runId": RUN, "kind": "summary", "status": "failed", "passed": 0, "failed": 1, "skipped": 0,
               "recordError": "a", "alertError": "b"}
    assert lost_outcome(summary) == ("the run summary (failed: 0 passed, 1 failed, 0 skipped): its row could not be "
                                     "written to the results table (a); its alert could not be put on the alert "
                                     "queue (b)")
    assert unrecorded_alert(summary, details_path="/x")["alertId"] == f"{RUN}|run|unrecorded"
