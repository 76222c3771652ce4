"""Starting restores exactly once: the instance id is the deduplication key.

A request id (HTTP or queue) or an alert id names the instance, so a repeated request finds the first one
instead of starting a second restore. The check-then-start race is closed by a claim on the id in the Functions
storage account (start_instance_once says why the extension's own check is not enough).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df

from clients import claim_start, release_claim, take_stale_claim
from orchestrations.restore import RESTORE_ORCHESTRATION
from pgflex_restore.models import RestoreRequest
from pgflex_restore.restore_plan import RestorePlan
from pgflex_restore.settings import Settings

log = logging.getLogger(__name__)

# Every instance id the app gives out, internal ones included; anything else is nobody's instance.
INSTANCE_ID = re.compile(r"[A-Za-z0-9\-_.:~]{1,200}")


@dataclass(frozen=True)
class Started:
    instance_id: str
    created: bool
    runtime_status: str | None


def restore_instance_id(request_id: str | None, fallback: str) -> str:
    """The restore's instance id, unique to its origin so that no two origins can ever share one.

    A caller's request id R names ``restore-R`` with its ``:`` written ``~`` (request ids never hold ``~``, so
    distinct ids stay distinct, and no caller id can equal an internal ``<parent>:job``/``:load`` instance).
    Without a request id the restore is named ``restore~<fallback>`` (a GUID or ``queue-<message id>``): the
    ``~`` in eighth place is something no caller id has. Alerts are ``alert-...``, drills ``drill-...``.
    """
    if request_id:
        return f"restore-{request_id.replace(':', '~')}"
    return f"restore~{fallback}"


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
    """Start ``orchestrator`` as ``instance_id`` unless that instance exists (running or finished), or another
    start of it is under way.

    The extension's own check only refuses ids that are running: a start that raced one which has already
    finished would *replace* the finished instance, and the caller's id would have run twice. So the first
    start claims the id in the Functions storage account (an insert, which only one writer wins) before it
    starts anything; a claim left by a start that died before starting is taken over after ``STALE_CLAIM``.
    """
    found = await existing_status(client, instance_id)
    if found is not None:
        return Started(instance_id, False, runtime_name(found))
    claimed = await asyncio.to_thread(claim_start, instance_id)
    if claimed is False:
        found = await existing_status(client, instance_id)
        if found is not None or not await asyncio.to_thread(take_stale_claim, instance_id):
            return Started(instance_id, False, runtime_name(found) if found is not None else "Pending")
    try:
        await client.start_new(orchestrator, instance_id, payload)
    except Exception:
        found = await existing_status(client, instance_id)
        if found is None:
            if claimed is not None:
                await asyncio.to_thread(release_claim, instance_id)
            raise
        log.info("%s was started concurrently; answering with the existing instance", instance_id)
        return Started(instance_id, False, runtime_name(found))
    return Started(instance_id, True, "Pending")


async def own_status(client: df.DurableOrchestrationClient, instance_id: str, *orchestrators: str) -> Any | None:
    """The instance's status when it is one of ``orchestrators``: each API sees only its own instances (a
    restore route must not show or cancel a drill run, nor a restore's internal job tracker)."""
    if not INSTANCE_ID.fullmatch(instance_id):
        return None  # not an id this app ever gives out (and not one to put in a management URL)
    status = await existing_status(client, instance_id)
    if status is None or getattr(status, "name", None) not in orchestrators:
        return None
    return status


def runtime_name(status: Any) -> str | None:
    """The runtime status as text ("Running", "Completed", ...): the SDK gives an enum, or None when unknown."""
    runtime = getattr(status, "runtime_status", None)
    return getattr(runtime, "value", None) or (str(runtime) if runtime is not None else None)
