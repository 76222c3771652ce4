"""ARM calls per restore: one restore against the emulator's scripted timeline, on the virtual clock.

Timings (issue 7): validation 25 s with Retry-After 10, restore operation 70 s with Retry-After 30, job 45 min
with no Retry-After (the app polls it every POLL_DEFAULT_SECONDS = 30 s). Prints the ARM requests by kind, the
minimum possible for those timings, efficiency = minimum / actual, and the detection lag of each step: virtual
seconds between the emulator finishing it (its own operation/job end time) and the app's request that saw it
finished (the emulator's request log).

"Minimum possible" is the fewest requests of a client that knows only what the service tells it and is polite:
it lists the recovery points (one page per page of results), checks the target first as the restore's pre-flight
does (PREFLIGHT_READS: the vault, the instance, one page of storage accounts, the container, the vault identity's
roles), POSTs validate and restore once each, polls each operation exactly every advertised Retry-After until it
has ended, and polls the job from the moment the restore operation is seen done, exactly every 30 s (the job GET
sends no Retry-After), until it has ended. An omniscient client would need one call per step (6 here, plus the
pre-flight's reads); no client without a completion callback can get there, so that bound is printed for reference
only.

Usage: python bench/arm_calls.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from typing import Any

from _common import (
    ISSUE_TIMINGS,
    backup_instance,
    classify,
    machine,
    parse_arm_time,
    print_figures,
    restore_plan,
    virtual_app,
)

JOB_POLL_SECONDS = 30.0
PREFLIGHT_READS = 5
QUICK_TIMINGS: dict[str, float] = {**ISSUE_TIMINGS, "jobSeconds": 300}


def minimum_calls(timings: dict[str, float], *, pages: int = 1, job_poll: float = JOB_POLL_SECONDS) -> int:
    """Fewest requests of a polite client (see the module docstring) for these timings."""
    validate_polls = max(1, math.ceil(timings["validateSeconds"] / timings["validateRetryAfter"]))
    restore_polls = max(1, math.ceil(timings["restoreSeconds"] / timings["restoreRetryAfter"]))
    detected = restore_polls * timings["restoreRetryAfter"]  # seconds after the trigger
    job_end = timings["restoreSeconds"] + timings["jobSeconds"]  # the emulator's job runs from the trigger
    job_polls = math.ceil(max(0.0, job_end - detected) / job_poll) + 1
    return pages + PREFLIGHT_READS + 1 + validate_polls + 1 + restore_polls + job_polls


def detection_lags(emulator: Any) -> dict[str, float]:
    """Per step: seconds from the emulator's end time to the first request that saw the step ended."""
    log = [r for r in emulator.requests if r["path"].startswith("/subscriptions/")]
    lags: dict[str, float] = {}
    with emulator.state.lock:
        operations = list(emulator.state.operations.values())
        jobs = list(emulator.state.jobs.values())
    for op in operations:
        seen = [parse_arm_time(r["time"]) for r in log
                if classify(r["path"], r["method"]) in ("operation_status", "operation_result")
                and r["path"].rstrip("/").endswith(op.id) and parse_arm_time(r["time"]) >= op.end]
        if seen:
            lags[op.kind] = (min(seen) - op.end).total_seconds()
    for job in jobs:
        seen = [parse_arm_time(r["time"]) for r in log if classify(r["path"], r["method"]) == "job_get"
                and r["path"].rstrip("/").lower().endswith(job.id.lower()) and parse_arm_time(r["time"]) >= job.finish]
        if seen:
            lags["job"] = (min(seen) - job.finish).total_seconds()
    return lags


def run(timings: dict[str, float]) -> dict[str, Any]:
    from orchestrations.restore import RESTORE_ORCHESTRATION

    with virtual_app({"pg1": backup_instance("pg1", timings)}) as app:
        restore_id = "bench-arm-calls"
        app.host.start_orchestration(RESTORE_ORCHESTRATION, restore_plan(app.env, "pg1", restore_id), restore_id)
        state = app.host.wait_for(restore_id, timeout=300)
        result = state.output
        requests = app.emulator.requests
        arm = [r for r in requests if r["path"].startswith("/subscriptions/")]
        kinds = Counter(classify(r["path"], r["method"]) for r in arm)
        lags = detection_lags(app.emulator)
        page_size = app.emulator.state.scenario.page_size
    minimum = minimum_calls(timings, pages=max(1, math.ceil(5 / page_size)))
    figures: dict[str, Any] = {"restore_status": result.get("status")}
    for kind in ("recovery_points", "preflight", "validate_post", "operation_status", "operation_result",
                 "restore_post", "job_get", "job_list", "other"):
        figures[f"calls_{kind}"] = kinds.get(kind, 0)
    figures["calls_identity_token"] = sum(1 for r in requests if not r["path"].startswith("/subscriptions/"))
    figures["calls_total"] = len(arm)
    figures["calls_reported_by_app"] = result.get("armCalls")
    figures["calls_minimum_polite"] = minimum
    figures["calls_minimum_omniscient"] = 6 + PREFLIGHT_READS
    figures["efficiency"] = round(minimum / len(arm), 3) if arm else 0.0
    figures["lag_validate_s"] = lags.get("validate")
    figures["lag_validate_bound_s"] = timings["validateRetryAfter"]
    figures["lag_restore_s"] = lags.get("restore")
    figures["lag_restore_bound_s"] = timings["restoreRetryAfter"]
    figures["lag_job_s"] = lags.get("job")
    figures["lag_job_bound_s"] = JOB_POLL_SECONDS
    figures["retries"] = result.get("retries")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 5-minute job instead of 45 minutes")
    args = parser.parse_args(argv)
    timings = QUICK_TIMINGS if args.quick else ISSUE_TIMINGS
    print(f"arm_calls: timings {timings} on the virtual clock; machine {machine()}")
    figures = run(timings)
    print_figures(figures)
    return 0 if figures["restore_status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
