"""Drill scale: one drill run over many backup instances (default 1,000, concurrency 50) while the emulator
throttles the subscription like ARM (token buckets: reads 250 refilled 25/s, writes 200 refilled 10/s).

Everything real: Azurite (drill files, results table, alerts queue), the emulator, devhost on a virtual clock.
Prints the virtual makespan against the theoretical one, the 429s met, drill failures, devhost wall time and
peak memory (the process's max RSS from resource.getrusage, which includes the in-process emulator; with
``--tracemalloc`` also the Python heap peak, at a large cost in speed).

Theoretical makespan: the drill runs its instances in batches of ``concurrency``, each batch finishing before
the next starts, so it cannot beat batches x one instance's unthrottled drill time (a polite client's schedule
for these timings: validate polled every Retry-After, restore likewise, the job every 30 s from the moment the
restore operation is seen done). Nor can it beat the token buckets: ARM reads / 25 per s and writes / 10 per s
after the initial buckets. The larger of the two is printed as the theoretical makespan.

Usage: python bench/drill_scale.py [--quick] [--instances N] [--concurrency C] [--tracemalloc]
       [--batches-per-generation B]
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
import tracemalloc
from collections import Counter
from typing import Any

from _common import (
    SUB,
    backup_instance,
    classify,
    machine,
    parse_arm_time,
    print_figures,
    replayed_events,
    vault_id,
    virtual_app,
)

# Timings of each instance: short operations and a 30-second job, so 1,000 instances fit the bench's time budget
# (long jobs only add job polls, whose cost history.py measures); every Retry-After still shapes the schedule.
DRILL_TIMINGS: dict[str, float] = {"validateSeconds": 10, "validateRetryAfter": 5, "restoreSeconds": 10,
                                   "restoreRetryAfter": 5, "jobSeconds": 30}
ARM_THROTTLE = {"readsBucket": 250, "readsPerSecond": 25, "writesBucket": 200, "writesPerSecond": 10}
JOB_POLL = 30.0


def one_instance_seconds(t: dict[str, float]) -> float:
    """A polite client's virtual time for one instance: validate, restore, then job polls every 30 s."""
    validate = math.ceil(t["validateSeconds"] / t["validateRetryAfter"]) * t["validateRetryAfter"]
    restore = math.ceil(t["restoreSeconds"] / t["restoreRetryAfter"]) * t["restoreRetryAfter"]
    job_end = t["restoreSeconds"] + t["jobSeconds"]
    job = math.ceil(max(0.0, job_end - restore) / JOB_POLL) * JOB_POLL
    return validate + restore + job


def bucket_seconds(count: int, bucket: float, rate: float) -> float:
    return max(0.0, (count - bucket) / rate)


def run(instances: int, concurrency: int, use_tracemalloc: bool,
        batches_per_generation: int | None = None) -> dict[str, Any]:
    from azure.storage.blob import BlobServiceClient

    import clients
    from devhost.azurite import start_azurite
    from orchestrations.drill import DRILL_RUN_ORCHESTRATION
    from pgflex_restore.drills.plan import parse_plan
    from pgflex_restore.drills.run import build_run_input
    from pgflex_restore.settings import Settings, reset_settings_cache

    azurite = start_azurite()
    try:
        container_url = f"{azurite.endpoints.blob_account_url}/drills"
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container("drills")
        specs = {f"pg{i:04d}": backup_instance(f"pg{i:04d}", DRILL_TIMINGS) for i in range(instances)}
        extra = {"DRILL_RESULTS_TABLE": "benchdrills", "DRILL_ALERTS_QUEUE": "bench-drill-alerts",
                 "RESTORE_VAULTS": vault_id(), "RESTORE_REQUESTS_QUEUE": "bench-restore-requests"}
        reset_settings_cache()
        clients.reset()
        if use_tracemalloc:
            tracemalloc.start()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with virtual_app(specs, extra_env=extra, scenario_top={"throttle": {SUB: ARM_THROTTLE}},
                         storage=azurite.connection_string, target=container_url) as app:
            reset_settings_cache()
            settings = Settings.from_env(app.env)
            plan = parse_plan({"container": container_url, "vaults": [vault_id()], "concurrency": concurrency,
                               "maxPointAge": "P2D", "retention": "P7D"},
                              allowlist=settings.restore_target_allowlist)
            start = app.clock.now()
            run_id = "bench-drill"
            wall = time.perf_counter()
            run_input = build_run_input(run_id, start, plan, settings, origin={"via": "bench"})
            if batches_per_generation:  # the run orchestrator's own knob (default: about 100 instances per execution)
                run_input["batchesPerGeneration"] = batches_per_generation
            app.host.start_orchestration(DRILL_RUN_ORCHESTRATION, run_input, instance_id=run_id)
            state = app.host.wait_for(run_id, timeout=3600)
            wall = time.perf_counter() - wall
            summary: dict[str, Any] = state.output
            makespan = (app.clock.now() - start).total_seconds()
            requests = [r for r in app.emulator.requests if r["path"].startswith("/subscriptions/")]
            stats = app.host.stats
            run_executions = app.host.get(run_id).executions
            run_history = max(len(h) for h in run_executions)
            run_replayed = sum(replayed_events(h) for h in run_executions)
            all_replayed = sum(replayed_events(h) for i in app.host.instances() for h in i.executions)
        heap_peak = tracemalloc.get_traced_memory()[1] if use_tracemalloc else None
        if use_tracemalloc:
            tracemalloc.stop()
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        azurite.stop()
        reset_settings_cache()
        clients.reset()
    measured = {"summary": summary, "makespan": makespan, "requests": requests, "stats": stats,
                "run_history": run_history, "run_replayed": run_replayed, "all_replayed": all_replayed,
                "wall": wall, "rss_before": rss_before, "rss_peak": rss_peak,
                "heap_peak": heap_peak, "start": start}
    return figures(instances, concurrency, measured)


def figures(instances: int, concurrency: int, m: dict[str, Any]) -> dict[str, Any]:
    summary, makespan, requests, stats = m["summary"], m["makespan"], m["requests"], m["stats"]
    heap_peak = m["heap_peak"]
    writes = sum(1 for r in requests if r["method"] in ("POST", "PUT", "PATCH", "DELETE"))
    reads = len(requests) - writes
    batches = math.ceil(instances / concurrency)
    by_batches = batches * one_instance_seconds(DRILL_TIMINGS)
    by_buckets = max(bucket_seconds(reads, ARM_THROTTLE["readsBucket"], ARM_THROTTLE["readsPerSecond"]),
                     bucket_seconds(writes, ARM_THROTTLE["writesBucket"], ARM_THROTTLE["writesPerSecond"]))
    theoretical = max(by_batches, by_buckets)
    throttled = [r for r in requests if r.get("status") == 429]
    kinds = Counter(classify(r["path"], r["method"]) for r in throttled)
    last_429 = max((parse_arm_time(r["time"]) for r in throttled), default=None)
    return {
        "instances": instances,
        "concurrency": concurrency,
        "drill_status": summary.get("status"),
        "drill_passed": summary.get("passed"),
        "drill_failed": summary.get("failed"),
        "drill_skipped": summary.get("skipped"),
        "virtual_makespan_s": makespan,
        "virtual_makespan_h": round(makespan / 3600, 3),
        "theoretical_makespan_s": theoretical,
        "theoretical_by_batches_s": by_batches,
        "theoretical_by_token_buckets_s": by_buckets,
        "makespan_over_theoretical": round(makespan / theoretical, 3) if theoretical else None,
        "arm_requests": len(requests),
        "arm_reads": reads,
        "arm_writes": writes,
        "arm_429s": len(throttled),
        "arm_429s_by_kind": ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none",
        "last_429_after_s": round((last_429 - m["start"]).total_seconds(), 1) if last_429 else None,
        "run_orchestrator_largest_history": m["run_history"],
        "replayed_events_all_orchestrations": m["all_replayed"],
        "replayed_events_run_orchestrator": m["run_replayed"],
        "run_orchestrator_share_of_replay": round(m["run_replayed"] / m["all_replayed"], 3) if m["all_replayed"]
        else None,
        "episodes": stats.episodes,
        "activities": stats.activities,
        "orchestrator_cpu_s": stats.orchestrator_cpu_seconds,
        "activity_wall_s": stats.activity_wall_seconds,
        "devhost_wall_s": m["wall"],
        "peak_rss_mib": round(m["rss_peak"] / 1024, 1),
        "rss_growth_mib": round((m["rss_peak"] - m["rss_before"]) / 1024, 1),
        "tracemalloc_peak_mib": round(heap_peak / 2**20, 1) if heap_peak is not None else "not measured",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="12 instances, concurrency 5")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the Python heap peak (slow)")
    parser.add_argument("--batches-per-generation", type=int, default=None,
                        help="override the run orchestrator's batches per continue-as-new generation")
    args = parser.parse_args(argv)
    instances, concurrency = (12, 5) if args.quick else (args.instances, args.concurrency)
    print(f"drill_scale: {instances} instances, concurrency {concurrency}, timings {DRILL_TIMINGS}, "
          f"throttle {ARM_THROTTLE}; machine {machine()}", flush=True)
    result = run(instances, concurrency, args.tracemalloc, args.batches_per_generation)
    print_figures(result)
    return 0 if result["drill_failed"] == 0 and result["drill_passed"] == instances else 1




if __name__ == "__main__":
    sys.exit(main())
