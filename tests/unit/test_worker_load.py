"""The deployed app loads under the real Python worker's rules: every function, none refused.

Azure treats one refused function as a failed index and then serves nothing; this once refused 14 of 27.
"""

from __future__ import annotations

from devhost import worker


def test_every_function_of_function_app_loads_through_the_workers_registry() -> None:
    functions = worker.discover("function_app")
    loaded = worker.load(functions)
    names = {f.get_function_name() for f in functions}
    assert len(functions) == 27
    assert set(loaded) == names
    activities = {name for name, info in loaded.items()
                  if any(t.binding_name == "activityTrigger" for t in info.input_types.values())}
    assert {"trigger_restore", "resolve_recovery_point", "drill_cleanup"} <= activities
    assert all(loaded[name].return_type is not None for name in activities)  # results reach the orchestrator
