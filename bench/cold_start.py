"""Cold start: what a cold worker pays up to its first restore call, against the Functions libraries' import.

Each measurement is a fresh Python subprocess (nothing in sys.modules; the OS file cache warm, as on a warm
Functions worker host; bytecode compiled once beforehand), timed with perf_counter and process_time:

- baseline: ``import azure.functions, azure.durable_functions``.
- app: ``import function_app``, then the first ARM activity of a restore (``resolve_recovery_point``) against the
  DataProtection emulator this process serves on loopback, with the settings a Functions worker has (ARM_ENDPOINT,
  the App Service identity endpoint IDENTITY_ENDPOINT + IDENTITY_HEADER, AZURE_CLIENT_ID of a user-assigned
  identity), then the identical call again. The first call's extra (first minus second) is what the first call
  costs beyond a warm one: the modules it imports (the credential's among them), the token request and the new
  connection. The ARM round trip is in both calls and cancels out.

The two kinds alternate, so drift hits both. ``ratio`` is median(import function_app) / median(baseline) (the
import alone, as before); ``ratio_first_call`` is median(import + first-call extra, per run) / median(baseline),
the figure issue 14 asks for. ``--storage`` adds the Functions storage account (Azurite, by connection string),
so a first call that touches storage pays for that too. One extra ``-X importtime`` run names the heaviest
packages function_app imports beyond the baseline; the modules the first call imports are listed by name.

Usage: python bench/cold_start.py [--quick] [--runs N] [--storage] [--system-assigned]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from _common import (
    ISSUE_TIMINGS,
    ROOT,
    START,
    TARGET,
    app_env,
    backup_instance,
    instance_id,
    machine,
    print_figures,
    scenario,
)

BASELINE = "import azure.functions, azure.durable_functions"
APP = "import function_app"
USER_ASSIGNED_CLIENT_ID = "0c01d5a7-0000-4000-8000-00000000b3c5"
_TIMED = ("import time; t, c = time.perf_counter(), time.process_time(); {stmt}; "
          "print(time.perf_counter() - t, time.process_time() - c)")
# The child: import the app, then resolve twice; one JSON line with the timings and what the first call imported.
_FIRST_CALL = """
import json, sys, time

def timed(call):
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu

_, import_wall, import_cpu = timed(lambda: __import__("function_app"))
from activities import recovery_points

payload = json.loads(sys.argv[1])
before = set(sys.modules)
first, first_wall, first_cpu = timed(lambda: recovery_points.resolve(payload))
loaded = sorted(set(sys.modules) - before)
second, second_wall, second_cpu = timed(lambda: recovery_points.resolve(payload))
print(json.dumps({"import": [import_wall, import_cpu], "first": [first_wall, first_cpu],
                  "second": [second_wall, second_cpu], "ok": [first["ok"], second["ok"]],
                  "error": first.get("error") or second.get("error"), "loaded": loaded}))
"""
# Settings and identity variables of the caller's shell that must not leak into the app child.
_SCRUBBED = ("AZURE_", "MSI_", "IDENTITY_", "IMDS_", "AzureWebJobs", "ARM_ENDPOINT", "RESTORE_", "POLL_")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT)
    return env


def time_import(stmt: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the import statement in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _TIMED.format(stmt=stmt)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, check=True, timeout=120)
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def first_call(env: dict[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    """One fresh worker: import function_app, resolve twice; its timings and the modules the first call loaded."""
    done = subprocess.run([sys.executable, "-c", _FIRST_CALL, json.dumps(payload)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"the app child failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    run: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not all(run["ok"]):
        raise RuntimeError(f"resolve_recovery_point failed: {run['error']}")
    return run


@contextmanager
def emulated_worker(*, storage: bool, system_assigned: bool) -> Iterator[dict[str, str]]:
    """The emulator (with its token endpoint) on loopback, and Azurite with ``storage``; yields the child's env."""
    from emulator import EmulatorServer, VirtualClock

    spec = scenario({"pg1": backup_instance("pg1", ISSUE_TIMINGS)}, [TARGET])
    with ExitStack() as stack:
        server = stack.enter_context(EmulatorServer(spec, clock=VirtualClock(START)))
        extra = {} if system_assigned else {"AZURE_CLIENT_ID": USER_ASSIGNED_CLIENT_ID}
        if storage:
            from devhost.azurite import start_azurite

            azurite = start_azurite()
            stack.callback(azurite.stop)
            extra["AzureWebJobsStorage"] = azurite.connection_string
        env = {name: value for name, value in _env().items() if not name.startswith(_SCRUBBED)}
        yield {**env, **app_env(server.env(), **extra)}


def heaviest_additions(top: int = 5) -> list[tuple[str, float]]:
    """Packages whose modules function_app imports beyond the baseline, by summed self import time."""

    def tree(stmt: str) -> list[tuple[str, float]]:
        """(module, self seconds) of every line of -X importtime."""
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", stmt], cwd=ROOT, env=_env(),
                              capture_output=True, text=True, check=True, timeout=120)
        rows: list[tuple[str, float]] = []
        for line in done.stderr.splitlines():
            parts = line[len("import time:"):].split("|") if line.startswith("import time:") else []
            if len(parts) != 3 or not parts[0].strip().isdigit():
                continue
            rows.append((parts[2].strip(), int(parts[0]) / 1e6))
        return rows

    base = {name for name, _ in tree(BASELINE)}
    extra: dict[str, float] = {}
    for name, seconds in tree(APP):
        if name not in base:
            root = name.split(".")[0]
            extra[root] = extra.get(root, 0.0) + seconds
    return sorted(extra.items(), key=lambda item: -item[1])[:top]


def packages(modules: list[str]) -> str:
    """Top-level packages (two levels for azure.*) among ``modules``, or "none"."""
    names = {".".join(m.split(".")[:2]) if m.startswith("azure.") else m.split(".")[0] for m in modules}
    return ", ".join(sorted(n for n in names if not n.startswith("_") and n != "azure")) or "none"


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs of each instead of 9")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--storage", action="store_true", help="give the app the Functions storage account "
                        "(Azurite), so a first call that uses storage pays for it")
    parser.add_argument("--system-assigned", action="store_true", help="no AZURE_CLIENT_ID (system-assigned)")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 9)
    identity = "system-assigned" if args.system_assigned else "user-assigned"
    print(f"cold_start: {runs} fresh subprocesses per kind, alternating; {identity} identity through the "
          f"emulator's App Service token endpoint{', Azurite storage' if args.storage else ''}; machine {machine()}")
    payload = {"request": {"backupInstance": instance_id("pg1"),
                           "target": {"containerUrl": TARGET, "filePrefix": "coldstart"}},
               "now": START.isoformat()}
    with emulated_worker(storage=args.storage, system_assigned=args.system_assigned) as env:
        time_import(APP)  # compile .pyc files once, so no run pays for bytecode compilation
        first_call(env, payload)  # ... the first call's modules too
        base: list[tuple[float, float]] = []
        app: list[dict[str, Any]] = []
        for _ in range(runs):
            base.append(time_import(BASELINE))
            app.append(first_call(env, payload))
    imports = [run["import"] for run in app]
    extras = [(run["first"][0] - run["second"][0], run["first"][1] - run["second"][1]) for run in app]
    print(f"baseline runs (wall s, cpu s): {[(round(w, 4), round(c, 4)) for w, c in base]}")
    print(f"function_app import runs (wall s, cpu s): {[(round(w, 4), round(c, 4)) for w, c in imports]}")
    print(f"first-call extra runs (wall s, cpu s): {[(round(w, 4), round(c, 4)) for w, c in extras]}")
    print(f"second-call runs (wall s): {[round(run['second'][0], 4) for run in app]}")
    base_wall, base_cpu = _median([w for w, _ in base]), _median([c for _, c in base])
    app_wall, app_cpu = _median([w for w, _ in imports]), _median([c for _, c in imports])
    total_wall = _median([i[0] + e[0] for i, e in zip(imports, extras, strict=True)])
    total_cpu = _median([i[1] + e[1] for i, e in zip(imports, extras, strict=True)])
    figures: dict[str, Any] = {
        "runs": runs,
        "baseline_import_median_s": round(base_wall, 4),
        "function_app_import_median_s": round(app_wall, 4),
        "ratio": round(app_wall / base_wall, 3),
        "ratio_min_over_min": round(min(w for w, _ in imports) / min(w for w, _ in base), 3),
        "baseline_import_cpu_median_s": round(base_cpu, 4),
        "function_app_import_cpu_median_s": round(app_cpu, 4),
        "ratio_cpu": round(app_cpu / base_cpu, 3),
        "first_call_extra_median_s": round(_median([w for w, _ in extras]), 4),
        "first_call_extra_cpu_median_s": round(_median([c for _, c in extras]), 4),
        "second_call_median_s": round(_median([run["second"][0] for run in app]), 4),
        "import_plus_first_call_median_s": round(total_wall, 4),
        "ratio_first_call": round(total_wall / base_wall, 3),
        "ratio_first_call_cpu": round(total_cpu / base_cpu, 3),
        "first_call_imports": packages(app[-1]["loaded"]),
        "azure_identity_imported": any(m.startswith("azure.identity") for m in app[-1]["loaded"]),
    }
    heavy = heaviest_additions()
    figures["heaviest_additions"] = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in heavy) or "none"
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
