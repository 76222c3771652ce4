"""The restore orchestration: pick a recovery point, validate, trigger once, track the job, report.

Reads as the REST sequence it drives. Every wait is a durable timer sized by the service's Retry-After (or the
poll policy when none is sent); transient errors are waited out a bounded number of times; permanent ones end
the restore at once with the ARM code and advice. The output is always one result record, also for failures
(an unexpected error in this code included), so callers read ``result.status`` rather than parse an exception
text; a failure record says whether the Azure restore job may still be running (pgflex_restore/outcome.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities.jobs import FIND_RESTORE_JOB
from activities.recovery_points import RESOLVE_RECOVERY_POINT
from activities.restore_ops import GET_OPERATION_RESULT, GET_OPERATION_STATUS, TRIGGER_RESTORE, VALIDATE_RESTORE
from orchestrations._steps import (
    ArmSteps,
    DeadlineExceeded,
    StatusBoard,
    StepFailed,
    Steps,
    carry_over,
    is_throttled,
)
from orchestrations.job_tracking import TRACK_JOB, tracking_input
from orchestrations.load import LOAD_ORCHESTRATION, load_input
from orchestrations.notify import Notifier
from orchestrations.preflight import run_preflight
from orchestrations.telemetry import report_restore
from pgflex_restore.errors import NoRecoveryPointError
from pgflex_restore.ids import BackupInstanceId
from pgflex_restore.notify.notices import restore_ended, restore_started
from pgflex_restore.outcome import ACCEPTED, NOT_ACCEPTED, ORCHESTRATION_FAILED, UNKNOWN, JobFacts, outcome_fields
from pgflex_restore.parsing import RecoveryPoint
from pgflex_restore.preflight import PreflightTarget, failure, record
from pgflex_restore.progress import phase_times
from pgflex_restore.restore_plan import RestorePlan, job_tracker_id, loader_id
from pgflex_restore.selection import choose_source_store
from pgflex_restore.telemetry_data import RESTORE_PHASES
from pgflex_restore.timeutil import format_datetime

RESTORE_ORCHESTRATION = "restore_orchestrator"

# After a trigger whose fate is unknown (timeout, dropped connection, 5xx), look for the job this many times,
# one poll interval apart, before posting again: the service may need a moment to list a new job.
JOB_LOOKUPS_AFTER_AMBIGUOUS_TRIGGER = 4

bp = df.Blueprint()


class RestoreRun:
    """One restore's state while the orchestrator replays: the plan, the steps helper and the result record."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.context = context
        self.plan = RestorePlan.from_dict(dict(context.get_input(expected_type=dict) or {}))
        self.started = context.current_utc_datetime
        self.deadline = self.started + timedelta(seconds=self.plan.timeout_seconds)
        self.board = StatusBoard(context, phase="selecting", restoreId=self.plan.restore_id)
        self.steps = ArmSteps(context, self.plan.poll, self.deadline, self.plan.max_transient_retries,
                              self.board)
        target = self.plan.request.get("target", {})
        # What is known of the restore POST and its job (JobFacts): a failure record says what they leave unknown.
        self.post, self.ended = NOT_ACCEPTED, False
        self.posted_at: str | None = None
        self.result: dict[str, Any] = {
            "restoreId": self.plan.restore_id,
            "status": "running",
            "backupInstance": self.plan.backup_instance,
            "validateOnly": self.plan.validate_only,
            "recoveryPoint": None,
            "target": {"containerUrl": target.get("containerUrl"), "filePrefix": target.get("filePrefix")},
            "validateOperation": None,
            "preflight": None,
            "validated": False,
            "restoreOperation": None,
            "jobId": None,
            "job": None,
            "restorePost": NOT_ACCEPTED,
            "jobMayBeRunning": False,
            "findJob": None,
            "startedAt": format_datetime(self.started),
            "finishedAt": None,
            "phases": {},
            "armCalls": 0,
            "retries": 0,
            "origin": self.plan.origin or None,
            "error": None,
        }
        if self.plan.request.get("load") and not self.plan.validate_only:
            self.result["load"] = None

    def run(self) -> Steps:
        try:
            point = yield from self.select()
            # Only a plan that asks for it (every request since the field exists): an older instance replays as it ran.
            if self.plan.request.get("preflight") is True:
                blocked = yield from self.preflight()
                if blocked is not None:
                    return self.finish("preflight_failed", blocked)
            yield from self.validate(point)
            if self.plan.validate_only:
                return self.finish("validated")
            job_id = yield from self.trigger(point)
            return (yield from self.track(job_id))
        except StepFailed as failed:
            return self.finish("failed", failed.error)
        except DeadlineExceeded:
            return self.finish("deadline_exceeded", self.deadline_error())
        except Exception as exc:  # a bug here must still end with a record saying what is known of the job
            return self.finish("failed", {
                "code": ORCHESTRATION_FAILED, "retryable": False,
                "message": f"the restore orchestration failed: {type(exc).__name__}: {exc}"[:500],
                "advice": f"report this with restore id {self.plan.restore_id}"})

    def select(self) -> Steps:
        if self.plan.resolved_point is not None:  # chosen by the caller (a drill): no need to list points again
            point, store = self.plan.resolved_point, self.source_store(self.plan.resolved_point)
        else:
            found = yield from self.steps.call(RESOLVE_RECOVERY_POINT, {"request": self.plan.request})
            point, store = found["recoveryPoint"], found.get("store")
        summary = {"id": point.get("id"), "time": point.get("time"), "store": store}
        self.result["recoveryPoint"] = summary
        self.board.update(phase="validating", recoveryPoint=summary)
        return point

    def source_store(self, point: dict[str, Any]) -> str:
        """The store a given point is restored from (the rule the request body uses; pure, so fine here)."""
        try:
            return choose_source_store(RecoveryPoint.from_dict(point), self.plan.request.get("dataStore"))
        except NoRecoveryPointError as exc:
            raise StepFailed({"code": exc.code, "message": str(exc), "retryable": False}) from exc

    def preflight(self) -> Steps:
        """Check the target before validating (orchestrations/preflight.py): the error that ends the restore when a
        finding blocks it, else None; every finding goes into the record."""
        self.board.update(phase="preflight")
        load = self.plan.request.get("load") or {}
        target = PreflightTarget(self.plan.backup_instance, str(self.result["target"]["containerUrl"]),
                                 point=self.result["recoveryPoint"], load_server=load.get("server"))
        findings = yield from run_preflight(self.steps, target)
        summary = record(findings)
        self.result["preflight"] = summary
        self.board.update(phase="validating", preflight={"blocking": summary["blocking"],
                                                         "warnings": summary["warnings"]})
        return failure(findings)

    def validate(self, point: dict[str, Any]) -> Steps:
        started = yield from self.steps.call(VALIDATE_RESTORE, {"request": self.plan.request, "recoveryPoint": point})
        operation = started["operation"]
        self.result["validateOperation"] = operation.get("statusUrl") or operation.get("resultUrl")
        yield from self.wait_for_operation(operation, want_job=False)
        self.result["validated"] = True

    def trigger(self, point: dict[str, Any]) -> Steps:
        """POST restore at most once per request: after an ambiguous failure, find the job before posting again."""
        self.board.update(phase="restoring", nextCheck=None)
        payload = {"request": self.plan.request, "recoveryPoint": point}
        ambiguous_since: datetime | None = None
        attempt = 0
        carried: dict[str, Any] = {}
        while True:
            if ambiguous_since is not None:
                found = yield from self.find_job(ambiguous_since)
                if found:
                    self.note_post(ACCEPTED, ambiguous_since)
                    return found
            attempt_at = self.context.current_utc_datetime
            # The activity looks for this request's job since its first attempt before it posts (at-least-once).
            first_attempt = ambiguous_since or attempt_at
            started = yield from self.steps.call_once(TRIGGER_RESTORE, {**payload, **carried,
                                                                        "attemptedAt": first_attempt.isoformat()})
            if started.get("ok"):
                self.note_post(ACCEPTED, first_attempt)
                operation = started["operation"]
                self.result["restoreOperation"] = operation.get("statusUrl") or operation.get("resultUrl")
                job_id = yield from self.wait_for_operation(operation, want_job=True)
                # Accepted but no job id came back: the job exists in Azure, so find it rather than fail.
                job_id = job_id or (yield from self.find_job(attempt_at))
                if not job_id:
                    raise StepFailed({"code": "NoJobId", "retryable": False,
                                      "message": "the restore operation succeeded but no backup job was found",
                                      "advice": f"look for a restore job of {self.plan.backup_instance} in the "
                                                "Backup vault's Backup jobs before retrying"})
                return job_id
            error = started["error"]
            carried = carry_over({}, error)
            if _maybe_accepted(error):
                ambiguous_since = ambiguous_since or attempt_at
                self.note_post(UNKNOWN, ambiguous_since)
            elif not error.get("retryable") and not (ambiguous_since is not None and _is_conflict(error)):
                # (A conflict after an ambiguous attempt most likely is our own job: keep looking for it.)
                raise StepFailed(error)
            if attempt >= self.plan.max_transient_retries and not is_throttled(error):
                raise StepFailed(error)
            attempt += 0 if is_throttled(error) else 1
            if ambiguous_since is None:
                yield from self.steps.back_off(max(attempt, 1), error)
            else:
                # The job lookup comes next; a throttled re-post still waits out the service's Retry-After first.
                self.steps.note_retry(error)
                if error.get("retryAfter"):
                    yield from self.steps.wait(self.steps.policy.next_wait(error["retryAfter"], now=self.steps.now))

    def note_post(self, state: str, since: datetime) -> None:
        """Learn what became of the restore POST: ``accepted`` is final, ``unknown`` only replaces ``notAccepted``."""
        if self.post != ACCEPTED:
            self.post = state
        self.posted_at = self.posted_at or format_datetime(since)

    def find_job(self, since: datetime) -> Steps:
        for _ in range(JOB_LOOKUPS_AFTER_AMBIGUOUS_TRIGGER):
            target = self.plan.request["target"]
            found = yield from self.steps.call(FIND_RESTORE_JOB, {
                "backupInstance": self.plan.backup_instance, "since": since.isoformat(),
                "containerUrl": target.get("containerUrl"), "filePrefix": target.get("filePrefix"),
            })
            if found.get("jobId"):
                return found["jobId"]
            yield from self.steps.wait(self.steps.policy.next_wait(None, now=self.steps.now))
        return None

    def wait_for_operation(self, operation: dict[str, Any], *, want_job: bool) -> Steps:
        """The operation's job id once it is terminal. The polling mode is chosen once: Azure-AsyncOperation when
        the service gave one, then Location only if the status succeeded without the job id a restore needs."""
        if operation.get("done") or operation.get("jobId"):
            return operation.get("jobId")
        status_url, result_url = operation.get("statusUrl"), operation.get("resultUrl")
        retry_after = operation.get("retryAfter")
        if status_url:
            job_id, retry_after = yield from self.poll_status(status_url, retry_after)
            if job_id or not want_job or not result_url:
                return job_id
        if not result_url:
            raise StepFailed({"code": "NoOperationUrl", "retryable": False,
                              "message": "the service returned neither Azure-AsyncOperation nor Location"})
        return (yield from self.poll_result(result_url, retry_after))

    def poll_status(self, url: str, retry_after: str | None) -> Steps:
        """GET Azure-AsyncOperation until terminal; (job id or None, the last Retry-After) once it succeeded."""
        while True:
            yield from self.steps.wait(self.steps.policy.next_wait(retry_after, now=self.steps.now))
            polled = yield from self.steps.call(GET_OPERATION_STATUS, {"url": url})
            # A status answer without Retry-After keeps the cadence the service last asked for.
            status, retry_after = polled["status"], polled.get("retryAfter") or retry_after
            if status["state"] == "running":
                continue
            if status["state"] != "succeeded":
                # The restore operation itself failed or was canceled: it leaves no job running.
                self.ended = self.ended or self.post != NOT_ACCEPTED
                raise StepFailed(polled.get("error") or {"code": "OperationFailed", "message": status["status"]})
            return status.get("jobId"), retry_after

    def poll_result(self, url: str, retry_after: str | None) -> Steps:
        """GET Location until it answers done; the job id it carries (None for a 204)."""
        while True:
            yield from self.steps.wait(self.steps.policy.next_wait(retry_after, now=self.steps.now))
            polled = yield from self.steps.call(GET_OPERATION_RESULT, {"url": url})
            result = polled["result"]
            if result.get("done"):
                return result.get("jobId")
            retry_after = result.get("retryAfter") or retry_after

    def track(self, job_id: str) -> Steps:
        self.result["jobId"] = job_id
        self.board.update(phase="tracking", jobId=job_id, nextCheck=None)
        vault = str(BackupInstanceId.parse(self.plan.backup_instance).vault)
        try:
            tracked = yield self.context.call_sub_orchestrator(
                TRACK_JOB,
                tracking_input(vault, job_id, deadline=self.deadline, poll=self.plan.poll,
                               max_retries=self.plan.max_transient_retries,
                               polls_per_generation=self.plan.polls_per_generation),
                job_tracker_id(self.context.instance_id),
                expected_type=dict,
            )
        except Exception as exc:  # the tracker failed (a bug) or was terminated: still give a result record
            return self.finish("failed", {
                "code": "JobTrackingFailed", "retryable": False, "message": str(exc).split("\n")[0],
                "advice": f"the Azure restore job {job_id} may still be running: see the Backup vault's Backup jobs",
            })
        self.steps.arm_calls += int(tracked.get("armCalls", 0))
        self.steps.retries += int(tracked.get("retries", 0))
        self.result["job"] = _job_summary(tracked.get("job"))
        self.ended = tracked["outcome"] == "finished"
        if tracked["outcome"] == "deadline":
            return self.finish("deadline_exceeded", self.deadline_error())
        if tracked["outcome"] == "error":
            return self.finish("failed", tracked["error"])
        job = tracked["job"] or {}
        if job.get("outcome") in ("succeeded", "succeeded_with_warnings"):
            if self.plan.request.get("load"):
                return (yield from self.load())
            return self.finish("succeeded")
        errors = job.get("errorDetails") or []
        first = errors[0] if errors else {}
        return self.finish("failed", {
            "code": first.get("code") or f"Job{job.get('status') or 'Failed'!s}",
            "message": first.get("message") or f"the restore job ended with status {job.get('status')}",
            "advice": "see the job's error details in the Backup vault (Backup center > Backup jobs)",
            "retryable": False,
        })

    def load(self) -> Steps:
        """Load the restored files into the target server (a sub-orchestration: it polls for hours)."""
        self.board.update(phase="loading", nextCheck=None, loadTarget=self.plan.request["load"]["server"])
        target = self.plan.request["target"]
        if not self.plan.load_job:  # the starter refuses such a plan; an old instance's input may lack it
            return self.finish("load_failed", {"code": "ConfigurationError", "retryable": False,
                                               "message": "LOAD_JOB was not set when this restore started",
                                               "advice": "set LOAD_JOB and restore again"})
        try:
            loaded = yield self.context.call_sub_orchestrator(
                LOAD_ORCHESTRATION,
                load_input(restore_id=self.plan.restore_id, load=self.plan.request["load"], job=self.plan.load_job,
                           container_url=target["containerUrl"], prefix=target["filePrefix"], deadline=self.deadline,
                           poll=self.plan.poll, max_retries=self.plan.max_transient_retries,
                           polls_per_generation=self.plan.polls_per_generation),
                loader_id(self.context.instance_id),
                expected_type=dict,
            )
        except Exception as exc:  # the load orchestration failed (a bug) or was terminated
            return self.finish("load_failed", {
                "code": "LoadJobFailed", "retryable": False, "message": str(exc).split("\n")[0],
                "advice": "the loader job may still be running: see the Container Apps job's execution history"})
        self.steps.arm_calls += int(loaded.get("armCalls", 0))
        self.steps.retries += int(loaded.get("retries", 0))
        self.result["load"] = loaded.get("load")
        if loaded["status"] == "deadline":
            return self.finish("deadline_exceeded", self.load_deadline_error(loaded.get("load") or {}))
        return self.finish(loaded["status"], loaded.get("error"))

    def load_deadline_error(self, load: dict[str, Any]) -> dict[str, Any]:
        execution = load.get("execution") or {}
        timeout = timedelta(seconds=self.plan.timeout_seconds)
        if not execution.get("name"):
            where = "the files were restored; no loader execution had been started"
        elif execution.get("stopped"):
            where = f"the files were restored; the loader execution {execution['name']} was stopped"
        else:
            where = (f"the files were restored; the loader execution {execution['name']} could not be stopped: stop "
                     "it in the Container Apps job's execution history")
        return {"code": "DeadlineExceeded", "retryable": False, "failedStep": load.get("failedStep"),
                "message": f"the restore and load did not finish within {timeout} (RESTORE_TIMEOUT); {where}"}

    def deadline_error(self) -> dict[str, Any]:
        job = self.result.get("jobId")
        if job:
            where = (f"the Azure restore job {job} may still be running: check it with GET {job}?api-version=... "
                     "or in the Backup vault's Backup jobs")
        elif self.post == NOT_ACCEPTED:
            where = "no restore was started (no restore request was accepted)"
        else:
            accepted = "was accepted" if self.post == ACCEPTED else "may have been accepted"
            where = (f"the restore {accepted} at {self.posted_at}; its Azure job may still be running: look in the "
                     f"Backup vault's Backup jobs for {self.plan.backup_instance} (findJob)")
        timeout = timedelta(seconds=self.plan.timeout_seconds)
        return {"code": "DeadlineExceeded", "retryable": False,
                "message": f"the restore did not finish within {timeout} (RESTORE_TIMEOUT); {where}"}

    def finish(self, status: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
        target = self.result["target"]
        facts = JobFacts(self.plan.backup_instance, target.get("containerUrl"), target.get("filePrefix"),
                         post=self.post, posted_at=self.posted_at, job_id=self.result.get("jobId"), ended=self.ended)
        outcome = outcome_fields(status, error, facts)
        error = outcome["error"]
        now = self.context.current_utc_datetime
        self.result.update(status=status, finishedAt=format_datetime(now),
                           phases=phase_times(self.board.entered, now, RESTORE_PHASES),
                           armCalls=self.steps.arm_calls, retries=self.steps.retries, **outcome)
        phase = {"validated": "succeeded", "loaded": "succeeded", "deadline_exceeded": "failed",
                 "load_failed": "failed", "preflight_failed": "failed"}.get(status, status)
        self.board.update(phase=phase, nextCheck=None,
                          lastError=f"{error.get('code')}: {error.get('message')}" if error else None)
        return self.result


def _maybe_accepted(error: dict[str, Any]) -> bool:
    """A timeout or dropped connection after sending, a 408/500/502/504, or the activity crashing (perhaps after
    the POST went out): the restore may have started. A 429 or 503 means it was not processed.
    """
    return bool(error.get("outcomeUnknown") or error.get("crash"))


def _is_conflict(error: dict[str, Any]) -> bool:
    return error.get("status") == 409


def _job_summary(job: dict[str, Any] | None) -> dict[str, Any] | None:
    if not job:
        return None
    keys = ("status", "outcome", "startTime", "endTime", "durationSeconds", "progressPercent")
    return {k: job.get(k) for k in keys}


def run_restore(context: df.DurableOrchestrationContext) -> Steps:
    """The restore between its notifications, then its telemetry: ``ended`` goes out and the spans are emitted
    once the result record is final, and only ``notifications`` is added to it (NOTIFY_TARGETS; a drill's own
    restores have no targets)."""
    run = RestoreRun(context)
    notifier = Notifier(context, run.plan.notify, run.board)
    started = yield from notifier.deliver(restore_started(run.plan.to_dict(), run.started))
    result = yield from run.run()
    yield from report_restore(context, run.plan.telemetry, result)
    ended = yield from notifier.deliver(restore_ended(result, context.current_utc_datetime))
    return notifier.attach(result, started + ended)


notified_run = run_restore  # the name the notification tests drive it by


@bp.orchestration_trigger(context_name="context")
def restore_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    return (yield from run_restore(context))
