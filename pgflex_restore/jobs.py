"""Backup jobs (``AzureBackupJobResource``): the long tail of a restore, tracked until terminal.

The job ``status`` is free text that changed between api-versions (InProgress/Completed vs Started/Success...);
``outcome`` reduces it to five values the orchestration can branch on. Anything unrecognised means "running",
because ending a watch early is worse than polling a finished job once more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from .timeutil import format_datetime, parse_elapsed_seconds, parse_service_datetime

JobOutcome = Literal["running", "succeeded", "succeeded_with_warnings", "failed", "cancelled"]
_OUTCOMES: dict[str, JobOutcome] = {
    "completed": "succeeded",
    "succeeded": "succeeded",
    "success": "succeeded",
    "completedwithwarnings": "succeeded_with_warnings",
    "successwithwarning": "succeeded_with_warnings",
    "successwithwarnings": "succeeded_with_warnings",
    "succeededwithwarnings": "succeeded_with_warnings",
    "failed": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}
_PERCENT = re.compile(r"^\s*(\d{1,3}(?:\.\d+)?)\s*%?\s*$")
_PROGRESS_KEYS = ("progresspercentage", "progresspercent", "percentcomplete", "progress")


def job_outcome(status: str | None) -> JobOutcome:
    """Map a job status (any casing, either api-version's vocabulary) to an outcome."""
    key = (status or "").replace(" ", "").replace("_", "").lower()
    return _OUTCOMES.get(key, "running")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _percent(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and (match := _PERCENT.match(value)):
        number = float(match.group(1))
    else:
        return None
    return number if 0.0 <= number <= 100.0 else None


def _progress(outcome: JobOutcome, extended: Mapping[str, Any]) -> float | None:
    """100 when succeeded; else a percentage the service actually reported; else None (unknown, not guessed)."""
    if outcome in ("succeeded", "succeeded_with_warnings"):
        return 100.0
    if outcome != "running":
        return None
    details = extended.get("additionalDetails")
    if isinstance(details, Mapping):
        for key, value in details.items():
            if str(key).lower() in _PROGRESS_KEYS and (pct := _percent(value)) is not None:
                return pct
    tasks = [t for t in extended.get("subTasks") or [] if isinstance(t, Mapping)]
    reported = [p for t in tasks if (p := _percent(t.get("taskProgress"))) is not None]
    if reported and len(reported) == len(tasks):
        return round(sum(reported) / len(reported), 2)
    return None


@dataclass(frozen=True)
class Job:
    """What the app reports about a backup job."""

    arm_id: str | None
    guid: str
    status: str
    outcome: JobOutcome
    operation: str | None = None
    operation_category: str | None = None
    backup_instance_id: str | None = None
    data_source_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_seconds: float | None = None
    progress_percent: float | None = None
    error_details: tuple[dict[str, Any], ...] = ()
    recovery_destination: str | None = None
    restore_type: str | None = None
    additional_details: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def done(self) -> bool:
        """Terminal outcome reached."""
        return self.outcome != "running"

    @property
    def is_restore(self) -> bool:
        """A restore job (operationCategory or operation says so)."""
        text = f"{self.operation_category or ''} {self.operation or ''}".lower()
        return "restore" in text

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "armId": self.arm_id,
            "guid": self.guid,
            "status": self.status,
            "outcome": self.outcome,
            "operation": self.operation,
            "operationCategory": self.operation_category,
            "backupInstanceId": self.backup_instance_id,
            "dataSourceId": self.data_source_id,
            "startTime": format_datetime(self.start_time) if self.start_time else None,
            "endTime": format_datetime(self.end_time) if self.end_time else None,
            "durationSeconds": self.duration_seconds,
            "progressPercent": self.progress_percent,
            "errorDetails": [dict(e) for e in self.error_details],
            "recoveryDestination": self.recovery_destination,
            "restoreType": self.restore_type,
            "additionalDetails": dict(self.additional_details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        """Inverse of to_dict."""
        status = str(data.get("status") or "")
        return cls(
            arm_id=_str(data.get("armId")),
            guid=str(data["guid"]),
            status=status,
            outcome=job_outcome(status),
            operation=_str(data.get("operation")),
            operation_category=_str(data.get("operationCategory")),
            backup_instance_id=_str(data.get("backupInstanceId")),
            data_source_id=_str(data.get("dataSourceId")),
            start_time=parse_service_datetime(data.get("startTime")),
            end_time=parse_service_datetime(data.get("endTime")),
            duration_seconds=_number(data.get("durationSeconds")),
            progress_percent=_number(data.get("progressPercent")),
            error_details=tuple(dict(e) for e in data.get("errorDetails") or [] if isinstance(e, Mapping)),
            recovery_destination=_str(data.get("recoveryDestination")),
            restore_type=_str(data.get("restoreType")),
            additional_details={str(k): str(v) for k, v in (data.get("additionalDetails") or {}).items()},
        )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_job(resource: Mapping[str, Any]) -> Job:
    """Parse an ``AzureBackupJobResource``; raises ValueError when it has no name or id."""
    props = resource.get("properties")
    props = props if isinstance(props, Mapping) else {}
    extended = props.get("extendedInfo")
    extended = extended if isinstance(extended, Mapping) else {}
    arm_id = _str(resource.get("id"))
    guid = _str(resource.get("name")) or (arm_id.rstrip("/").rsplit("/", 1)[-1] if arm_id else None)
    if not guid:
        raise ValueError("job has neither name nor id")
    status = _str(props.get("status")) or "Unknown"
    outcome = job_outcome(status)
    details = extended.get("additionalDetails")
    return Job(
        arm_id=arm_id,
        guid=guid,
        status=status,
        outcome=outcome,
        operation=_str(props.get("operation")),
        operation_category=_str(props.get("operationCategory")),
        backup_instance_id=_str(props.get("backupInstanceId")),
        data_source_id=_str(props.get("dataSourceId")),
        start_time=parse_service_datetime(props.get("startTime")),
        end_time=parse_service_datetime(props.get("endTime")),
        duration_seconds=parse_elapsed_seconds(props.get("duration")),
        progress_percent=_progress(outcome, extended),
        error_details=tuple(dict(e) for e in props.get("errorDetails") or [] if isinstance(e, Mapping)),
        recovery_destination=_str(extended.get("recoveryDestination")),
        restore_type=_str(props.get("restoreType")),
        additional_details={str(k): str(v) for k, v in details.items()} if isinstance(details, Mapping) else {},
    )


# Clock skew allowed between this app and the service when matching a job's start time to our attempt.
START_SKEW = timedelta(minutes=2)


def own_restore_job(jobs: Iterable[Job], backup_instance: str, since: datetime, *, container_url: str | None = None,
                    file_prefix: str | None = None) -> Job | None:
    """The newest restore job of `backup_instance` started at or after `since` (less the skew) for this target.

    A job that names its destination (`recoveryDestination`, or the container and prefix in its additional details)
    must name ours; one that names none is matched on instance and time alone, since the service then gives nothing
    better (and runs one restore per instance at a time, refusing a second with 409).
    """
    wanted, earliest = backup_instance.lower().rstrip("/"), since - START_SKEW
    candidates = [
        job for job in jobs
        if job.is_restore and (job.backup_instance_id or "").lower().rstrip("/") == wanted
        and job.start_time is not None and job.start_time >= earliest
        and _same_target(job, container_url, file_prefix)
    ]
    return max(candidates, key=lambda job: job.start_time or earliest, default=None)


def _same_target(job: Job, container_url: str | None, file_prefix: str | None) -> bool:
    details = {key.lower(): value for key, value in job.additional_details.items()}
    container = details.get("targetcontainerurl") or job.recovery_destination
    prefix = details.get("fileprefix")
    if container_url and container and container.rstrip("/").lower() != container_url.rstrip("/").lower():
        return False
    return not (file_prefix and prefix and prefix != file_prefix)
