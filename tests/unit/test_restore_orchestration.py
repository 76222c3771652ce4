"""The restore orchestrator driven directly as a generator: every branch of triggering and operation polling.

A scripted host answers each activity in order (a result dict, or an exception thrown in as a failed task), timers
move the fake clock, and the sub-orchestration answer stands for the job tracker. The e2e suites cover the same
paths through the real SDK; these pin each decision down in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrations.job_tracking import TRACK_JOB
from orchestrations.restore import JOB_LOOKUPS_AFTER_AMBIGUOUS_TRIGGER, RestoreRun
from pgflex_restore.models import RestoreRequest
from pgflex_restore.restore_plan import RestorePlan
from pgflex_restore.settings import Settings
from pgflex_restore.timeutil import format_datetime
from tests.orchestration_driver import FakeContext, Task, activities, drive

NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
VAULT = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
BI = f"{VAULT}/backupInstances/pg1"
TARGET = "https://acct.blob.core.windows.net/restores"
JOB = f"{VAULT}/backupJobs/11111111-2222-3333-4444-555555555555"
POINT = {"id": "rp-0", "time": "2026-11-01T01:00:00Z", "stores": []}
STATUS_URL = "https://management.azure.com/op/status"
RESULT_URL = "https://management.azure.com/op/result"


def plan(**settings: str) -> dict[str, Any]:
    """A plan without the pre-flight: its reads are pinned down in test_preflight_orchestration.py."""
    parsed = Settings.from_env({"RESTORE_TARGET_ALLOWLIST": TARGET, "MAX_TRANSIENT_RETRIES": "2", **settings})
    request = RestoreRequest.from_dict({"backupInstance": BI, "target": {"containerUrl": TARGET, "filePrefix": "p"},
                                        "preflight": False}, allowlist=parsed.restore_target_allowlist)
    return RestorePlan.create("r1", request, parsed).to_dict()


def operation(*, status_url: str | None = STATUS_URL, result_url: str | None = None, retry_after: str | None = "10",
              job_id: str | None = None, done: bool = False) -> dict[str, Any]:
    return {"ok": True, "armCalls": 1, "operation": {"statusUrl": status_url, "resultUrl": result_url,
                                                      "retryAfter": retry_after, "jobId": job_id, "done": done}}


def status(state: str, *, job_id: str | None = None, retry_after: str | None = None) -> dict[str, Any]:
    return {"ok": True, "armCalls": 1, "retryAfter": retry_after,
            "status": {"state": state, "status": state.title(), "jobId": job_id}}


def failed(code: str, *, status_code: int | None = None, retryable: bool = False, unknown: bool = False,
           retry_after: str | None = None) -> dict[str, Any]:
    return {"ok": False, "armCalls": 1, "error": {
        "code": code, "message": f"{code} happened", "retryable": retryable, "outcomeUnknown": unknown,
        "status": status_code, "retryAfter": retry_after}}


def found(job_id: str | None) -> dict[str, Any]:
    return {"ok": True, "armCalls": 1, "jobId": job_id}


TRACKED_OK = {"outcome": "finished", "armCalls": 3, "retries": 0,
              "job": {"status": "Completed", "outcome": "succeeded", "startTime": "s", "endTime": "e",
                      "durationSeconds": 600.0, "progressPercent": 100.0}}


class Host:
    """Answers each activity from its own queue of results, the tracker from one answer; timers return None."""

    def __init__(self, answers: dict[str, list[Any]], tracked: Any = TRACKED_OK) -> None:
        self.answers = {name: list(results) for name, results in answers.items()}
        self.tracked = tracked

    def __call__(self, task: Task) -> Any:
        if task[0] == "timer":
            return None
        if task[0] == "sub":
            assert task[1] == TRACK_JOB and task[3] == "r1:job"
            return self.tracked
        queue = self.answers.get(task[1])
        assert queue, f"unexpected call to {task[1]}"
        return queue.pop(0)


def run(answers: dict[str, list[Any]], *, tracked: Any = TRACKED_OK,
        plan_input: dict[str, Any] | None = None) -> tuple[dict[str, Any], FakeContext]:
    context = FakeContext(plan_input or plan(), NOW, instance_id="r1")
    host = Host(answers, tracked)
    result = drive(RestoreRun(context).run(), context, host)
    leftover = {name: queue for name, queue in host.answers.items() if queue}
    assert not leftover, f"answers never asked for: {leftover}"
    return result, context


def happy(**overrides: list[Any]) -> dict[str, list[Any]]:
    answers: dict[str, list[Any]] = {
        "resolve_recovery_point": [{"ok": True, "armCalls": 1, "recoveryPoint": POINT, "store": "VaultStore"}],
        "validate_restore": [operation()],
        "trigger_restore": [operation()],
        "get_operation_status": [status("succeeded"), status("running"), status("succeeded", job_id=JOB)],
    }
    answers.update(overrides)
    return answers


def timers(context: FakeContext) -> list[datetime]:
    return [t[1] for t in context.scheduled if t[0] == "timer"]


def triggers(context: FakeContext) -> list[dict[str, Any]]:
    return [t[2] for t in context.scheduled if t[0] == "activity" and t[1] == "trigger_restore"]


def test_the_happy_path_polls_at_the_services_cadence_and_succeeds() -> None:
    result, context = run(happy())
    assert result["status"] == "succeeded" and result["jobId"] == JOB and result["validated"]
    assert result["job"]["outcome"] == "succeeded" and result["error"] is None
    assert activities(context) == ["resolve_recovery_point", "validate_restore", "get_operation_status",
                                   "trigger_restore", "get_operation_status", "get_operation_status"]
    # Retry-After 10 on each POST; the running status sent none, so the 10 s cadence is kept.
    assert timers(context) == [NOW + timedelta(seconds=10), NOW + timedelta(seconds=20),
                               NOW + timedelta(seconds=30)]
    assert triggers(context)[0]["attemptedAt"] == (NOW + timedelta(seconds=10)).isoformat()
    assert result["armCalls"] == 6 + 3  # six activities with one call each, and the tracker's three


def test_a_newer_retry_after_from_a_status_poll_sets_the_cadence() -> None:
    result, context = run(happy(get_operation_status=[
        status("succeeded"), status("running", retry_after="60"), status("succeeded", job_id=JOB)]))
    assert result["status"] == "succeeded"
    assert timers(context)[1:] == [NOW + timedelta(seconds=20), NOW + timedelta(seconds=80)]


def test_validate_only_stops_after_validation() -> None:
    result, context = run({key: value for key, value in happy(get_operation_status=[status("succeeded")]).items()
                           if key != "trigger_restore"},
                          plan_input={**plan(), "validateOnly": True})
    assert result["status"] == "validated" and result["jobId"] is None
    assert "trigger_restore" not in activities(context)


def test_a_failed_validation_ends_with_the_services_error() -> None:
    refused = {**status("failed"), "error": {"code": "UserErrorMissingRequiredPermissions", "message": "no",
                                             "retryable": False}}
    result, context = run({key: value for key, value in happy(get_operation_status=[refused]).items()
                           if key != "trigger_restore"})
    assert result["status"] == "failed" and result["error"]["code"] == "UserErrorMissingRequiredPermissions"
    assert not result["validated"] and "trigger_restore" not in activities(context)


def test_a_transient_trigger_failure_backs_off_and_posts_again() -> None:
    result, context = run(happy(trigger_restore=[failed("ServiceUnavailable", status_code=503, retryable=True),
                                                 operation()]))
    assert result["status"] == "succeeded" and result["retries"] == 1
    first, second = triggers(context)
    assert first["attemptedAt"] < second["attemptedAt"]  # not ambiguous: each post stands on its own


def test_an_ambiguous_trigger_finds_its_job_instead_of_posting_again() -> None:
    result, context = run(happy(trigger_restore=[failed("GatewayTimeout", status_code=504, unknown=True)],
                                find_restore_job=[found(JOB)],
                                get_operation_status=[status("succeeded")]))
    assert result["status"] == "succeeded" and result["jobId"] == JOB
    assert len(triggers(context)) == 1
    lookup = next(t[2] for t in context.scheduled if t[0] == "activity" and t[1] == "find_restore_job")
    assert lookup == {"backupInstance": BI, "since": (NOW + timedelta(seconds=10)).isoformat(),
                      "containerUrl": TARGET, "filePrefix": "p", "now": format_datetime(NOW + timedelta(seconds=10))}


def test_an_ambiguous_trigger_whose_job_never_shows_posts_again_with_the_first_attempt_time() -> None:
    lookups = [found(None)] * JOB_LOOKUPS_AFTER_AMBIGUOUS_TRIGGER
    result, context = run(happy(trigger_restore=[failed("ConnectionError", unknown=True), operation()],
                                find_restore_job=lookups))
    assert result["status"] == "succeeded"
    first, second = triggers(context)
    assert first["attemptedAt"] == second["attemptedAt"]  # the activity looks for a job since the first attempt


def test_a_conflict_after_an_ambiguous_trigger_is_taken_for_our_own_job() -> None:
    lookups = [found(None)] * JOB_LOOKUPS_AFTER_AMBIGUOUS_TRIGGER + [found(JOB)]
    result, context = run(happy(
        trigger_restore=[failed("Timeout", unknown=True),
                         failed("UserErrorAnotherOperationInProgress", status_code=409)],
        find_restore_job=lookups, get_operation_status=[status("succeeded")]))
    assert result["status"] == "succeeded" and result["jobId"] == JOB and len(triggers(context)) == 2


def test_a_conflict_without_an_ambiguous_attempt_fails_at_once() -> None:
    result, _ = run(happy(trigger_restore=[failed("UserErrorAnotherOperationInProgress", status_code=409)],
                          get_operation_status=[status("succeeded")]))
    assert result["status"] == "failed" and result["error"]["code"] == "UserErrorAnotherOperationInProgress"
    assert result["restorePost"] == "notAccepted" and result["jobMayBeRunning"] is False  # refused: nothing started


def test_throttling_never_spends_the_retry_budget() -> None:
    throttled = [failed("TooManyRequests", status_code=429, retryable=True, retry_after="7")] * 4
    result, context = run(happy(trigger_restore=[*throttled, operation()]))
    assert result["status"] == "succeeded" and len(triggers(context)) == 5  # budget is 2, four 429s were waited out


def test_transient_failures_beyond_the_budget_fail_with_the_last_error() -> None:
    busy = [failed("InternalServerErrorRetry", status_code=503, retryable=True)] * 3
    result, context = run(happy(trigger_restore=busy, get_operation_status=[status("succeeded")]))
    assert result["status"] == "failed" and result["error"]["code"] == "InternalServerErrorRetry"
    assert len(triggers(context)) == 3


def test_an_accepted_restore_without_a_job_id_is_found_or_reported() -> None:
    no_id = [status("succeeded"), status("succeeded")]
    result, _ = run(happy(get_operation_status=no_id, find_restore_job=[found(JOB)]))
    assert result["status"] == "succeeded" and result["jobId"] == JOB
    lookups = [found(None)] * JOB_LOOKUPS_AFTER_AMBIGUOUS_TRIGGER
    result, _ = run(happy(get_operation_status=no_id, find_restore_job=lookups))
    assert result["status"] == "failed" and result["error"]["code"] == "RestoreOutcomeUnknown"
    assert result["error"]["cause"]["code"] == "NoJobId" and result["jobMayBeRunning"] is True


def test_a_status_without_job_id_falls_back_to_the_location_result() -> None:
    both = operation(result_url=RESULT_URL)
    result, context = run(happy(
        trigger_restore=[both], get_operation_status=[status("succeeded"), status("succeeded")],
        get_operation_result=[{"ok": True, "armCalls": 1, "result": {"done": False, "retryAfter": "5"}},
                              {"ok": True, "armCalls": 1, "result": {"done": True, "jobId": JOB}}]))
    assert result["status"] == "succeeded" and result["jobId"] == JOB
    assert activities(context)[-2:] == ["get_operation_result", "get_operation_result"]


def test_a_location_only_operation_is_polled_by_its_result() -> None:
    result, context = run(happy(
        trigger_restore=[operation(status_url=None, result_url=RESULT_URL, retry_after=None)],
        get_operation_status=[status("succeeded")],
        get_operation_result=[{"ok": True, "armCalls": 1, "result": {"done": True, "jobId": JOB}}]))
    assert result["status"] == "succeeded" and "get_operation_result" in activities(context)


def test_an_operation_with_no_url_at_all_fails_clearly() -> None:
    result, _ = run(happy(trigger_restore=[operation(status_url=None)], get_operation_status=[status("succeeded")]))
    assert result["status"] == "failed" and result["error"]["cause"]["code"] == "NoOperationUrl"
    assert result["error"]["code"] == "RestoreOutcomeUnknown" and result["restorePost"] == "accepted"


def test_a_trigger_that_returns_its_existing_job_is_not_polled() -> None:
    result, context = run(happy(trigger_restore=[operation(status_url=None, done=True, job_id=JOB)],
                                get_operation_status=[status("succeeded")]))
    assert result["status"] == "succeeded" and activities(context).count("get_operation_status") == 1


@pytest.mark.parametrize(("tracked", "expected_status", "code"), [
    (RuntimeError("Orchestrator function 'track_job_orchestrator' failed: boom"), "failed", "JobTrackingFailed"),
    ({**TRACKED_OK, "outcome": "deadline"}, "deadline_exceeded", "DeadlineExceeded"),
    ({**TRACKED_OK, "outcome": "error", "error": {"code": "AuthorizationFailed", "message": "m"}}, "failed",
     "AuthorizationFailed"),
    ({**TRACKED_OK, "job": {"status": "Failed", "outcome": "failed",
                            "errorDetails": [{"code": "UserErrorRestoreFailed", "message": "disk"}]}},
     "failed", "UserErrorRestoreFailed"),
    ({**TRACKED_OK, "job": {"status": "Cancelled", "outcome": "failed"}}, "failed", "JobCancelled"),
])
def test_every_tracker_outcome_becomes_a_result_record(tracked: Any, expected_status: str, code: str) -> None:
    result, _ = run(happy(), tracked=tracked)
    assert result["status"] == expected_status and result["error"]["code"] == code
    assert result["jobId"] == JOB  # the job id is kept, so the caller can find the Azure job
    ended = isinstance(tracked, dict) and tracked["outcome"] == "finished"
    assert result["jobMayBeRunning"] is not ended and result["restorePost"] == "accepted"
    assert (result["findJob"] or {}).get("jobId") == (None if ended else JOB)


def test_the_deadline_ends_a_wait_with_what_is_known() -> None:
    """Validation keeps running (Retry-After 600) past a 30-minute deadline: the last timer stops at the deadline."""
    slow = [status("running", retry_after="600")] * 3
    answers = {key: value for key, value in happy(get_operation_status=slow).items() if key != "trigger_restore"}
    result, context = run(answers, plan_input=plan(RESTORE_TIMEOUT="PT30M"))
    assert result["status"] == "deadline_exceeded" and result["error"]["code"] == "DeadlineExceeded"
    assert timers(context) == [NOW + timedelta(seconds=s) for s in (10, 610, 1210, 1800)]
    assert "no restore was started" in result["error"]["message"] and result["jobId"] is None
    assert result["jobMayBeRunning"] is False and result["restorePost"] == "notAccepted" and result["findJob"] is None


def test_an_activity_crash_is_retried_then_reported() -> None:
    crash: Callable[[], Exception] = lambda: RuntimeError("Activity function 'validate_restore' failed:  KeyError")  # noqa: E731
    result, _ = run({"resolve_recovery_point": [{"ok": True, "recoveryPoint": POINT, "store": "VaultStore"}],
                     "validate_restore": [crash(), crash(), crash()]})
    assert result["status"] == "failed" and result["error"]["code"] == "ActivityFailed"
    assert result["error"]["message"].startswith("Activity function 'validate_restore' failed:")


# -- every failure after the restore POST says whether the Azure job may be running (pgflex_restore/outcome.py) --

OFF_ARM = {"ok": False, "armCalls": 0, "error": {
    "type": "DataProtectionError", "message": "refusing to send the ARM token to https://elsewhere.example/op",
    "retryable": False, "advice": "check ARM_ENDPOINT", "outcomeUnknown": False}}
POSTED = format_datetime(NOW + timedelta(seconds=10))


def test_an_operation_that_cannot_be_followed_says_the_job_may_be_running() -> None:
    result, context = run(happy(get_operation_status=[status("succeeded"), OFF_ARM]))
    assert result["status"] == "failed" and result["jobId"] is None
    assert result["error"]["code"] == "RestoreOutcomeUnknown"
    assert result["error"]["cause"]["code"] == "DataProtectionError"
    assert result["restorePost"] == "accepted" and result["jobMayBeRunning"] is True
    assert result["findJob"]["postedAt"] == POSTED and result["findJob"]["filePrefix"] == "p"
    assert "find_restore_job" not in activities(context)  # nothing else is asked of a service that answered so


def test_polling_that_gives_up_says_the_job_may_be_running() -> None:
    busy = [failed("InternalServerError", status_code=500, retryable=True)] * 3  # the budget is 2 retries
    result, _ = run(happy(get_operation_status=[status("succeeded"), *busy]))
    assert result["error"]["code"] == "RestoreOutcomeUnknown" and result["jobMayBeRunning"] is True
    assert result["error"]["cause"]["code"] == "InternalServerError"


def test_a_restore_operation_that_failed_says_no_job_runs() -> None:
    refused = {**status("failed"), "error": {"code": "UserErrorStorageAccountPermissions", "message": "no"}}
    result, _ = run(happy(get_operation_status=[status("succeeded"), refused]))
    assert result["error"]["code"] == "UserErrorStorageAccountPermissions"
    assert result["restorePost"] == "accepted" and result["jobMayBeRunning"] is False and result["findJob"] is None


@pytest.mark.parametrize("after", [
    [failed("InvalidRequest", status_code=400)],  # a definite refusal after an ambiguous attempt
    [failed("GatewayTimeout", status_code=504, unknown=True, retryable=True)] * 2,  # the budget spent on ambiguity
])
def test_a_post_that_may_have_been_accepted_says_the_job_may_be_running(after: list[dict[str, Any]]) -> None:
    lookups = [found(None)] * JOB_LOOKUPS_AFTER_AMBIGUOUS_TRIGGER * len(after)  # before each later attempt
    result, context = run(happy(trigger_restore=[failed("ConnectionError", unknown=True, retryable=True), *after],
                                find_restore_job=lookups, get_operation_status=[status("succeeded")]))
    assert result["status"] == "failed" and result["error"]["code"] == "RestoreOutcomeUnknown"
    assert result["restorePost"] == "unknown" and result["jobMayBeRunning"] is True
    assert result["findJob"]["postedAt"] == POSTED == format_datetime(datetime.fromisoformat(
        triggers(context)[0]["attemptedAt"]))


def test_a_job_found_after_an_ambiguous_post_counts_as_accepted() -> None:
    result, _ = run(happy(trigger_restore=[failed("GatewayTimeout", status_code=504, unknown=True)],
                          find_restore_job=[found(JOB)], get_operation_status=[status("succeeded")]))
    assert result["status"] == "succeeded" and result["restorePost"] == "accepted"
    assert result["jobMayBeRunning"] is False and result["error"] is None


def test_the_deadline_while_following_the_operation_says_where_the_job_is() -> None:
    slow = [status("succeeded")] + [status("running", retry_after="600")] * 3
    result, _ = run(happy(get_operation_status=slow), plan_input=plan(RESTORE_TIMEOUT="PT30M"))
    assert result["status"] == "deadline_exceeded" and result["error"]["code"] == "DeadlineExceeded"
    assert f"was accepted at {POSTED}" in result["error"]["message"]
    assert result["jobMayBeRunning"] is True and result["findJob"]["postedAt"] == POSTED


UNREADABLE = {"ok": True, "armCalls": 1}  # no ``operation``: the orchestrator's own code fails on it (KeyError)


@pytest.mark.parametrize(("answers", "may_run"), [
    (happy(validate_restore=[UNREADABLE], trigger_restore=[], get_operation_status=[]), False),
    (happy(trigger_restore=[UNREADABLE], get_operation_status=[status("succeeded")]), True),
])
def test_a_bug_in_the_orchestration_still_ends_with_a_record(answers: dict[str, list[Any]], may_run: bool) -> None:
    """Before the POST nothing runs; after it the job may: either way a record, not a failed orchestration."""
    result, _ = run(answers)
    assert result["status"] == "failed" and result["jobMayBeRunning"] is may_run
    code = result["error"]["cause"]["code"] if may_run else result["error"]["code"]
    assert code == "OrchestrationFailed" and "KeyError" in str(result["error"])
