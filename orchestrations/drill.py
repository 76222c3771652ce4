"""Restore drills: one run orchestration per schedule occurrence, one sub-orchestration per backup instance.

The run cleans up old drill files, lists what to drill, fans out in batches of the plan's concurrency (each
batch a ``task_all``), then records the summary. Each instance drill checks the RPO, runs the ordinary restore
orchestration as a sub-orchestration (validate, restore, track the job: the same code, waits and throttling
behaviour as any restore), verifies the files, records its row and alerts on failure. Everything is decided
from the input, activity results and ``current_utc_datetime``, so replays take the same path.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities.drill_results import (
    DRILL_CLEANUP,
    DRILL_RECORD_RESULT,
    DRILL_RECORD_RUN,
    DRILL_SEND_ALERT,
    DRILL_VERIFY_FILES,
)
from activities.drills import DRILL_CHOOSE_POINT, DRILL_LIST_INSTANCES
from orchestrations._steps import ArmSteps, DeadlineExceeded, StatusBoard, StepFailed, Steps
from orchestrations.drill_load import DROP_DEADLINE, DrillProof, files_check
from orchestrations.notify import Notifier
from orchestrations.restore import RESTORE_ORCHESTRATION
from pgflex_restore.drills.choice import PointChoice
from pgflex_restore.drills.plan import parse_plan
from pgflex_restore.drills.proof import batch_bounds
from pgflex_restore.drills.proof import rpo as rpo_verdict
from pgflex_restore.drills.records import (
    FAILED,
    PASSED,
    SKIPPED,
    alert_message,
    classify_restore_failure,
    lost_outcome,
    scratch_alert,
    summarize_run,
    unrecorded_alert,
)
from pgflex_restore.drills.targets import drill_targets
from pgflex_restore.notify.notices import drill_ended, drill_started
from pgflex_restore.parsing import RecoveryPoint
from pgflex_restore.polling import PollPolicy
from pgflex_restore.restore_plan import RestorePlan
from pgflex_restore.timeutil import format_datetime, parse_datetime

DRILL_RUN_ORCHESTRATION = "drill_run_orchestrator"
DRILL_INSTANCE_ORCHESTRATION = "drill_instance_orchestrator"
# Bookkeeping calls (listing, recording, alerting) get this long to get through throttling and blips.
BOOKKEEPING_DEADLINE = timedelta(hours=2)
# Each batch adds about 4 history events per instance and every episode replays the whole execution, so an
# execution holds about this many sub-orchestrations before continue-as-new (at least one batch): ~400 events
# (412 measured at concurrency 50 by bench/drill_scale.py).
INSTANCES_PER_GENERATION = 100


def batches_per_generation(concurrency: int) -> int:
    return max(1, INSTANCES_PER_GENERATION // max(1, concurrency))
COMPACT_KEYS = ("backupInstance", "instanceName", "vault", "server", "status", "reason")

log = logging.getLogger(__name__)
bp = df.Blueprint()


def _steps(context: df.DurableOrchestrationContext, restore: dict[str, Any], board: StatusBoard,
           deadline: datetime | None = None) -> ArmSteps:
    """Bookkeeping steps: BOOKKEEPING_DEADLINE from now, never past ``deadline`` (the drill's, when given)."""
    policy = PollPolicy.from_dict(restore["poll"])
    until = context.current_utc_datetime + BOOKKEEPING_DEADLINE
    return ArmSteps(context, policy, min(until, deadline) if deadline else until, int(restore["maxTransientRetries"]),
                    board)


def drill_deadline(started: datetime, drill_input: Mapping[str, Any]) -> datetime:
    """When an instance drill stops retrying: BOOKKEEPING_DEADLINE to choose the point, the restore's timeout (the
    load's too, and the drop's hour, when it loads), and BOOKKEEPING_DEADLINE for verifying, recording and
    alerting. A call still due after it gets one attempt, so a drill whose storage died ends with its verdict
    instead of retrying on."""
    timeout = timedelta(seconds=float(drill_input["restore"]["timeoutSeconds"]))
    loads = (drill_input["target"].get("proof") or {}).get("load")
    return started + 2 * BOOKKEEPING_DEADLINE + timeout + (timeout + DROP_DEADLINE if loads else timedelta(0))


def failure_text(exc: Exception, board: StatusBoard) -> str:
    """A failed bookkeeping step, for the record and the log: its error, or at a deadline the last one seen."""
    error = getattr(exc, "error", None)
    if error:
        return f"{error.get('code')}: {error.get('message')}"
    return f"DeadlineExceeded: still failing at the deadline: {board.values.get('lastError') or 'no answer'}"


def report_lost(context: df.DurableOrchestrationContext, run_id: str, outcome: Mapping[str, Any]) -> None:
    """An ERROR log line (once, not on replays) when a drill outcome's row or alert could not be written: with
    storage gone, the log (Application Insights) may be the only place the verdict still reaches."""
    lost = lost_outcome(outcome)
    if lost and not getattr(context, "is_replaying", False):
        log.error("drill run %s: not recorded: %s", run_id, lost)


class DrillRun:
    """The run: cleanup, listing, batched fan-out, summary."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.context = context
        self.input: dict[str, Any] = dict(context.get_input(expected_type=dict) or {})
        self.run_id: str = self.input["runId"]
        raw_plan = self.input["plan"]
        self.plan = parse_plan(raw_plan, allowlist=[raw_plan["container"]])
        self.started = format_datetime(context.current_utc_datetime)
        self.board = StatusBoard(context, phase="cleanup", runId=self.run_id)
        self.notifier = Notifier(context, self.input.get("notify") or [], self.board)
        # Deliveries so far (the start's), carried across continue-as-new in the state.
        self.notifications: list[dict[str, Any]] = list((self.input.get("state") or {}).get("notifications") or [])

    def run(self) -> Steps:
        state = self.input.get("state")
        if state is None:  # the first generation: clean up and list, then drill from the first target
            self.notifications = yield from self.notifier.deliver(
                drill_started(self.input, self.context.current_utc_datetime))
            cleanup = yield from self.cleanup()
            self.board.update(phase="listing")
            try:
                listed = yield from _steps(self.context, self.input["restore"], self.board).call(
                    DRILL_LIST_INSTANCES,
                    {"vaults": list(self.plan.vaults), "instances": [i.backup_instance for i in self.plan.instances]},
                )
            except (StepFailed, DeadlineExceeded) as exc:
                return (yield from self.listing_failed(cleanup, exc))
            state = {"targets": drill_targets(self.plan, listed["instances"], self.run_id), "results": [],
                     "cleanup": cleanup, "startedAt": self.started, "notifications": self.notifications}
        self.started = state["startedAt"]
        done = yield from self.drill(state)
        if not done:
            return None  # continued as new with the results so far
        return (yield from self.finish(state["results"], state["cleanup"]))

    def cleanup(self) -> Steps:
        payload = {"containerUrl": self.plan.container, "runId": self.run_id,
                   "now": format_datetime(self.context.current_utc_datetime),
                   "retentionSeconds": self.plan.retention.total_seconds()}
        try:
            done = yield from _steps(self.context, self.input["restore"], self.board).call(DRILL_CLEANUP, payload)
        except (StepFailed, DeadlineExceeded) as exc:
            return {"error": getattr(exc, "error", {"code": "DeadlineExceeded"})}
        return {k: v for k, v in done.items() if k not in ("ok", "armCalls")}

    def drill(self, state: dict[str, Any]) -> Steps:
        """Batches of ``concurrency`` sub-orchestrations (at most ``load.jobs`` of them loading into one drill
        server), each batch finished before the next starts.

        Only a compact line per instance is kept (the full records are in the table), and after
        about INSTANCES_PER_GENERATION instances the run continues as new, so a large fleet's history stays small.
        Returns False when it continued as new, True when every target is done.
        """
        targets, results = state["targets"], state["results"]
        counts = {s: sum(1 for r in results if r.get("status") == s) for s in (PASSED, FAILED, SKIPPED)}
        self.board.update(phase="drilling", total=len(targets), completed=len(results), **counts)
        size = self.plan.concurrency
        for batches, (start, end) in enumerate(batch_bounds(targets, size, len(results))):
            limit = self.input.get("batchesPerGeneration") or batches_per_generation(size)
            if batches == int(limit):
                self.context.continue_as_new({**self.input, "state": state})
                return False
            tasks = [
                self.context.call_sub_orchestrator(DRILL_INSTANCE_ORCHESTRATION, self.instance_input(t, start + n),
                                                   f"{self.run_id}:{start + n:04d}", expected_type=dict)
                for n, t in enumerate(targets[start:end])
            ]
            done = yield self.context.task_all(tasks)
            for record in done:
                results.append({k: record.get(k) for k in COMPACT_KEYS})
                counts[record["status"]] = counts.get(record["status"], 0) + 1
            self.board.update(completed=len(results), **counts)
        return True

    def instance_input(self, target: dict[str, Any], index: int) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "index": index,
            "target": target,
            "container": self.plan.container,
            "selection": self.plan.selection.to_dict(),
            "maxPointAgeSeconds": self.plan.max_point_age.total_seconds(),
            "restore": self.input["restore"],
            "loadJob": self.input.get("loadJob"),
        }

    def listing_failed(self, cleanup: dict[str, Any], exc: Exception) -> Steps:
        error = getattr(exc, "error", None) or {"code": "DeadlineExceeded", "message": "listing timed out"}
        record = {
            "runId": self.run_id, "backupInstance": None, "vault": None, "server": None, "instanceName": "(run)",
            "status": FAILED, "reason": "listing-failed",
            "message": f"could not list the backup instances to drill: {error.get('code')}: {error.get('message')}",
            "finishedAt": format_datetime(self.context.current_utc_datetime),
        }
        steps = _steps(self.context, self.input["restore"], self.board)
        with contextlib.suppress(StepFailed, DeadlineExceeded):
            yield from steps.call(DRILL_SEND_ALERT, {"alert": alert_message(record,
                                                                            details_path=self.details_path)})
        return (yield from self.finish([record], cleanup, error=record["message"]))

    @property
    def details_path(self) -> str:
        return f"/api/drills/{self.run_id}"

    def finish(self, results: list[dict[str, Any]], cleanup: dict[str, Any], error: str | None = None) -> Steps:
        summary = summarize_run(self.input, results, started_at=self.started,
                                finished_at=format_datetime(self.context.current_utc_datetime), cleanup=cleanup)
        if error:
            summary["error"] = error
        self.board.update(phase="recording")
        # The summary and, if it cannot be written, its alert share one BOOKKEEPING_DEADLINE: the run ends by then.
        deadline = self.context.current_utc_datetime + BOOKKEEPING_DEADLINE
        try:
            yield from _steps(self.context, self.input["restore"], self.board, deadline).call(
                DRILL_RECORD_RUN, {"summary": summary})
        except (StepFailed, DeadlineExceeded) as exc:
            summary["recordError"] = failure_text(exc, self.board)
            try:  # the queue may still work when the table does not
                yield from _steps(self.context, self.input["restore"], self.board, deadline).call(
                    DRILL_SEND_ALERT, {"alert": unrecorded_alert(summary, details_path=self.details_path)})
            except (StepFailed, DeadlineExceeded) as alert_exc:
                summary["alertError"] = failure_text(alert_exc, self.board)
            report_lost(self.context, self.run_id, summary)
        self.board.update(phase="done", status=summary["status"])
        # One notice per run, once its summary is final and recorded.
        ended = yield from self.notifier.deliver(drill_ended(summary, self.context.current_utc_datetime))
        return self.notifier.attach(summary, self.notifications + ended)


class InstanceDrill:
    """One backup instance: RPO check, restore (sub-orchestration), verification, record, alert."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.context = context
        self.input: dict[str, Any] = dict(context.get_input(expected_type=dict) or {})
        self.target: dict[str, Any] = self.input["target"]
        self.run_id: str = self.input["runId"]
        self.board = StatusBoard(context, phase="checking", runId=self.run_id, backupInstance=self.target["id"])
        self.record: dict[str, Any] = {
            "runId": self.run_id, "backupInstance": self.target["id"], "instanceName": self.target["name"],
            "vault": self.target.get("vault"), "server": self.target.get("server"), "status": None,
            "reason": None, "message": None, "recoveryPoint": None, "pointAgeSeconds": None,
            "newestPointAgeSeconds": None, "restoreId": None, "jobId": None, "restoreStatus": None,
            "restoreDurationSeconds": None, "jobDurationSeconds": None, "filePrefix": self.target.get("prefix"),
            "expectedDatabases": self.target.get("expectedDatabases"), "files": [], "databases": {},
            "problems": [], "totalBytes": 0, "startedAt": format_datetime(context.current_utc_datetime),
            "finishedAt": None,
        }
        self.deadline = drill_deadline(context.current_utc_datetime, self.input)

    def call(self, activity: str, payload: dict[str, Any]) -> Steps:
        """Each bookkeeping call gets its own retry deadline from now (a long restore before it must not use up
        the time that verify, record and alert need to wait out throttling), but none beyond the drill's."""
        steps = _steps(self.context, self.input["restore"], self.board, self.deadline)
        return (yield from steps.call(activity, payload))

    def run(self) -> Steps:
        for outcome, key in ((SKIPPED, "skip"), (FAILED, "fail")):
            if self.target.get(key):
                return (yield from self.finish(outcome, self.target[key]["reason"], self.target[key]["message"]))
        try:
            return (yield from self.drill())
        except (StepFailed, DeadlineExceeded) as exc:
            return (yield from self.finish(FAILED, "drill-error", failure_text(exc, self.board)))
        except Exception as exc:  # a failed sub-orchestration or a bug: still a recorded, alerted drill failure
            return (yield from self.finish(FAILED, "drill-error", f"{type(exc).__name__}: {str(exc)[:500]}"))

    def drill(self) -> Steps:
        chosen = yield from self.call(DRILL_CHOOSE_POINT, {
            "backupInstance": self.target["id"], "selection": self.input["selection"],
            "maxPointAgeSeconds": self.input["maxPointAgeSeconds"],
            "seed": f"{self.run_id}|{self.target['id'].lower()}",
        })
        selected_at = format_datetime(self.context.current_utc_datetime)
        choice = PointChoice.from_dict(chosen["choice"])
        self.record.update(choice.summary())
        if choice.failure or choice.point is None:
            return (yield from self.finish(FAILED, choice.failure or "no-recovery-point", choice.message))
        self.board.update(phase="restoring", recoveryPoint=choice.point.id)
        result = yield self.context.call_sub_orchestrator(
            RESTORE_ORCHESTRATION, self.restore_plan(choice.point).to_dict(), f"{self.context.instance_id}:restore",
            expected_type=dict)
        self.note_restore(result)
        if result.get("status") != "succeeded":
            error = result.get("error") or {}
            message = f"{error.get('code')}: {error.get('message')}" if error else str(result.get("status"))
            return (yield from self.finish(FAILED, classify_restore_failure(result), message))
        self.board.update(phase="verifying")
        verified = yield from self.call(DRILL_VERIFY_FILES, {
            "containerUrl": self.input["container"], "prefix": self.target["prefix"], "leaf": self.target["leaf"],
            "expectedDatabases": self.target.get("expectedDatabases"),
        })
        report = verified["report"]
        self.record.update(files=report["files"], databases=report["databases"], problems=report["problems"],
                           totalBytes=report["totalBytes"], rangedReads=report.get("rangedReads"))
        if self.target.get("proof"):
            return (yield from self.prove(report, selected_at, result))
        if report["problems"]:
            first = report["problems"][0]
            message = "; ".join(p["message"] for p in report["problems"][:5])
            return (yield from self.finish(FAILED, first["code"], message))
        databases = ", ".join(sorted(report["databases"])) or "none"
        return (yield from self.finish(PASSED, None, f"restored and verified: {databases}"))

    def prove(self, report: dict[str, Any], selected_at: str, restore: dict[str, Any]) -> Steps:
        """Load, check, drop and measure (orchestrations/drill_load.py), then finish with the verdict."""
        proof = DrillProof(self.context, self.call, self.board, self.input, self.record)
        status, reason, message = yield from proof.run(files_check(report), selected_at, restore)
        if report["problems"]:
            first = report["problems"][0]
            return (yield from self.finish(FAILED, first["code"],
                                           "; ".join(p["message"] for p in report["problems"][:5])))
        if status == FAILED:
            return (yield from self.finish(FAILED, reason, message))
        databases = ", ".join(sorted(report["databases"])) or "none"
        if not self.target["proof"].get("load"):
            return (yield from self.finish(PASSED, None, f"restored and verified: {databases}"))
        outcome = (self.record.get("scratch") or {}).get("outcome")
        return (yield from self.finish(PASSED, None, f"restored, loaded and checked: {databases}; scratch "
                                                     f"databases {'dropped' if outcome == 'dropped' else outcome}"))

    def restore_plan(self, point: RecoveryPoint) -> RestorePlan:
        restore = self.input["restore"]
        request = {
            "backupInstance": self.target["id"],
            "recoveryPoint": point.id,
            "target": {"containerUrl": self.input["container"],
                       "filePrefix": self.target["prefix"] + self.target["leaf"]},
            "validateOnly": False,
        }
        return RestorePlan(
            restore_id=f"{self.context.instance_id}:restore", request=request, backup_instance=self.target["id"],
            validate_only=False, poll=PollPolicy.from_dict(restore["poll"]),
            timeout_seconds=float(restore["timeoutSeconds"]),
            max_transient_retries=int(restore["maxTransientRetries"]),
            origin={"via": "drill", "runId": self.run_id},
            resolved_point=point.to_dict(),  # listed already for the RPO check: the restore need not list again
            telemetry=bool(restore.get("telemetry")),
        )

    def note_restore(self, result: dict[str, Any]) -> None:
        job = result.get("job") or {}
        duration = None
        if result.get("startedAt") and result.get("finishedAt"):
            duration = (parse_datetime(result["finishedAt"]) - parse_datetime(result["startedAt"])).total_seconds()
        self.record.update(restoreId=result.get("restoreId"), jobId=result.get("jobId"),
                           restoreStatus=result.get("status"), restoreDurationSeconds=duration,
                           jobDurationSeconds=job.get("durationSeconds"), armCalls=result.get("armCalls"))

    def finish(self, status: str, reason: str | None, message: str | None) -> Steps:
        self.record.update(status=status, reason=reason, message=message,
                           finishedAt=format_datetime(self.context.current_utc_datetime))
        proof = self.target.get("proof")
        if proof and "rpo" not in self.record and self.record.get("pointAgeSeconds") is not None:
            self.record["rpo"] = rpo_verdict(self.record["pointAgeSeconds"], proof.get("rpoTargetSeconds"))
        self.board.update(phase="recording", status=status, reason=reason)
        try:
            yield from self.call(DRILL_RECORD_RESULT, {"record": self.record})
        except (StepFailed, DeadlineExceeded) as exc:
            self.record["recordError"] = failure_text(exc, self.board)
        details = f"/api/drills/{self.run_id}"
        alerts = [alert_message(self.record, details_path=details)] if status == FAILED else []
        if "recordError" in self.record and status != FAILED:  # a verdict with no row: alert it, whatever it is
            alerts.append(unrecorded_alert(self.record, details_path=details))
        if (self.record.get("scratch") or {}).get("outcome") == "failed":
            alerts.append(scratch_alert(self.record, details_path=details))
        for alert in alerts:
            try:
                yield from self.call(DRILL_SEND_ALERT, {"alert": alert})
            except (StepFailed, DeadlineExceeded) as exc:
                self.record["alertError"] = failure_text(exc, self.board)
        report_lost(self.context, self.run_id, self.record)
        self.board.update(phase="done")
        return self.record


@bp.orchestration_trigger(context_name="context")
def drill_run_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    return (yield from DrillRun(context).run())


@bp.orchestration_trigger(context_name="context")
def drill_instance_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    return (yield from InstanceDrill(context).run())
