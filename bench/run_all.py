"""Run every benchmark (what `make bench` calls) and print all their figures at the end.

Each bench runs in its own subprocess. The ones that measure wall time on the real clock or import time
(cold_start, arm_calls, peer) run first, one at a time, on a quiet machine; then the two long virtual-clock
benches (history, drill_scale) run side by side, one per core, so the whole set fits in 10 minutes on 2 cores.
Their CPU-time figures are per-thread and not affected by running side by side; their wall times are.
``--sequential`` runs all five one after another instead; ``--quick`` runs each in its tiny size (the smoke
test's sizes).

Usage: python bench/run_all.py [--quick] [--sequential] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOLO = ("cold_start", "arm_calls", "peer")
SIDE_BY_SIDE = ("history", "drill_scale")
ALL = SOLO + SIDE_BY_SIDE


def figures_of(output: str) -> list[str]:
    """The ``name: value`` lines after the bench's ``--- figures ---`` marker."""
    lines = output.splitlines()
    if "--- figures ---" not in lines:
        return []
    return lines[len(lines) - 1 - lines[::-1].index("--- figures ---") + 1:]


def start(name: str, quick: bool) -> subprocess.Popen[str]:
    argv = [sys.executable, str(HERE / f"{name}.py"), *(["--quick"] if quick else [])]
    return subprocess.Popen(argv, cwd=HERE.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(name: str, process: subprocess.Popen[str], started: float) -> tuple[int, str]:
    output, _ = process.communicate()
    print(f"===== {name} (exit {process.returncode}, {time.perf_counter() - started:.1f} s) =====")
    print(output, end="" if output.endswith("\n") else "\n", flush=True)
    return process.returncode, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every bench in its tiny size")
    parser.add_argument("--sequential", action="store_true", help="never run two benches at once")
    parser.add_argument("--only", nargs="*", choices=ALL, help="run only these benches")
    args = parser.parse_args(argv)
    chosen = [n for n in ALL if not args.only or n in args.only]
    began = time.perf_counter()
    results: dict[str, tuple[int, str]] = {}
    solo = [n for n in chosen if n in SOLO or args.sequential]
    for name in solo:
        results[name] = finish(name, start(name, args.quick), time.perf_counter())
    together = [n for n in chosen if n not in solo]
    started = time.perf_counter()
    running = {name: start(name, args.quick) for name in together}
    for name, process in running.items():
        results[name] = finish(name, process, started)
    total = time.perf_counter() - began
    print("--- figures ---")
    failed = []
    for name in chosen:
        code, output = results[name]
        if code != 0:
            failed.append(name)
        for line in figures_of(output):
            print(f"{name}.{line}")
    print(f"run_all.total_wall_s: {total:.1f}")
    print(f"run_all.failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
