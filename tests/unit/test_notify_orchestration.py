"""Notifications inside the orchestrations, driven as generators: parallel rounds, retries on durable timers
sized by Retry-After, at most three attempts, records for the result, and never a change to the outcome."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrations.drill import DrillRun
from orchestrations.notify import Notifier
from orchestrations.restore import notified_run
from pgflex_restore.models import RestoreRequest
from pgflex_restore.notify.notices import restore_ended
from pgflex_restore.restore_plan import RestorePlan
from pgflex_restore.settings import Settings
from tests.orchestration_driver import FakeContext, Task, drive
from tests.unit.test_drill_orchestrations import run_answers, run_input
from tests.unit.test_restore_orchestration import BI, JOB, TARGET, TRACKED_OK, happy

NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
SECRET = "SeCrEtPaTh0123456789"
TARGETS = [{"type": "webhook", "url": f"https://hooks.example/{SECRET}"},
           {"type": "teams", "url": f"https://prod.logic.azure.com/workflows/{SECRET}?sig=x{SECRET}",
            "events": ["started", "ended"]},
           {"type": "slack", "url": f"https://hooks.slack.com/services/{SECRET}", "on": ["drill"]}]
OK = {"delivered": True, "status": 200, "retryable": False, "retryAfter": None, "error": None}


def failed(status: int, *, retryable: bool = True, after: float | None = None) -> dict[str, Any]:
    return {"delivered": False, "status": status, "retryable": retryable, "retryAfter": after,
            "error": f"HTTP {status}"}


def targets(kind: str = "restore") -> list[dict[str, Any]]:
    from pgflex_restore.notify.targets import snapshot

    return snapshot(Settings.from_env({"NOTIFY_TARGETS": json.dumps(TARGETS)}).notify_targets, kind)


Answers = dict[str, list[dict[str, Any]]]  # label -> answers in order


def playing(answers: Answers, fallback: Callable[[Task], Any] | None = None) -> Callable[[Task], Any]:
    """Answer each delivery round (a task_all of notify_deliver calls) from each target's queue."""
    def answer(task: Task) -> Any:
        if task[0] == "all" and task[1] and task[1][0][1] == "notify_deliver":
            return [answers[call[2]["label"]].pop(0) for call in task[1]]
        if task[0] == "timer":
            return None
        assert fallback is not None, f"unexpected {task}"
        return fallback(task)
    return answer


def deliver(notice: dict[str, Any], answers: Answers, kind: str = "restore") -> tuple[list[dict[str, Any]],
                                                                                      FakeContext]:
    context = FakeContext({}, NOW, "r1")
    records = drive(Notifier(context, targets(kind)).deliver(notice), context, playing(answers))
    assert not any(queue for queue in answers.values()), answers
    return records, context


def ended() -> dict[str, Any]:
    return restore_ended({"restoreId": "r1", "status": "succeeded"}, NOW)


def test_each_target_is_tried_until_delivered_or_refused_at_most_three_times() -> None:
    records, context = deliver(ended(), {
        "webhook hooks.example": [failed(500), OK],
        "teams prod.logic.azure.com": [failed(404, retryable=False)],
    })
    assert [(r["target"], r["delivered"], r["attempts"], r["status"]) for r in records] == [
        ("webhook hooks.example", True, 2, 200), ("teams prod.logic.azure.com", False, 1, 404)]
    assert records[1]["error"] == "HTTP 404" and records[0]["error"] is None
    assert all(r["event"] == "ended" and r["deliveryId"] == ended()["deliveryId"] for r in records)
    rounds = [len(t[1]) for t in context.scheduled if t[0] == "all"]
    assert rounds == [2, 1]  # the second round only for the one worth trying again
    assert [t[1] for t in context.scheduled if t[0] == "timer"] == [NOW + timedelta(seconds=5)]


def test_a_receiver_down_for_good_is_given_up_after_three_attempts() -> None:
    records, context = deliver(ended(), {"webhook hooks.example": [failed(500)] * 3,
                                         "teams prod.logic.azure.com": [OK]})
    assert (records[0]["delivered"], records[0]["attempts"], records[0]["status"]) == (False, 3, 500)
    timers = [t[1] for t in context.scheduled if t[0] == "timer"]
    assert timers == [NOW + timedelta(seconds=5), NOW + timedelta(seconds=25)]  # backoff 5 s, then 20 s


def test_the_wait_honours_the_longest_retry_after_cut_to_a_minute() -> None:
    _, context = deliver(ended(), {"webhook hooks.example": [failed(429, after=30.0), OK],
                                   "teams prod.logic.azure.com": [failed(503, after=45.0), failed(503, after=900), OK]})
    assert [t[1] for t in context.scheduled if t[0] == "timer"] == [NOW + timedelta(seconds=45),
                                                                   NOW + timedelta(seconds=105)]


def test_activity_inputs_hold_the_index_and_never_the_url() -> None:
    _, context = deliver(ended(), {"webhook hooks.example": [OK], "teams prod.logic.azure.com": [OK]})
    calls = [call[2] for t in context.scheduled if t[0] == "all" for call in t[1]]
    assert [(c["target"], c["label"], c["attempt"]) for c in calls] == [
        (0, "webhook hooks.example", 1), (1, "teams prod.logic.azure.com", 1)]
    assert SECRET not in json.dumps(context.scheduled, default=str)


def test_only_targets_wanting_the_event_get_it_and_none_means_no_call() -> None:
    started = {**ended(), "event": "started"}
    records, _ = deliver(started, {"teams prod.logic.azure.com": [OK]})
    assert [r["target"] for r in records] == ["teams prod.logic.azure.com"]
    context = FakeContext({}, NOW, "r1")
    assert drive(Notifier(context, []).deliver(ended()), context, playing({})) == []
    assert context.scheduled == []


def test_a_failed_round_is_tried_again_like_a_server_error() -> None:
    calls = {"n": 0}

    def answer(task: Task) -> Any:
        if task[0] == "timer":
            return None
        calls["n"] += 1
        return RuntimeError("Activity function 'notify_deliver' failed: boom") if calls["n"] == 1 else [OK, OK]

    context = FakeContext({}, NOW, "r1")
    records = drive(Notifier(context, targets()).deliver(ended()), context, answer)
    assert [(r["delivered"], r["attempts"]) for r in records] == [(True, 2), (True, 2)]


def restore_plan(notify: bool = True) -> dict[str, Any]:
    env = {"RESTORE_TARGET_ALLOWLIST": TARGET, "MAX_TRANSIENT_RETRIES": "2"}
    if notify:
        env["NOTIFY_TARGETS"] = json.dumps(TARGETS)
    parsed = Settings.from_env(env)
    request = RestoreRequest.from_dict({"backupInstance": BI, "target": {"containerUrl": TARGET, "filePrefix": "p"},
                                        "preflight": False},  # its reads are tested on their own
                                       allowlist=parsed.restore_target_allowlist)
    return RestorePlan.create("r1", request, parsed).to_dict()


def restore_answers(arm: dict[str, list[Any]]) -> Callable[[Task], Any]:
    def answer(task: Task) -> Any:
        if task[0] == "timer":
            return None
        if task[0] == "sub":
            return TRACKED_OK
        return arm[task[1]].pop(0)
    return answer


def test_a_restore_notifies_its_start_first_and_its_end_last_without_changing_its_outcome() -> None:
    context = FakeContext(restore_plan(), NOW, "r1")
    answers = {"teams prod.logic.azure.com": [OK, failed(500), failed(500), failed(500)],
               "webhook hooks.example": [failed(502), OK]}
    result = drive(notified_run(context), context, playing(answers, restore_answers(happy())))
    assert result["status"] == "succeeded" and result["jobId"] == JOB and result["error"] is None
    kinds = [t[0] if t[0] != "activity" else t[1] for t in context.scheduled]
    assert kinds[0] == "all" and kinds[1] == "resolve_recovery_point"  # started: before the first ARM call
    # ended: three rounds (two timers between them) after the job was tracked to its end
    assert kinds[kinds.index("sub") + 1:] == ["all", "timer", "all", "timer", "all"]
    assert [(n["target"], n["event"], n["delivered"], n["attempts"]) for n in result["notifications"]] == [
        ("teams prod.logic.azure.com", "started", True, 1),
        ("webhook hooks.example", "ended", True, 2),
        ("teams prod.logic.azure.com", "ended", False, 3)]
    assert "notifying" not in (context.status or {}) and context.status["phase"] == "succeeded"


def test_a_restore_without_targets_has_no_notifications_key() -> None:
    context = FakeContext(restore_plan(notify=False), NOW, "r1")
    result = drive(notified_run(context), context, restore_answers(happy()))
    assert result["status"] == "succeeded" and "notifications" not in result
    assert not any(t[0] == "all" for t in context.scheduled)


def test_a_failed_restore_is_notified_as_failed() -> None:
    context = FakeContext(restore_plan(), NOW, "r1")
    arm = happy(validate_restore=[{"ok": False, "armCalls": 1, "error": {
        "code": "UserErrorMissingRequiredPermissions", "message": "no role", "retryable": False}}],
        trigger_restore=[], get_operation_status=[])
    answers = {"teams prod.logic.azure.com": [OK, OK], "webhook hooks.example": [OK]}
    result = drive(notified_run(context), context, playing(answers, restore_answers(arm)))
    assert result["status"] == "failed" and len(result["notifications"]) == 3
    ended_calls = [call[2]["notice"] for t in context.scheduled if t[0] == "all" for call in t[1]
                   if call[2]["notice"]["event"] == "ended"]
    assert ended_calls and all(n["status"] == "failed" and n["error"]["code"] == "UserErrorMissingRequiredPermissions"
                               for n in ended_calls)


def test_a_drill_run_notifies_once_per_run_across_generations() -> None:
    """Started in the first generation, ended once the summary is recorded; the records survive continue-as-new."""
    notify = targets("drill")
    answers = {"teams prod.logic.azure.com": [OK, OK], "webhook hooks.example": [OK],
               "slack hooks.slack.com": [OK]}
    answer = playing(answers, run_answers)
    context = FakeContext(run_input(batchesPerGeneration=2, notify=notify), NOW, "drill-1")
    assert drive(DrillRun(context).run(), context, answer) is None
    assert context.continued is not None
    assert [n["event"] for n in context.continued["state"]["notifications"]] == ["started"]
    follow = FakeContext(context.continued, NOW, "drill-1")
    summary = drive(DrillRun(follow).run(), follow, answer)
    assert [(n["target"], n["event"]) for n in summary["notifications"]] == [
        ("teams prod.logic.azure.com", "started"), ("webhook hooks.example", "ended"),
        ("teams prod.logic.azure.com", "ended"), ("slack hooks.slack.com", "ended")]
    [round_] = [t for t in follow.scheduled if t[0] == "all" and t[1][0][1] == "notify_deliver"]
    notice = round_[1][0][2]["notice"]
    assert (notice["kind"], notice["id"], notice["details"]["total"]) == ("drill", "drill-1", 7)
    names = [t[1] for t in follow.scheduled if t[0] == "activity"]
    assert names == ["drill_record_run"]  # the end is notified after the run is recorded
