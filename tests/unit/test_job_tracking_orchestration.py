"""The job tracker driven directly as a generator: finish, keep polling, continue as new, fail, run out of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrations.job_tracking import track_job, tracking_input
from pgflex_restore.polling import PollPolicy
from pgflex_restore.timeutil import parse_datetime
from tests.orchestration_driver import FakeContext, Task, activities, drive

NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
VAULT = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
JOB = f"{VAULT}/backupJobs/11111111-2222-3333-4444-555555555555"


def state(*, hours: float = 24, per_generation: int = 10) -> dict[str, Any]:
    return tracking_input(VAULT, JOB, deadline=NOW + timedelta(hours=hours), poll=PollPolicy(5, 600, 30),
                          max_retries=2, polls_per_generation=per_generation)


def job(status: str, outcome: str, progress: float | None = None) -> dict[str, Any]:
    return {"ok": True, "armCalls": 1, "job": {"status": status, "outcome": outcome, "progressPercent": progress}}


def scripted(answers: list[Any]) -> Any:
    queue = list(answers)

    def answer(task: Task) -> Any:
        if task[0] == "timer":
            return None
        assert task[1] == "get_job"
        assert {k: v for k, v in task[2].items() if k != "now"} == {"vault": VAULT, "jobId": JOB}
        assert parse_datetime(task[2]["now"]) >= NOW  # the orchestration's time, for pacing
        return queue.pop(0)

    return answer


def test_a_finished_job_ends_the_tracker_with_its_last_state() -> None:
    context = FakeContext(state(), NOW)
    summary = drive(track_job(context), context, scripted([job("InProgress", "running", 40), job("Completed",
                                                                                              "succeeded", 100)]))
    assert summary["outcome"] == "finished" and summary["job"]["status"] == "Completed"
    assert (summary["polls"], summary["armCalls"]) == (2, 2)
    assert [t[1] for t in context.scheduled if t[0] == "timer"] == [NOW + timedelta(seconds=30)]  # the default wait
    assert context.status["jobStatus"] == "Completed" and context.status["progress"] == 100


def test_a_long_job_continues_as_new_carrying_its_counts() -> None:
    context = FakeContext(state(per_generation=3), NOW)
    summary = drive(track_job(context), context, scripted([job("InProgress", "running", p) for p in (10, 20, 30)]))
    assert summary is None and activities(context) == ["get_job"] * 3
    carried = context.continued
    assert carried is not None
    assert (carried["polls"], carried["armCalls"], carried["generation"]) == (3, 3, 1)
    assert carried["lastJob"]["progressPercent"] == 30
    follow = FakeContext(carried, NOW + timedelta(minutes=2))
    summary = drive(track_job(follow), follow, scripted([job("Completed", "succeeded", 100)]))
    assert summary["outcome"] == "finished" and summary["polls"] == 4 and summary["armCalls"] == 4


def test_a_permanent_error_ends_the_tracker_with_that_error() -> None:
    denied = {"ok": False, "armCalls": 1, "error": {"code": "AuthorizationFailed", "message": "m", "retryable": False}}
    context = FakeContext(state(), NOW)
    summary = drive(track_job(context), context, scripted([denied]))
    assert summary["outcome"] == "error" and summary["error"]["code"] == "AuthorizationFailed"
    assert summary["job"] is None


def test_the_deadline_ends_the_tracker() -> None:
    context = FakeContext(state(hours=1 / 120), NOW)  # 30 s: one poll, then the wait reaches the deadline
    summary = drive(track_job(context), context, scripted([job("InProgress", "running", 5)]))
    assert summary["outcome"] == "deadline" and summary["polls"] == 1
    assert summary["job"]["status"] == "InProgress"
