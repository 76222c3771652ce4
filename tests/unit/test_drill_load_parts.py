"""The loading drill's wire parts: the LOAD_REQUEST a drill sends (load and drop), its alerts, the previous
passing drill and the databases a load creates."""

from __future__ import annotations

from pgflex_restore.drills.proof import previous_passing, restored_databases
from pgflex_restore.drills.records import alert_message, scratch_alert
from pgflex_restore.load_arm import load_request

ARGS = {"run_id": "drill-x:0000:load", "container_url": "https://a.blob.core.windows.net/d",
        "prefix": "drills/drill-x/pg1/pg1", "host": "pg-drill.postgres.database.azure.com", "replaceable": []}


def test_a_drill_load_passes_its_checks_on() -> None:
    section = {"server": "/x", "databases": {"appdb": "drill_x_0000_appdb"}, "onExists": "fail",
               "recoveryPointTime": "2026-12-04T06:00:00Z", "amcheck": True,
               "checks": [{"name": "orders", "database": "appdb", "sql": "SELECT 1", "min": 1}],
               "compareWithSource": {"host": "pg1.postgres.database.azure.com", "minRowRatio": 0.5}}
    request = load_request(load=section, **ARGS)  # type: ignore[arg-type]
    assert request["databases"] == {"appdb": "drill_x_0000_appdb"} and request["onExists"] == "fail"
    for key in ("recoveryPointTime", "amcheck", "checks", "compareWithSource"):
        assert request[key] == section[key]
    plain = load_request(load={"server": "/x"}, **ARGS)  # type: ignore[arg-type]
    assert not {"recoveryPointTime", "amcheck", "checks", "compareWithSource", "action"} & set(plain)


def test_a_drop_names_only_databases_and_oids() -> None:
    request = load_request(load={"server": "/x", "action": "drop",  # type: ignore[arg-type]
                                 "databases": [{"database": "drill_x_appdb", "oid": 16384, "extra": 1}]}, **ARGS)
    assert request == {"runId": ARGS["run_id"], "source": {"containerUrl": ARGS["container_url"],
                                                           "prefix": ARGS["prefix"]},
                       "server": {"host": ARGS["host"]}, "action": "drop",
                       "databases": [{"database": "drill_x_appdb", "oid": 16384}]}


def test_alerts_name_the_failed_check_and_undropped_scratch() -> None:
    record = {"runId": "drill-1", "backupInstance": "/bi", "server": "pg1", "reason": "check-failed",
              "failedCheck": "rowCounts", "message": "pg1: check rowCounts failed: ...",
              "scratch": {"server": "/drill", "databases": [{"database": "drill_1_appdb", "oid": 5}],
                          "outcome": "failed", "error": "LoadDropFailed: x"}}
    assert alert_message(record, details_path="/d")["check"] == "rowCounts"
    alert = scratch_alert(record, details_path="/d")
    assert alert["alertId"] == "drill-1|/bi|scratch" and "drill_1_appdb" in alert["message"]
    assert alert_message({**record, "reason": "rpo-breached"}, details_path="/d")["severity"] == "Sev1"


def test_previous_passing_is_the_newest_earlier_passing_drill_with_counts() -> None:
    rows = [{"runId": "drill-3", "status": "passed", "rowCounts": [1]},
            {"runId": "drill-2", "status": "failed", "rowCounts": [2]},
            {"runId": "drill-1", "status": "passed", "rowCounts": [3]},
            {"runId": "drill-0", "status": "passed", "rowCounts": [4]},
            {"runId": "drill-15", "status": "passed"}]
    assert previous_passing(rows, "drill-2") == {"runId": "drill-1", "rowCounts": [3]}
    assert previous_passing(rows, "drill-0") is None


def test_restored_databases_are_named_by_file_as_the_loader_names_them() -> None:
    files = [{"name": "pg1_appdb.sql", "kind": "database"}, {"name": "pg1_roles.sql", "kind": "roles"},
             {"name": "pg1_my_db.sql", "kind": "database"}]
    assert restored_databases(files, "pg1") == ["appdb", "my_db"]


def test_a_huge_loading_record_keeps_its_verdict_and_proof_in_the_row() -> None:
    from pgflex_restore.drills.records import MAX_RECORD_CHARS, instance_entity, record_from_entity

    tables = [{"database": "d", "schema": "s", "name": f"t{i:04d}" + "x" * 60, "rows": i} for i in range(2000)]
    record = {"runId": "drill-1", "vault": "v", "instanceName": "i", "status": "failed", "reason": "check-failed",
              "failedCheck": "rowCounts", "rowCounts": tables[:300], "tables": tables[:10],
              "phases": {"total": 5.0}, "rto": {"seconds": 5.0}, "rpo": {"ageSeconds": 1.0},
              "scratch": {"outcome": "dropped"}, "files": [{"name": "f" * 100}] * 300,
              "checks": [{"name": "rowCounts", "outcome": "failed", "dropped": tables}]}
    entity = instance_entity(record)
    assert len(entity["record"]) <= MAX_RECORD_CHARS
    kept = record_from_entity(entity)
    assert kept["failedCheck"] == "rowCounts" and kept["scratch"] == {"outcome": "dropped"}
    assert kept["checks"][0]["outcome"] == "failed" and kept["phases"] == {"total": 5.0}
