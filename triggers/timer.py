"""Timer trigger: start one drill run per occurrence of DRILL_SCHEDULE.

The run's instance id names the occurrence (``drill-<scheduled time>``), so a timer that fires twice for one
occurrence (a host restart, a past-due catch-up, two instances racing) finds the first run and starts nothing.
Azure sets ``ScheduleStatus.Next`` to the occurrence being invoked ("Next will equal Now"); without it, the
latest occurrence at or before now is used. An empty DRILL_PLAN means drills are off; an invalid plan is
reported on the alert queue, because a drill that silently never runs is the failure drills exist to catch.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from clients import alerts_queue
from orchestrations.drill import DRILL_RUN_ORCHESTRATION
from pgflex_restore.drills.plan import PlanError
from pgflex_restore.drills.records import alert_message
from pgflex_restore.drills.run import build_run_input, load_plan, run_id_for, scheduled_occurrence
from pgflex_restore.errors import ConfigurationError
from pgflex_restore.settings import Settings, get_settings
from pgflex_restore.timeutil import format_datetime, parse_service_datetime
from triggers._start import start_instance_once

log = logging.getLogger(__name__)
DRILL_TIMER = "drill_timer"

bp = df.Blueprint()


def drill_schedule() -> str | None:
    """DRILL_SCHEDULE, validated, or DESIGN.md's default (daily 03:00 UTC); None when it is invalid.

    Read when the app is indexed rather than bound as ``%DRILL_SCHEDULE%``: a %-binding has no default, and the
    host refuses to start a function whose setting is missing. An invalid schedule leaves the drill timer out
    (with an error in the host log) instead of failing the index, which would take the restore API down with it.
    """
    try:
        return Settings.from_env({"DRILL_SCHEDULE": os.environ.get("DRILL_SCHEDULE", "")}).drill_schedule
    except ConfigurationError as exc:
        log.error("restore drills are off: the drill timer is not registered because %s", exc)
        return None


def scheduled_time(status: dict[str, Any] | None, schedule: str, now: datetime) -> datetime:
    """The occurrence this firing belongs to (see the module docstring)."""
    invoked = parse_service_datetime((status or {}).get("Next"))
    return scheduled_occurrence(schedule, invoked if invoked is not None else now)


def report_bad_plan(run_id: str, error: PlanError) -> None:
    """An invalid DRILL_PLAN is itself a drill failure: tell the alerting system, in the usual alert format."""
    alert = alert_message({
        "runId": run_id, "instanceName": "(plan)", "status": "failed", "reason": "invalid-plan",
        "message": str(error), "finishedAt": format_datetime(datetime.now(UTC)),
        "problems": [{"code": "invalid-plan", "message": f"{path or '(plan)'}: {text}"}
                     for path, text in error.problems.items()],
    }, details_path=f"/api/drills/{run_id}")
    alerts_queue(get_settings().drill_alerts_queue).send_message(json.dumps(alert, sort_keys=True))


async def drill_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    settings = get_settings()
    if not settings.drill_plan:
        log.info("DRILL_PLAN is empty: restore drills are off")
        return
    status = getattr(timer, "schedule_status", None)  # on the concrete TimerRequest, not the abstract one
    scheduled = scheduled_time(status if isinstance(status, dict) else None, settings.drill_schedule,
                               datetime.now(UTC))
    run_id = run_id_for(scheduled)
    try:
        plan = load_plan(settings)
    except PlanError as exc:
        log.error("drill run %s not started: %s", run_id, exc)
        report_bad_plan(run_id, exc)
        return
    run_input = build_run_input(run_id, scheduled, plan, settings,
                                origin={"via": "timer", "pastDue": timer.past_due,
                                        "scheduledAt": format_datetime(scheduled)})
    started = await start_instance_once(client, DRILL_RUN_ORCHESTRATION, run_id, run_input)
    if started.created:
        log.info("drill run %s started for %s", run_id, format_datetime(scheduled))
    else:
        log.info("drill run %s already exists; this firing starts nothing", run_id)


_SCHEDULE = drill_schedule()
if _SCHEDULE is not None:
    bp.timer_trigger(schedule=_SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=True)(
        bp.durable_client_input(client_name="client")(drill_timer))
