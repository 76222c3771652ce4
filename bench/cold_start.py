"""Cold start: the import time of function_app against azure.functions + azure.durable_functions alone.

Each measurement is a fresh Python subprocess (nothing cached in sys.modules; the OS file cache is warm, as on
a warm Functions worker host), timing only the import statement with perf_counter. The two kinds alternate so
drift hits both; the ratio is median(function_app) / median(baseline). One extra run with ``-X importtime``
names the heaviest top-level imports function_app adds beyond the baseline.

Usage: python bench/cold_start.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from typing import Any

from _common import ROOT, machine, print_figures

BASELINE = "import azure.functions, azure.durable_functions"
APP = "import function_app"
_TIMED = ("import time; t, c = time.perf_counter(), time.process_time(); {stmt}; "
          "print(time.perf_counter() - t, time.process_time() - c)")


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs of each instead of 9")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 9)
    print(f"cold_start: {runs} fresh subprocesses per import, alternating; machine {machine()}")
    time_import(APP)  # compile .pyc files once, so no run pays for bytecode compilation
    base: list[tuple[float, float]] = []
    app: list[tuple[float, float]] = []
    for _ in range(runs):
        base.append(time_import(BASELINE))
        app.append(time_import(APP))
    print(f"baseline runs (wall s, cpu s): {[(round(w, 4), round(c, 4)) for w, c in base]}")
    print(f"function_app runs (wall s, cpu s): {[(round(w, 4), round(c, 4)) for w, c in app]}")
    base_wall, app_wall = statistics.median(w for w, _ in base), statistics.median(w for w, _ in app)
    base_cpu, app_cpu = statistics.median(c for _, c in base), statistics.median(c for _, c in app)
    figures: dict[str, Any] = {
        "runs": runs,
        "baseline_import_median_s": round(base_wall, 4),
        "function_app_import_median_s": round(app_wall, 4),
        "ratio": round(app_wall / base_wall, 3),
        "ratio_min_over_min": round(min(w for w, _ in app) / min(w for w, _ in base), 3),
        "baseline_import_cpu_median_s": round(base_cpu, 4),
        "function_app_import_cpu_median_s": round(app_cpu, 4),
        "ratio_cpu": round(app_cpu / base_cpu, 3),
    }
    heavy = heaviest_additions()
    figures["heaviest_additions"] = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in heavy) or "none"
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
