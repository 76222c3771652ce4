"""The drill run's fan-out with loads: at most ``load.jobs`` drills load into one drill server at once, and each
instance drill gets its proof options and the loader job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orchestrations.drill import DrillRun, InstanceDrill
from tests.orchestration_driver import FakeContext, drive
from tests.unit.test_drill_orchestrations import CONTAINER, NOW, RESTORE, VAULT, chosen, run_answers, run_input

DRILL = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-drill"
OTHER = DRILL.replace("pg-drill", "pg-drill2")
JOB = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.App/jobs/loader"


def test_batches_hold_at_most_load_jobs_drills_per_drill_server() -> None:
    """Seven instances, concurrency 3, jobs 2 on the plan's drill server; pg05 and pg06 load elsewhere."""
    base = run_input(loadJob=JOB)
    plan = {**base["plan"], "load": {"server": DRILL, "jobs": 2}, "rtoTarget": "PT2H",
            "servers": {"pg05": {"load": {"server": OTHER, "jobs": 1}}, "pg06": {"load": {"server": OTHER}}}}
    context = FakeContext({**base, "plan": plan}, NOW, "drill-1")
    summary = drive(DrillRun(context).run(), context, run_answers)
    batches = [[s[2] for s in t[1]] for t in context.scheduled if t[0] == "all"]
    assert [len(b) for b in batches] == [2, 2, 2, 1]
    for batch in batches:
        servers = [i["target"]["proof"]["load"]["server"] for i in batch]
        assert servers.count(DRILL) <= 2 and servers.count(OTHER) <= 1
    first: dict[str, Any] = batches[0][0]
    assert first["loadJob"] == JOB and first["target"]["proof"]["rtoTargetSeconds"] == 7200.0
    assert summary["total"] == 7


def instance(proof: dict[str, Any]) -> FakeContext:
    target = {"id": f"{VAULT}/backupInstances/bi", "name": "bi", "vault": "v1", "server": "pg", "prefix": "drills/x/",
              "leaf": "pg", "expectedDatabases": None, "serverId": None, "proof": proof}
    return FakeContext({"runId": "drill-1", "index": 0, "target": target, "container": CONTAINER, "loadJob": JOB,
                        "selection": {"mode": "latest"}, "maxPointAgeSeconds": 8 * 86400, "restore": RESTORE},
                       NOW, instance_id="drill-1:0000")


PROOF = {"load": {"server": DRILL, "jobs": 1}, "checks": [], "amcheck": False, "compareWithSource": False,
         "minRowRatio": 0.5, "maxRowDrop": 0.5, "rtoTargetSeconds": None, "rpoTargetSeconds": 3600.0}
CREATED = [{"database": "drill_1_0000_appdb", "oid": 16400}]
CHECKS_FAILED = {"status": "load_failed", "error": {"code": "LoadChecksFailed", "failedStep": "checks",
                                                    "message": "check(s) failed"},
                 "load": {"status": "failed", "server": "127.0.0.1", "created": CREATED, "databases": [
                     {"source": "appdb", "objects": {"expected": 1, "found": 1, "missing": []},
                      "tables": [{"schema": "public", "name": "t", "rows": 3, "hasData": True}],
                      "checks": [{"name": "invariant:none", "outcome": "failed", "message": "3 > 0"}]}]}}


def test_an_instance_drill_loads_then_drops_after_a_failed_check_and_alerts_it() -> None:
    context = instance(PROOF)
    fresh = (NOW - timedelta(minutes=30)).isoformat()

    def answer(task: tuple[Any, ...]) -> Any:
        if task[0] == "sub":
            return {"restore": {"status": "succeeded", "startedAt": "2026-11-25T03:00:00Z",
                                "job": {"startTime": "2026-11-25T03:00:00Z", "durationSeconds": 5.0}},
                    "load": CHECKS_FAILED,
                    "drop": {"status": "dropped", "load": {"dropped": [{**CREATED[0], "outcome": "dropped"}]}},
                    }[str(task[3]).rsplit(":", 1)[-1]]
        if task[1] == "drill_choose_point":
            return chosen([{"id": "rp", "time": fresh, "stores": [{"type": "VaultStore"}]}], task[2])
        if task[1] == "drill_verify_files":
            return {"ok": True, "report": {"files": [{"name": "pg_appdb.sql", "kind": "database"}],
                                           "databases": {"appdb": {}}, "problems": [], "totalBytes": 9}}
        if task[1] == "drill_previous_rows":
            return {"ok": True, "previous": None}
        if task[1] == "load_ledger_read":
            return {"ok": True, "replaceable": [{"database": "drill_1_0000_appdb", "oid": 1}, {"database": "x",
                                                                                             "oid": 2}]}
        return {"ok": True}

    record = drive(InstanceDrill(context).run(),
                   context, answer)
    assert (record["status"], record["reason"], record["failedCheck"]) == ("failed", "check-failed",
                                                                           "invariant:none"), record
    subs = [(t[1], t[3]) for t in context.scheduled if t[0] == "sub"]
    assert [s[1] for s in subs] == ["drill-1:0000:restore", "drill-1:0000:load", "drill-1:0000:drop"]
    load = next(t[2] for t in context.scheduled if t[0] == "sub" and t[3].endswith(":load"))["load"]
    assert load["databases"] == {"appdb": "drill_1_0000_appdb"} and load["onExists"] == "fail"
    drop = next(t[2] for t in context.scheduled if t[0] == "sub" and t[3].endswith(":drop"))["load"]
    assert drop["databases"] == CREATED  # the report's oid wins over the ledger's; other names are never dropped
    assert record["scratch"]["outcome"] == "dropped" and record["rpo"]["breached"] is False
    alerts = [t[2]["alert"] for t in context.scheduled if t[0] == "activity" and t[1] == "drill_send_alert"]
    assert [a["check"] for a in alerts] == ["invariant:none"]


def test_a_stale_point_still_records_rpo_against_the_target() -> None:
    context = instance(PROOF)
    old = (NOW - timedelta(days=10)).isoformat()

    def answer(task: tuple[Any, ...]) -> Any:
        if task[1] == "drill_choose_point":
            return chosen([{"id": "rp", "time": old, "stores": []}], task[2])
        return {"ok": True}

    record = drive(InstanceDrill(context).run(),
                   context, answer)
    assert record["reason"] == "stale-recovery-point" and record["rpo"]["breached"] is True


def test_a_load_at_its_deadline_is_deadline_exceeded_and_its_unknown_scratch_is_alerted() -> None:
    context = instance(PROOF)
    fresh = (NOW - timedelta(minutes=30)).isoformat()
    stopped = {"status": "deadline", "error": None,
               "load": {"status": "failed", "server": "127.0.0.1", "execution": {"name": "loader-7", "stopped": True}}}

    def answer(task: tuple[Any, ...]) -> Any:
        if task[0] == "sub":
            assert not str(task[3]).endswith(":drop"), "nothing known to drop"
            return stopped if str(task[3]).endswith(":load") else {"status": "succeeded"}
        if task[1] == "drill_choose_point":
            return chosen([{"id": "rp", "time": fresh, "stores": [{"type": "VaultStore"}]}], task[2])
        if task[1] == "drill_verify_files":
            return {"ok": True, "report": {"files": [{"name": "pg_appdb.sql", "kind": "database"}],
                                           "databases": {"appdb": {}}, "problems": [], "totalBytes": 9}}
        return {"ok": True, "previous": None, "replaceable": []}

    record = drive(InstanceDrill(context).run(), context, answer)
    assert (record["status"], record["reason"]) == ("failed", "deadline-exceeded")
    assert "loader-7 was stopped" in record["message"] and record["scratch"]["outcome"] == "failed"
    alerts = [t[2]["alert"] for t in context.scheduled if t[0] == "activity" and t[1] == "drill_send_alert"]
    assert [a["type"] for a in alerts] == ["RestoreDrillFailed", "RestoreDrillScratchNotDropped"]
    assert "drill_1_0000_appdb" in alerts[1]["message"]
