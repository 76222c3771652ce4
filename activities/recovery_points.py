"""Activity: list a backup instance's recovery points (all pages) and pick the one the request asks for."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities._arm import run_arm
from activities.payload import Payload
from pgflex_restore.client import DataProtectionClient
from pgflex_restore.models import RestoreRequest
from pgflex_restore.selection import choose_source_store, select_recovery_point
from pgflex_restore.settings import Settings

RESOLVE_RECOVERY_POINT = "resolve_recovery_point"

bp = df.Blueprint()


def resolve(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: the restore request (wire JSON). Output: the recovery point it asks for."""

    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        request = RestoreRequest.from_dict(payload["request"], allowlist=settings.restore_target_allowlist)
        choice = request.recovery_point
        points = client.list_recovery_points(request.backup_instance, end=choice.before)
        chosen = select_recovery_point(points, choice, data_store=request.data_store)
        # The store the restore body will name (same rule as bodies.py), so the result record tells the truth.
        store = choose_source_store(chosen, request.data_store)
        return {"recoveryPoint": chosen.to_dict(), "store": store, "pointsSeen": len(points)}

    return run_arm(call)


@bp.activity_trigger(input_name="payload")
def resolve_recovery_point(payload: Payload) -> dict[str, Any]:
    return resolve(payload)
