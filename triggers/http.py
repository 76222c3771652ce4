"""HTTP API for automation: start a restore, read it, cancel it, list recovery points.

Routes (all need a function key):
  POST /api/restores                     start (202 + durable check-status payload and Location)
  GET  /api/restores/{id}                status, progress and the result record
  POST /api/restores/{id}/cancel         stop the orchestration (not an Azure job already running)
  GET  /api/recovery-points?backupInstance=...&before=...
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import azure.durable_functions as df
import azure.functions as func

from clients import arm_client, load_arm_client
from orchestrations.restore import RESTORE_ORCHESTRATION
from pgflex_restore.errors import ConfigurationError, DataProtectionError, RequestValidationError
from pgflex_restore.ids import BackupInstanceId, ContainerAppJobId
from pgflex_restore.inputs import CONTROL, excerpt, read_document
from pgflex_restore.outcome import with_code
from pgflex_restore.progress import FINISHED_STATUSES, merge_progress
from pgflex_restore.restore_plan import job_tracker_id, loader_id
from pgflex_restore.settings import Settings, get_settings
from pgflex_restore.timeutil import format_datetime, parse_datetime
from triggers._start import existing_status, own_status, plan_restore, runtime_name, start_once

bp = df.Blueprint()


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json",
                             headers=headers)


def _error(status: int, code: str, message: str, target: str | None = None) -> func.HttpResponse:
    """ARM's error shape; ``target`` names the field (or route parameter) the answer is about."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if target:
        body["error"]["target"] = target
    return _json(status, body)


def _not_found(restore_id: str) -> func.HttpResponse:
    return _error(404, "RestoreNotFound", f"no restore with id {excerpt(restore_id)}", "restoreId")


def _printable(value: str) -> str:
    """A query value without control characters (ValueError otherwise, answered as that parameter's 400)."""
    if CONTROL.search(value):
        raise ValueError("contains a control character")
    return value


def _settings() -> Settings | func.HttpResponse:
    try:
        return get_settings()
    except ConfigurationError as exc:
        return _error(500, "ConfigurationError", str(exc))


def _api_base(req: func.HttpRequest) -> str:
    url: str = req.url
    return url.split("/api/", 1)[0] + "/api"


@bp.route(route="restores", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_restore_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    settings = _settings()
    if isinstance(settings, func.HttpResponse):
        return settings
    try:
        body = read_document(req.get_body(), "body")
        plan = plan_restore(body, settings, str(uuid.uuid4()), origin={"via": "http"})
    except RequestValidationError as exc:
        return _json(403 if exc.target_not_allowed else 400, exc.to_dict())
    except ConfigurationError as exc:  # the request needs a setting the app lacks (a load without LOAD_JOB)
        return _error(500, "ConfigurationError", str(exc))
    restore_id = plan.restore_id
    started = await start_once(client, plan)
    urls = _restore_urls(req, restore_id)
    body_out: dict[str, Any] = {
        "restoreId": restore_id,
        "created": started.created,
        "runtimeStatus": started.runtime_status,
        **urls,
    }
    if not started.created:
        body_out["message"] = f"a restore with id {restore_id} already exists; this request started nothing new"
    return _json(202, body_out, headers={"Location": urls["restoreStatusUri"], "Retry-After": "10"})


def _restore_urls(req: func.HttpRequest, restore_id: str) -> dict[str, str]:
    """The restore's own URLs, under the caller's function key.

    Never the Durable management payload: its URLs carry the host's system key and reach every instance in the
    task hub (terminate, restart, rewind, purge, raise events), bypassing start-once and cancel.
    """
    own = f"{_api_base(req)}/restores/{quote(restore_id, safe='')}"
    return {"restoreStatusUri": own, "statusQueryGetUri": own, "cancelPostUri": f"{own}/cancel"}


@bp.route(route="restores/{restoreId}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_restore_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    restore_id = req.route_params["restoreId"]
    status = await own_status(client, restore_id, RESTORE_ORCHESTRATION)
    if status is None:
        return _not_found(restore_id)
    own = status.custom_status if isinstance(status.custom_status, dict) else None
    tracking = await existing_status(client, job_tracker_id(restore_id)) if own and own.get("jobId") else None
    loading = await existing_status(client, loader_id(restore_id)) if own and _loads(own) else None
    progress = merge_progress(own, _custom(tracking), _custom(loading))
    return _json(200, {
        "restoreId": restore_id,
        **_restore_urls(req, restore_id),
        "runtimeStatus": runtime_name(status),
        "createdTime": _instant(status.created_time),
        "lastUpdatedTime": _instant(status.last_updated_time),
        "status": progress,
        "result": status.output if isinstance(status.output, dict) else None,
        "output": status.output if not isinstance(status.output, dict) else None,
    })


def _instant(value: Any) -> str | None:
    """An SDK timestamp in the wire form of every other time the app sends (ISO 8601, ``Z``); ``str()`` of a
    datetime has a space instead of the ``T`` that RFC 3339 parsers require."""
    if not isinstance(value, datetime):
        return None
    return format_datetime(value if value.tzinfo else value.replace(tzinfo=UTC))


def _loads(own: dict[str, Any]) -> bool:
    """Whether the restore reached its load (it names the target server from then on)."""
    return bool(own.get("loadTarget"))


def _custom(status: Any) -> dict[str, Any] | None:
    custom = getattr(status, "custom_status", None) if status is not None else None
    return custom if isinstance(custom, dict) else None


@bp.route(route="restores/{restoreId}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def cancel_restore_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    restore_id = req.route_params["restoreId"]
    status = await own_status(client, restore_id, RESTORE_ORCHESTRATION)
    if status is None:
        return _not_found(restore_id)
    runtime = runtime_name(status)
    if runtime in FINISHED_STATUSES:
        return _error(409, "RestoreFinished", f"restore {restore_id} already ended ({runtime}); nothing to cancel",
                      "restoreId")
    reason = "cancelled through POST /api/restores/{id}/cancel"
    await client.terminate(restore_id, reason)
    tracking = await existing_status(client, job_tracker_id(restore_id))
    if tracking is not None and runtime_name(tracking) not in FINISHED_STATUSES:
        await client.terminate(job_tracker_id(restore_id), reason)
    load_note = await _cancel_load(client, restore_id, reason)
    job_id = (status.custom_status or {}).get("jobId") if isinstance(status.custom_status, dict) else None
    azure_note = (
        f"The Azure Backup restore job {job_id} had already started and is NOT cancelled by this: it keeps "
        "running and writing files; follow or cancel it in the Backup vault (Backup center > Backup jobs)."
        if job_id else
        "No Azure restore job had been started by this restore yet. If a trigger request was in flight, check "
        "the Backup vault's Backup jobs: an Azure job is never cancelled by this call."
    )
    body: dict[str, Any] = {"restoreId": restore_id, "cancelled": True, "jobId": job_id,
                            "message": f"The orchestration was stopped. {azure_note}{load_note['message']}"}
    if load_note.get("execution"):
        body["loadExecution"] = load_note["execution"]
    return _json(202, body)


async def _cancel_load(client: df.DurableOrchestrationClient, restore_id: str, reason: str) -> dict[str, Any]:
    """Stop a running load: its sub-orchestration, and the loader execution it started (which a terminated
    orchestration would otherwise leave running against the server)."""
    loading = await existing_status(client, loader_id(restore_id))
    if loading is None or runtime_name(loading) in FINISHED_STATUSES:
        return {"message": ""}
    await client.terminate(loader_id(restore_id), reason)
    custom = _custom(loading) or {}
    name, job = custom.get("execution"), custom.get("loadJob")
    if not name or not job:
        return {"message": " The load had not started a loader execution yet."}
    stopped = await asyncio.to_thread(_stop_execution, str(job), str(name))
    return {"execution": name, "message": f" The loader execution {name} {stopped}."}


def _stop_execution(job: str, name: str) -> str:
    settings = get_settings()
    client, _ = load_arm_client(settings)
    try:
        client.stop_execution(ContainerAppJobId.parse(job), name)
    except DataProtectionError as exc:
        return f"could NOT be stopped ({exc}); stop it in the Container Apps job's execution history"
    return "was stopped"


@bp.route(route="recovery-points", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def list_recovery_points_http(req: func.HttpRequest) -> func.HttpResponse:
    settings = _settings()
    if isinstance(settings, func.HttpResponse):
        return settings
    raw_instance = req.params.get("backupInstance")
    if not raw_instance:
        return _error(400, "MissingParameter", "query parameter backupInstance (a backup instance ARM id) is required",
                      "backupInstance")
    try:
        backup_instance = BackupInstanceId.parse(_printable(raw_instance))
    except ValueError as exc:
        return _error(400, "InvalidParameter", f"backupInstance: {exc}", "backupInstance")
    before: datetime | None = None
    if req.params.get("before"):
        try:  # the same rule as a restore request's "before"
            before = parse_datetime(_printable(req.params["before"]))
        except ValueError as exc:
            return _error(400, "InvalidParameter", f"before: {exc}", "before")
    client, _ = arm_client(settings)
    try:
        points = client.list_recovery_points(backup_instance, end=before)
    except DataProtectionError as exc:
        return _upstream_error(exc)
    if before is not None:
        points = [p for p in points if p.time <= before]
    points = sorted(points, key=lambda p: p.time, reverse=True)
    return _json(200, {"backupInstance": str(backup_instance), "count": len(points),
                       "recoveryPoints": [p.to_dict() for p in points]})


def _upstream_error(exc: DataProtectionError) -> func.HttpResponse:
    """ARM's refusal passed on (400, 403, 404), anything else as 502, always in ARM's error shape.

    An error without an ARM code (no answer at all) gets one by the result record's rule (``NoResponse``, else its
    kind). ARM refusing the app's own token is a 502, not a 401: the host answers 401 for the caller's function
    key, and that key was fine.
    """
    status = getattr(exc, "status", None)
    error = with_code(exc.to_dict(), "failed")  # (a DataProtectionError always has its message)
    return _json(status if status in (400, 403, 404) else 502, {"error": {**error, "target": "backupInstance"}})
