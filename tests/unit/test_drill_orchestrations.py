"""The drill orchestrators driven as plain generators with a fake context: what they schedule, in what order.

The e2e tests replay them through the real SDK in devhost; these pin the decisions down quickly: batches of the
plan's concurrency, continue-as-new between generations, and no restore for a stale point.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrations.drill import DRILL_INSTANCE_ORCHESTRATION, DrillRun, InstanceDrill
from orchestrations.restore import RESTORE_ORCHESTRATION
from pgflex_restore.drills.choice import choose_drill_point
from pgflex_restore.drills.plan import PointSelection
from pgflex_restore.parsing import RecoveryPoint
from pgflex_restore.timeutil import parse_datetime
from tests.orchestration_driver import FakeContext, drive

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
CONTAINER = "https://acct.blob.core.windows.net/drills"
VAULT = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
RESTORE = {"poll": {"min": 5, "max": 600, "default": 30}, "timeoutSeconds": 86400, "maxTransientRetries": 3}


def run_answers(task: tuple[Any, ...]) -> Any:
    if task[0] == "all":
        return [{"status": "passed", "backupInstance": t[2]["target"]["id"], "server": "s"} for t in task[1]]
    name = task[1]
    if name == "drill_list_instances":
        return {"ok": True, "instances": [
            {"id": f"{VAULT}/backupInstances/bi{i:02d}", "name": f"bi{i:02d}", "vault": "v1", "server": f"pg{i:02d}",
             "datasourceType": "Microsoft.DBforPostgreSQL/flexibleServers", "source": "vault"} for i in range(7)]}
    return {"ok": True}


def run_input(**extra: Any) -> dict[str, Any]:
    plan = {"container": CONTAINER, "vaults": [VAULT], "concurrency": 3}
    return {"runId": "drill-1", "scheduledAt": "2026-11-25T03:00:00Z", "plan": plan, "restore": RESTORE, **extra}


def test_run_fans_out_in_batches_of_the_concurrency() -> None:
    """Seven instances, concurrency three: batches of 3, 3 and 1, then the summary is recorded."""
    context = FakeContext(run_input(), NOW, "drill-1")
    summary = drive(DrillRun(context).run(), context, run_answers)
    batches = [len(t[1]) for t in context.scheduled if t[0] == "all"]
    assert batches == [3, 3, 1]
    names = [t[1] for t in context.scheduled if t[0] == "activity"]
    assert names == ["drill_cleanup", "drill_list_instances", "drill_record_run"]
    subs = [s for t in context.scheduled if t[0] == "all" for s in t[1]]
    assert {s[1] for s in subs} == {DRILL_INSTANCE_ORCHESTRATION}
    assert [s[3] for s in subs][:2] == ["drill-1:0000", "drill-1:0001"]
    assert (summary["total"], summary["passed"]) == (7, 7)


def test_run_continues_as_new_between_generations() -> None:
    """With two batches per generation the run hands its compact results to the next execution."""
    context = FakeContext(run_input(batchesPerGeneration=2), NOW, "drill-1")
    assert drive(DrillRun(context).run(), context, run_answers) is None
    assert context.continued is not None
    state = context.continued["state"]
    assert len(state["results"]) == 6 and len(state["targets"]) == 7
    follow = FakeContext(context.continued, NOW, "drill-1")
    summary = drive(DrillRun(follow).run(), follow, run_answers)
    assert [len(t[1]) for t in follow.scheduled if t[0] == "all"] == [1]
    assert not any(t[0] == "activity" and t[1] == "drill_cleanup" for t in follow.scheduled)
    assert summary["total"] == 7


def chosen(points: list[dict[str, Any]], payload: dict[str, Any]) -> dict[str, Any]:
    """What drill_choose_point answers for these points, decided by the same rules from the payload it got."""
    choice = choose_drill_point([RecoveryPoint.from_dict(p) for p in points],
                                PointSelection.from_dict(payload["selection"]), now=parse_datetime(payload["now"]),
                                max_age=timedelta(seconds=payload["maxPointAgeSeconds"]), seed=payload["seed"])
    return {"ok": True, "choice": choice.to_dict()}


def test_a_stale_point_fails_without_a_restore() -> None:
    """The RPO check runs before anything is restored; the failure is recorded and alerted."""
    target = {"id": f"{VAULT}/backupInstances/bi", "name": "bi", "vault": "v1", "server": "pg", "prefix": "drills/x/",
              "leaf": "pg", "expectedDatabases": None}
    old = (NOW - timedelta(days=10)).isoformat()
    context = FakeContext({"runId": "drill-1", "index": 0, "target": target, "container": CONTAINER,
                           "selection": {"mode": "latest"}, "maxPointAgeSeconds": 8 * 86400, "restore": RESTORE},
                          NOW, instance_id="drill-1:0000")

    def answer(task: tuple[Any, ...]) -> Any:
        if task[1] == "drill_choose_point":
            return chosen([{"id": "rp", "time": old, "stores": []}], task[2])
        return {"ok": True}

    record = drive(InstanceDrill(context).run(), context, answer)
    assert (record["status"], record["reason"]) == ("failed", "stale-recovery-point")
    assert not any(t[0] == "sub" and t[1] == RESTORE_ORCHESTRATION for t in context.scheduled)
    assert [t[1] for t in context.scheduled] == ["drill_choose_point", "drill_record_result", "drill_send_alert"]


def test_a_blip_after_a_long_restore_is_waited_out_not_a_failure() -> None:
    """A 3-hour restore, then one transient verify error: the drill retries on a durable timer and passes."""
    target = {"id": f"{VAULT}/backupInstances/bi", "name": "bi", "vault": "v1", "server": "pg", "prefix": "drills/x/",
              "leaf": "pg", "expectedDatabases": None}
    fresh = (NOW - timedelta(hours=5)).isoformat()
    context = FakeContext({"runId": "drill-1", "index": 0, "target": target, "container": CONTAINER,
                           "selection": {"mode": "latest"}, "maxPointAgeSeconds": 8 * 86400, "restore": RESTORE},
                          NOW, instance_id="drill-1:0000")
    verify_calls = []

    def answer(task: tuple[Any, ...]) -> Any:
        if task[0] == "sub":
            context.current_utc_datetime = NOW + timedelta(hours=3)  # the restore took three hours
            return {"status": "succeeded", "recoveryPoint": {"id": "rp", "time": fresh}, "jobId": "j",
                    "startedAt": NOW.isoformat(), "finishedAt": (NOW + timedelta(hours=3)).isoformat()}
        if task[0] == "timer":
            return None
        if task[1] == "drill_choose_point":
            return chosen([{"id": "rp", "time": fresh, "stores": []}], task[2])
        if task[1] == "drill_verify_files":
            verify_calls.append(task)
            if len(verify_calls) == 1:
                return {"ok": False, "error": {"code": "ServerBusy", "message": "try later", "retryable": True}}
            return {"ok": True, "report": {"files": [], "databases": {"appdb": {}}, "problems": [], "totalBytes": 1}}
        return {"ok": True}

    record = drive(InstanceDrill(context).run(), context, answer)
    assert (record["status"], record["reason"]) == ("passed", None), record
    assert len(verify_calls) == 2
    assert any(t[0] == "timer" for t in context.scheduled)
