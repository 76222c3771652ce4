"""A drill run's identity and input: the run id from the scheduled time, and the settings snapshot.

The timer starter and the CLI both build the run input here. The run id names the occurrence of DRILL_SCHEDULE
the run belongs to (``drill-20261125T030000Z``), so a timer that fires twice for one occurrence finds the first
run instead of starting a second; drill files live under ``drills/<run id>/`` so their age is readable from the
name, on whatever clock the orchestration runs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pgflex_restore.notify.targets import snapshot
from pgflex_restore.polling import PollPolicy
from pgflex_restore.settings import Settings
from pgflex_restore.timeutil import cron_expression, format_datetime

from .plan import DrillPlan, load_plan_text, parse_plan

RUN_PREFIX = "drill-"
FILES_ROOT = "drills"
_RUN_ID = re.compile(r"^drill-(\d{8}T\d{6}Z)(?:-[A-Za-z0-9]+)?\Z")


def run_id_for(scheduled: datetime, suffix: str | None = None) -> str:
    """``drill-YYYYMMDDTHHMMSSZ`` (plus ``-suffix`` for ad-hoc runs such as the CLI's)."""
    stamp = scheduled.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{RUN_PREFIX}{stamp}" + (f"-{suffix}" if suffix else "")


def run_time(run_id: str) -> datetime | None:
    """The scheduled time a run id names, or None for a name that is not a run id."""
    match = _RUN_ID.match(run_id)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:  # the shape of a run id, but no such time (month 13)
        return None


def scheduled_occurrence(schedule: str, moment: datetime) -> datetime:
    """The latest occurrence of an NCRONTAB schedule (seconds first) at or before ``moment``."""
    from croniter import croniter

    expression = cron_expression(schedule)
    base = moment.astimezone(UTC)
    if croniter.match(expression, base):
        return base.replace(microsecond=0)
    previous: datetime = croniter(expression, base).get_prev(datetime)
    return previous.astimezone(UTC)


def instance_prefix(run_id: str, instance_name: str) -> str:
    """Where one instance's drill files go: ``drills/<run>/<instance>/``."""
    return f"{FILES_ROOT}/{run_id}/{instance_name}/"


def load_plan(settings: Settings, plan_text: str | None = None) -> DrillPlan:
    """The plan from ``plan_text`` (JSON or a path) or DRILL_PLAN, validated against the settings.

    :raises PlanError: no plan configured, or an invalid one.
    """
    from .plan import PlanError

    raw = plan_text if plan_text is not None else settings.drill_plan
    if not raw:
        raise PlanError({"": "no drill plan: set DRILL_PLAN to the plan JSON or the path of a plan file"})
    plan = parse_plan(load_plan_text(raw), allowlist=settings.restore_target_allowlist,
                      default_vaults=[str(v) for v in settings.restore_vaults],
                      load_allowlist=settings.load_target_allowlist)
    if plan.loads and settings.load_job is None:
        raise PlanError({"load": "the plan loads drills into a server, but LOAD_JOB is not set: set it to the "
                                 "loader's Container Apps job ARM id"})
    return plan


def build_run_input(run_id: str, scheduled: datetime, plan: DrillPlan, settings: Settings,
                    origin: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run orchestration's input: plan plus the restore settings snapshot (orchestrators read no env)."""
    timeout = plan.restore_timeout or settings.restore_timeout
    return {
        "runId": run_id,
        "scheduledAt": format_datetime(scheduled),
        "plan": plan.to_dict(),
        "restore": {
            "poll": PollPolicy.from_settings(settings).to_dict(),
            "timeoutSeconds": timeout.total_seconds(),
            "maxTransientRetries": settings.max_transient_retries,
            "telemetry": settings.telemetry_enabled,
        },
        "loadJob": str(settings.load_job) if plan.loads and settings.load_job else None,
        "origin": origin or {},
        "notify": snapshot(settings.notify_targets, "drill"),
    }
