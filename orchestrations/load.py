"""Sub-orchestration: load a restore's files into the target flexible server through the loader job.

Reads as docs/loading.md's sequence: the server (must be Ready), the extensions the dumps create (the server's
allowlist is widened only when something is missing), the ledger, the job, one execution started at most once,
polled until it ends, then the loader's report and the ledger again. Every wait is a durable timer within the
restore's deadline; at the deadline the execution is stopped. Polling continues-as-new every
``pollsPerGeneration`` polls, so a load of many hours keeps a small history, as job tracking does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from activities.drill_load import DRILL_READ_DROP_REPORT
from activities.load import (
    LOAD_FIND_EXECUTION,
    LOAD_GET_EXECUTION,
    LOAD_GET_EXTENSIONS,
    LOAD_GET_JOB,
    LOAD_GET_SERVER,
    LOAD_GET_START_RESULT,
    LOAD_PUT_EXTENSIONS,
    LOAD_START_EXECUTION,
    LOAD_STOP_EXECUTION,
)
from activities.load_files import LOAD_LEDGER_READ, LOAD_LEDGER_RECORD, LOAD_READ_EXTENSIONS, LOAD_READ_REPORT
from activities.restore_ops import GET_OPERATION_RESULT, GET_OPERATION_STATUS
from orchestrations._steps import (
    ArmSteps,
    DeadlineExceeded,
    StatusBoard,
    StepFailed,
    Steps,
    carry_over,
    is_throttled,
)
from pgflex_restore.load_arm import ExtensionsConfiguration, load_request, plan_extensions, start_body
from pgflex_restore.load_report import load_outcome, step_error, summarize_report
from pgflex_restore.polling import PollPolicy
from pgflex_restore.timeutil import format_datetime

LOAD_ORCHESTRATION = "load_orchestrator"
# After a start whose outcome is unknown, look for the execution this many times, a poll interval apart, before
# posting again (the restore's trigger does the same for its job).
EXECUTION_LOOKUPS = 4

bp = df.Blueprint()


def load_input(
    *, restore_id: str, load: dict[str, Any], job: str, container_url: str, prefix: str, deadline: datetime,
    poll: PollPolicy, max_retries: int, polls_per_generation: int,
) -> dict[str, Any]:
    """The sub-orchestration's first input; later generations carry ``stage`` and ``record`` on."""
    return {
        "restoreId": restore_id, "load": load, "job": job, "containerUrl": container_url, "prefix": prefix,
        "deadline": deadline.isoformat(), "poll": poll.to_dict(), "maxTransientRetries": max_retries,
        "pollsPerGeneration": polls_per_generation, "stage": "prepare", "record": {}, "polls": 0,
        "armCalls": 0, "retries": 0, "generation": 0,
    }


class StepError(Exception):
    """An app-side step failed: ``error`` is the restore's error (``Load<Step>Failed``)."""

    def __init__(self, step: str, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.step = step
        self.error = error


class LoadRun:
    """One generation of a load: prepare and start (generation 0), then poll until the execution ends."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.context = context
        self.state: dict[str, Any] = dict(context.get_input(expected_type=dict) or {})
        self.load: dict[str, Any] = self.state["load"]
        self.record: dict[str, Any] = dict(self.state.get("record") or {})
        self.polls = int(self.state.get("polls") or 0)
        self.step = "running" if self.state.get("stage") == "poll" else "server"
        self.board = StatusBoard(context, phase="loading", loadStep=self.step, loadJob=self.state["job"],
                                 loadServer=self.record.get("server"),
                                 execution=(self.record.get("execution") or {}).get("name"),
                                 loadPolls=self.polls or None)
        self.steps = ArmSteps(context, PollPolicy.from_dict(self.state["poll"]),
                              datetime.fromisoformat(self.state["deadline"]), int(self.state["maxTransientRetries"]),
                              self.board, arm_calls=int(self.state.get("armCalls") or 0),
                              retries=int(self.state.get("retries") or 0))

    def run(self) -> Steps:
        execution: dict[str, Any] | None = None
        try:
            if self.state["stage"] == "prepare":
                yield from self.prepare()
            execution = yield from self.poll()
            if execution is None:
                return None  # continued as new
            return (yield from self.finish_load(execution))
        except StepError as failed:
            self.record.update(status="failed", failedStep=failed.step, error=failed.error)
            return self.output("load_failed", failed.error)
        except DeadlineExceeded:
            return (yield from self.stop_at_deadline())

    def call(self, step: str, activity: str, payload: dict[str, Any], *, shown: str | None = None) -> Steps:
        """One activity through ArmSteps; a permanent failure becomes this step's error. ``shown``: the step
        the status shows, when it says more than the error's step (``running`` while the execution is polled)."""
        self.step = shown or step
        self.board.update(loadStep=self.step)
        try:
            return (yield from self.steps.call(activity, payload))
        except StepFailed as failed:
            raise StepError(step, step_error(step, failed.error)) from failed

    # -- generation 0: server, extensions, ledger, job, start -----------------------------------------------

    def prepare(self) -> Steps:
        server = self.load["server"]
        found = (yield from self.call("server", LOAD_GET_SERVER, {"server": server}))["server"]
        self.record.update(serverId=server, server=found.get("host"), serverVersion=found.get("version"))
        self.board.update(loadServer=found.get("host"))
        if (found.get("state") or "").lower() != "ready":
            raise StepError("server", {
                "code": "LoadServerFailed", "failedStep": "server", "retryable": False,
                "message": f"the server {server} is {found.get('state') or 'in an unknown state'}, not Ready",
                "advice": "start the server (or wait for its running operation) and restore again"})
        if not found.get("host"):
            raise StepError("server", {"code": "LoadServerFailed", "failedStep": "server", "retryable": False,
                                       "message": f"ARM gave no fullyQualifiedDomainName for {server}",
                                       "advice": "check the server in the portal; it must be reachable by name"})
        if self.dropping:  # a drill's scratch databases: nothing is created, so no extensions and no ledger
            ledger: dict[str, Any] = {}
        else:
            yield from self.extensions(server)
            ledger = yield from self.call("ledger", LOAD_LEDGER_READ, {"host": found["host"]})
        template = (yield from self.call("job", LOAD_GET_JOB, {"job": self.state["job"]}))["template"]
        document = load_request(run_id=self.state["restoreId"], container_url=self.state["containerUrl"],
                                prefix=self.state["prefix"], host=found["host"], load=self.load,
                                replaceable=ledger.get("replaceable") or [])
        self.record.update(job=self.state["job"])
        execution = yield from self.start(start_body(template, document))
        self.record["execution"] = {"name": execution["name"]}
        self.board.update(execution=execution["name"], loadStep="running")
        self.state["stage"] = "poll"

    def extensions(self, server: str) -> Steps:
        dumps = yield from self.call("extensions", LOAD_READ_EXTENSIONS, {
            "containerUrl": self.state["containerUrl"], "prefix": self.state["prefix"],
            "databases": sorted(self.load["databases"]) if self.load.get("databases") else None})
        config = (yield from self.call("extensions", LOAD_GET_EXTENSIONS, {"server": server}))["configuration"]
        current = ExtensionsConfiguration(tuple(config.get("value") or ()), tuple(config["allowedValues"])
                                          if config.get("allowedValues") is not None else None)
        wanted = list(dumps.get("extensions") or [])
        allowed = {v.lower() for v in current.allowed_values or ()}
        if self.load.get("amcheck") and (current.allowed_values is None or "amcheck" in allowed):
            wanted.append("amcheck")  # a drill's integrity check needs it allowed; where it cannot be, it is skipped
        plan = plan_extensions(wanted, current)
        self.record["extensions"] = {"needed": list(plan.needed), "added": list(plan.missing)}
        if plan.not_allowed:
            raise StepError("extensions", {
                "code": "LoadExtensionsFailed", "failedStep": "extensions", "retryable": False,
                "message": f"the dumps create extension(s) {', '.join(plan.not_allowed)}, which this server cannot "
                           "allow (not in azure.extensions' allowedValues)",
                "advice": "restore into a server (version) that offers these extensions, or load only the "
                          "databases that do not need them (load.databases)"})
        if not plan.missing:
            return
        started = yield from self.call("extensions", LOAD_PUT_EXTENSIONS, {"server": server, "value": plan.value})
        yield from self.wait_for_operation(started["operation"])

    def wait_for_operation(self, operation: dict[str, Any]) -> Steps:
        """Poll the configuration PUT's Azure-AsyncOperation (else its Location) until it ends, every Retry-After."""
        retry_after = operation.get("retryAfter")
        if operation.get("done"):
            return
        url, activity = ((operation["statusUrl"], GET_OPERATION_STATUS) if operation.get("statusUrl")
                         else (operation.get("resultUrl"), GET_OPERATION_RESULT))
        while url:
            yield from self.steps.wait(self.steps.policy.next_wait(retry_after, now=self.steps.now))
            polled = yield from self.call("extensions", activity, {"url": url})
            if activity == GET_OPERATION_RESULT:
                if polled["result"].get("done"):
                    return
                retry_after = polled["result"].get("retryAfter") or retry_after
                continue
            status, retry_after = polled["status"], polled.get("retryAfter") or retry_after
            if status["state"] == "succeeded":
                return
            if status["state"] != "running":
                cause = polled.get("error") or {"code": "OperationFailed", "message": status["status"]}
                raise StepError("extensions", step_error("extensions", cause))

    def start(self, body: dict[str, Any]) -> Steps:
        """Start the execution at most once. Every attempt carries the first attempt's time, so a re-run of the
        activity looks for this restore's execution before posting; after a failure that may have started one
        (no answer, a gateway error, a crash) the orchestrator also looks, a few times, before posting again."""
        payload = {"job": self.state["job"], "body": body, "runId": self.state["restoreId"],
                   "attemptedAt": format_datetime(self.steps.now)}
        answer = yield from self.post_start(payload)
        while answer.get("execution") is None:
            if not answer.get("resultUrl"):
                raise StepError("job", step_error("job", {"code": "NoExecution", "message":
                                "the job start was accepted without an execution name or a Location to poll"}))
            yield from self.steps.wait(self.steps.policy.next_wait(answer.get("retryAfter"), now=self.steps.now))
            answer = (yield from self.call("job", LOAD_GET_START_RESULT, {"url": answer["resultUrl"]}))["start"]
        return answer["execution"]

    def post_start(self, payload: dict[str, Any]) -> Steps:
        """The start's answer; retries as ArmSteps.call does, looking for the execution after unclear failures."""
        self.step = "job"
        self.board.update(loadStep="job")
        attempt = 0
        while True:
            result = yield from self.steps.call_once(LOAD_START_EXECUTION, payload)
            if result.get("ok"):
                return result["start"]
            error = result["error"]
            payload = carry_over(payload, error)
            if error.get("outcomeUnknown") or error.get("crash"):
                found = yield from self.find_execution(payload["attemptedAt"])
                if found is not None:
                    return {"execution": found}
            if not error.get("retryable") or (attempt >= self.steps.max_retries and not is_throttled(error)):
                raise StepError("job", step_error("job", error))
            attempt += 0 if is_throttled(error) else 1
            yield from self.steps.back_off(max(attempt, 1), error)

    def find_execution(self, since: str) -> Steps:
        """This restore's execution, looked for EXECUTION_LOOKUPS times a poll interval apart (a new execution
        may take a moment to be listed); None when it never shows."""
        for _ in range(EXECUTION_LOOKUPS):
            found = yield from self.call("job", LOAD_FIND_EXECUTION, {"job": self.state["job"],
                                                                      "runId": self.state["restoreId"],
                                                                      "since": since})
            if found.get("execution"):
                return found["execution"]
            yield from self.steps.wait(self.steps.policy.next_wait(None, now=self.steps.now))
        return None

    # -- every generation: poll the execution ---------------------------------------------------------------

    def poll(self) -> Steps:
        """The execution once it ended; None after continuing as new (``pollsPerGeneration`` polls)."""
        name = self.record["execution"]["name"]
        for _ in range(int(self.state["pollsPerGeneration"])):
            found = yield from self.call("job", LOAD_GET_EXECUTION, {"job": self.state["job"], "name": name},
                                         shown="running")
            execution = found["execution"]
            self.polls += 1
            self.record["execution"] = {k: execution.get(k) for k in ("name", "status", "startTime", "endTime")}
            self.board.update(loadStep="running", executionStatus=execution.get("status"), loadPolls=self.polls)
            if execution.get("state") != "running":
                return execution
            yield from self.steps.wait(self.steps.policy.next_wait(None, now=self.steps.now))
        self.context.continue_as_new({
            **self.state, "stage": "poll", "record": self.record, "polls": self.polls,
            "armCalls": self.steps.arm_calls, "retries": self.steps.retries,
            "generation": int(self.state.get("generation") or 0) + 1})
        return None

    @property
    def dropping(self) -> bool:
        """A drill's drop of its scratch databases (``load.action`` drop), not a load."""
        return self.load.get("action") == "drop"

    def finish_drop(self, execution: dict[str, Any]) -> Steps:
        """The loader's drop report: ``dropped`` only when it says so and the execution succeeded."""
        read = yield from self.call("report", DRILL_READ_DROP_REPORT, {"containerUrl": self.state["containerUrl"],
                                                                       "prefix": self.state["prefix"]})
        report = read.get("report")
        state = str(execution.get("state"))
        if report is not None:
            self.record.update(dropped=report.get("dropped") or [], dropStatus=report.get("status"))
        if report is not None and report.get("status") == "dropped" and state == "succeeded":
            self.record["status"] = "dropped"
            return self.output("dropped", None)
        message = (f"the loader's drop ended {report.get('status')}: "
                   + "; ".join(f"{d.get('database')}: {d.get('outcome')} {d.get('error') or ''}".strip()
                               for d in report.get("dropped") or [] if d.get("outcome") not in ("dropped", "absent"))
                   if report is not None else f"the loader's drop execution ended {state} without a report")
        error = {"code": "LoadDropFailed", "failedStep": "drop", "retryable": False, "message": message,
                 "advice": "drop the drill's scratch databases on the drill server by hand (see scratch.databases)"}
        self.record.update(status="failed", failedStep="drop", error=error)
        return self.output("drop_failed", error)

    def finish_load(self, execution: dict[str, Any]) -> Steps:
        if self.dropping:
            return (yield from self.finish_drop(execution))
        read = yield from self.call("report", LOAD_READ_REPORT, {"containerUrl": self.state["containerUrl"],
                                                                 "prefix": self.state["prefix"]})
        report = read.get("report")
        if report is not None and report.get("created"):
            try:
                yield from self.call("ledger", LOAD_LEDGER_RECORD, {
                    "host": self.record.get("server"), "created": report["created"],
                    "restoreId": self.state["restoreId"], "at": format_datetime(self.steps.now)})
            except StepError as failed:  # the load stands; only a later replace of these databases is refused
                self.record["ledgerError"] = failed.error
        status, error = load_outcome(report, str(execution.get("state")))
        if report is not None:
            self.record.update({k: v for k, v in summarize_report(report).items() if k != "server"})
            self.record["status"] = "loaded" if status == "loaded" else "failed"
        else:
            self.record.update(status="failed", failedStep=(error or {}).get("failedStep") or "job", error=error)
            if read.get("problem"):
                self.record["reportProblem"] = read["problem"]
        return self.output(status, error)

    def stop_at_deadline(self) -> Steps:
        """The restore's deadline passed: stop the execution (once, no retry: the deadline is gone)."""
        name = (self.record.get("execution") or {}).get("name")
        if name:
            stopped = yield from self.steps.call_once(LOAD_STOP_EXECUTION, {"job": self.state["job"], "name": name})
            self.record["execution"] = {**self.record["execution"], "stopped": bool(stopped.get("ok")),
                                        "stopError": None if stopped.get("ok") else stopped.get("error")}
        self.record.update(status="failed", failedStep="job" if self.step == "running" else self.step)
        return self.output("deadline", None)

    def output(self, status: str, error: dict[str, Any] | None) -> dict[str, Any]:
        self.board.update(loadStep="done", nextCheck=None,
                          lastError=f"{error.get('code')}: {error.get('message')}" if error else None)
        return {"status": status, "error": error, "load": self.record, "armCalls": self.steps.arm_calls,
                "retries": self.steps.retries}


@bp.orchestration_trigger(context_name="context")
def load_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    return (yield from LoadRun(context).run())
