"""The deployed app loads under the real Python worker's rules: every function, none refused.

Azure treats one refused function as a failed index and then serves nothing; this once refused 14 of 27.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from devhost import worker

REPO = Path(__file__).resolve().parents[2]


def test_every_function_of_function_app_loads_through_the_workers_registry() -> None:
    functions = worker.discover("function_app")
    loaded = worker.load(functions)
    names = {f.get_function_name() for f in functions}
    # 27 before loads, + 13 load activities and the load orchestrator, + 3 drill-load activities and the evidence
    # route, + the OpenAPI document's route, + the notification delivery activity, + the restore_telemetry activity,
    # + 6 pre-flight activities and the pre-flight route
    assert len(functions) == 55
    assert set(loaded) == names
    activities = {name for name, info in loaded.items()
                  if any(t.binding_name == "activityTrigger" for t in info.input_types.values())}
    assert {"trigger_restore", "resolve_recovery_point", "drill_cleanup", "load_start_execution",
            "load_ledger_record", "drill_previous_rows", "drill_source_server", "drill_read_drop_report",
            "notify_deliver", "restore_telemetry", "preflight_get_vault",
            "preflight_list_role_assignments"} <= activities
    assert "openapi_http" in names and "openapi_http" not in activities
    assert all(loaded[name].return_type is not None for name in activities)  # results reach the orchestrator


def _index_in_fresh_process(schedule: str) -> subprocess.CompletedProcess[str]:
    """Index function_app in a new interpreter: the drill schedule is read once, when the app is imported."""
    code = ("from devhost import worker; f = worker.discover('function_app'); worker.load(f); "
            "print(sorted(x.get_function_name() for x in f))")
    env = {**os.environ, "DRILL_SCHEDULE": schedule}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=True)


def test_an_invalid_drill_schedule_leaves_the_timer_out_and_the_rest_loads() -> None:
    indexed = _index_in_fresh_process("every day at three")
    names = ast.literal_eval(indexed.stdout.strip().splitlines()[-1])
    assert len(names) == 54 and "drill_timer" not in names and "start_restore_http" in names
    assert "restore drills are off: the drill timer is not registered because" in indexed.stderr
    assert "DRILL_SCHEDULE: 'every day at three' is not an NCRONTAB expression" in indexed.stderr


def test_five_and_six_field_schedules_both_register_the_timer() -> None:
    for schedule in ("0 3 * * *", "0 0 3 * * *"):
        names = ast.literal_eval(_index_in_fresh_process(schedule).stdout.strip().splitlines()[-1])
        assert "drill_timer" in names and len(names) == 55
