"""Timer triggers on the virtual clock, and what indexing refuses."""

from __future__ import annotations

import time
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func
import pytest

from devhost import DevHost, IndexingError, VirtualClock
from devhost.timers import Schedule
from tests.devhost.devhost_testing import SAMPLE_ENV, START


def outputs(host: DevHost) -> list[object]:
    return sorted(str(s.output) for s in host.instances())


def test_timer_fires_when_virtual_time_passes_its_setting_schedule(host: DevHost, clock: VirtualClock) -> None:
    host.wait_idle()
    assert host.instances() == []  # 03:00 is not reached, and timers are not auto-advanced by default
    clock.advance(timedelta(hours=3))
    host.wait_idle()
    assert outputs(host) == [str(["Hello tick!", "Hello on_time!"])]
    clock.advance(timedelta(days=2))  # two occurrences missed: one late firing, flagged past due
    host.wait_idle()
    assert outputs(host) == sorted([str(["Hello tick!", "Hello on_time!"]),
                                    str(["Hello tick!", "Hello past_due!"])])
    assert host.timers.entries["tick"].next_due == START + timedelta(days=3, hours=3)


def test_run_timer_function_and_fire_timers_now(host: DevHost, clock: VirtualClock) -> None:
    host.run_timer_function("tick")
    host.wait_idle()
    assert len(host.instances()) == 1
    assert host.fire_timers_now() == []
    clock.set(START + timedelta(hours=3))
    host.fire_timers_now()
    host.wait_idle()
    assert len(host.instances()) == 2


def test_run_timers_makes_occurrences_wake_ups(clock: VirtualClock) -> None:
    with DevHost.load("sample_app.function_app", clock=clock, env=SAMPLE_ENV, run_timers=True) as host:
        deadline = time.monotonic() + 10
        while len(host.instances()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(host.instances()) >= 3
    assert clock.now() >= START + timedelta(days=2, hours=3)


def test_run_on_startup_and_timespan_schedules(clock: VirtualClock) -> None:
    from timer_app import function_app

    function_app.fired.clear()
    function_app.statuses.clear()
    with DevHost.load("timer_app.function_app", clock=clock) as host:
        host.wait_idle()
        assert function_app.fired == [("yearly", False)]
        clock.advance(600)
        host.wait_idle()
    assert function_app.fired == [("yearly", False), ("ten", False)]
    # As on Azure, ScheduleStatus.Next is the occurrence being invoked ("Next will equal Now"), not the one after.
    invoked = START + timedelta(minutes=10)
    assert function_app.statuses[-1]["Next"].startswith(invoked.strftime("%Y-%m-%dT%H:%M:%S"))


def test_ncrontab_has_seconds_first() -> None:
    assert Schedule("*/15 * * * * *").next_after(START) == START + timedelta(seconds=15)
    assert Schedule("0 30 9 * * 1-5").next_after(START) == START + timedelta(days=1, hours=9, minutes=30)
    with pytest.raises(IndexingError):
        Schedule("every day")


def test_unset_schedule_setting_fails_at_start(clock: VirtualClock) -> None:
    env = {k: v for k, v in SAMPLE_ENV.items() if k != "TICK_SCHEDULE"}
    host = DevHost.load("sample_app.function_app", clock=clock, env=env)
    with pytest.raises(IndexingError, match="TICK_SCHEDULE"):
        host.start()


def test_duplicate_function_names_are_rejected() -> None:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.function_name("same")
    @app.activity_trigger(input_name="x")
    def first(x: int) -> int:
        return x

    @app.function_name("same")
    @app.activity_trigger(input_name="x")
    def second(x: int) -> int:
        return x

    with pytest.raises(IndexingError, match="same"):
        DevHost(app)


def test_index_reads_trigger_settings(host: DevHost) -> None:
    functions = host.functions
    assert functions["http_start"].trigger_type == "httpTrigger"
    assert functions["http_start"].trigger["route"] == "orchestrators/{name}"
    assert functions["http_start"].client_params == ["client"]
    assert functions["queue_start"].trigger["queueName"] == "%WORK_QUEUE%"
    assert functions["tick"].trigger["schedule"] == "%TICK_SCHEDULE%"
    assert functions["hello_sequence"].trigger_type == "orchestrationTrigger"
    assert functions["say_hello"].trigger_type == "activityTrigger"
    assert host.settings.hub_name == "DevhostTests" and host.settings.max_dequeue_count == 2


def test_a_failed_start_releases_its_ports(clock: VirtualClock) -> None:
    """A start that fails (here: an unresolvable timer schedule) closes the listening sockets it had opened."""
    import gc
    import warnings

    env = {k: v for k, v in SAMPLE_ENV.items() if k != "TICK_SCHEDULE"}
    host = DevHost.load("sample_app.function_app", clock=clock, env=env)
    with pytest.raises(IndexingError):
        host.start()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)  # an unclosed listening socket warns when collected
        gc.collect()
    assert host._servers == []


@pytest.mark.parametrize(("env", "message"), [
    ({}, "Task hub name '%TASKHUB_NAME%' should contain only alphanumeric characters, start with a letter, and have "
         "length between 3 and 45. (app setting TASKHUB_NAME is not set)"),
    ({"TASKHUB_NAME": "my-hub"}, "Task hub name 'my-hub' should contain only alphanumeric"),
    ({"TASKHUB_NAME": "1hub"}, "Task hub name '1hub' should contain only alphanumeric"),
    ({"TASKHUB_NAME": "h" * 51}, f"Task hub name '{'h' * 51}' should contain only alphanumeric"),
])
def test_a_missing_or_invalid_task_hub_name_fails_the_start_as_the_extension_does(
        clock: VirtualClock, env: dict[str, str], message: str) -> None:
    host = DevHost.load("sample_app.function_app", clock=clock, env={**SAMPLE_ENV, "TASKHUB_NAME": "", **env}
                        if env else {k: v for k, v in SAMPLE_ENV.items() if k != "TASKHUB_NAME"})
    with pytest.raises(IndexingError) as refused:
        host.start()
    assert str(refused.value).startswith(message)


def test_hub_names_the_azure_storage_provider_accepts_and_the_sanitized_default() -> None:
    from devhost.indexer import resolve_hub_name

    assert resolve_hub_name("%TASKHUB_NAME%", {"TASKHUB_NAME": "pgflex01"}) == "pgflex01"
    assert resolve_hub_name("Hub" + "x" * 47, {}) == "Hub" + "x" * 47  # 50 characters: still accepted
    assert resolve_hub_name(None, {}) == "TestHubName"
    assert resolve_hub_name(None, {"WEBSITE_SITE_NAME": "9-my-app"}) == "t9myapp"
    assert resolve_hub_name(None, {"WEBSITE_SITE_NAME": "a"}) == "aHub"
