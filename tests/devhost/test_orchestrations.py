"""Orchestrations through the real SDK replay code: histories, ids, retries, timers, sub-orchestrations."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from devhost import DevHost, NonDeterminismError, VirtualClock
from devhost.history import EventType
from tests.devhost.devhost_testing import SAMPLE_ENV, START

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")


def core(history: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(event type, id) pairs without episode markers: the id is EventId, TaskScheduledId or TimerId."""
    out = []
    for ev in history:
        kind = EventType(ev["EventType"])
        if kind in (EventType.OrchestratorStarted, EventType.OrchestratorCompleted):
            continue
        ident = ev.get("TaskScheduledId", ev.get("TimerId", ev["EventId"]))
        out.append((kind.name, ident))
    return out


def test_sequence_history_is_shaped_like_the_hosts(host: DevHost) -> None:
    iid = host.start_orchestration("hello_sequence", ["Tokyo", "Seattle"])
    state = host.wait_for(iid)
    assert state.runtime_status == "Completed"
    assert state.output == ["Hello Tokyo!", "Hello Seattle!"]
    history = state.history
    assert [EventType(e["EventType"]).name for e in history[:2]] == ["OrchestratorStarted", "ExecutionStarted"]
    started = history[1]
    assert started["Version"] == "" and started["Name"] == "hello_sequence"
    assert started["OrchestrationInstance"]["InstanceId"] == iid
    assert all(STAMP.match(e["Timestamp"]) for e in history)
    assert core(history) == [("ExecutionStarted", -1), ("TaskScheduled", 0), ("TaskCompleted", 0),
                             ("TaskScheduled", 1), ("TaskCompleted", 1), ("ExecutionCompleted", -1)]
    # every event before the last episode was replayed (IsPlayed), the last episode's events are new
    last_start = max(i for i, e in enumerate(history) if e["EventType"] == EventType.OrchestratorStarted)
    assert all(e["IsPlayed"] for e in history[:last_start])
    assert not any(e["IsPlayed"] for e in history[last_start:])
    first = {EventType(e["EventType"]).name: e for e in reversed(history)}
    assert first["TaskScheduled"]["Input"] == '"Tokyo"' and first["TaskCompleted"]["Result"] == '"Hello Tokyo!"'
    assert [(c.name, c.input, c.output) for c in host.activity_calls] == [
        ("say_hello", "Tokyo", "Hello Tokyo!"), ("say_hello", "Seattle", "Hello Seattle!")]
    assert host.stats.episodes == 3 and host.stats.activities == 2
    assert host.errors == []


def test_retry_history_matches_the_protocol(host: DevHost) -> None:
    iid = host.start_orchestration("retry_orch")
    state = host.wait_for(iid)
    assert core(state.history) == [
        ("ExecutionStarted", -1),
        ("TaskScheduled", 0), ("TaskFailed", 0), ("TimerCreated", 1), ("TimerFired", 1),
        ("TaskScheduled", 2), ("TaskFailed", 2), ("TimerCreated", 3), ("TimerFired", 3),
        ("TaskScheduled", 4), ("TaskFailed", 4), ("TimerCreated", 5), ("TimerFired", 5),
        ("ExecutionCompleted", -1)]
    timers = [e["FireAt"] for e in state.history if e["EventType"] == EventType.TimerCreated]
    assert timers == ["2026-11-01T00:00:01.0000000Z", "2026-11-01T00:00:02.0000000Z",
                      "2026-11-01T00:00:02.0000000Z"]
    # The timer after the last attempt fires at once: DurableTask.Core's RetryInterceptor.Invoke schedules it at
    # CurrentUtcDateTime ("Dummy timer for back-compat", since Azure/durabletask#661, January 2022), and the
    # Python SDK's RetryAbleTask waits for that extra timer before it raises.
    failed = next(e for e in state.history if e["EventType"] == EventType.TaskFailed)
    # TaskActivityShim: "Activity function '<name>' failed: " + the text between "\nException:" and "\nStack:" of
    # the host's RpcException (OutOfProcExceptionHelpers), so the worker's "<Type>: <message>" with its space.
    assert failed["Reason"] == "Activity function 'always_fails' failed:  ValueError: nope: x"
    cause = json.loads(failed["Details"])
    assert cause["Message"] == " ValueError: nope: x"
    assert cause["InnerException"]["Message"].startswith("Result: Failure\nException: ValueError: nope: x\nStack: ")
    assert state.output.startswith("Activity function 'always_fails' failed:  ValueError: nope: x \n ")
    assert len(host.activity_calls) == 3 and all(c.error == "nope: x" for c in host.activity_calls)


def test_ten_day_timer_is_split_into_three_day_sub_timers(host: DevHost, clock: VirtualClock) -> None:
    iid = host.start_orchestration("long_timer_orch")
    state = host.wait_for(iid)
    fire_ats = [e["FireAt"] for e in state.history if e["EventType"] == EventType.TimerCreated]
    assert fire_ats == ["2026-11-04T00:00:00.0000000Z", "2026-11-07T00:00:00.0000000Z",
                        "2026-11-11T00:00:00.0000000Z"]
    assert core(state.history)[1:-1] == [("TimerCreated", 0), ("TimerFired", 0), ("TimerCreated", 1),
                                         ("TimerFired", 1), ("TimerCreated", 2), ("TimerFired", 2)]
    assert state.output == timedelta(days=10).total_seconds()
    assert clock.now() == START + timedelta(days=10)


def test_sub_orchestrations_complete_and_fail_with_host_texts(host: DevHost) -> None:
    iid = host.start_orchestration("parent_orch")
    state = host.wait_for(iid)
    assert state.output["child"] == ["Hello Oslo!"]
    assert state.output["error"].startswith("Orchestrator function 'failing_orch' failed: boom orch")
    created = [e for e in state.history if e["EventType"] == EventType.SubOrchestrationInstanceCreated]
    assert [e["InstanceId"] for e in created] == ["child-1", f"{state.execution_id}:1"]
    child = host.get("child-1")
    assert child.parent_instance_id == iid and child.runtime_status == "Completed"
    failed = host.get(f"{state.execution_id}:1")
    assert failed.runtime_status == "Failed"
    assert failed.output == "Orchestrator function 'failing_orch' failed: boom orch"


def test_continue_as_new_starts_a_fresh_bounded_execution(host: DevHost) -> None:
    iid = host.start_orchestration("counter_orch", 0)
    state = host.wait_for(iid)
    assert state.output == 3
    assert len(state.executions) == 3
    ids = set()
    for generation, history in enumerate(state.executions):
        started = history[1]
        assert started["EventType"] == EventType.ExecutionStarted and started["Generation"] == generation
        ids.add(started["OrchestrationInstance"]["ExecutionId"])
        assert len(history) <= 14  # the history is reset each generation
    assert len(ids) == 3
    assert state.executions[0][-2]["EventType"] == EventType.ContinueAsNew
    assert state.executions[0][-2]["Result"] == "1"
    assert state.executions[1][1]["Input"] == '"1"'
    assert state.input == 2 and state.history is not state.executions[0]


def test_external_event_wins_over_its_timeout(clock: VirtualClock) -> None:
    with DevHost.load("sample_app.function_app", clock=clock, env=SAMPLE_ENV, auto_advance=False) as host:
        iid = host.start_orchestration("event_orch")
        host.wait_idle()
        assert host.get(iid).runtime_status == "Running"
        host.raise_event(iid, "approval", {"by": "alice"})
        state = host.wait_for(iid)
    assert state.output == {"approved": {"by": "alice"}}
    raised = [e for e in state.history if e["EventType"] == EventType.EventRaised]
    assert raised[0]["Name"] == "approval" and raised[0]["EventId"] == -1


def test_external_event_timeout_fires_on_auto_advance(host: DevHost, clock: VirtualClock) -> None:
    iid = host.start_orchestration("event_orch")
    assert host.wait_for(iid).output == "timeout"
    assert clock.now() == START + timedelta(days=1)


def test_custom_status_is_kept_and_the_16kb_limit_fails_the_episode(host: DevHost) -> None:
    ok = host.start_orchestration("status_orch", 10)
    assert host.wait_for(ok).custom_status == {"stage": "done"}
    big = host.start_orchestration("status_orch", 9000)
    state = host.wait_for(big)
    assert state.runtime_status == "Failed"
    assert "must not exceed 16 KB" in state.output
    assert host.activity_calls[-1].input == "status"  # the small one ran; the big one never scheduled


def test_task_all_and_task_any(host: DevHost) -> None:
    state = host.wait_for(host.start_orchestration("fan_orch"))
    assert state.output == {"all": [1, 2, 3], "any": "Hello a!"}
    assert core(state.history)[1:4] == [("TaskScheduled", 0), ("TaskScheduled", 1), ("TaskScheduled", 2)]


def test_orchestrator_exception_fails_the_instance(host: DevHost) -> None:
    state = host.wait_for(host.start_orchestration("failing_orch"))
    assert state.runtime_status == "Failed"
    assert state.output == "Orchestrator function 'failing_orch' failed: boom orch"
    assert state.history[-2]["EventType"] == EventType.ExecutionCompleted
    assert state.history[-2]["OrchestrationStatus"] == 3
    assert state.custom_status == {"last": "about to fail"}  # applied from the $OutOfProcData$ state


def test_unknown_activity_fails_fast_with_a_clear_message(host: DevHost) -> None:
    state = host.wait_for(host.start_orchestration("unknown_activity_orch"), timeout=5)
    assert state.runtime_status == "Failed"
    assert "activity 'does_not_exist'" in state.output and "say_hello" in state.output


def test_non_deterministic_orchestrator_is_caught_during_execution(host: DevHost) -> None:
    iid = host.start_orchestration("nondeterministic_orch")
    with pytest.raises(NonDeterminismError):
        host.wait_for(iid)
    state = host.get(iid)
    assert state.runtime_status == "Failed"
    assert "Non-Deterministic workflow detected" in state.output


def test_check_determinism_replays_a_completed_instance(clock: VirtualClock) -> None:
    from sample_app import orchestrations

    orchestrations._calls["n"] = 0
    with DevHost.load("sample_app.function_app", clock=clock, env=SAMPLE_ENV, determinism_checks=False) as host:
        iid = host.start_orchestration("replay_divergent_orch")
        state = host.wait_for(iid)
        assert state.runtime_status == "Completed" and state.determinism_error is None
        with pytest.raises(NonDeterminismError, match="replay produced"):
            host.check_determinism(iid)
        good = host.start_orchestration("hello_sequence")
        host.wait_for(good)
        host.check_determinism(good)


def test_app_settings_reach_activities_and_are_restored(clock: VirtualClock) -> None:
    import os

    with DevHost.load("sample_app.function_app", clock=clock, env=SAMPLE_ENV) as host:
        assert host.wait_for(host.start_orchestration("setting_orch")).output == "from-env"
    assert "DEVHOST_SAMPLE_SETTING" not in os.environ


def test_terminate_and_restart_by_id(host: DevHost) -> None:
    iid = host.start_orchestration("wait_forever", instance_id="singleton")
    host.wait_idle()
    from devhost import OrchestrationAlreadyExistsError

    with pytest.raises(OrchestrationAlreadyExistsError):
        host.start_orchestration("wait_forever", instance_id="singleton")
    host.terminate(iid, "enough")
    state = host.wait_for(iid)
    assert state.runtime_status == "Terminated" and state.output == "enough"
    host.start_orchestration("hello_sequence", ["again"], instance_id="singleton")
    assert host.wait_for("singleton").output == ["Hello again!"]


def test_sub_orchestration_retry_history(host: DevHost) -> None:
    state = host.wait_for(host.start_orchestration("sub_retry_orch"))
    assert core(state.history) == [
        ("ExecutionStarted", -1),
        ("SubOrchestrationInstanceCreated", 0), ("SubOrchestrationInstanceFailed", 0),
        ("TimerCreated", 1), ("TimerFired", 1),
        ("SubOrchestrationInstanceCreated", 2), ("SubOrchestrationInstanceFailed", 2),
        ("TimerCreated", 3), ("TimerFired", 3),
        ("ExecutionCompleted", -1)]
    children = [e["InstanceId"] for e in state.history
                if e["EventType"] == EventType.SubOrchestrationInstanceCreated]
    assert children == [f"{state.execution_id}:0", f"{state.execution_id}:2"]
    assert state.output.startswith("Orchestrator function 'failing_orch' failed: boom orch")


def test_real_clock_timers_wait_in_real_time() -> None:
    import time

    from devhost import RealClock

    with DevHost.load("sample_app.function_app", clock=RealClock(), env=SAMPLE_ENV) as host:
        began = time.monotonic()
        state = host.wait_for(host.start_orchestration("short_timer_orch"), timeout=10)
        elapsed = time.monotonic() - began
    assert state.output == "woke"
    assert 0.25 <= elapsed < 3


def test_activity_calls_unpack_as_tuples(host: DevHost) -> None:
    host.wait_for(host.start_orchestration("hello_sequence", ["X"]))
    name, value, output, started, duration = host.activity_calls[0]
    assert (name, value, output, started) == ("say_hello", "X", "Hello X!", START)
    assert duration >= 0


def test_sub_orchestration_cannot_reuse_the_parents_id(host: DevHost) -> None:
    state = host.wait_for(host.start_orchestration("self_child_orch", instance_id="selfish"))
    assert state.runtime_status == "Failed" and "must differ from its parent's" in state.output


def test_memoized_timestamps_give_the_same_history_and_are_removed_on_stop(clock: VirtualClock) -> None:
    import sys

    module = sys.modules["azure.durable_functions.models.history.HistoryEvent"]
    original = module.dt_parse
    with DevHost.load("sample_app.function_app", clock=clock, env=SAMPLE_ENV, memoize_timestamps=True) as host:
        assert module.dt_parse is not original
        state = host.wait_for(host.start_orchestration("retry_orch"))
        assert core(state.history)[-2:] == [("TimerFired", 5), ("ExecutionCompleted", -1)]
    assert module.dt_parse is original


def test_a_scheduled_activity_still_runs_after_terminate(clock: VirtualClock) -> None:
    host = DevHost.load("sample_app.function_app", clock=clock, env=SAMPLE_ENV)  # not started: we step by hand
    engine = host.engine
    iid = engine.start("hello_sequence", '["late"]', "stepped")
    assert engine.step()  # first episode: schedules say_hello
    host.terminate(iid, "stop")
    assert engine.step()  # the activity message was already sent: it runs, its result is dropped
    assert not engine.step()
    assert [(c.name, c.input) for c in host.activity_calls] == [("say_hello", "late")]
    state = host.get(iid)
    assert state.runtime_status == "Terminated"
    assert "TaskCompleted" not in state.event_types()


def test_terminate_or_suspend_before_the_first_episode_keeps_the_host_history_shape(clock: VirtualClock) -> None:
    """The host processes the start message first: ExecutionStarted stays history[1] even when a terminate or a
    suspend arrives before the orchestrator has run once (the worker is not started here, so nothing races)."""
    host = DevHost.load("sample_app.function_app", clock=clock, env=SAMPLE_ENV, determinism_checks=True)
    first = host.engine.start("hello_sequence", ["a"], "t-early")
    host.engine.terminate(first, "stop")
    terminated = host.get(first)
    assert [e["EventType"] for e in terminated.history[:2]] == [EventType.OrchestratorStarted,
                                                                 EventType.ExecutionStarted]
    assert terminated.runtime_status == "Terminated"
    second = host.engine.start("hello_sequence", ["b"], "s-early")
    host.engine.suspend(second, "hold")
    suspended = host.get(second)
    assert [e["EventType"] for e in suspended.history[:2]] == [EventType.OrchestratorStarted,
                                                                EventType.ExecutionStarted]
    assert suspended.event_types().count("ExecutionStarted") == 1
    assert "ExecutionSuspended" in suspended.event_types()


def test_a_sub_orchestration_id_that_exists_is_dropped_and_the_parent_waits_forever(host: DevHost) -> None:
    """DurableTask.AzureStorage drops an ExecutionStarted for an existing instance; nothing answers the parent."""
    first = host.wait_for(host.start_orchestration("parent_orch", instance_id="parent-1"))
    assert first.runtime_status == "Completed"
    host.start_orchestration("parent_orch", instance_id="parent-2")  # reuses the child id "child-1"
    host.wait_idle()
    second = host.get("parent-2")
    assert second.runtime_status == "Running"
    assert second.event_types()[-1] == "SubOrchestrationInstanceCreated"
    assert host.get("child-1").parent_instance_id == "parent-1"  # the finished child was not replaced
    assert host.engine.dropped_starts == [
        "sub-orchestration start for existing instance 'child-1' (Completed) dropped; 'parent-2' will wait forever"]


def test_a_terminated_child_fails_the_parents_task_with_the_terminate_reason(host: DevHost) -> None:
    """TaskOrchestrationDispatcher: SubOrchestrationInstanceFailed(Reason=<terminate reason>, Details=None)."""
    host.start_orchestration("parent_of_waiter", instance_id="p")
    host.wait_idle()
    host.terminate("p-child", "operator stopped it")
    state = host.wait_for("p")
    failed = next(e for e in state.history if e["EventType"] == EventType.SubOrchestrationInstanceFailed)
    assert (failed["Reason"], failed["Details"]) == ("operator stopped it", None)
    assert state.output.startswith("child ended: operator stopped it")
