"""The evidence document: stable hash, tolerant of odd rows, chain checks and the CSV form."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
from typing import Any

import pytest

from pgflex_restore.drills.evidence import (
    EvidenceError,
    build_document,
    check_document,
    to_csv,
    verification,
    verify_chain,
)

SUMMARY = {"runId": "drill-20261101T030000Z", "startedAt": "2026-11-01T03:00:00Z",
           "finishedAt": "2026-11-01T03:40:00Z", "status": "failed"}


def record(server: str, **extra: Any) -> dict[str, Any]:
    return {
        "runId": SUMMARY["runId"], "server": server, "backupInstance": f"/sub/bi/{server}-bi", "status": "passed",
        "reason": None, "recoveryPoint": {"id": f"rp-{server}", "time": "2026-11-01T01:00:00Z"},
        "pointAgeSeconds": 7200.0,
        "phases": {"select": 2.0, "validate": 5.0, "restoreJob": 600.0, "load": 300.0, "checks": 20.0,
                   "total": 927.0},
        "rto": {"seconds": 927.0, "target": 3600.0, "breached": False},
        "rpo": {"ageSeconds": 7200.0, "target": 86400.0, "breached": False},
        "checks": [{"name": "files", "outcome": "passed", "message": "2 files"},
                   {"name": "invariant:orders", "outcome": "passed", "message": "12 >= 1", "value": 12}],
        "files": [{"name": f"{server}_appdb.sql", "size": 4096, "sha256": "ab" * 32, "kind": "database"}],
        **extra,
    }


def test_the_hash_is_sha256_of_the_canonical_json_and_independent_of_row_order() -> None:
    one = build_document(SUMMARY, [record("pg1"), record("pg2")], None)
    two = build_document(SUMMARY, [record("pg2"), record("pg1")], None)
    assert one == two
    body = {k: v for k, v in one.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert one["hash"] == hashlib.sha256(canonical).hexdigest()
    assert one["servers"][0]["files"] == [{"name": "pg1_appdb.sql", "bytes": 4096, "sha256": "ab" * 32}]
    assert one["servers"][0]["recoveryPoint"] == {"id": "rp-pg1", "time": "2026-11-01T01:00:00Z",
                                                  "ageSeconds": 7200.0}
    assert one["previous"] is None


def test_any_edit_changes_the_hash_and_the_previous_link_is_hashed() -> None:
    base = build_document(SUMMARY, [record("pg1")], None)
    edited = build_document(SUMMARY, [record("pg1", status="failed")], None)
    chained = build_document(SUMMARY, [record("pg1")], {"runId": "drill-0", "hash": "00" * 32})
    assert len({base["hash"], edited["hash"], chained["hash"]}) == 3
    assert chained["previous"] == {"runId": "drill-0", "hash": "00" * 32}
    assert verification(base["hash"], edited) == {"verified": False, "storedHash": base["hash"],
                                                  "rebuiltHash": edited["hash"]}
    assert verification(base["hash"], base)["verified"] is True
    assert verification(None, base)["verified"] is False  # nothing stored (an older run): not verified


@pytest.mark.parametrize("odd", [
    {"phases": "fast", "rto": 5, "rpo": [1], "checks": "all good", "files": {"a": 1}, "recoveryPoint": "rp"},
    {"phases": {"load": "12", "total": float("nan")}, "checks": [1, None, {"name": 5, "outcome": ["x"]}],
     "files": [None, {"name": 3, "size": "big"}], "rto": {"seconds": True, "breached": "no"}, "server": 7},
    {},
])
def test_rows_of_any_shape_build_a_valid_document(odd: dict[str, Any]) -> None:
    rows = [{**record("pg1"), **odd}, {"server": "bare"}, "not a record"]
    document = build_document(SUMMARY, rows, None)  # type: ignore[list-item]
    check_document(json.loads(json.dumps(document)))
    assert not verify_chain([json.loads(json.dumps(document, allow_nan=False))])
    assert document == build_document(SUMMARY, list(reversed(rows)), None)  # type: ignore[list-item]
    to_csv(document)


def test_verify_chain_names_a_mismatch_and_a_broken_link() -> None:
    first = build_document({**SUMMARY, "runId": "drill-1"}, [record("pg1")], None)
    second = build_document({**SUMMARY, "runId": "drill-2"}, [record("pg1")], first)
    third = build_document({**SUMMARY, "runId": "drill-3"}, [record("pg1")], second)
    assert verify_chain([first, second, third]) == []
    tampered = copy.deepcopy(second)
    tampered["servers"][0]["verdict"] = "passed-ish"
    problems = verify_chain([first, tampered, third])
    assert len(problems) == 1 and problems[0].startswith("run drill-2: hash mismatch")
    gap = verify_chain([first, third])
    assert len(gap) == 1 and gap[0].startswith("run drill-3: broken chain") and "drill-2" in gap[0]
    assert verify_chain([{**first, "verification": {"verified": True}}]) == []  # outside the hashed part


@pytest.mark.parametrize(("document", "says"), [
    ([], "not a JSON object"), ({"schema": "other"}, "schema"), ({"schema": "pgflex-restore/drill-evidence/v1"},
                                                                 "missing"),
])
def test_check_document_refuses_other_shapes(document: Any, says: str) -> None:
    with pytest.raises(EvidenceError, match=says):
        check_document(document)


def test_csv_has_one_row_per_server_and_check_rfc4180() -> None:
    doc = build_document(SUMMARY, [record("pg1", checks=[{"name": "rowCounts", "outcome": "failed",
                                                          "message": 'orders: 10 -> 0, "empty"\nfix it'}]),
                                   record("pg2", checks=[])], None)
    text = to_csv(doc)
    assert text.endswith("\r\n") and "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(r["server"], r["check"], r["outcome"]) for r in rows] == [("pg1", "rowCounts", "failed"),
                                                                       ("pg2", "", "")]
    assert rows[0]["message"] == 'orders: 10 -> 0, "empty"\nfix it'
    assert rows[0]["rtoBreached"] == "false" and rows[0]["loadSeconds"] == "300.0"
    assert rows[0]["hash"] == doc["hash"]


def _save(path: Any, document: Any) -> str:
    path.write_text(json.dumps(document) if not isinstance(document, str) else document, encoding="utf-8")
    return str(path)


def test_cli_verify_evidence_exit_codes(tmp_path: Any) -> None:
    from cli.restore import main

    first = build_document({**SUMMARY, "runId": "drill-1"}, [record("pg1")], None)
    second = build_document({**SUMMARY, "runId": "drill-2"}, [record("pg1")], first)
    third = build_document({**SUMMARY, "runId": "drill-3"}, [record("pg1")], second)
    files = [_save(tmp_path / f"{d['runId']}.json", {**d, "verification": {"verified": True}})
             for d in (first, second, third)]

    def run(*names: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["drill", "verify-evidence", *names], stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    code, out, _ = run(*files)
    assert code == 0 and out.startswith("valid: 3 document(s)")
    code, out, _ = run(files[0], files[2])
    assert code == 1 and out.startswith("INVALID: run drill-3: broken chain")
    edited = json.loads((tmp_path / "drill-2.json").read_text())
    edited["servers"][0]["checks"][0]["outcome"] = "failed"
    code, out, _ = run(files[0], _save(tmp_path / "edited.json", edited))
    assert code == 1 and out.startswith("INVALID: run drill-2: hash mismatch")
    assert run(_save(tmp_path / "garbage.json", "{not json"))[0] == 2
    code, _, err = run(_save(tmp_path / "other.json", {"schema": "pgflex-restore/drill-alert/v1"}))
    assert code == 2 and "not a drill evidence document" in err
    assert run(str(tmp_path / "absent.json"))[0] == 2


def test_rows_pick_the_newest_earlier_hashed_run_and_tolerate_odd_summaries() -> None:
    from pgflex_restore.drills.evidence import instance_records, newest_earlier_evidence, run_fields, stored_evidence

    rows: list[dict[str, Any]] = [
        {"PartitionKey": "drill-1", "RowKey": "summary", "evidenceHash": "h1"},
        {"PartitionKey": "drill-2", "RowKey": "summary", "record": json.dumps({"evidence": {"hash": "h2"}})},
        {"PartitionKey": "drill-3", "RowKey": "summary", "record": json.dumps({"evidence": 5})},  # hand-edited
        {"PartitionKey": "drill-4", "RowKey": "summary", "record": "{not json"},
        {"PartitionKey": "drill-6", "RowKey": "summary", "evidenceHash": "h6"},  # later: not a predecessor
        {"PartitionKey": "drill-5", "RowKey": "instance:v:a", "record": json.dumps({"server": "a"})},
        {"PartitionKey": "drill-5", "RowKey": "instance:v:b", "server": "b", "status": "passed"},
        {"PartitionKey": "drill-5", "RowKey": "cleanup", "record": "{}"},
        {"PartitionKey": "drill-5", "RowKey": "summary", "startedAt": "", "record": json.dumps(
            {"startedAt": "2026-11-01T03:00:00Z", "finishedAt": "x"}), "finishedAt": "2026-11-01T03:30:00Z"},
    ]
    assert newest_earlier_evidence(rows, "drill-5") == {"runId": "drill-2", "hash": "h2"}
    assert newest_earlier_evidence(rows, "drill-1") is None
    assert stored_evidence(rows[2]) is None and stored_evidence(rows[0]) == {
        "hash": "h1", "previousRunId": None, "previousHash": None}
    assert [r.get("server") for r in instance_records(rows, "drill-5")] == ["a", "b"]
    assert run_fields(rows[-1]) == {"runId": "drill-5", "startedAt": "2026-11-01T03:00:00Z",
                                    "finishedAt": "2026-11-01T03:30:00Z"}


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted() -> None:
    doc = build_document(SUMMARY, [record("pg1", checks=[
        {"name": "invariant:x", "outcome": "failed", "message": '=HYPERLINK("http://evil")'},
        {"name": "invariant:y", "outcome": "failed", "message": "@SUM(A1)"}])], None)
    rows = list(csv.DictReader(io.StringIO(to_csv(doc), newline="")))
    assert [r["message"] for r in rows] == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)"]
    assert rows[0]["loadSeconds"] == "300.0"  # numbers are not touched
