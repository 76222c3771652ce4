"""History growth: restores whose job runs 1 h, 6 h, 24 h and 72 h, the job polled every 30 s, on the virtual clock.

For each length: the largest history of any one execution of any instance (the restore orchestration and every
continue-as-new generation of its job-tracking sub-orchestration), the executions and episodes, and the total
orchestrator replay CPU time devhost measured (thread CPU time spent inside the orchestrator functions, i.e. the
Durable SDK's replay plus the app's generator code). Then CPU(24 h) / CPU(1 h): 24 means linear growth (the 1-hour
CPU time, the small denominator, is the median of three runs), and the same ratio of replayed events, which is
deterministic where CPU time moves with the machine's load.

``--lengths`` runs a subset (run_all runs 72 h on one core and 1, 6, 24 h on the other); the CPU ratio is
printed when 1 h and 24 h are both run.

Usage: python bench/history.py [--quick] [--lengths H [H ...]]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from _common import ISSUE_TIMINGS, backup_instance, machine, print_figures, replayed_events, restore_plan, virtual_app

LENGTHS_HOURS = (1, 6, 24, 72)
QUICK_LENGTHS_HOURS = (1, 2)


def run(hours: float) -> dict[str, Any]:
    from orchestrations.restore import RESTORE_ORCHESTRATION

    timings = {**ISSUE_TIMINGS, "jobSeconds": hours * 3600}
    with virtual_app({"pg1": backup_instance("pg1", timings)}, extra_env={"RESTORE_TIMEOUT": str(100 * 3600)}) as app:
        restore_id = f"bench-history-{hours}h"
        wall = time.perf_counter()
        app.host.start_orchestration(RESTORE_ORCHESTRATION, restore_plan(app.env, "pg1", restore_id), restore_id)
        state = app.host.wait_for(restore_id, timeout=900)
        wall = time.perf_counter() - wall
        instances = app.host.instances()
        stats = app.host.stats
    executions = [(i.instance_id, len(h)) for i in instances for h in i.executions]
    largest = max(executions, key=lambda e: e[1])
    replayed = sum(replayed_events(h) for i in instances for h in i.executions)
    return {
        "status": state.output.get("status"),
        "largest_history_events": largest[1],
        "largest_history_instance": largest[0],
        "executions": len(executions),
        "episodes": stats.episodes,
        "replayed_events": replayed,
        "activities": stats.activities,
        "orchestrator_cpu_s": stats.orchestrator_cpu_seconds,
        "wall_s": wall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="jobs of 1 h and 2 h only")
    parser.add_argument("--lengths", type=int, nargs="+", help=f"job lengths in hours (default {LENGTHS_HOURS})")
    args = parser.parse_args(argv)
    lengths = QUICK_LENGTHS_HOURS if args.quick else tuple(args.lengths or LENGTHS_HOURS)
    print(f"history: jobs of {lengths} h polled every 30 s on the virtual clock; machine {machine()}")
    figures: dict[str, Any] = {}
    ok = True
    for hours in lengths:
        result = run(hours)
        if hours == lengths[0] and len(lengths) > 1:  # the ratio's denominator is small: take the median of 3
            cpus = sorted([result["orchestrator_cpu_s"], run(hours)["orchestrator_cpu_s"],
                           run(hours)["orchestrator_cpu_s"]])
            result["orchestrator_cpu_s"] = cpus[1]
        print(f"{hours} h: {result}", flush=True)
        ok = ok and result["status"] == "succeeded"
        for key in ("largest_history_events", "executions", "episodes", "replayed_events", "activities",
                    "orchestrator_cpu_s",
                    "wall_s"):
            figures[f"h{hours}_{key}"] = result[key]
    longest = max(e for k, e in figures.items() if k.endswith("_largest_history_events"))
    figures["max_history_events_any_length"] = longest
    base, compare = lengths[0], 24 if 24 in lengths else lengths[-1]
    if compare != base:
        figures[f"cpu_ratio_{compare}h_over_{base}h"] = round(
            figures[f"h{compare}_orchestrator_cpu_s"] / figures[f"h{base}_orchestrator_cpu_s"], 2)
        figures["linear_ratio_would_be"] = compare / base
        figures[f"replay_ratio_{compare}h_over_{base}h"] = round(
            figures[f"h{compare}_replayed_events"] / figures[f"h{base}_replayed_events"], 2)
    print_figures(figures)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
