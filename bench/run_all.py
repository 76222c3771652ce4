"""Run every benchmark (what `make bench` calls) and print all their figures at the end.

Each bench runs in its own subprocess. The ones that measure wall time on the real clock or import time
(cold_start, arm_calls, peer, load) run first, one at a time; then the long virtual-clock work runs in two lanes, one
per core, so the whole set fits in 10 minutes on 2 cores: lane 1 is history (its 72-hour job, then its 1, 6 and
24-hour jobs), lane 2 is drill_scale. CPU-time figures are per thread and barely affected by the
lanes; wall times are (each lane has a core, but Azurite, emulator threads and the OS share them).
``--sequential`` runs everything one after another; ``--quick`` runs each bench in its tiny size (the smoke
test's sizes).

Usage: python bench/run_all.py [--quick] [--sequential] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOLO = ("cold_start", "arm_calls", "peer", "load")
ALL = (*SOLO, "history", "drill_scale")
# (label, script, extra arguments) per lane; the quick run uses one history unit with --quick instead.
LANES: tuple[tuple[tuple[str, str, tuple[str, ...]], ...], ...] = (
    (("history_72h", "history", ("--lengths", "72")), ("history", "history", ("--lengths", "1", "6", "24"))),
    (("drill_scale", "drill_scale", ()),),
)


def figures_of(output: str) -> list[str]:
    """The ``name: value`` lines after the bench's ``--- figures ---`` marker."""
    lines = output.splitlines()
    if "--- figures ---" not in lines:
        return []
    return lines[len(lines) - 1 - lines[::-1].index("--- figures ---") + 1:]


def run_one(label: str, script: str, args: list[str]) -> tuple[int, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / f"{script}.py"), *args], cwd=HERE.parent,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    output = done.stdout
    with _print_lock:
        print(f"===== {label} (exit {done.returncode}, {time.perf_counter() - started:.1f} s) =====")
        print(output, end="" if output.endswith("\n") else "\n", flush=True)
    return done.returncode, output


_print_lock = threading.Lock()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every bench in its tiny size")
    parser.add_argument("--sequential", action="store_true", help="never run two benches at once")
    parser.add_argument("--only", nargs="*", choices=ALL, help="run only these benches")
    args = parser.parse_args(argv)
    chosen = [n for n in ALL if not args.only or n in args.only]
    extra = ["--quick"] if args.quick else []
    began = time.perf_counter()
    results: dict[str, tuple[int, str]] = {}
    units: list[tuple[str, str, tuple[str, ...]]] = [(n, n, ()) for n in SOLO if n in chosen]
    lanes = [[u for u in lane if u[1] in chosen] for lane in LANES]
    if args.quick:  # tiny sizes: no lengths split, and the lanes are short enough to run one after another
        units += [(n, n, ()) for n in ("history", "drill_scale") if n in chosen]
        lanes = []
    if args.sequential:
        units += [u for lane in lanes for u in lane]
        lanes = []
    for label, script, more in units:
        results[label] = run_one(label, script, [*more, *extra])

    def run_lane(lane: list[tuple[str, str, tuple[str, ...]]]) -> None:
        for label, script, more in lane:
            results[label] = run_one(label, script, [*more, *extra])

    threads = [threading.Thread(target=run_lane, args=(lane,)) for lane in lanes if lane]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = time.perf_counter() - began
    print("--- figures ---")
    failed = []
    order = ("cold_start", "arm_calls", "peer", "history", "history_72h", "drill_scale")
    for label in sorted(results, key=lambda name: order.index(name) if name in order else len(order)):
        code, output = results[label]
        if code != 0:
            failed.append(label)
        for line in figures_of(output):
            print(f"{label}.{line}")
    print(f"run_all.total_wall_s: {total:.1f}")
    print(f"run_all.failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
