"""The restore orchestration's input and output records.

The starter validates the caller's request and snapshots the settings the orchestrator needs (poll bounds,
deadline, retry budget), because an orchestrator must not read the environment: on replay it would see
whatever the settings are then. Everything here is plain JSON on the durable boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pgflex_restore.errors import ConfigurationError
from pgflex_restore.models import RestoreRequest
from pgflex_restore.notify.targets import snapshot
from pgflex_restore.polling import PollPolicy
from pgflex_restore.settings import Settings

# Polls per job-tracking generation before continue-as-new. Each poll adds about eight history events (activity
# scheduled/completed, timer created/fired, two episode markers each) and every episode replays the whole
# generation, so replay work per poll grows with this number: 10 keeps a generation near 80 events and the
# replay cost of a day-long job low, at the price of one continue-as-new every ten polls.
POLLS_PER_GENERATION = 10


def job_tracker_id(restore_id: str) -> str:
    """The instance id of a restore's job-tracking sub-orchestration (one per restore, never reused)."""
    return f"{restore_id}:job"


def loader_id(restore_id: str) -> str:
    """The instance id of a restore's load sub-orchestration (one per restore, never reused)."""
    return f"{restore_id}:load"


@dataclass(frozen=True)
class RestorePlan:
    """What one restore orchestration runs: the validated request plus the settings snapshot."""

    restore_id: str
    request: dict[str, Any]
    backup_instance: str
    validate_only: bool
    poll: PollPolicy
    timeout_seconds: float
    max_transient_retries: int
    polls_per_generation: int = POLLS_PER_GENERATION
    origin: dict[str, Any] = field(default_factory=dict)
    # A recovery point the caller already chose (RecoveryPoint.to_dict()); the restore then skips listing points.
    resolved_point: dict[str, Any] | None = None
    # The loader's Container Apps job (LOAD_JOB) when the request has a load section.
    load_job: str | None = None
    # The NOTIFY_TARGETS this restore reports to, without their URLs (notify.targets.snapshot).
    notify: tuple[dict[str, Any], ...] = ()
    # Export the finished restore's spans and phase durations (APPLICATIONINSIGHTS_CONNECTION_STRING was set).
    telemetry: bool = False

    @classmethod
    def create(
        cls, restore_id: str, request: RestoreRequest, settings: Settings, origin: dict[str, Any] | None = None
    ) -> RestorePlan:
        """The plan of a validated request; ConfigurationError when it asks for a load and LOAD_JOB is unset."""
        if request.load is not None and not request.validate_only and settings.load_job is None:
            raise ConfigurationError({"LOAD_JOB": (
                "this restore request has a load section, but the app has no loader job: set LOAD_JOB to the "
                "Container Apps job's ARM id (/subscriptions/.../providers/Microsoft.App/jobs/<name>), or send "
                "the request without load")})
        return cls(
            restore_id=restore_id,
            request=request.to_dict(),
            backup_instance=str(request.backup_instance),
            validate_only=request.validate_only,
            poll=PollPolicy.from_settings(settings),
            timeout_seconds=settings.restore_timeout.total_seconds(),
            max_transient_retries=settings.max_transient_retries,
            origin=origin or {},
            load_job=str(settings.load_job) if request.load is not None and settings.load_job else None,
            notify=tuple(snapshot(settings.notify_targets, "restore")),
            telemetry=settings.telemetry_enabled,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "restoreId": self.restore_id,
            "request": self.request,
            "backupInstance": self.backup_instance,
            "validateOnly": self.validate_only,
            "poll": self.poll.to_dict(),
            "timeoutSeconds": self.timeout_seconds,
            "maxTransientRetries": self.max_transient_retries,
            "pollsPerGeneration": self.polls_per_generation,
            "origin": self.origin,
            "resolvedPoint": self.resolved_point,
            "loadJob": self.load_job,
            "notify": [dict(t) for t in self.notify],
            "telemetry": self.telemetry,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RestorePlan:
        return cls(
            restore_id=str(data["restoreId"]),
            request=dict(data["request"]),
            backup_instance=str(data["backupInstance"]),
            validate_only=bool(data["validateOnly"]),
            poll=PollPolicy.from_dict(data["poll"]),
            timeout_seconds=float(data["timeoutSeconds"]),
            max_transient_retries=int(data["maxTransientRetries"]),
            polls_per_generation=int(data.get("pollsPerGeneration", POLLS_PER_GENERATION)),
            origin=dict(data.get("origin") or {}),
            resolved_point=dict(data["resolvedPoint"]) if data.get("resolvedPoint") else None,
            load_job=str(data["loadJob"]) if data.get("loadJob") else None,
            notify=tuple(dict(t) for t in data.get("notify") or ()),
            telemetry=bool(data.get("telemetry")),
        )
