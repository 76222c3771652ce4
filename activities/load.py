"""Load activities on ARM: the target server, its extension allowlist, the loader job and its executions.

One request each (the start may first list executions, see ``start_execution``), through the shared ARM client,
in the ``{"ok": ...}`` envelope; none waits: the load orchestration owns every wait. The async operation of the
configuration PUT is polled with the restore's own ``get_operation_status`` (any ARM async operation parses).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import azure.durable_functions as df

from activities._arm import run_load_arm
from activities.payload import Payload
from clients import attempt_seen
from pgflex_restore.errors import PgflexError
from pgflex_restore.ids import ContainerAppJobId, FlexibleServerId
from pgflex_restore.load_arm import own_execution
from pgflex_restore.load_client import LoadClient
from pgflex_restore.load_spec import host_allowed, server_allowed
from pgflex_restore.settings import Settings
from pgflex_restore.timeutil import parse_datetime

LOAD_GET_SERVER = "load_get_server"
LOAD_GET_EXTENSIONS = "load_get_extensions"
LOAD_PUT_EXTENSIONS = "load_put_extensions"
LOAD_GET_JOB = "load_get_job"
LOAD_START_EXECUTION = "load_start_execution"
LOAD_GET_START_RESULT = "load_get_start_result"
LOAD_FIND_EXECUTION = "load_find_execution"
LOAD_GET_EXECUTION = "load_get_execution"
LOAD_STOP_EXECUTION = "load_stop_execution"

bp = df.Blueprint()


class ServerNotAllowed(PgflexError):
    """The server is not (or no longer) on LOAD_TARGET_ALLOWLIST: nothing is loaded into it."""

    code = "ServerNotAllowed"


def get_server(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: server (ARM id). Output: the server (host, version, state). The allowlist is checked again, by ARM
    id or by the host ARM names (settings may have changed since the request was accepted)."""
    def call(client: LoadClient, settings: Settings) -> dict[str, Any]:
        server = FlexibleServerId.parse(payload["server"])
        allowlist = settings.load_target_allowlist
        if not server_allowed(server, allowlist):
            raise ServerNotAllowed(f"{server} is not on LOAD_TARGET_ALLOWLIST (any more)")
        found = client.get_server(server)
        if not host_allowed(server, found.host, allowlist):
            raise ServerNotAllowed(f"{server} has host {found.host}, which is not on LOAD_TARGET_ALLOWLIST")
        return {"server": found.to_dict()}

    return run_load_arm(call, payload)


def get_extensions(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: server. Output: its ``azure.extensions`` (value, allowedValues, source)."""
    def call(client: LoadClient, settings: Settings) -> dict[str, Any]:
        return {"configuration": client.get_extensions(FlexibleServerId.parse(payload["server"])).to_dict()}

    return run_load_arm(call, payload)


def put_extensions(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: server, value (the whole new list). Output: the async operation to poll. A PUT is idempotent:
    a re-delivered one sets the same value again."""
    def call(client: LoadClient, settings: Settings) -> dict[str, Any]:
        operation = client.put_extensions(FlexibleServerId.parse(payload["server"]), payload["value"])
        return {"operation": operation.to_dict()}

    return run_load_arm(call, payload)


def get_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: job (LOAD_JOB). Output: its template (containers), which the start restates."""
    def call(client: LoadClient, settings: Settings) -> dict[str, Any]:
        return {"template": client.get_loader_job(ContainerAppJobId.parse(payload["job"]))}

    return run_load_arm(call, payload)


def start_execution(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: job, body (the JobExecutionTemplate), runId, attemptedAt (the first attempt's time). Output: the
    start's answer, or the execution this restore already started.

    Activities run at least once, and a start whose answer was lost may have started an execution. So each run
    records its attempt in the Functions storage account first; a run that finds the record already there (or
    cannot reach storage) lists the job's executions and takes the one whose LOAD_REQUEST carries this runId,
    rather than starting a second load. A first delivery costs no extra ARM read.
    """
    def call(client: LoadClient, settings: Settings) -> dict[str, Any]:
        job = ContainerAppJobId.parse(payload["job"])
        client.pace_start(job)  # a paced run records no attempt: its re-run stays cheap
        if attempt_seen(_attempt_key(payload), "load") is not False:
            since = parse_datetime(payload["attemptedAt"])
            mine = own_execution(client.list_executions(job), payload["runId"], since)
            if mine is not None:
                return {"start": {"execution": {"name": mine.name, "id": None}}, "alreadyStarted": True}
        return {"start": client.start_execution(job, payload["body"]).to_dict()}

    return run_load_arm(call, payload)


def _attempt_key(payload: dict[str, Any]) -> str:
    """One row per restore's load and first attempt: the same on every delivery and every retry."""
    text = json.dumps([payload["job"], payload["runId"], payload["attemptedAt"]], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def find_execution(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: job, runId, since. Output: the execution this restore started (by its LOAD_REQUEST's runId), or
    None: after a start whose outcome is unknown, the orchestrator looks before it posts again."""
    def call(client: LoadClient, settings: Settings) -> dict[str, Any]:
        mine = own_execution(client.list_executions(ContainerAppJobId.parse(payload["job"])), payload["runId"],
                             parse_datetime(payload["since"]))
        return {"execution": {"name": mine.name, "id": None} if mine is not None else None}

    return run_load_arm(call, payload)


def get_start_result(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: url (the start's Location, as received). Output: the start's answer (execution, or still 202)."""
    def call(client: LoadClient, settings: Settings) -> dict[str, Any]:
        return {"start": client.get_start_result(payload["url"]).to_dict()}

    return run_load_arm(call, payload)


def get_execution(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: job, name. Output: the execution's status, reduced to running/succeeded/failed/stopped."""
    def call(client: LoadClient, settings: Settings) -> dict[str, Any]:
        execution = client.get_execution(ContainerAppJobId.parse(payload["job"]), payload["name"])
        return {"execution": execution.to_dict()}

    return run_load_arm(call, payload)


def stop_execution(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: job, name. Stops the execution (at the deadline, or when a restore is cancelled)."""
    def call(client: LoadClient, settings: Settings) -> dict[str, Any]:
        client.stop_execution(ContainerAppJobId.parse(payload["job"]), payload["name"])
        return {"stopped": payload["name"]}

    return run_load_arm(call, payload)


@bp.activity_trigger(input_name="payload")
def load_get_server(payload: Payload) -> dict[str, Any]:
    return get_server(payload)


@bp.activity_trigger(input_name="payload")
def load_get_extensions(payload: Payload) -> dict[str, Any]:
    return get_extensions(payload)


@bp.activity_trigger(input_name="payload")
def load_put_extensions(payload: Payload) -> dict[str, Any]:
    return put_extensions(payload)


@bp.activity_trigger(input_name="payload")
def load_get_job(payload: Payload) -> dict[str, Any]:
    return get_job(payload)


@bp.activity_trigger(input_name="payload")
def load_start_execution(payload: Payload) -> dict[str, Any]:
    return start_execution(payload)


@bp.activity_trigger(input_name="payload")
def load_find_execution(payload: Payload) -> dict[str, Any]:
    return find_execution(payload)


@bp.activity_trigger(input_name="payload")
def load_get_start_result(payload: Payload) -> dict[str, Any]:
    return get_start_result(payload)


@bp.activity_trigger(input_name="payload")
def load_get_execution(payload: Payload) -> dict[str, Any]:
    return get_execution(payload)


@bp.activity_trigger(input_name="payload")
def load_stop_execution(payload: Payload) -> dict[str, Any]:
    return stop_execution(payload)
