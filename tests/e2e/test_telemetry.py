"""Telemetry end to end: a real restore and a real drill through devhost, with the app's telemetry installed on
in-memory exporters in Azure Monitor's place (APPLICATIONINSIGHTS_CONNECTION_STRING set, so restores plan it).

Holds under DEVHOST_REDELIVERY (a re-run telemetry activity emits nothing twice in a process; a re-run ARM
activity sends its requests again, and the emulator logs them again) and DEVHOST_CONCURRENT_ACTIVITIES.
"""

from __future__ import annotations

from typing import Any

from devhost.azurite import Azurite
from devhost.redelivery import Redelivery
from pgflex_restore.timeutil import parse_datetime
from tests.e2e.drill_stack import drill_stack
from tests.e2e.stack import Stack, backup_instance, running_stack, server_id
from tests.telemetry_support import Captured, in_memory_telemetry

# Never configured: the installed in-memory providers take Azure Monitor's place.
CONNECTION = {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-4000-8000-000000000001"}
QUICK = {"validateSeconds": 2, "validateRetryAfter": 5, "restoreSeconds": 2, "restoreRetryAfter": 5,
         "jobSeconds": 90}
PHASES = ["selecting", "validating", "restoring", "tracking"]


def _nanos(text: str) -> int:
    moment = parse_datetime(text)
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


def assert_restore_trace(seen: Captured, record: dict[str, Any]) -> None:
    """One root span over the restore with the record's times and ids, a child per phase, in order, inside it."""
    roots = [s for s in seen.spans("restore") if s.attributes and s.attributes["restoreId"] == record["restoreId"]]
    assert len(roots) == 1, roots
    root = roots[0]
    assert root.parent is None and root.context is not None and root.attributes is not None
    assert (root.start_time, root.end_time) == (_nanos(record["startedAt"]), _nanos(record["finishedAt"]))
    assert root.attributes["status"] == record["status"]
    assert root.attributes["backupInstance"] == record["backupInstance"]
    assert root.attributes["recoveryPoint"] == record["recoveryPoint"]["id"]
    assert root.attributes.get("errorCode") == (record["error"] or {}).get("code")
    children = sorted((s for s in seen.spans() if s.parent and s.parent.span_id == root.context.span_id),
                      key=lambda s: s.start_time or 0)
    assert [s.name for s in children] == [f"restore.{p}" for p in record["phases"]]
    previous_end = root.start_time
    for child in children:
        assert child.start_time is not None and child.end_time is not None and root.end_time is not None
        assert previous_end == child.start_time < child.end_time <= root.end_time  # back to back, in order
        assert child.attributes is not None and child.attributes["restoreId"] == record["restoreId"]
        previous_end = child.end_time


def assert_every_arm_call_counted(seen: Captured, stack: Stack) -> None:
    logged = stack.arm_requests()
    assert seen.total("pgflex.arm.calls") == len(logged) > 0
    assert seen.total("pgflex.arm.throttled") == sum(1 for r in logged if r["status"] == 429)
    for kind in ("2xx", "4xx"):
        assert seen.total("pgflex.arm.calls", statusClass=kind) == sum(
            1 for r in logged if r["status"] is not None and r["status"] // 100 == int(kind[0]))


def test_a_restore_exports_a_span_per_phase_and_counts_every_arm_call_and_429(azurite: Azurite) -> None:
    with in_memory_telemetry() as seen, running_stack(azurite, {"pg1": backup_instance(timings=QUICK)},
                                                      extra_env=CONNECTION) as stack:
        stack.emulator.inject_fault("status", count=2, status=429, retry_after=7, path="/recoveryPoints")
        record = stack.run(stack.request_body(requestId="telemetry-1"))
        assert record["status"] == "succeeded"
        assert list(record["phases"]) == PHASES
        assert record["phases"]["tracking"]["finishedAt"] == record["finishedAt"]
        assert_restore_trace(seen, record)
        durations = seen.histogram("pgflex.restore.phase.duration", "phase")
        assert durations == {p: (1, record["phases"][p]["durationSeconds"]) for p in PHASES}
        # The 429s were waited out (Retry-After 7 s) while selecting (both in one attempt when the host re-ran it).
        assert durations["selecting"][1] >= 7
        assert_every_arm_call_counted(seen, stack)
        assert seen.total("pgflex.arm.throttled") == 2
        assert seen.total("pgflex.arm.throttled", method="GET",
                          operation="Microsoft.DataProtection/backupVaults/backupInstances/recoveryPoints") == 2


def test_without_the_setting_a_restore_schedules_no_telemetry_activity(azurite: Azurite) -> None:
    with in_memory_telemetry() as seen, running_stack(azurite, {"pg1": backup_instance(timings=QUICK)}) as stack:
        record = stack.run(stack.request_body(requestId="telemetry-off"))
        assert record["status"] == "succeeded" and list(record["phases"]) == PHASES
        history = stack.host.get(record["restoreId"]).history
        assert "restore_telemetry" not in str(history)
        assert seen.spans() == []  # (the installed providers still count the ARM calls: they were installed)


def test_a_drill_exports_its_verdicts_rto_and_its_restores(azurite: Azurite) -> None:
    instances = {name: {**spec, "serverId": server_id(name)} for name, spec in {
        "pg-ok": backup_instance(timings=QUICK),
        "pg-job": backup_instance(timings=QUICK, failures={"jobFailAtPercent": 40}),
    }.items()}
    with in_memory_telemetry() as seen, drill_stack(azurite, instances, extra_env=CONNECTION) as drills:
        summary = drills.run(drills.plan())
        assert (summary["passed"], summary["failed"]) == (1, 1), summary
        records = {r["instanceName"]: r for k, r in drills.rows(summary["runId"]).items() if k.startswith("instance:")}
        assert seen.total("pgflex.drill.verdicts") == 2
        assert seen.total("pgflex.drill.verdicts", verdict="passed", server=records["pg-ok"]["server"]) == 1
        assert seen.total("pgflex.drill.verdicts", verdict="failed", server=records["pg-job"]["server"],
                          reason="restore-job-failed") == 1
        ok = records["pg-ok"]
        rto = (parse_datetime(ok["finishedAt"]) - parse_datetime(ok["startedAt"])).total_seconds()
        assert seen.histogram("pgflex.drill.rto", "server") == {ok["server"]: (1, rto)}
        assert rto >= 90  # the emulator's job takes 90 s
        restores = {r["restoreId"] for r in records.values()}
        roots = {str((s.attributes or {})["restoreId"]): s for s in seen.spans("restore")}
        assert set(roots) == restores
        assert all((s.attributes or {})["via"] == "drill" for s in roots.values())
        failed = roots[records["pg-job"]["restoreId"]]
        assert failed.status.status_code.name == "ERROR" and (failed.attributes or {})["status"] == "failed"
        assert_every_arm_call_counted(seen, drills.stack)


def test_a_redelivered_telemetry_activity_emits_nothing_twice(azurite: Azurite) -> None:
    """The host runs restore_telemetry and drill_record_result again after their outcome was lost: the restore's
    spans and durations and the drill's verdict are still there once (the second run finds them emitted)."""
    rerun = frozenset({"restore_telemetry", "drill_record_result"})
    options = {"redelivery": Redelivery(point="after", activities=rerun)}
    instances = {"pg-ok": {**backup_instance(timings=QUICK), "serverId": server_id("pg-ok")}}
    with in_memory_telemetry() as seen, drill_stack(azurite, instances, extra_env=CONNECTION,
                                                    host_options=options) as drills:
        summary = drills.run(drills.plan())
        assert summary["passed"] == 1, summary
        calls = [c.name for c in drills.stack.host.activity_calls if c.name in rerun]
        assert sorted(calls) == ["drill_record_result"] * 2 + ["restore_telemetry"] * 2
        assert len(seen.spans("restore")) == 1 and len(seen.spans("restore.tracking")) == 1
        assert seen.histogram("pgflex.restore.phase.duration", "phase")["tracking"][0] == 1
        assert seen.total("pgflex.drill.verdicts") == 1
