"""Activities: read a backup job, and find the restore job an ambiguous trigger may have started."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from activities._arm import run_arm
from activities.payload import Payload
from pgflex_restore.client import DataProtectionClient
from pgflex_restore.ids import BackupInstanceId, VaultId
from pgflex_restore.jobs import START_SKEW, own_restore_job
from pgflex_restore.settings import Settings

GET_JOB = "get_job"
FIND_RESTORE_JOB = "find_restore_job"

bp = df.Blueprint()


def job(payload: dict[str, Any]) -> dict[str, Any]:
    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        return {"job": client.get_job(VaultId.parse(payload["vault"]), payload["jobId"]).to_dict()}

    return run_arm(call, payload)


def find(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: backupInstance, since (ISO time of the ambiguous attempt). Output: jobId of a matching job or None."""
    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        backup_instance = BackupInstanceId.parse(payload["backupInstance"])
        since = datetime.fromisoformat(payload["since"])
        jobs = client.list_jobs(backup_instance.vault, started_since=since - START_SKEW)
        found = own_restore_job(jobs, str(backup_instance), since,
                                container_url=payload.get("containerUrl"), file_prefix=payload.get("filePrefix"))
        return {"jobId": found.arm_id if found else None}

    return run_arm(call, payload)


@bp.activity_trigger(input_name="payload")
def get_job(payload: Payload) -> dict[str, Any]:
    return job(payload)


@bp.activity_trigger(input_name="payload")
def find_restore_job(payload: Payload) -> dict[str, Any]:
    return find(payload)
