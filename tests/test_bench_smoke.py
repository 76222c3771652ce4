"""Every benchmark still runs: each once in its tiny size (``--quick``), no timing assertions.

The six run at once in subprocesses (as `make bench` runs them, but small), so the whole check takes well
under a minute; each test then reads its bench's exit code and the ``name: value`` figures it printed last.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHES = ("arm_calls", "history", "peer", "drill_scale", "cold_start", "load")
EXPECTED = {
    "arm_calls": {"calls_total", "calls_minimum_polite", "efficiency", "lag_validate_s", "lag_job_s"},
    "history": {"max_history_events_any_length", "cpu_ratio_2h_over_1h", "h1_orchestrator_cpu_s"},
    "peer": {"app_requests", "sdk_requests", "app_busy_s", "sdk_busy_s", "busy_ratio_1h"},
    "drill_scale": {"virtual_makespan_s", "theoretical_makespan_s", "arm_429s", "drill_failed", "peak_rss_mib",
                    "arm_requests_per_server", "bound_by_token_buckets_s", "drill_instance_largest_history_events",
                    "stack_peak_rss_mib"},
    "load": {"loader_mb_per_s", "bare_pg_restore_mb_per_s", "pipe_mb_per_s", "loader_overhead_vs_bare",
             "loader_overhead_vs_download_plus_bare", "loader_peak_rss_mib", "loader_peak_disk_mb", "step_total_s"},
    "cold_start": {"ratio", "baseline_import_median_s", "function_app_import_median_s", "ratio_first_call",
                   "first_call_imports"},
}


@pytest.fixture(scope="module")
def outputs() -> Iterator[dict[str, tuple[int, str]]]:
    running = {
        name: subprocess.Popen([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name in BENCHES
    }
    results: dict[str, tuple[int, str]] = {}
    try:
        for name, process in running.items():
            output, _ = process.communicate(timeout=150)
            results[name] = (process.returncode, output)
        yield results
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def figures(output: str) -> dict[str, str]:
    lines = output.splitlines()
    assert "--- figures ---" in lines, output[-3000:]
    tail = lines[len(lines) - lines[::-1].index("--- figures ---"):]
    pairs = [line.split(": ", 1) for line in tail]
    assert all(len(p) == 2 for p in pairs), tail
    return {k: v for k, v in pairs}


@pytest.mark.slow
@pytest.mark.parametrize("bench", BENCHES)
def test_bench_runs_and_prints_its_figures_last(outputs: dict[str, tuple[int, str]], bench: str) -> None:
    code, output = outputs[bench]
    assert code == 0, output[-3000:]
    shown = figures(output)
    assert EXPECTED[bench] <= set(shown), sorted(shown)


def test_run_all_collects_figures_from_the_marker() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from run_all import figures_of
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert figures_of("noise\n--- figures ---\na: 1\n--- figures ---\nb: 2\n") == ["b: 2"]
    assert figures_of("no marker") == []
