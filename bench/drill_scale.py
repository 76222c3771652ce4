"""Drill scale: one drill run over a fleet of servers (default 1,000, concurrency 50) in two subscriptions, each
server's backup instance listing ``--points`` recovery points, while the emulator throttles each subscription
like ARM (token buckets: reads 250 refilled 25/s, writes 200 refilled 10/s).

Everything real: Azurite (drill files, results table, alerts queue), the emulator, devhost on a virtual clock.

The fleet: servers pg0000, pg0001, ... alternate between subscription sub1 (SUB, vault1) and sub2 (SUB2, vault2),
each vault in its own subscription with its own token buckets; the drill plan and RESTORE_VAULTS list both vaults.
(The emulator accepts the app's token for any subscription it holds, so the identity is allowed on both.) Each
server's points follow a retention policy (cli.local_stack.retention_points): daily for 30 days, weekly to a year,
monthly to five years; past the 126 points that holds the daily tier reaches further back (5 points: the last 5
days). The emulator lists them 10 to a page, its default.

Figures (``name: value`` lines at the end):

- drill_passed / drill_failed / drill_skipped: the run's summary.
- arm_requests (and _per_server, _sub1, _sub2, ...): every ARM request the emulator logged, 429s included;
  arm_served*: those it answered past the throttle, which spent a token; arm_served_by_kind by request kind.
- arm_429s (reads, writes, by kind, per subscription) and last_429_after_s: the throttled requests.
- virtual_makespan_s: start to end of the run on the virtual clock.
- bound_by_token_buckets_s: the least time the buckets allow for the requests served. Per subscription, with
  each kind's bucket full at the start: max(0, (reads - readsBucket) / readsPerSecond, (writes - writesBucket)
  / writesPerSecond); the bound is the largest over the subscriptions (bound_by_token_buckets_sub1_s, ...). It
  counts served requests only, not 429s: a 429 spends no token, and counting it would let the bound grow with
  the app's own excess. It is computed from the buckets, not from the app's schedule; makespan_over_token_bucket_
  bound compares against it alone.
- bound_by_concurrency_s: ceil(servers / concurrency) x one server's unthrottled drill time (a polite client's
  schedule for these timings: validate polled every Retry-After, restore likewise, the job every 30 s from the
  moment the restore operation is seen done); at most ``concurrency`` drills run at once, so some slot runs that
  many servers one after another, whether the run goes in batches or keeps its slots full.
- theoretical_makespan_s: the larger of the two bounds; makespan_over_bound = virtual makespan / it.
- drill_instance_largest_history_events / _bytes, restore_largest_history_events / _bytes, run_orchestrator_
  largest_history (events) / _bytes: the largest history of any execution of the drill instance orchestrations,
  of the restore sub-orchestrations and of the run orchestrator; events and the compact JSON's bytes are each
  the maximum over executions (so may come from two executions). A drill instance's history should not grow
  with the points a server lists.
- peak_rss_mib: this process's peak RSS (resource.getrusage), which includes the in-process emulator and
  devhost, read when the run ends and before the bench copies the histories for the figures above;
  rss_stack_loaded_mib: its RSS once the stack and scenario are up, before the drill starts.
  azurite_peak_rss_mib: Azurite's peak (VmHWM of its Node process and any children, from /proc, read before it
  stops); stack_peak_rss_mib: the two summed (a sum of peaks, so at most a little above the true joint peak).
  With ``--tracemalloc`` also the Python heap peak, at a large cost in speed.

Usage: python bench/drill_scale.py [--quick] [--instances N] [--concurrency C] [--points P] [--tracemalloc]
       [--batches-per-generation B] [--arm-budget reads=B/R,writes=B/R|off] [--arm-throttle reads=B/R,writes=B/R]
  --quick: 12 servers, concurrency 5 (with any --points, e.g. ``--quick --points 365``).
  --arm-budget: the app's ARM_BUDGET (pacing); ``off`` shows what the fleet meets without it.
  --arm-throttle: the emulator's buckets (default ARM's); tighter ones make the buckets, not the concurrency,
  bound the makespan, which is where pacing shows.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from _common import (
    START,
    SUB,
    SUB2,
    VAULT,
    VAULT2,
    backup_instance,
    classify,
    machine,
    parse_arm_time,
    print_figures,
    proc_status_kib,
    replayed_events,
    tree_peak_rss_kib,
    vault_id,
    virtual_app,
)

from cli.local_stack import retention_points

# Timings of each instance: short operations and a 30-second job, so 1,000 instances fit the bench's time budget
# (long jobs only add job polls, whose cost history.py measures); every Retry-After still shapes the schedule.
DRILL_TIMINGS: dict[str, float] = {"validateSeconds": 10, "validateRetryAfter": 5, "restoreSeconds": 10,
                                   "restoreRetryAfter": 5, "jobSeconds": 30}
ARM_THROTTLE = {"readsBucket": 250, "readsPerSecond": 25, "writesBucket": 200, "writesPerSecond": 10}
JOB_POLL = 30.0
# (label, subscription, vault): servers alternate between them in this order.
SUBSCRIPTIONS: tuple[tuple[str, str, str], ...] = (("sub1", SUB, VAULT), ("sub2", SUB2, VAULT2))


def one_instance_seconds(t: dict[str, float]) -> float:
    """A polite client's virtual time for one instance: validate, restore, then job polls every 30 s."""
    validate = math.ceil(t["validateSeconds"] / t["validateRetryAfter"]) * t["validateRetryAfter"]
    restore = math.ceil(t["restoreSeconds"] / t["restoreRetryAfter"]) * t["restoreRetryAfter"]
    job_end = t["restoreSeconds"] + t["jobSeconds"]
    job = math.ceil(max(0.0, job_end - restore) / JOB_POLL) * JOB_POLL
    return validate + restore + job


def bucket_seconds(count: int, bucket: float, rate: float) -> float:
    """The least time a full bucket of `bucket` tokens refilled at `rate`/s takes to admit `count` requests."""
    return max(0.0, (count - bucket) / rate)


def token_bucket_bound(reads: int, writes: int, throttle: Mapping[str, float]) -> float:
    """One subscription's least time for `reads` and `writes` served requests: reads and writes have separate
    buckets that refill at once, so the slower of the two."""
    return max(bucket_seconds(reads, throttle["readsBucket"], throttle["readsPerSecond"]),
               bucket_seconds(writes, throttle["writesBucket"], throttle["writesPerSecond"]))


def fleet(instances: int, points: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Subscription label -> that vault's backup instances; servers alternate between the subscriptions and
    share one list of `points` retention-spread points (the emulator copies what it reads)."""
    recovery_points = retention_points(points, START - timedelta(hours=2))
    out: dict[str, dict[str, dict[str, Any]]] = {label: {} for label, _, _ in SUBSCRIPTIONS}
    for i in range(instances):
        label, subscription, _ = SUBSCRIPTIONS[i % len(SUBSCRIPTIONS)]
        out[label][f"pg{i:04d}"] = backup_instance(f"pg{i:04d}", DRILL_TIMINGS, subscription=subscription,
                                                   recovery_points=recovery_points)
    return out


def largest_histories(instances: list[Any], names: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Per label of `names` (orchestration name -> label): the most events and the most compact-JSON bytes of
    any one execution's history among the instances of that orchestration."""
    out = {label: (0, 0) for label in names.values()}
    for instance in instances:
        label = names.get(instance.name)
        if label is None:
            continue
        for history in instance.executions:
            events, size = out[label]
            out[label] = (max(events, len(history)), max(size, len(json.dumps(history, separators=(",", ":")))))
    return out


def run(instances: int, concurrency: int, points: int, use_tracemalloc: bool,
        batches_per_generation: int | None = None, *, arm_budget: str | None = None,
        arm_throttle: dict[str, float] | None = None) -> dict[str, Any]:
    from azure.storage.blob import BlobServiceClient

    import clients
    from devhost.azurite import start_azurite
    from pgflex_restore.settings import reset_settings_cache

    azurite = start_azurite()
    try:
        container_url = f"{azurite.endpoints.blob_account_url}/drills"
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container("drills")
        servers = fleet(instances, points)
        vaults = [vault_id(vault, subscription) for _, subscription, vault in SUBSCRIPTIONS]
        extra = {"DRILL_RESULTS_TABLE": "benchdrills", "DRILL_ALERTS_QUEUE": "bench-drill-alerts",
                 "RESTORE_VAULTS": ",".join(vaults), "RESTORE_REQUESTS_QUEUE": "bench-restore-requests",
                 **({"ARM_BUDGET": arm_budget} if arm_budget else {})}
        buckets = arm_throttle or ARM_THROTTLE
        throttle = {subscription: dict(buckets) for _, subscription, _ in SUBSCRIPTIONS}
        (first, _, _), *others = SUBSCRIPTIONS
        more_vaults = {(subscription, vault): servers[label] for label, subscription, vault in others}
        reset_settings_cache()
        clients.reset()
        if use_tracemalloc:
            tracemalloc.start()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with virtual_app(servers[first], more_vaults=more_vaults, extra_env=extra,
                         scenario_top={"throttle": throttle}, storage=azurite.connection_string,
                         target=container_url) as app:
            plan = {"container": container_url, "vaults": vaults, "concurrency": concurrency,
                    "maxPointAge": "P2D", "retention": "P7D"}
            measured = drill(app, plan, batches_per_generation, use_tracemalloc, azurite.process.pid)
    finally:
        azurite.stop()
        reset_settings_cache()
        clients.reset()
    measured |= {"rss_before": rss_before, "servers": {label: len(held) for label, held in servers.items()},
                 "throttle": buckets}
    return figures(instances, concurrency, points, measured)


def drill(app: Any, plan_data: dict[str, Any], batches_per_generation: int | None, use_tracemalloc: bool,
          azurite_pid: int) -> dict[str, Any]:
    """Run the drill on the started stack and take its measures: memory first, while nothing of the bench's
    own (the history snapshots) adds to it."""
    from orchestrations.drill import DRILL_INSTANCE_ORCHESTRATION, DRILL_RUN_ORCHESTRATION
    from orchestrations.restore import RESTORE_ORCHESTRATION
    from pgflex_restore.drills.plan import parse_plan
    from pgflex_restore.drills.run import build_run_input
    from pgflex_restore.settings import Settings, reset_settings_cache

    rss_loaded = proc_status_kib("self", "VmRSS")
    reset_settings_cache()
    settings = Settings.from_env(app.env)
    plan = parse_plan(plan_data, allowlist=settings.restore_target_allowlist)
    start = app.clock.now()
    run_id = "bench-drill"
    wall = time.perf_counter()
    run_input = build_run_input(run_id, start, plan, settings, origin={"via": "bench"})
    if batches_per_generation:  # the run orchestrator's own knob (default: about 100 instances per execution)
        run_input["batchesPerGeneration"] = batches_per_generation
    app.host.start_orchestration(DRILL_RUN_ORCHESTRATION, run_input, instance_id=run_id)
    state = app.host.wait_for(run_id, timeout=3600)
    wall = time.perf_counter() - wall
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    heap_peak = tracemalloc.get_traced_memory()[1] if use_tracemalloc else None
    if use_tracemalloc:
        tracemalloc.stop()
    azurite_peak = tree_peak_rss_kib(azurite_pid)
    makespan = (app.clock.now() - start).total_seconds()
    snapshots = app.host.instances()
    run_executions = next(i for i in snapshots if i.instance_id == run_id).executions
    return {
        "summary": state.output, "makespan": makespan, "start": start, "wall": wall, "stats": app.host.stats,
        "requests": [r for r in app.emulator.requests if r["path"].startswith("/subscriptions/")],
        "run_replayed": sum(replayed_events(h) for h in run_executions),
        "all_replayed": sum(replayed_events(h) for i in snapshots for h in i.executions),
        "histories": largest_histories(snapshots, {DRILL_RUN_ORCHESTRATION: "run",
                                                   DRILL_INSTANCE_ORCHESTRATION: "drill_instance",
                                                   RESTORE_ORCHESTRATION: "restore"}),
        "rss_loaded": rss_loaded, "rss_peak": rss_peak, "azurite_peak": azurite_peak, "heap_peak": heap_peak,
    }


def _mib(kib: int | None) -> float | str:
    return round(kib / 1024, 1) if kib is not None else "not measured"


def _kinds(requests: list[dict[str, Any]]) -> str:
    counted = Counter(classify(r["path"], r["method"]) for r in requests)
    return ", ".join(f"{k} {v}" for k, v in sorted(counted.items())) or "none"


def figures(instances: int, concurrency: int, points: int, m: dict[str, Any]) -> dict[str, Any]:
    """The printed figures from what the run measured (see the module docstring for each)."""
    summary, makespan, requests, stats = m["summary"], m["makespan"], m["requests"], m["stats"]
    labels = {subscription.lower(): label for label, subscription, _ in SUBSCRIPTIONS}
    by_sub: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in SUBSCRIPTIONS}
    for r in requests:
        by_sub[labels.get(r["path"].split("/")[2].lower(), "other")].append(r)
    throttled = [r for r in requests if r.get("status") == 429]
    served = [r for r in requests if r.get("status") not in (429, None)]  # None: dropped before an answer
    per_sub: dict[str, Any] = {}
    sub_bounds: dict[str, float] = {}
    for label, held in by_sub.items():
        sub_served = [r for r in held if r.get("status") not in (429, None)]
        reads = sum(1 for r in sub_served if r["method"] == "GET")  # the emulator's buckets: GET reads, rest writes
        sub_bounds[label] = token_bucket_bound(reads, len(sub_served) - reads, m["throttle"])
        count = m["servers"].get(label, 0)
        per_sub |= {
            f"servers_{label}": count,
            f"arm_requests_{label}": len(held),
            f"arm_requests_per_server_{label}": round(len(held) / count, 2) if count else None,
            f"arm_served_reads_{label}": reads,
            f"arm_served_writes_{label}": len(sub_served) - reads,
            f"arm_429s_{label}": sum(1 for r in held if r.get("status") == 429),
        }
    by_buckets = max(sub_bounds.values(), default=0.0)
    by_concurrency = math.ceil(instances / concurrency) * one_instance_seconds(DRILL_TIMINGS)
    theoretical = max(by_concurrency, by_buckets)
    last_429 = max((parse_arm_time(r["time"]) for r in throttled), default=None)
    histories = m["histories"]
    served_reads = sum(1 for r in served if r["method"] == "GET")
    azurite_peak = m["azurite_peak"]
    return {
        "instances": instances,
        "concurrency": concurrency,
        "points_per_server": points,
        "subscriptions": len(SUBSCRIPTIONS),
        "drill_status": summary.get("status"),
        "drill_passed": summary.get("passed"),
        "drill_failed": summary.get("failed"),
        "drill_skipped": summary.get("skipped"),
        "virtual_makespan_s": makespan,
        "virtual_makespan_h": round(makespan / 3600, 3),
        "theoretical_makespan_s": theoretical,
        "bound_by_token_buckets_s": round(by_buckets, 1),
        **{f"bound_by_token_buckets_{label}_s": round(bound, 1) for label, bound in sub_bounds.items()},
        "bound_by_concurrency_s": by_concurrency,
        "makespan_over_bound": round(makespan / theoretical, 3) if theoretical else None,
        "makespan_over_token_bucket_bound": round(makespan / by_buckets, 3) if by_buckets else None,
        "arm_requests": len(requests),
        "arm_requests_per_server": round(len(requests) / instances, 2),
        "arm_reads": sum(1 for r in requests if r["method"] == "GET"),
        "arm_writes": sum(1 for r in requests if r["method"] != "GET"),
        "arm_served": len(served),
        "arm_served_per_server": round(len(served) / instances, 2),
        "arm_served_reads": served_reads,
        "arm_served_writes": len(served) - served_reads,
        "arm_served_by_kind": _kinds(served),
        **per_sub,
        "arm_429s": len(throttled),
        "arm_429s_reads": sum(1 for r in throttled if r["method"] == "GET"),
        "arm_429s_writes": sum(1 for r in throttled if r["method"] != "GET"),
        "arm_429s_by_kind": _kinds(throttled),
        "last_429_after_s": round((last_429 - m["start"]).total_seconds(), 1) if last_429 else None,
        "drill_instance_largest_history_events": histories["drill_instance"][0],
        "drill_instance_largest_history_bytes": histories["drill_instance"][1],
        "restore_largest_history_events": histories["restore"][0],
        "restore_largest_history_bytes": histories["restore"][1],
        "run_orchestrator_largest_history": histories["run"][0],
        "run_orchestrator_largest_history_bytes": histories["run"][1],
        "replayed_events_all_orchestrations": m["all_replayed"],
        "replayed_events_run_orchestrator": m["run_replayed"],
        "run_orchestrator_share_of_replay": round(m["run_replayed"] / m["all_replayed"], 3) if m["all_replayed"]
        else None,
        "episodes": stats.episodes,
        "activities": stats.activities,
        "orchestrator_cpu_s": stats.orchestrator_cpu_seconds,
        "activity_wall_s": stats.activity_wall_seconds,
        "devhost_wall_s": m["wall"],
        "peak_rss_mib": _mib(m["rss_peak"]),
        "rss_stack_loaded_mib": _mib(m["rss_loaded"]),
        "rss_growth_mib": round((m["rss_peak"] - m["rss_before"]) / 1024, 1),
        "azurite_peak_rss_mib": _mib(azurite_peak),
        "stack_peak_rss_mib": _mib(m["rss_peak"] + azurite_peak) if azurite_peak is not None else "not measured",
        "tracemalloc_peak_mib": _mib(m["heap_peak"] // 1024) if m["heap_peak"] is not None else "not measured",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=1000, help="servers in the fleet")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--points", type=int, default=5,
                        help="recovery points per server, spread like a retention policy (e.g. 5, 100, 365, 1000)")
    parser.add_argument("--quick", action="store_true", help="12 servers, concurrency 5")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the Python heap peak (slow)")
    parser.add_argument("--batches-per-generation", type=int, default=None,
                        help="override the run orchestrator's batches per continue-as-new generation")
    parser.add_argument("--arm-budget", default=None,
                        help="the app's ARM_BUDGET setting (default: the app's default; 'off' to compare without "
                             "pacing)")
    parser.add_argument("--arm-throttle", default=None, metavar="reads=B/R,writes=B/R",
                        help="the emulator's token buckets per subscription instead of ARM's (e.g. tighter ones, "
                             "so the buckets and not the concurrency bound the makespan)")
    args = parser.parse_args(argv)
    from pgflex_restore.pacing import parse_arm_budget

    throttle = None
    if args.arm_throttle:
        try:
            reads, writes = parse_arm_budget(args.arm_throttle) or (None, None)
        except ValueError as exc:
            parser.error(f"--arm-throttle: {exc}")
        if reads is None or writes is None:
            parser.error("--arm-throttle: give buckets, not off")
        throttle = {"readsBucket": reads.burst, "readsPerSecond": reads.rate, "writesBucket": writes.burst,
                    "writesPerSecond": writes.rate}
    if args.points < 1:
        parser.error("--points must be at least 1: a drill needs a recovery point")
    instances, concurrency = (12, 5) if args.quick else (args.instances, args.concurrency)
    subscriptions = ", ".join(f"{label} {sub}/{vault}" for label, sub, vault in SUBSCRIPTIONS)
    print(f"drill_scale: {instances} servers, concurrency {concurrency}, {args.points} points per server, "
          f"subscriptions {subscriptions}, timings {DRILL_TIMINGS}, throttle per subscription "
          f"{throttle or ARM_THROTTLE}, "
          f"ARM_BUDGET {args.arm_budget or 'the default'}; "
          f"machine {machine()}", flush=True)
    result = run(instances, concurrency, args.points, args.tracemalloc, args.batches_per_generation,
                 arm_budget=args.arm_budget, arm_throttle=throttle)
    print_figures(result)
    return 0 if result["drill_failed"] == 0 and result["drill_passed"] == instances else 1


if __name__ == "__main__":
    sys.exit(main())
