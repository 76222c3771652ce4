"""The peer side by side: the app against the official azure-mgmt-dataprotection SDK, on the real clock.

The issue's timings (validation 25 s with Retry-After 10, restore operation 70 s with Retry-After 30, job 45 min
polled every 30 s) divided by ``--scale`` (default 60: the 47-minute restore takes 47 s) so both run on the real
clock against one emulator, each on its own backup instance:

- app (CLI): ``python -m pgflex_restore restore ... --output json`` in a subprocess, as a user runs it;
- app (in-process): the same orchestration, same plan builder, in devhost in this process on the real clock,
  because the CLI does not report devhost's busy-time figures; its occupancy is read from ``host.stats``:
  summed activity wall time (a worker is held while an activity runs, HTTP waits included) plus orchestrator
  CPU time (replay episodes are CPU-bound);
- SDK: what its users write: list the recovery points, ``begin_validate_for_restore(...).result()``,
  ``begin_trigger_restore(...).result()``, then ``jobs.get`` every 30 s (scaled), authenticated by azure-identity's
  ManagedIdentityCredential at the emulator's identity endpoint; its occupancy is the wall time it blocks.

The three run at once (they share the machine's two cores, which slightly inflates the app's activity wall time).
Requests are attributed per side from the emulator's request log (paths, operation ids, job ids).

Extrapolation to a 1-hour job: the app's busy time does not scale with the clock (it is per call), so the
1-hour figure is busy-per-ARM-call x the calls a 1-hour job needs at 30 s polling; the SDK blocks for the whole
restore (1 h plus the validate/restore operations). Loopback calls take milliseconds; real ARM calls take
~100-300 ms, so the ratio is also printed with 200 ms added to every call.

Usage: python bench/peer.py [--quick] [--scale N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import (
    ISSUE_TIMINGS,
    RG,
    ROOT,
    SUB,
    TARGET,
    VAULT,
    app_env,
    classify,
    instance_id,
    local_stack,
    machine,
    parse_arm_time,
    print_figures,
    restore_plan,
    scenario,
)

JOB_POLL = 30.0
ASSUMED_ARM_LATENCY_S = 0.2


def scaled(scale: float) -> dict[str, float]:
    return {k: v / scale for k, v in ISSUE_TIMINGS.items()}


def real_instance(name: str, timings: dict[str, float]) -> dict[str, Any]:
    newest = datetime.now(UTC) - timedelta(hours=2)
    return {
        "serverId": f"/subscriptions/{SUB}/resourceGroups/rg-db/providers/Microsoft.DBforPostgreSQL/"
                    f"flexibleServers/{name}",
        "databases": ["appdb"],
        "recoveryPoints": [{"id": f"rp-{i}", "time": (newest - timedelta(days=i)).isoformat()} for i in range(5)],
        "timings": timings,
    }


def sdk_restore(emulator: Any, name: str, poll: float, credential: Any, api_version: str) -> dict[str, Any]:
    """What an SDK user writes: pick the latest point, validate, trigger, then poll the job."""
    from azure.mgmt.dataprotection import DataProtectionMgmtClient

    started = time.perf_counter()
    client = DataProtectionMgmtClient(credential, SUB, base_url=emulator.url, api_version=api_version,
                                      polling_interval=poll)
    points = list(client.recovery_points.list(RG, VAULT, name, enforce_https=False))
    latest = max(points, key=lambda p: p.properties.recovery_point_time)
    body = {
        "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
        "recoveryPointId": latest.name,
        "sourceDataStoreType": "VaultStore",
        "sourceResourceId": f"/subscriptions/{SUB}/resourceGroups/rg-db/providers/Microsoft.DBforPostgreSQL/"
                            f"flexibleServers/{name}",
        "restoreTargetInfo": {
            "objectType": "RestoreFilesTargetInfo", "recoveryOption": "FailIfExists", "restoreLocation": "westeurope",
            "targetDetails": {"url": TARGET, "filePrefix": f"sdk-{name}", "restoreTargetLocationType": "AzureBlobs"},
        },
    }
    client.backup_instances.begin_validate_for_restore(RG, VAULT, name, {"restoreRequestObject": body},
                                                       enforce_https=False).result()
    result = client.backup_instances.begin_trigger_restore(RG, VAULT, name, body, enforce_https=False).result()
    job_name = result.job_id.rsplit("/", 1)[1]
    while True:
        job = client.jobs.get(RG, VAULT, job_name, enforce_https=False)
        if job.properties.status not in ("InProgress", "Started"):
            break
        time.sleep(poll)
    return {"status": job.properties.status, "blocked_s": time.perf_counter() - started}


def run_cli(env: dict[str, str], name: str) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pgflex_restore", "restore", "--backup-instance", instance_id(name), "--target",
         TARGET, "--file-prefix", f"cli-{name}", "--output", "json"],
        cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=1800, check=False)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    return {"status": result.get("status"), "armCalls": result.get("armCalls"),
            "elapsed_s": time.perf_counter() - started, "exit": done.returncode}


def run_in_process(env: dict[str, str], name: str, timeout: float) -> dict[str, Any]:
    from devhost import DevHost, RealClock
    from orchestrations.restore import RESTORE_ORCHESTRATION

    restore_id = f"bench-peer-{name}"
    started = time.perf_counter()
    with DevHost.load("function_app", clock=RealClock(), env=env, determinism_checks=False) as host:
        host.start_orchestration(RESTORE_ORCHESTRATION, restore_plan(env, name, restore_id), restore_id)
        state = host.wait_for(restore_id, timeout=timeout)
        elapsed = time.perf_counter() - started
        stats = host.stats
    return {"status": state.output.get("status"), "armCalls": state.output.get("armCalls"), "elapsed_s": elapsed,
            "orchestrator_cpu_s": stats.orchestrator_cpu_seconds, "activity_wall_s": stats.activity_wall_seconds,
            "activity_cpu_s": stats.activity_cpu_seconds, "episodes": stats.episodes, "activities": stats.activities}


def per_side(emulator: Any) -> tuple[dict[str, Counter[str]], dict[str, float]]:
    """Requests by instance and kind, and each instance's job detection lag (job end -> the GET that saw it)."""
    with emulator.state.lock:
        op_owner = {op.id: op.instance.name for op in emulator.state.operations.values()}
        jobs = {job.id.lower(): (job.instance.name, job.finish) for job in emulator.state.jobs.values()}
    counts: dict[str, Counter[str]] = {}
    lags: dict[str, float] = {}
    for request in emulator.requests:
        path = request["path"]
        if not path.startswith("/subscriptions/"):
            continue
        kind = classify(path, request["method"])
        last = path.rstrip("/").rsplit("/", 1)[-1]
        owner = None
        if "/backupInstances/" in path:
            owner = path.split("/backupInstances/")[1].split("/")[0]
        elif kind in ("operation_status", "operation_result"):
            owner = op_owner.get(last)
        elif kind == "job_get" and last.lower() in jobs:
            owner, finish = jobs[last.lower()]
            seen = parse_arm_time(request["time"])
            if seen >= finish and owner not in lags:
                lags[owner] = (seen - finish).total_seconds()
        counts.setdefault(owner or "unattributed", Counter())[kind] += 1
    return counts, lags


def calls_for_job(timings: dict[str, float], job_seconds: float) -> int:
    """ARM calls of a polite restore (arm_calls.py's minimum) with a job of ``job_seconds``, unscaled."""
    validate = math.ceil(timings["validateSeconds"] / timings["validateRetryAfter"])
    restore = math.ceil(timings["restoreSeconds"] / timings["restoreRetryAfter"])
    detected = restore * timings["restoreRetryAfter"]
    job = math.ceil(max(0.0, timings["restoreSeconds"] + job_seconds - detected) / JOB_POLL) + 1
    return 1 + 1 + validate + 1 + restore + job


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=60.0, help="divide every timing by this (default 60)")
    parser.add_argument("--quick", action="store_true", help="--scale 900: a 3-second restore")
    args = parser.parse_args(argv)
    scale = 900.0 if args.quick else args.scale
    timings = scaled(scale)
    print(f"peer: issue timings / {scale:g} on the real clock: {timings}; machine {machine()}")

    from azure.identity import ManagedIdentityCredential

    from emulator import EmulatorServer

    names = ("cli", "app", "sdk")
    spec = scenario({n: real_instance(n, timings) for n in names}, [TARGET])
    with EmulatorServer(spec) as emulator:
        env = app_env(emulator.env(), POLL_MIN_SECONDS=str(5 / scale), POLL_DEFAULT_SECONDS=str(JOB_POLL / scale))
        os.environ.update(emulator.env())  # the SDK side's ManagedIdentityCredential reads these
        for stale in ("MSI_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT"):
            os.environ.pop(stale, None)
        local_stack.reset_app_caches()
        credential = ManagedIdentityCredential()
        outcomes: dict[str, dict[str, Any]] = {}
        timeout = 3 * sum(timings.values()) + 120

        def side(key: str, action: Any) -> None:
            try:
                outcomes[key] = action()
            except Exception as exc:  # report, do not hang the other sides
                outcomes[key] = {"status": f"error: {type(exc).__name__}: {exc}"}

        threads = [
            threading.Thread(target=side, args=("cli", lambda: run_cli(env, "cli"))),
            threading.Thread(target=side, args=("app", lambda: run_in_process(env, "app", timeout))),
            threading.Thread(target=side, args=("sdk", lambda: sdk_restore(emulator, "sdk", JOB_POLL / scale,
                                                                           credential, "2026-06-01"))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)
        counts, lags = per_side(emulator)
        identity = sum(1 for r in emulator.requests if not r["path"].startswith("/subscriptions/"))
        local_stack.reset_app_caches()
    for key in names:
        print(f"{key}: {outcomes.get(key)} requests {dict(counts.get(key, {}))}")

    app, sdk, cli = outcomes.get("app", {}), outcomes.get("sdk", {}), outcomes.get("cli", {})
    app_busy = float(app.get("orchestrator_cpu_s", 0.0)) + float(app.get("activity_wall_s", 0.0))
    sdk_busy = float(sdk.get("blocked_s", 0.0))
    app_calls = sum(counts.get("app", Counter()).values())
    per_call = app_busy / app_calls if app_calls else 0.0
    calls_1h = calls_for_job(ISSUE_TIMINGS, 3600)
    sdk_1h = ISSUE_TIMINGS["validateSeconds"] + ISSUE_TIMINGS["restoreSeconds"] + 3600  # at least the restore
    figures: dict[str, Any] = {
        "scale": scale,
        "cli_status": cli.get("status"),
        "app_status": app.get("status"),
        "sdk_status": sdk.get("status"),
        "cli_requests": sum(counts.get("cli", Counter()).values()),
        "app_requests": app_calls,
        "sdk_requests": sum(counts.get("sdk", Counter()).values()),
        "identity_token_requests_all_sides": identity,
        "cli_detect_lag_s": lags.get("cli"),
        "app_detect_lag_s": lags.get("app"),
        "sdk_detect_lag_s": lags.get("sdk"),
        "detect_lag_bound_s": JOB_POLL / scale,
        "cli_elapsed_s": cli.get("elapsed_s"),
        "app_elapsed_s": app.get("elapsed_s"),
        "sdk_elapsed_s": sdk.get("blocked_s"),
        "app_busy_s": app_busy,
        "app_orchestrator_cpu_s": app.get("orchestrator_cpu_s"),
        "app_activity_wall_s": app.get("activity_wall_s"),
        "sdk_busy_s": sdk_busy,
        "busy_ratio_scaled_run": app_busy / sdk_busy if sdk_busy else None,
        "app_busy_per_arm_call_s": per_call,
        "calls_1h_job": calls_1h,
        "app_busy_1h_extrapolated_s": per_call * calls_1h,
        "sdk_busy_1h_s": sdk_1h,
        "busy_ratio_1h": per_call * calls_1h / sdk_1h,
        "busy_ratio_1h_with_200ms_arm_latency": (per_call + ASSUMED_ARM_LATENCY_S) * calls_1h / sdk_1h,
    }
    print_figures(figures)
    return 0 if {cli.get("status"), app.get("status")} == {"succeeded"} and sdk.get("status") == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main())
