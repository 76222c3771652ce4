"""Activities: POST validateRestore / restore, and read the async operation they start.

Each sends exactly one request (the status and result URLs are used exactly as the service returned them)
and never waits: the orchestrator owns every wait, with durable timers sized by Retry-After.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from activities._arm import run_arm
from activities.payload import Payload
from clients import attempt_seen
from pgflex_restore.bodies import build_restore_request, build_validate_request
from pgflex_restore.client import DataProtectionClient
from pgflex_restore.jobs import START_SKEW, own_restore_job
from pgflex_restore.models import RestoreRequest
from pgflex_restore.parsing import RecoveryPoint, parse_cloud_error
from pgflex_restore.settings import Settings

VALIDATE_RESTORE = "validate_restore"
TRIGGER_RESTORE = "trigger_restore"
GET_OPERATION_STATUS = "get_operation_status"
GET_OPERATION_RESULT = "get_operation_result"

bp = df.Blueprint()


def _restore_body(payload: dict[str, Any], settings: Settings) -> tuple[RestoreRequest, dict[str, Any]]:
    # The allowlist is checked again here, not only at the starter: settings may have changed since.
    request = RestoreRequest.from_dict(payload["request"], allowlist=settings.restore_target_allowlist,
                                       load_allowlist=settings.load_target_allowlist)
    point = RecoveryPoint.from_dict(payload["recoveryPoint"])
    return request, build_restore_request(request, point, api_version=settings.api_version)


def validate(payload: dict[str, Any]) -> dict[str, Any]:
    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        request, body = _restore_body(payload, settings)
        return {"operation": client.validate_restore(request.backup_instance, build_validate_request(body)).to_dict()}

    return run_arm(call, payload)


def trigger(payload: dict[str, Any]) -> dict[str, Any]:
    """POST restore, unless this request's job already exists.

    The host runs an activity at least once: a recycled worker re-runs it after the POST went out, and its first
    answer is lost. So each run first records its attempt (request and first attempt time, `attemptedAt`) in the
    Functions storage account; a run that finds the record already there (or cannot reach storage) reads the
    vault's jobs first, and a restore job of this instance and target started since then is this request's own:
    it is returned as the finished operation instead of posting a second restore. A first delivery costs no ARM
    read.
    """
    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        request, body = _restore_body(payload, settings)
        client.pace_restore(request.backup_instance)  # a paced run records no attempt: its re-run stays cheap
        if payload.get("attemptedAt") and attempt_seen(_attempt_key(payload)) is not False:
            instance, since = request.backup_instance, datetime.fromisoformat(payload["attemptedAt"])
            jobs = client.list_jobs(instance.vault, started_since=since - START_SKEW)
            existing = own_restore_job(jobs, str(instance), since, container_url=request.target_container_url,
                                       file_prefix=request.file_prefix)
            if existing is not None and existing.arm_id:
                return {"operation": {"done": True, "jobId": existing.arm_id}, "alreadyStarted": True}
        return {"operation": client.trigger_restore(request.backup_instance, body).to_dict()}

    return run_arm(call, payload)


def _attempt_key(payload: dict[str, Any]) -> str:
    """One row per request and first attempt: the same on every delivery of the same trigger."""
    text = json.dumps([payload["request"], payload["attemptedAt"]], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def operation_status(payload: dict[str, Any]) -> dict[str, Any]:
    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        poll = client.get_operation_status(payload["url"])
        result: dict[str, Any] = {"status": poll.status.to_dict(), "retryAfter": poll.retry_after}
        if poll.status.state in ("failed", "canceled"):
            # The operation's own error carries the service's code; turn it into advice the user can act on.
            error = poll.status.error or {"code": "OperationFailed", "message": f"operation {poll.status.status}"}
            result["error"] = parse_cloud_error(400, {"error": error}, {}).to_dict()
        return result

    return run_arm(call, payload)


def operation_result(payload: dict[str, Any]) -> dict[str, Any]:
    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        return {"result": client.get_operation_result(payload["url"]).to_dict()}

    return run_arm(call, payload)


@bp.activity_trigger(input_name="payload")
def validate_restore(payload: Payload) -> dict[str, Any]:
    return validate(payload)


@bp.activity_trigger(input_name="payload")
def trigger_restore(payload: Payload) -> dict[str, Any]:
    return trigger(payload)


@bp.activity_trigger(input_name="payload")
def get_operation_status(payload: Payload) -> dict[str, Any]:
    return operation_status(payload)


@bp.activity_trigger(input_name="payload")
def get_operation_result(payload: Payload) -> dict[str, Any]:
    return operation_result(payload)
