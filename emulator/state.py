"""The emulator's memory: restore/validate operations and backup jobs, and their timelines on the clock.

Nothing runs in the background to move a timeline: every status is computed from ``clock.now()`` when read, so
on a virtual clock nothing happens until the clock moves. ``tick()`` (called before each request and by the
server's ticker) finishes jobs whose time has come, writing their restored files.
"""

from __future__ import annotations

import base64
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .clock import Clock, utc_now
from .errors import ArmError
from .loadstate import LoadState
from .rules import check_restore_request
from .scenario import BackupInstance, RecoveryPoint, Scenario, Vault
from .storage import BlobTarget, RestoredFile, restored_files


@dataclass
class Operation:
    """One validateRestore or restore call's asynchronous operation."""

    id: str
    kind: str  # "validate" | "restore"
    vault: Vault
    instance: BackupInstance
    api_version: str
    start: datetime
    end: datetime
    retry_after: int
    error: dict[str, Any] | None = None
    job_id: str | None = None

    def done(self, now: datetime) -> bool:
        return now >= self.end


@dataclass
class Job:
    """A restore job: InProgress from the trigger until it completes (files written) or fails."""

    id: str
    vault: Vault
    instance: BackupInstance
    recovery_point: RecoveryPoint
    start: datetime
    finish: datetime  # when the job reaches its terminal status
    total_seconds: float
    target_url: str
    file_prefix: str
    source_store: str
    error: dict[str, Any] | None = None  # set when the job fails (at ``finish``)
    finalized: bool = False
    files: list[RestoredFile] = field(default_factory=list)
    activity_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    rehydration_priority: str | None = None
    operation: str = "Restore"  # "Backup" for the scheduled backups a scenario declares as past jobs

    @property
    def arm_id(self) -> str:
        return f"{self.vault.id}/backupJobs/{self.id}"

    def status(self, now: datetime) -> str:
        if not self.finalized or now < self.finish:
            return "InProgress"
        return "Failed" if self.error else "Completed"

    def percent(self, now: datetime) -> int:
        if self.total_seconds <= 0:
            return 100 if now >= self.finish else 0
        elapsed = (min(now, self.finish) - self.start).total_seconds()
        return max(0, min(100, int(elapsed * 100 / self.total_seconds)))


def new_operation_id() -> str:
    """Opaque id shaped like the service's (base64 of two GUIDs)."""
    raw = f"{uuid.uuid4()};{uuid.uuid4()}".encode()
    return base64.b64encode(raw).decode()


class EmulatorState:
    """Operations and jobs for one scenario, guarded by one lock."""

    def __init__(self, scenario: Scenario, clock: Clock, blobs: BlobTarget | None) -> None:
        self.scenario = scenario
        self.clock = clock
        self.blobs = blobs
        self.lock = threading.RLock()
        self.operations: dict[str, Operation] = {}
        self.jobs: dict[str, Job] = {}
        self._add_past_jobs()
        self.load = LoadState(clock)  # Container Apps jobs and flexible servers (the load step)
        self.load.load(scenario)

    def now(self) -> datetime:
        return utc_now(self.clock)

    def replace_scenario(self, scenario: Scenario) -> None:
        with self.lock:
            self.load.load(scenario)
            self.scenario = scenario
            self.operations.clear()
            self.jobs.clear()
            self._add_past_jobs()

    def _add_past_jobs(self) -> None:
        """The jobs a scenario declares as already run (backups and restores), finished and in the job list."""
        for vault in self.scenario.vaults:
            for instance in vault.backup_instances.values():
                for past in instance.past_jobs:
                    point = instance.recovery_points[0] if instance.recovery_points else None
                    if point is None:
                        continue
                    finish = past.start + timedelta(seconds=past.duration_seconds)
                    error = {"code": "UserErrorJobFailed", "message": "The job failed."} \
                        if past.status == "Failed" else None
                    job = Job(str(uuid.uuid4()), vault, instance, point, past.start, finish, past.duration_seconds,
                              past.target_container_url, past.file_prefix, "VaultStore", error, finalized=True,
                              operation=past.operation)
                    self.jobs[job.id] = job

    def tick(self) -> None:
        """Finish every job whose time has come (writes restored files for successful ones)."""
        with self.lock:
            now = self.now()
            for job in self.jobs.values():
                if not job.finalized and now >= job.finish:
                    self._finalize(job)
            self.load.tick()

    def _finalize(self, job: Job) -> None:
        job.finalized = True
        if job.error is not None or self.blobs is None:
            return
        failures = job.instance.failures
        files = restored_files(job.file_prefix, job.instance.databases, failures.corrupt_dump,
                               failures.missing_database_files)
        try:
            job.files = self.blobs.write(job.target_url, files)
        except Exception as exc:
            job.error = {
                "code": "UserErrorRestoreTargetWriteFailed",
                "message": f"The restored files could not be written to '{job.target_url}': {type(exc).__name__}.",
            }

    def validate(self, vault: Vault, instance: BackupInstance, request: dict[str, Any], api_version: str) -> Operation:
        """Start a validateRestore operation; rule violations surface as its Failed status."""
        with self.lock:
            now = self.now()
            timings = instance.timings
            error = (check_restore_request(self.scenario, vault, instance, request, self.blobs)
                     or instance.failures.validate)
            op = Operation(new_operation_id(), "validate", vault, instance, api_version, now,
                           now + timedelta(seconds=timings.validate_seconds), timings.validate_retry_after, error)
            self.operations[op.id] = op
            return op

    def restore(self, vault: Vault, instance: BackupInstance, request: dict[str, Any], api_version: str) -> Operation:
        """Start a restore: 409 while another restore job of the instance runs; else an operation (+ job)."""
        with self.lock:
            now = self.now()
            running = [j for j in self.jobs.values() if j.instance is instance and j.vault is vault
                       and j.operation == "Restore" and j.status(now) == "InProgress"]
            if running:
                raise ArmError(
                    409, "UserErrorAnotherOperationInProgress",
                    f"Another restore operation is already in progress on backup instance '{instance.name}' "
                    f"(job {running[0].id}). Wait for it to finish and retry.",
                )
            timings = instance.timings
            error = (check_restore_request(self.scenario, vault, instance, request, self.blobs)
                     or instance.failures.restore)
            op = Operation(new_operation_id(), "restore", vault, instance, api_version, now,
                           now + timedelta(seconds=timings.restore_seconds), timings.restore_retry_after, error)
            if error is None:
                job = self._new_job(vault, instance, request, now)
                op.job_id = job.arm_id
            self.operations[op.id] = op
            return op

    def _new_job(self, vault: Vault, instance: BackupInstance, request: dict[str, Any], now: datetime) -> Job:
        rp = instance.recovery_point(str(request["recoveryPointId"]))
        assert rp is not None  # the rules checked it
        details = request["restoreTargetInfo"]["targetDetails"]
        timings = instance.timings
        total = timings.restore_seconds + timings.job_seconds
        failures = instance.failures
        error = None
        finish = now + timedelta(seconds=total)
        if failures.job_fail_at_percent is not None:
            finish = now + timedelta(seconds=total * failures.job_fail_at_percent / 100)
            error = failures.job_error or {
                "code": "UserErrorRestoreFailed",
                "message": "The restore of the PostgreSQL flexible server backup failed.",
            }
        job = Job(str(uuid.uuid4()), vault, instance, rp, now, finish, total, str(details["url"]).rstrip("/"),
                  str(details["filePrefix"]), str(request.get("sourceDataStoreType", "VaultStore")), error,
                  rehydration_priority=request.get("rehydrationPriority"))
        self.jobs[job.id] = job
        return job

    def find_job(self, vault: Vault, job_id: str) -> Job | None:
        with self.lock:
            job = self.jobs.get(job_id.lower()) or next(
                (j for j in self.jobs.values() if j.id.lower() == job_id.lower()), None)
            return job if job is not None and job.vault is vault else None

    def vault_jobs(self, vault: Vault) -> list[Job]:
        with self.lock:
            return [j for j in self.jobs.values() if j.vault is vault]
