"""Drill evidence end to end: two real drill runs chain their hashes in the summary rows; the endpoint rebuilds
and verifies the document (JSON and CSV); an edited row shows as unverified and fails the offline check; a drill
that really loads into PostgreSQL carries the restored files' true SHA-256."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from activities.drill_results import record_result, record_run
from cli.restore import main
from devhost.azurite import Azurite
from devhost.postgres import Postgres
from pgflex_restore.drills.run import run_id_for
from tests.e2e.drill_stack import DrillStack, drill_stack
from tests.e2e.stack import backup_instance, server_id
from tests.e2e.test_drills_load import drilling, pg, server  # noqa: F401  (the drill server's fixtures)
from tests.e2e.test_drills_load import run as run_loaded


def evidence(drills: DrillStack, run_id: str, **params: str) -> requests.Response:
    return requests.get(f"{drills.stack.api}/drills/{run_id}/evidence", headers=drills.stack.key, params=params,
                        timeout=30)


def summary_entity(drills: DrillStack, run_id: str) -> dict[str, Any]:
    table = TableServiceClient.from_connection_string(drills.stack.azurite.connection_string) \
        .get_table_client(drills.table)
    return dict(table.get_entity(run_id, "summary"))


def verify(*paths: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["drill", "verify-evidence", *map(str, paths)], stdout=out, stderr=err)
    return code, out.getvalue() + err.getvalue()


def test_runs_chain_their_evidence_and_an_edited_row_is_detected(azurite: Azurite, tmp_path: Path) -> None:
    instances = {"pg1": backup_instance(),
                 "pg2": backup_instance(serverId=server_id("pg2"), failures={"corruptDump": {"appdb": "truncated"}})}
    with drill_stack(azurite, instances) as drills:
        now = drills.stack.clock.now()
        first_id, second_id = run_id_for(now, "a"), run_id_for(now, "b")
        first = drills.run(drills.plan(), run_id=first_id)
        second = drills.run(drills.plan(), run_id=second_id)
        assert (first["failed"], second["failed"]) == (1, 1)

        # The summary rows store the hash chain.
        stored_first = drills.rows(first_id)["summary"]["evidence"]
        stored_second = drills.rows(second_id)["summary"]["evidence"]
        assert stored_first["previousRunId"] is None and len(stored_first["hash"]) == 64
        assert stored_second["previousRunId"] == first_id and stored_second["previousHash"] == stored_first["hash"]
        assert summary_entity(drills, second_id)["evidenceHash"] == stored_second["hash"]

        # Recorded again (a re-delivered activity), the run stores the same hash.
        again = record_run({"summary": second})
        assert again["evidence"] == stored_second
        assert summary_entity(drills, second_id)["evidenceHash"] == stored_second["hash"]

        # The endpoint rebuilds each document and verifies it.
        docs = {}
        for run_id, stored in ((first_id, stored_first), (second_id, stored_second)):
            answer = evidence(drills, run_id)
            assert answer.status_code == 200, answer.text
            doc = answer.json()
            assert doc["verification"] == {"verified": True, "storedHash": stored["hash"],
                                           "rebuiltHash": stored["hash"]}
            assert doc["schema"] == "pgflex-restore/drill-evidence/v1" and doc["hash"] == stored["hash"]
            assert {s["server"]: (s["verdict"], s["reason"]) for s in doc["servers"]} == {
                "pg1": ("passed", None), "pg2": ("failed", "dump-truncated")}
            pg1 = next(s for s in doc["servers"] if s["server"] == "pg1")
            assert pg1["recoveryPoint"]["id"] and pg1["recoveryPoint"]["ageSeconds"] is not None
            assert pg1["files"] and all(f["name"] and f["bytes"] > 0 for f in pg1["files"])
            docs[run_id] = doc
        assert docs[second_id]["previous"] == {"runId": first_id, "hash": stored_first["hash"]}
        assert docs[first_id]["previous"] is None

        # Saved as answered, the documents verify offline; out of order or with one missing, the chain breaks.
        saved = {run_id: tmp_path / f"{run_id}.json" for run_id in docs}
        for run_id, path in saved.items():
            path.write_text(json.dumps(docs[run_id]), encoding="utf-8")
        assert verify(saved[first_id], saved[second_id])[0] == 0
        code, said = verify(saved[second_id], saved[first_id])
        assert code == 1 and f"run {first_id}: broken chain" in said

        # CSV: one row per server and check (RFC 4180: CRLF line ends).
        answer = evidence(drills, second_id, format="csv")
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv")
        assert answer.content.endswith(b"\r\n")
        rows = list(csv.DictReader(io.StringIO(answer.content.decode(), newline="")))
        assert {r["server"] for r in rows} == {"pg1", "pg2"}
        assert all(r["runId"] == second_id and r["hash"] == stored_second["hash"] for r in rows)

        # Someone turns the failed drill of the first run into a pass: the endpoint and the offline check say so.
        table = TableServiceClient.from_connection_string(drills.stack.azurite.connection_string) \
            .get_table_client(drills.table)
        row = next(e for e in table.query_entities(f"PartitionKey eq '{first_id}'")
                   if "pg2" in str(e.get("server")) and e["RowKey"].startswith("instance:"))
        record = json.loads(row["record"])
        record.update(status="passed", reason=None)
        row["record"], row["status"] = json.dumps(record), "passed"
        table.update_entity(row)
        edited = evidence(drills, first_id).json()
        assert edited["verification"]["verified"] is False
        assert edited["verification"]["storedHash"] == stored_first["hash"] != edited["verification"]["rebuiltHash"]
        tampered = tmp_path / "tampered.json"
        tampered.write_text(json.dumps(edited), encoding="utf-8")
        code, said = verify(tampered, saved[second_id])
        assert code == 1 and f"run {first_id}: hash mismatch" in said
        assert evidence(drills, second_id).json()["verification"]["verified"] is True  # its own rows are intact

        # Unknown run, bad format, no key.
        missing = evidence(drills, "drill-20200101T000000Z")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "DrillRunNotFound"
        assert evidence(drills, second_id, format="xml").status_code == 400
        assert requests.get(f"{drills.stack.api}/drills/{second_id}/evidence", timeout=30).status_code == 401


def proof_record(run: str, name: str, *, checks: list[dict[str, Any]]) -> dict[str, Any]:
    """An instance record with issue 16's fields (contract C): phases, RTO/RPO, checks, file hashes."""
    return {"runId": run, "backupInstance": f"/subscriptions/s/backupInstances/{name}-bi", "vault": "v",
            "instanceName": f"{name}-bi", "server": name, "status": "passed", "reason": None,
            "recoveryPoint": {"id": f"rp-{name}", "time": "2026-10-31T22:00:00Z"}, "pointAgeSeconds": 18000.0,
            "phases": {"select": 2.0, "validate": 30.0, "restoreJob": 900.0, "load": 600.0, "checks": 50.0,
                       "total": 1582.0},
            "rto": {"seconds": 1582.0, "target": 3600.0, "breached": False},
            "rpo": {"ageSeconds": 18000.0, "target": 691200.0, "breached": False},
            "checks": checks, "files": [{"name": f"{name}_sales.sql", "size": 2048, "sha256": "5e" * 32}],
            "startedAt": "2026-11-01T03:00:00Z", "finishedAt": "2026-11-01T03:30:00Z"}


def test_evidence_of_loaded_drills_holds_their_checks_and_file_hashes(azurite: Azurite) -> None:
    """Records with phases, checks and file hashes (written by the app's record functions) end up in the JSON
    and the CSV; the chain skips a run recorded before evidence existed; an edited check is detected."""
    with drill_stack(azurite, {"pg1": backup_instance()}) as drills:
        table = TableServiceClient.from_connection_string(drills.stack.azurite.connection_string) \
            .get_table_client(drills.table)
        hashed, legacy, run = "drill-20261030T030000Z", "drill-20261031T030000Z", "drill-20261101T030000Z"
        record_run({"summary": {"runId": hashed, "status": "passed", "startedAt": "2026-10-30T03:00:00Z"}})
        table.upsert_entity({"PartitionKey": legacy, "RowKey": "summary", "kind": "summary",
                             "record": json.dumps({"runId": legacy, "status": "passed"})})  # before evidence
        passed = {"outcome": "passed", "message": "ok"}
        record_result({"record": proof_record(run, "pg-a", checks=[
            {"name": "files", **passed}, {"name": "structure", **passed},
            {"name": "invariant:recent orders", **passed, "value": 42}])})
        record_result({"record": proof_record(run, "pg-b", checks=[
            {"name": "rowCounts", **passed}, {"name": "amcheck", "outcome": "skipped", "message": "no amcheck"}])})
        recorded = record_run({"summary": {"runId": run, "status": "passed", "startedAt": "2026-11-01T03:00:00Z",
                                           "finishedAt": "2026-11-01T03:31:00Z"}})["evidence"]
        first = drills.rows(hashed)["summary"]["evidence"]["hash"]
        assert (recorded["previousRunId"], recorded["previousHash"]) == (hashed, first)

        doc = evidence(drills, run).json()
        assert doc["verification"]["verified"] is True and doc["hash"] == recorded["hash"]
        assert doc["previous"] == {"runId": hashed, "hash": first}
        a = next(s for s in doc["servers"] if s["server"] == "pg-a")
        assert a["files"] == [{"name": "pg-a_sales.sql", "bytes": 2048, "sha256": "5e" * 32}]
        assert a["phases"]["load"] == 600.0 and a["rto"] == {"seconds": 1582.0, "target": 3600.0, "breached": False}
        assert [c["name"] for c in a["checks"]] == ["files", "structure", "invariant:recent orders"]
        rows = list(csv.DictReader(io.StringIO(evidence(drills, run, format="csv").content.decode(), newline="")))
        assert [(r["server"], r["check"], r["outcome"]) for r in rows] == [
            ("pg-a", "files", "passed"), ("pg-a", "structure", "passed"), ("pg-a", "invariant:recent orders", "passed"),
            ("pg-b", "rowCounts", "passed"), ("pg-b", "amcheck", "skipped")]
        assert rows[0]["loadSeconds"] == "600.0" and rows[0]["recoveryPointId"] == "rp-pg-a"
        legacy_doc = evidence(drills, legacy).json()  # recorded before evidence: rebuilt, never "verified"
        assert legacy_doc["verification"] == {"verified": False, "storedHash": None,
                                              "rebuiltHash": legacy_doc["hash"]}

        entity = next(e for e in table.query_entities(f"PartitionKey eq '{run}'") if e["RowKey"].endswith("pg-b-bi"))
        record = json.loads(entity["record"])
        record["checks"][1]["outcome"] = "passed"  # someone hides a skipped amcheck
        entity["record"] = json.dumps(record)
        table.update_entity(entity)
        assert evidence(drills, run).json()["verification"]["verified"] is False


def test_a_real_loaded_drill_s_evidence_carries_the_files_true_hashes(
        azurite: Azurite, pg: Postgres, tmp_path: Path) -> None:  # noqa: F811  (pg: the imported fixture)
    """A drill that really loads into PostgreSQL (the loader hashing while it downloads): its evidence verifies,
    holds every check and phase the record has, and each file's sha256 is the SHA-256 of the blob itself."""
    with drilling(azurite, pg) as drills:
        summary, record = run_loaded(drills, amcheck=True, rtoTarget="PT6H")
        assert record["status"] == "passed", record.get("message")
        doc = evidence(drills, summary["runId"]).json()
        assert doc["verification"]["verified"] is True
        (entry,) = doc["servers"]
        assert [c["name"] for c in entry["checks"]] == [c["name"] for c in record["checks"]]
        assert entry["phases"] == record["phases"] and entry["rto"]["target"] == 21600.0
        container = BlobServiceClient.from_connection_string(drills.stack.azurite.connection_string) \
            .get_container_client(drills.stack.container)
        hashed = [f for f in entry["files"] if f["sha256"]]
        assert hashed
        for item in hashed:
            blob = container.download_blob(record["filePrefix"] + item["name"]).readall()
            assert (len(blob), hashlib.sha256(blob).hexdigest()) == (item["bytes"], item["sha256"]), item["name"]
        saved = tmp_path / "evidence.json"
        saved.write_text(json.dumps(doc), encoding="utf-8")
        assert verify(saved)[0] == 0

        # The dashboard draws the real drill's phases, RTO target and largest tables.
        page = requests.get(f"{drills.stack.api}/drills/dashboard", headers=drills.stack.key, timeout=30).text
        assert all(f'class="phase phase-{p}"' in page for p in ("restoreJob", "load", "checks"))
        assert 'class="rto-target"' in page and 'class="table-trend"' in page
        biggest = record["tables"][0]
        assert f'{biggest["database"]}.{biggest["schema"]}.{biggest["name"]}' in page
