"""Test-only orchestrators, one per host feature."""

from datetime import timedelta

import azure.durable_functions as df

bp = df.Blueprint()
_calls = {"n": 0}


@bp.orchestration_trigger(context_name="context")
def hello_sequence(context: df.DurableOrchestrationContext):
    cities = context.get_input(expected_type=list) or ["Tokyo", "Seattle", "London"]
    results = []
    for city in cities:
        results.append((yield context.call_activity("say_hello", city)))
    return results


@bp.orchestration_trigger(context_name="context")
def retry_orch(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity_with_retry("always_fails", df.RetryOptions(1000, 3), "x")
    except Exception as exc:
        return str(exc)
    return "unexpected"


@bp.orchestration_trigger(context_name="context")
def sub_retry_orch(context: df.DurableOrchestrationContext):
    try:
        yield context.call_sub_orchestrator_with_retry("failing_orch", df.RetryOptions(500, 2))
    except Exception as exc:
        return str(exc)
    return "unexpected"


@bp.orchestration_trigger(context_name="context")
def short_timer_orch(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=0.3))
    return "woke"


@bp.orchestration_trigger(context_name="context")
def long_timer_orch(context: df.DurableOrchestrationContext):
    start = context.current_utc_datetime
    yield context.create_timer(start + timedelta(days=10))
    return (context.current_utc_datetime - start).total_seconds()


@bp.orchestration_trigger(context_name="context")
def parent_orch(context: df.DurableOrchestrationContext):
    child = yield context.call_sub_orchestrator("hello_sequence", ["Oslo"], "child-1")
    try:
        yield context.call_sub_orchestrator("failing_orch", None)
    except Exception as exc:
        return {"child": child, "error": str(exc)}
    return {"child": child}


@bp.orchestration_trigger(context_name="context")
def failing_orch(context: df.DurableOrchestrationContext):
    yield context.call_activity("say_hello", "before failure")
    context.set_custom_status({"last": "about to fail"})
    raise ValueError("boom orch")


@bp.orchestration_trigger(context_name="context")
def counter_orch(context: df.DurableOrchestrationContext):
    n = context.get_input(expected_type=int)
    value = yield context.call_activity("add_one", n)
    yield context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    if value < 3:
        context.continue_as_new(value)
        return None
    return value


@bp.orchestration_trigger(context_name="context")
def event_orch(context: df.DurableOrchestrationContext):
    event = context.wait_for_external_event("approval")
    timeout = context.create_timer(context.current_utc_datetime + timedelta(days=1))
    winner = yield context.task_any([event, timeout])
    if winner == event:
        timeout.cancel()
        return {"approved": event.result}
    return "timeout"


@bp.orchestration_trigger(context_name="context")
def status_orch(context: df.DurableOrchestrationContext):
    size = context.get_input(expected_type=int) or 0
    context.set_custom_status({"stage": "starting", "pad": "x" * size})
    yield context.call_activity("say_hello", "status")
    context.set_custom_status({"stage": "done"})
    return "ok"


@bp.orchestration_trigger(context_name="context")
def fan_orch(context: df.DurableOrchestrationContext):
    values = yield context.task_all([context.call_activity("add_one", i) for i in range(3)])
    first = yield context.task_any([context.call_activity("say_hello", "a"), context.call_activity("say_hello", "b")])
    return {"all": values, "any": first.result}


@bp.orchestration_trigger(context_name="context")
def unknown_activity_orch(context: df.DurableOrchestrationContext):
    yield context.call_activity("does_not_exist", 1)
    return "unreachable"


@bp.orchestration_trigger(context_name="context")
def nondeterministic_orch(context: df.DurableOrchestrationContext):
    _calls["n"] += 1
    name = "say_hello" if _calls["n"] % 2 else "add_one"
    yield context.call_activity(name, 1)
    return "done"


@bp.orchestration_trigger(context_name="context")
def replay_divergent_orch(context: df.DurableOrchestrationContext):
    _calls["n"] += 1
    if _calls["n"] > 1:  # only diverges when replayed after completing
        yield context.call_activity("say_hello", "extra")
    return "done"


@bp.orchestration_trigger(context_name="context")
def wait_forever(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting")
    value = yield context.wait_for_external_event("go")
    return value


@bp.orchestration_trigger(context_name="context")
def self_child_orch(context: df.DurableOrchestrationContext):
    yield context.call_sub_orchestrator("hello_sequence", ["me"], context.instance_id)
    return "unreachable"


@bp.orchestration_trigger(context_name="context")
def echo_orch(context: df.DurableOrchestrationContext):
    return context.get_input(expected_type=object)
    yield  # a generator, as orchestrators must be


@bp.orchestration_trigger(context_name="context")
def setting_orch(context: df.DurableOrchestrationContext):
    value = yield context.call_activity("read_setting", "DEVHOST_SAMPLE_SETTING")
    return value


@bp.orchestration_trigger(context_name="context")
def parent_of_waiter(context: df.DurableOrchestrationContext):
    try:
        yield context.call_sub_orchestrator("wait_forever", None, f"{context.instance_id}-child")
    except Exception as exc:
        return f"child ended: {exc}"
    return "child completed"
