"""Restore drills end to end: devhost + emulator + Azurite on the virtual clock, real sockets throughout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from devhost.azurite import Azurite
from emulator.clock import parse_time
from tests.e2e.drill_stack import drill_stack
from tests.e2e.stack import START, SUB, backup_instance, points, server_id

DATABASES = ["appdb", "reporting"]
QUICK = {"validateSeconds": 2, "validateRetryAfter": 5, "restoreSeconds": 2, "restoreRetryAfter": 5,
         "jobSeconds": 90}


def failing(**failures: Any) -> dict[str, Any]:
    return backup_instance(failures=failures, timings=QUICK)


def named(instances: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each backup instance protects a server of its own name."""
    return {name: {**spec, "serverId": server_id(name)} for name, spec in instances.items()}


def test_each_failure_is_reported_with_its_reason_and_alerted(azurite: Azurite) -> None:
    """One healthy server passes; stale point, failed validation, failed job, truncated / bad-magic / empty dump
    and a missing database file each fail with their own reason, land in the table and on the alert queue;
    an excluded server is recorded as skipped and raises no alert."""
    instances = named({
        "pg-ok": backup_instance(timings=QUICK),
        "pg-stale": backup_instance(recoveryPoints=points(3, newest=START - timedelta(days=5))),
        "pg-validate": failing(validate={"code": "UserErrorMissingRequiredPermissions",
                                         "message": "the vault cannot write to the container"}),
        "pg-job": failing(jobFailAtPercent=40),
        "pg-truncated": failing(corruptDump={"appdb": "truncated"}),
        "pg-magic": failing(corruptDump={"reporting": "bad-magic"}),
        "pg-empty": failing(corruptDump={"appdb": "empty"}),
        "pg-missing": failing(missingDatabaseFile=["reporting"]),
        "pg-excluded": backup_instance(timings=QUICK),
    })
    expected = {
        "pg-ok": ("passed", None),
        "pg-stale": ("failed", "stale-recovery-point"),
        "pg-validate": ("failed", "validation-failed"),
        "pg-job": ("failed", "restore-job-failed"),
        "pg-truncated": ("failed", "dump-truncated"),
        "pg-magic": ("failed", "dump-bad-magic"),
        "pg-empty": ("failed", "empty-file"),
        "pg-missing": ("failed", "missing-database-file"),
        "pg-excluded": ("skipped", "excluded"),
    }
    with drill_stack(azurite, instances) as drills:
        plan = drills.plan(expectedDatabases={name: DATABASES for name in instances}, exclude=["pg-excluded"])
        summary = drills.run(plan)
        assert (summary["total"], summary["passed"], summary["failed"], summary["skipped"]) == (9, 1, 7, 1), summary
        assert summary["status"] == "failed"

        rows = drills.rows(summary["runId"])
        assert rows["summary"]["failed"] == 7
        records = {r["instanceName"]: r for k, r in rows.items() if k.startswith("instance:")}
        assert {name: (r["status"], r["reason"]) for name, r in records.items()} == expected

        ok = records["pg-ok"]
        assert ok["recoveryPoint"]["id"] == "rp-0"
        assert 0 < ok["pointAgeSeconds"] <= 3 * 3600
        assert ok["restoreDurationSeconds"] >= 90  # the emulator's job takes 90 s
        assert ok["jobId"]
        assert set(ok["databases"]) == set(DATABASES)
        for facts in ok["databases"].values():
            assert facts["format"] == "custom" and facts["tocEntries"] > 0 and facts["tables"] >= 1
        assert {f["kind"] for f in ok["files"]} >= {"database", "roles"}
        assert ok["rangedReads"] <= 30  # header + TOC + tail per file, never whole downloads

        # One recovery-point listing per drilled server: the restore reuses the point the RPO check chose.
        listings = drills.stack.arm_requests("GET", "/recoveryPoints")
        wanted = 8 + drills.stack.reruns("drill_choose_point", "resolve_recovery_point")
        assert len(listings) == wanted, len(listings)  # every server but the excluded one

        assert "5.0 days old" in records["pg-stale"]["message"]
        assert "UserErrorMissingRequiredPermissions" in records["pg-validate"]["message"]
        assert records["pg-stale"]["jobId"] is None  # no restore was started for a stale point
        assert records["pg-missing"]["problems"][0]["database"] == "reporting"

        alerts = drills.alerts()
        if drills.stack.reruns("drill_send_alert"):
            # At least once: a re-run alert activity sends its message again, with the same alertId to dedupe on.
            by_id: dict[str, set[str]] = {}
            for a in alerts:
                by_id.setdefault(a["alertId"], set()).add(a["server"])
            assert all(len(servers) == 1 for servers in by_id.values())
            alerts = list({a["alertId"]: a for a in alerts}.values())
        assert sorted(a["server"] for a in alerts) == sorted(n for n, (s, _) in expected.items() if s == "failed")
        by_server = {a["server"]: a for a in alerts}
        for name, (_, reason) in expected.items():
            if name in by_server:
                assert by_server[name]["reason"] == reason
                assert by_server[name]["type"] == "RestoreDrillFailed"
                assert by_server[name]["details"] == f"/api/drills/{summary['runId']}"
        assert by_server["pg-stale"]["severity"] == "Sev1"


def test_paced_to_the_token_buckets_a_fleet_drill_meets_no_429(azurite: Azurite) -> None:
    """The same tight buckets, with the app's budget (ARM_BUDGET) set just under them: every drill's ARM calls
    take tokens from one shared bucket first, so the service never has to throttle, and nothing fails."""
    quick = {**QUICK, "jobSeconds": 10}
    instances = named({f"pg{i:02d}": backup_instance(timings=quick, databases=["appdb"]) for i in range(30)})
    throttle = {SUB: {"readsBucket": 40, "readsPerSecond": 1, "writesBucket": 5, "writesPerSecond": 0.25}}
    budget = {"ARM_BUDGET": "reads=36/0.9,writes=4/0.22"}
    with drill_stack(azurite, instances, scenario_top={"throttle": throttle}, extra_env=budget) as drills:
        summary = drills.run(drills.plan(concurrency=10), timeout=55)
        assert (summary["total"], summary["passed"], summary["failed"]) == (30, 30, 0), summary["failures"]
        logged = drills.stack.arm_requests()
        # A re-delivered activity (DEVHOST_REDELIVERY) repeats its call outside the budget, as a recycled host
        # would: only such repeats may meet a 429 (and it is waited out).
        assert len([r for r in logged if r.get("status") == 429]) <= drills.stack.reruns()
        writes = [r for r in logged if r["method"] == "POST" and r.get("status") != 429]
        # validate + restore per server: the paced calls were held back, not lost (a re-delivered validate that
        # had posted posts again; one that was held back is held back again; a re-delivered trigger finds its
        # own job instead)
        assert 60 <= len(writes) <= 60 + drills.stack.reruns("validate_restore")
        # Held back, the writes spread at the budget's pace instead of bursting: 60 writes at 0.22/s after a
        # burst of 4 take over four minutes of the virtual clock.
        span = (parse_time(writes[-1]["time"]) - parse_time(writes[0]["time"])).total_seconds()
        assert span >= (60 - 4) / 0.22 * 0.95, span


def test_fifty_instances_under_throttling_all_pass(azurite: Azurite) -> None:
    """50 servers, concurrency 5, a tight ARM token bucket: 429s happen and are waited out, no drill fails;
    the run continues as new between batches without losing a result."""
    quick = {**QUICK, "jobSeconds": 10}
    instances = named({f"pg{i:02d}": backup_instance(timings=quick, databases=["appdb"]) for i in range(50)})
    throttle = {SUB: {"readsBucket": 40, "readsPerSecond": 1, "writesBucket": 5, "writesPerSecond": 0.25}}
    with drill_stack(azurite, instances, scenario_top={"throttle": throttle}) as drills:
        summary = drills.run(drills.plan(concurrency=5), timeout=55, batchesPerGeneration=4)
        throttled = [r for r in drills.stack.arm_requests() if r.get("status") == 429]
        assert throttled, "the token bucket never ran dry: the test does not exercise throttling"
        assert (summary["total"], summary["passed"], summary["failed"]) == (50, 50, 0), summary["failures"]
        assert drills.alerts() == []
        # Never more than five restores in flight: the fan-out is batched by the plan's concurrency.
        restores = [i for i in drills.stack.host.instances() if i.instance_id.endswith(":restore")]
        assert len(restores) == 50
        spans = [(r.created_time, r.last_updated_time) for r in restores]
        peak = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
        assert peak == 5, peak
        # Ten batches, four per generation: the run continued as new twice and kept every result.
        assert len(drills.stack.host.get(summary["runId"]).executions) == 3
