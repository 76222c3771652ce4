"""Starting restores exactly once: the instance id is the deduplication key.

A request id (HTTP or queue) or an alert id names the instance, so a repeated request finds the first one
instead of starting a second restore. The check-then-start race is closed by the durable extension itself:
starting an id that is running fails, and we then answer with the instance that won.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df

from orchestrations.restore import RESTORE_ORCHESTRATION
from pgflex_restore.models import RestoreRequest
from pgflex_restore.restore_plan import RestorePlan
from pgflex_restore.settings import Settings

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Started:
    instance_id: str
    created: bool
    runtime_status: str | None


def restore_instance_id(request_id: str | None, fallback: str) -> str:
    """``restore-<request id>`` (or ``restore-<fallback>``): a caller's id can never collide with another caller's
    prefixed id nor with an alert's ``alert-...`` instance. Request ids are already restricted to characters the
    extension allows in instance ids, and fallbacks are GUIDs or queue message ids.
    """
    return f"restore-{request_id or fallback}"


def plan_restore(
    data: object, settings: Settings, fallback_id: str, origin: dict[str, Any], *, instance_id: str | None = None
) -> RestorePlan:
    """Validate a wire request (RequestValidationError lists every bad field) and name its instance.

    Without a filePrefix the files are written under the restore's id, so two restores never collide.
    """
    raw_id = data.get("requestId") if isinstance(data, dict) else None
    restore_id = instance_id or restore_instance_id(raw_id if isinstance(raw_id, str) else None, fallback_id)
    # (An invalid requestId fails validation below, so restore_id is only used for valid ones.)
    request = RestoreRequest.from_dict(data, allowlist=settings.restore_target_allowlist,
                                       default_file_prefix=restore_id,
                                       load_allowlist=settings.load_target_allowlist)
    return RestorePlan.create(restore_id, request, settings, origin=origin)


async def existing_status(client: df.DurableOrchestrationClient, instance_id: str) -> Any | None:
    status = await client.get_status(instance_id)
    if status and getattr(status, "runtime_status", None) is not None:
        return status
    return None


async def start_once(client: df.DurableOrchestrationClient, plan: RestorePlan) -> Started:
    """Start the restore unless an instance with its id already exists (running or finished)."""
    return await start_instance_once(client, RESTORE_ORCHESTRATION, plan.restore_id, plan.to_dict())


async def start_instance_once(
    client: df.DurableOrchestrationClient, orchestrator: str, instance_id: str, payload: dict[str, Any]
) -> Started:
    """Start ``orchestrator`` as ``instance_id`` unless that instance exists (running or finished)."""
    found = await existing_status(client, instance_id)
    if found is not None:
        return Started(instance_id, False, runtime_name(found))
    try:
        await client.start_new(orchestrator, instance_id, payload)
    except Exception:
        found = await existing_status(client, instance_id)
        if found is None:
            raise
        log.info("%s was started concurrently; answering with the existing instance", instance_id)
        return Started(instance_id, False, runtime_name(found))
    return Started(instance_id, True, "Pending")


def runtime_name(status: Any) -> str | None:
    """The runtime status as text ("Running", "Completed", ...): the SDK gives an enum, or None when unknown."""
    runtime = getattr(status, "runtime_status", None)
    return getattr(runtime, "value", None) or (str(runtime) if runtime is not None else None)
