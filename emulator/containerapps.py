"""Microsoft.App jobs: the routes the load step calls (get the job, start it, follow and stop its executions),
validated against the derived description in emulator/api/Microsoft.App/.

An execution really runs: its containers are local programs (see jobprocess); statuses come from them.
"""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .arm import Handler, Request, Response
from .auth import SYSTEM_ASSIGNED_CLIENT_ID, TENANT_ID
from .clock import arm_time
from .errors import ArmError, check_scope, not_found
from .loadscenario import ContainerAppJob
from .loadstate import Execution, StartOperation
from .paging import page
from .spec import checked, provider_validator

if TYPE_CHECKING:
    from .state import EmulatorState

V2025, V2026 = "2025-07-01", "2026-07-01"
VERSIONS = (V2025, V2026)
_J = (r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.App"
      r"/jobs/(?P<job>[-\w\._\(\)]+)")
_OPS = r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.App/locations/(?P<loc>[^/]+)"
_EXECUTION_TYPE = "Microsoft.App/jobs/executions"
_APP = "microsoft.app"
_TEMPLATE_KEYS = ("containers", "initContainers")


def routes() -> list[tuple[str, str, tuple[str, ...], Handler]]:
    """(method, path pattern, api-versions, handler) for the route table."""
    return [
        ("GET", _J, VERSIONS, get_job),
        ("POST", _J + "/start", VERSIONS, start_job),
        ("GET", _J + "/executions", VERSIONS, list_executions),
        ("GET", _J + r"/executions/(?P<execution>[-\w\._\(\)]+)", VERSIONS, get_execution),
        ("POST", _J + r"/executions/(?P<execution>[-\w\._\(\)]+)/stop", VERSIONS, stop_execution),
        ("GET", _OPS + r"/containerappsjobOperationResults/(?P<op>[^/]+)", VERSIONS, start_result),
    ]


def _job(state: EmulatorState, req: Request, action: str) -> ContainerAppJob:
    """The job, after ARM's checks in ARM's order: the caller's role, the subscription and group, the job."""
    p = req.params
    scenario = state.scenario
    job = scenario.job(p["sub"], p["rg"], p["job"])
    check_scope(scenario, p, req.caller, action, job)
    if job is None:
        raise not_found("Microsoft.App/jobs", p["job"], p["rg"])
    return job


def _execution(state: EmulatorState, req: Request, job: ContainerAppJob) -> Execution:
    execution = state.load.execution(job, req.params["execution"])
    if execution is None:
        raise not_found(f"Microsoft.App/jobs/{job.name}/executions", req.params["execution"], job.resource_group)
    return execution


def job_resource(job: ContainerAppJob) -> dict[str, Any]:
    """The Job as GET answers it (secret values are never returned)."""
    identity: dict[str, Any] = {"type": "None"}
    user_assigned = [c for c in job.client_ids if c != SYSTEM_ASSIGNED_CLIENT_ID]
    if user_assigned:
        identity = {"type": "UserAssigned", "userAssignedIdentities": {
            f"/subscriptions/{job.subscription}/resourceGroups/{job.resource_group}/providers"
            f"/Microsoft.ManagedIdentity/userAssignedIdentities/{job.name}-identity-{i}": {
                "clientId": client, "principalId": _principal(client)}
            for i, client in enumerate(user_assigned)}}
    if len(user_assigned) < len(job.client_ids):
        identity["type"] = "SystemAssigned,UserAssigned" if user_assigned else "SystemAssigned"
        identity.update(principalId=_principal(SYSTEM_ASSIGNED_CLIENT_ID), tenantId=TENANT_ID)
    template = {key: copy.deepcopy(job.template.get(key) or []) for key in (*_TEMPLATE_KEYS, "volumes")}
    return {
        "id": job.id,
        "name": job.name,
        "type": "Microsoft.App/jobs",
        "location": job.location,
        "tags": {},
        "identity": identity,
        "properties": {
            "provisioningState": "Succeeded",
            "environmentId": f"/subscriptions/{job.subscription}/resourceGroups/{job.resource_group}/providers"
                             f"/Microsoft.App/managedEnvironments/{job.name}-env",
            "workloadProfileName": "Consumption",
            "configuration": {
                "triggerType": "Manual",
                "replicaTimeout": job.replica_timeout,
                "replicaRetryLimit": 0,
                "manualTriggerConfig": {"replicaCompletionCount": 1, "parallelism": 1},
                "secrets": [{"name": name} for name in job.secrets],
                "registries": [],
            },
            "template": template,
            "outboundIpAddresses": ["127.0.0.1"],
            "eventStreamEndpoint": f"https://{job.location}.azurecontainerapps.dev/subscriptions/{job.subscription}"
                                   f"/resourceGroups/{job.resource_group}/containerApps/{job.name}/eventstream",
        },
    }


def _principal(client_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, client_id))


def execution_resource(execution: Execution, api_version: str, *, consume_interlude: bool = False) -> dict[str, Any]:
    """A JobExecution. While it runs, ``endTime`` is the replica's deadline, as the service's examples show a
    running execution with both times: completion is read from ``status`` only."""
    process = execution.process
    status = execution.status(consume_interlude=consume_interlude)
    end = process.ended_at or execution.start + timedelta(seconds=execution.job.replica_timeout)
    properties: dict[str, Any] = {"status": status, "startTime": arm_time(execution.start), "endTime": arm_time(end),
                                  "template": copy.deepcopy(execution.template)}
    if api_version == V2026:
        properties["detailedStatus"] = {"replicas": [{"name": f"{execution.name}-replica", "containers": [
            {"name": c.name, "status": c.status, **({"code": c.exit_code} if c.exit_code is not None else {})}
            for c in (*process.init_containers, *process.containers)]}]}
        if process.reason:
            properties["message"] = process.reason
    return {"name": execution.name, "id": execution.id, "type": _EXECUTION_TYPE, "properties": properties}


def get_job(state: EmulatorState, req: Request) -> Response:
    return Response(200, checked(_APP, "Job", job_resource(_job(state, req, "Microsoft.App/jobs/read"))))


def start_job(state: EmulatorState, req: Request) -> Response:
    job = _job(state, req, "Microsoft.App/jobs/start/action")
    override = _start_template(req)
    execution = state.load.start_execution(job, override)
    if job.start_status == 202:
        op = state.load.new_start_operation(execution)
        return Response(202, None, _start_headers(req, job, op))
    return Response(200, checked(_APP, "JobExecutionBase", {"name": execution.name, "id": execution.id}))


def _start_template(req: Request) -> dict[str, Any] | None:
    """The body is the JobExecutionTemplate itself (no wrapper); it replaces the job's template for this run."""
    if not req.raw_body.strip():
        return None
    body = req.json()
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must be a JobExecutionTemplate object.")
    unknown = sorted(set(body) - set(_TEMPLATE_KEYS))
    if unknown or not body.get("containers"):
        wrapped = " It looks wrapped: send the template itself, not {\"template\": ...}." if "template" in body else ""
        raise ArmError(400, "InvalidRequestContent",
                       "The request content must be a JobExecutionTemplate with at least one container "
                       f"(unexpected properties: {', '.join(unknown) or 'none'}).{wrapped}", target="containers")
    provider_validator(_APP).validate("JobExecutionTemplate", body)
    for key in _TEMPLATE_KEYS:
        for index, container in enumerate(body.get(key) or []):
            for required in ("name", "image"):
                if not container.get(required):
                    raise ArmError(400, "InvalidRequestContent",
                                   f"The property '{key}[{index}].{required}' is required.",
                                   target=f"{key}[{index}].{required}")
    return dict(body)


def _start_headers(req: Request, job: ContainerAppJob, op: StartOperation) -> dict[str, str]:
    location = (f"{req.base}/subscriptions/{job.subscription}/providers/Microsoft.App/locations/"
                f"{job.location.replace(' ', '').lower()}/containerappsjobOperationResults/{op.id}"
                f"?api-version={req.api_version}")
    return {"Location": location, "Retry-After": str(job.start_retry_after)}


def start_result(state: EmulatorState, req: Request) -> Response:
    """A start's (or stop's) Location: 202 until the execution is there (has ended), then its name and id
    (for a stop, no body)."""
    op = state.load.start_operations.get(req.params["op"])
    if op is None or op.execution.job.subscription.lower() != req.params["sub"].lower():
        raise ArmError(404, "ResourceNotFound", f"The operation '{req.params['op']}' was not found.")
    job = op.execution.job
    if not op.done(state.now()):
        return Response(202, None, _start_headers(req, job, op))
    if op.stop:
        return Response(200, None)
    return Response(200, checked(_APP, "JobExecutionBase", {"name": op.execution.name, "id": op.execution.id}))


def list_executions(state: EmulatorState, req: Request) -> Response:
    job = _job(state, req, "Microsoft.App/jobs/executions/read")
    if req.query.get("$filter"):
        raise ArmError(400, "InvalidFilter", "The emulator does not model $filter on job executions; the service "
                       "documents no syntax for it.", target="$filter")
    items = sorted(state.load.history(job), key=lambda e: e.start, reverse=True)
    return Response(200, checked(_APP, "ContainerAppJobExecutions", page(
        items, req.query, req.base, req.path, state.scenario.page_size,
        render=lambda e: execution_resource(e, req.api_version))))


def get_execution(state: EmulatorState, req: Request) -> Response:
    job = _job(state, req, "Microsoft.App/jobs/execution/read")
    execution = _execution(state, req, job)
    return Response(200, checked(_APP, "JobExecution",
                                 execution_resource(execution, req.api_version, consume_interlude=True)))


def stop_execution(state: EmulatorState, req: Request) -> Response:
    """Stops a running execution (its processes are killed; it ends Stopped); a finished one is left as is.
    With the job's ``stop.status: 202``, answers at once with a Location that is 202 until the replica has ended."""
    job = _job(state, req, "Microsoft.App/jobs/stop/execution/action")
    execution = _execution(state, req, job)
    if job.stop_status == 202:
        execution.process.stop(wait_seconds=0)
        op = state.load.new_start_operation(execution, stop=True)
        return Response(202, None, _start_headers(req, job, op))
    if not execution.process.finished:
        execution.process.stop()
    return Response(200, None)
