"""Activities: read a backup job, and find the restore job an ambiguous trigger may have started."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities._arm import run_arm
from pgflex_restore.client import DataProtectionClient
from pgflex_restore.ids import BackupInstanceId, VaultId
from pgflex_restore.settings import Settings

GET_JOB = "get_job"
FIND_RESTORE_JOB = "find_restore_job"

# Clock skew allowed between this app and the service when matching a job's start time to our attempt.
_START_SKEW = timedelta(minutes=2)

bp = df.Blueprint()


def job(payload: dict[str, Any]) -> dict[str, Any]:
    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        return {"job": client.get_job(VaultId.parse(payload["vault"]), payload["jobId"]).to_dict()}

    return run_arm(call)


def find(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: backupInstance, since (ISO time of the ambiguous attempt). Output: jobId of a matching job or None."""
    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        backup_instance = BackupInstanceId.parse(payload["backupInstance"])
        since = datetime.fromisoformat(payload["since"]) - _START_SKEW
        wanted = str(backup_instance).lower()
        candidates = [
            j
            for j in client.list_jobs(backup_instance.vault)
            if j.is_restore
            and (j.backup_instance_id or "").lower().rstrip("/") == wanted
            and j.start_time is not None
            and j.start_time >= since
        ]
        newest = max(candidates, key=lambda j: j.start_time or since, default=None)
        return {"jobId": newest.arm_id if newest else None}

    return run_arm(call)


@bp.activity_trigger(input_name="payload")
def get_job(payload: dict[str, Any]) -> dict[str, Any]:
    return job(payload)


@bp.activity_trigger(input_name="payload")
def find_restore_job(payload: dict[str, Any]) -> dict[str, Any]:
    return find(payload)
