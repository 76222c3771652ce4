"""The pure side of the checks that prove a load's data: binding ``:recovery_point_time``, judging a value,
comparing rows with the source's estimates, the request's new fields, and hashing a download written out of order."""

from __future__ import annotations

import hashlib
import io
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from loader.digest import HashingWriter
from loader.files import classify
from loader.proofs import (
    Invariant,
    SourceComparison,
    as_value,
    bind_recovery_point,
    compare_rows,
    failed_names,
    judge,
    source_estimate,
)
from loader.request import RequestError, parse_request

BASE = {"source": {"folder": "/f", "prefix": "p"}, "server": {"host": "h"}}


def test_the_recovery_point_is_a_bound_parameter_outside_literals_comments_and_casts() -> None:
    """Only the bare parameter is replaced; literals, quoted names, comments and ``::`` casts are left alone and
    every % is doubled for psycopg."""
    text = ("select count(*) from t where at <= :recovery_point_time and note like 'a%:recovery_point_time' "
            "and \"col:recovery_point_time\" is not null -- :recovery_point_time\n"
            "and x::recovery_point_timex is null /* :recovery_point_time */ and y = $q$:recovery_point_time$q$ "
            "and z < :recovery_point_time::timestamptz")
    query, used = bind_recovery_point(text)
    assert used
    assert query.count("%(recovery_point_time)s") == 2
    assert "'a%%:recovery_point_time'" in query and '"col:recovery_point_time"' in query
    assert "-- :recovery_point_time\n" in query and "/* :recovery_point_time */" in query
    assert "$q$:recovery_point_time$q$" in query and "x::recovery_point_timex" in query
    assert "%(recovery_point_time)s::timestamptz" in query
    assert bind_recovery_point("select 1 where :recovery_point_times = 1") == (
        "select 1 where :recovery_point_times = 1", False)
    assert bind_recovery_point("select 'it''s :recovery_point_time'") == ("select 'it''s :recovery_point_time'", False)


def test_a_value_is_judged_against_min_max_and_equals() -> None:
    """Numbers compare as numbers, text as text; a bound on a non-number fails."""
    assert judge(5, {"min": 1, "max": 10})[0] == "passed"
    assert judge(0, {"min": 1})[0] == "failed" and "below the minimum 1" in judge(0, {"min": 1})[1]
    assert judge(11, {"max": 10})[0] == "failed"
    assert judge(3, {"equals": 3.0})[0] == "passed"
    assert judge("EUR", {"equals": "EUR"})[0] == "passed" and judge("USD", {"equals": "EUR"})[0] == "failed"
    assert judge("abc", {"min": 0})[0] == "failed"
    assert judge(None, {"min": 0})[0] == "failed" and judge(None, {"equals": None})[0] == "passed"
    assert judge(True, {"equals": True})[0] == "passed" and judge(1, {"equals": True})[0] == "failed"
    assert judge(7, {})[0] == "passed"
    assert as_value(Decimal("12.00")) == 12 and as_value(Decimal("1.5")) == 1.5
    assert as_value(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00+00:00"
    assert as_value(float("nan")) == "nan" and as_value(b"x") == "b'x'"
    items = [{"name": "a", "outcome": "passed"}, {"name": "b", "outcome": "error"}, {"name": "c", "outcome": "failed"},
             {"name": "d", "outcome": "skipped"}]
    assert failed_names(items) == ["b", "c"]


def test_rows_are_compared_with_the_source_estimate_tolerating_drift() -> None:
    """Below the ratio fails; unknown or zero estimates never fail; a dump table that did not load has 0 rows."""
    loaded = {("s", "ok"): 95, ("s", "shrunk"): 10, ("s", "new_empty"): 0, ("s", "unknown"): 3, ("s", "gone"): None}
    source = {("s", "ok"): 100, ("s", "shrunk"): 100, ("s", "new_empty"): 0, ("s", "unknown"): None,
              ("s", "gone"): 40}
    out = compare_rows(loaded, source, 0.5)
    assert out["outcome"] == "failed" and out["minRowRatio"] == 0.5
    assert [(t["name"], t["ratio"]) for t in out["failed"]] == [("gone", 0.0), ("shrunk", 0.1)]
    by_name = {t["name"]: t for t in out["tables"]}
    assert by_name["ok"] == {"schema": "s", "name": "ok", "rows": 95, "sourceRows": 100, "ratio": 0.95}
    assert by_name["new_empty"]["ratio"] is None and by_name["unknown"]["ratio"] is None
    assert "s.gone (0 of ~40)" in out["message"]
    assert compare_rows({("s", "ok"): 95}, {("s", "ok"): 100}, 0.5)["outcome"] == "passed"
    assert source_estimate(-1.0, 0) is None and source_estimate(-1.0, 12) == 12 and source_estimate(99.6, 5) == 100
    assert source_estimate(0.0, 7) == 0


def test_the_request_takes_the_drill_fields_and_reports_every_problem() -> None:
    """checks, amcheck, compareWithSource, recoveryPointTime and the drop action, as docs/loading.md has them."""
    request = parse_request({**BASE, "recoveryPointTime": "2026-12-04T06:00:00Z", "amcheck": True,
                             "checks": [{"name": "orders", "database": "sales", "sql": "select 1", "min": 1},
                                        {"name": "cur", "database": "sales", "sql": "select 'EUR'", "equals": "EUR"}],
                             "compareWithSource": {"host": "src.example", "minRowRatio": 0.8}})
    assert request.action == "load" and request.amcheck is True
    assert request.recovery_point_time == datetime(2026, 12, 4, 6, tzinfo=UTC)
    assert request.checks == [Invariant("orders", "sales", "select 1", {"min": 1}),
                              Invariant("cur", "sales", "select 'EUR'", {"equals": "EUR"})]
    assert request.compare_with_source == SourceComparison("src.example", None, 0.8)  # None: the target's port
    drop = parse_request({**BASE, "action": "drop", "databases": [{"database": "drill_1_sales", "oid": 16500}]})
    assert drop.action == "drop" and drop.drop == [{"database": "drill_1_sales", "oid": 16500}]
    assert drop.databases is None
    with pytest.raises(RequestError) as bad:
        parse_request({**BASE, "recoveryPointTime": "yesterday", "amcheck": "yes",
                       "checks": [{"name": "a", "database": "d", "sql": "", "min": "1", "extra": 1},
                                  {"name": "b", "database": "d", "sql": "select 1", "equals": [1]},
                                  {"name": "b", "database": "d", "sql": "select 2"}, "x"],
                       "compareWithSource": {"port": 0, "minRowRatio": 2}})
    assert set(bad.value.problems) == {
        "recoveryPointTime", "amcheck", "checks[0].sql", "checks[0].min", "checks[0]", "checks[1].equals",
        "checks[2].name", "checks[3]", "compareWithSource.host", "compareWithSource.port",
        "compareWithSource.minRowRatio"}
    with pytest.raises(RequestError) as bad:
        parse_request({**BASE, "action": "drop", "databases": [{"database": "x", "oid": "1"}]})
    assert set(bad.value.problems) == {"databases"}
    with pytest.raises(RequestError, match="required for drop"):
        parse_request({**BASE, "action": "drop"})
    with pytest.raises(RequestError, match="action"):
        parse_request({**BASE, "action": "truncate"})


def test_a_download_written_out_of_order_hashes_like_the_whole_file() -> None:
    """Chunks seek-and-write in any order, as the storage SDK's parallel download does; the hash is the file's."""
    data = random.Random(7).randbytes(1_000_003)
    chunks = [(start, data[start:start + 65536]) for start in range(0, len(data), 65536)]
    random.Random(3).shuffle(chunks)
    target = io.BytesIO()
    writer = HashingWriter(target)
    for start, chunk in chunks:
        writer.seek(start)
        writer.write(chunk)
    assert target.getvalue() == data
    assert writer.hexdigest(len(data)) == hashlib.sha256(data).hexdigest()
    partial = HashingWriter(io.BytesIO())
    partial.write(data[:10])
    partial.seek(20)
    partial.write(data[20:30])
    assert partial.hexdigest(30) is None  # a range never came: the caller hashes the file instead
    stalled = HashingWriter(io.BytesIO(), max_early=100_000)  # the first range stalls while the rest run ahead
    for start, chunk in sorted(chunks, key=lambda c: (c[0] == 0, c[0])):
        stalled.seek(start)
        stalled.write(chunk)
    assert stalled.hexdigest(len(data)) is None and stalled._early == {}  # gave up holding: memory stays bounded


def test_the_loaders_own_reports_are_not_restored_files() -> None:
    assert classify("p_drop-report.json", 10, b"{", "p") is None
    assert classify("p_load-report.json", 10, b"{", "p") is None
