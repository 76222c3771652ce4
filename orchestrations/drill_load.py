"""The part of an instance drill that proves the data (docs/drills.md, issue 16): load the verified files into
scratch databases on the drill server, read the checks from the loader's report, ALWAYS drop the scratch
databases, and measure the phases, RTO and RPO.

Deterministic: every fact comes from an activity, a sub-orchestration or the orchestration's clock; the verdicts
are pure functions of pgflex_restore.drills.proof. Nothing here raises: a failed step becomes a recorded check or
reason, so the drop after it always runs.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.drill_load import DRILL_PREVIOUS_ROWS, DRILL_SOURCE_SERVER
from activities.load_files import LOAD_LEDGER_READ
from orchestrations._steps import DeadlineExceeded, StatusBoard, StepFailed, Steps
from orchestrations.load import LOAD_ORCHESTRATION, load_input
from pgflex_restore.drills import proof as verdicts
from pgflex_restore.drills.records import FAILED, PASSED
from pgflex_restore.polling import PollPolicy
from pgflex_restore.timeutil import format_datetime

Call = Callable[[str, dict[str, Any]], Generator[Any, Any, Any]]
POLLS_PER_GENERATION = 50
DROP_DEADLINE = timedelta(hours=1)


class DrillProof:
    """One instance drill's load, checks, drop and verdict; ``run`` returns ``(status, reason, message)``."""

    def __init__(self, context: df.DurableOrchestrationContext, call: Call, board: StatusBoard,
                 drill_input: dict[str, Any], record: dict[str, Any]) -> None:
        self.context = context
        self.call = call
        self.board = board
        self.input = drill_input
        self.target: dict[str, Any] = drill_input["target"]
        self.proof: dict[str, Any] = self.target["proof"]
        self.record = record
        self.drill_id = context.instance_id

    @property
    def now(self) -> str:
        return format_datetime(self.context.current_utc_datetime)

    def run(self, files: dict[str, Any], selected_at: str | None, restore: dict[str, Any]) -> Steps:
        checks: list[dict[str, Any]] = [files]
        report: dict[str, Any] | None = None
        load_failure: tuple[str, str] | None = None
        load_started = load_finished = None
        if self.proof.get("load") and files["outcome"] == PASSED:
            load_started = self.now
            previous = yield from self.previous_rows()
            loaded = yield from self.load()
            load_finished = self.now
            yield from self.drop(loaded)
            report = loaded.get("load") or {}
            load_failure = self.load_failure(loaded)
            checks += self.load_checks(report, previous)
        checks_seconds = verdicts.checks_seconds(report)
        done = load_finished or self.now
        rto = verdicts.rto(verdicts.seconds_between(self.record["startedAt"], done), self.proof["rtoTargetSeconds"])
        rpo = verdicts.rpo(self.record.get("pointAgeSeconds"), self.proof["rpoTargetSeconds"])
        checks += [verdicts.target_check("rto", rto), verdicts.target_check("rpo", rpo)]
        self.record.update(
            rto=rto, rpo=rpo, checks=checks,
            phases=verdicts.phases(started=self.record["startedAt"], selected=selected_at, restore=restore,
                                   load_started=load_started, load_finished=load_finished,
                                   checks_seconds=checks_seconds, finished=done))
        if report:
            counts = verdicts.row_counts(report)
            self.record.update(tables=counts[:verdicts.TOP_TABLES], rowCounts=counts[:verdicts.MAX_ROW_COUNTS],
                               files=verdicts.files_with_hashes(self.record.get("files") or [], report))
        failed = verdicts.first_failure(checks, self.record.get("server"))
        if load_failure and (failed is None or failed[0] not in ("check-failed",)):
            return FAILED, load_failure[0], load_failure[1]
        if failed:
            self.record["failedCheck"] = next(c["name"] for c in checks if c.get("outcome") == FAILED)
            return FAILED, failed[0], failed[1]
        return PASSED, None, None

    def previous_rows(self) -> Steps:
        """The previous passing drill's row counts of this server (None: none, or the table could not be read)."""
        try:
            found = yield from self.call(DRILL_PREVIOUS_ROWS, {"server": self.record.get("server") or "",
                                                               "runId": self.input["runId"]})
        except (StepFailed, DeadlineExceeded) as exc:
            self.record["previousRowsError"] = str(exc)[:300]
            return None
        return found.get("previous")

    def load_section(self) -> Steps:
        """The load sub-orchestration's ``load``: scratch names for every restored database, and the checks."""
        databases = verdicts.restored_databases(self.record.get("files") or [], self.target["leaf"])
        scratch = verdicts.scratch_map(self.drill_id, databases)
        section: dict[str, Any] = {
            "server": self.proof["load"]["server"], "databases": scratch, "onExists": "fail", "roles": "apply",
            "recoveryPointTime": (self.record.get("recoveryPoint") or {}).get("time"),
            "checks": self.proof.get("checks") or None, "amcheck": self.proof.get("amcheck", False),
        }
        if self.proof.get("compareWithSource") and self.target.get("serverId"):
            try:
                found = yield from self.call(DRILL_SOURCE_SERVER, {"server": self.target["serverId"]})
                host = (found.get("server") or {}).get("host")
            except (StepFailed, DeadlineExceeded) as exc:
                host, self.record["sourceServerError"] = None, str(exc)[:300]
            if host:
                section["compareWithSource"] = {"host": host, "minRowRatio": self.proof["minRowRatio"]}
        return {k: v for k, v in section.items() if v is not None}

    def sub(self, suffix: str, section: dict[str, Any], deadline: timedelta) -> Steps:
        """The load sub-orchestration (a load, or a drop): its output, or a load_failed output when it failed."""
        restore = self.input["restore"]
        if not self.input.get("loadJob"):
            return {"status": "load_failed", "load": {}, "error": {
                "code": "ConfigurationError", "message": "LOAD_JOB was not set when this drill run started",
                "advice": "set LOAD_JOB to the loader's Container Apps job and drill again"}}
        payload = load_input(
            restore_id=f"{self.drill_id}:{suffix}", load=section, job=self.input["loadJob"],
            container_url=self.input["container"], prefix=self.target["prefix"] + self.target["leaf"],
            deadline=self.context.current_utc_datetime + deadline, poll=PollPolicy.from_dict(restore["poll"]),
            max_retries=int(restore["maxTransientRetries"]), polls_per_generation=POLLS_PER_GENERATION)
        try:
            output: dict[str, Any] = yield self.context.call_sub_orchestrator(
                LOAD_ORCHESTRATION, payload, f"{self.drill_id}:{suffix}", expected_type=dict)
        except Exception as exc:  # the sub-orchestration failed (a bug) or was terminated
            return {"status": "load_failed", "load": {}, "error": {"code": "LoadJobFailed",
                                                                  "message": str(exc).split("\n")[0][:500]}}
        return output

    def load(self) -> Steps:
        self.board.update(phase="loading", drillServer=self.proof["load"]["server"])
        section = yield from self.load_section()
        self.record["scratch"] = {"server": self.proof["load"]["server"], "databases": [], "outcome": "none",
                                  "planned": sorted(section["databases"].values())}
        timeout = timedelta(seconds=float(self.input["restore"]["timeoutSeconds"]))
        loaded = yield from self.sub("load", section, timeout)
        self.record["load"] = {k: v for k, v in (loaded.get("load") or {}).items()
                               if k in ("status", "failedStep", "error", "execution", "durations", "created",
                                        "server", "serverId", "extensions")}
        return loaded

    def drop(self, loaded: dict[str, Any]) -> Steps:
        """Drop every scratch database the load created (its report's ``created``, and the ledger's rows of
        the planned names): always, also after a failed load, a failed check or the deadline."""
        scratch = self.record["scratch"]
        planned = set(scratch.pop("planned"))
        created = {c["database"]: int(c["oid"]) for c in (loaded.get("load") or {}).get("created") or []
                   if c.get("database") in planned and isinstance(c.get("oid"), int)}
        host = (loaded.get("load") or {}).get("server")
        if host:
            try:
                ledger = yield from self.call(LOAD_LEDGER_READ, {"host": host})
                for row in ledger.get("replaceable") or []:
                    if row["database"] in planned:
                        created.setdefault(row["database"], int(row["oid"]))
            except (StepFailed, DeadlineExceeded) as exc:
                scratch["ledgerError"] = str(exc)[:300]
        scratch["databases"] = [{"database": d, "oid": o} for d, o in sorted(created.items())]
        if not created:
            record = loaded.get("load") or {}
            if loaded.get("status") != "loaded" and (record.get("execution") or {}).get("name") \
                    and not record.get("databases"):
                scratch.update(outcome="failed", error=(
                    "the load ended without a report, so the scratch databases it may have created are unknown: "
                    f"look for {', '.join(sorted(planned))} on the drill server and drop them"))
            return
        self.board.update(phase="dropping")
        dropped = yield from self.sub("drop", {"server": scratch["server"], "action": "drop",
                                               "databases": scratch["databases"]}, DROP_DEADLINE)
        if dropped.get("status") == "dropped":
            scratch.update(outcome="dropped", droppedAt=self.now,
                           dropped=(dropped.get("load") or {}).get("dropped") or [])
        else:
            error = dropped.get("error") or {}
            scratch.update(outcome="failed", error=f"{error.get('code')}: {error.get('message')}",
                           dropped=(dropped.get("load") or {}).get("dropped") or [])

    def load_failure(self, loaded: dict[str, Any]) -> tuple[str, str] | None:
        """``load-failed`` with the load's error, unless the load failed only at its checks (those are checks)."""
        if loaded.get("status") == "loaded":
            return None
        error = loaded.get("error") or {}
        if error.get("failedStep") == "checks" and (loaded.get("load") or {}).get("databases"):
            return None
        server = self.record.get("server") or "the server"
        if loaded.get("status") == "deadline":
            execution = (loaded.get("load") or {}).get("execution") or {}
            stopped = "was stopped" if execution.get("stopped") else "could not be stopped: stop it by hand"
            timeout = timedelta(seconds=float(self.input["restore"]["timeoutSeconds"]))
            return "deadline-exceeded", (f"{server}: the load into the drill server did not finish within {timeout} "
                                         f"(restoreTimeout); the loader execution {execution.get('name')} "
                                         f"{stopped}. Raise restoreTimeout or load.jobs, or size the drill server "
                                         "like production")
        return "load-failed", (f"{server}: the load into the drill server failed: {error.get('code')}: "
                               f"{error.get('message')}. {error.get('advice') or 'read the drill record load'}")

    def load_checks(self, report: dict[str, Any], previous: dict[str, Any] | None) -> list[dict[str, Any]]:
        if not report.get("databases"):
            return []
        current = verdicts.row_counts(report)
        rows = verdicts.compare_rows(current, previous["rowCounts"] if previous else None,
                                     max_drop=float(self.proof["maxRowDrop"]),
                                     previous_run=previous["runId"] if previous else None)
        return [verdicts.structure_check(report), rows, *verdicts.loader_checks(report)]


def files_check(report: dict[str, Any]) -> dict[str, Any]:
    """Today's verification as the ``files`` check."""
    problems = report.get("problems") or []
    if problems:
        return {"name": "files", "outcome": FAILED, "problems": len(problems),
                "message": "; ".join(p["message"] for p in problems[:3])}
    return {"name": "files", "outcome": PASSED,
            "message": f"{len(report.get('files') or [])} file(s) restored and verified"}
