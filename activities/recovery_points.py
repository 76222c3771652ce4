"""Activity: find the recovery point a restore request asks for, listing no more than that needs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from activities._arm import run_arm
from activities.payload import Payload
from pgflex_restore.client import DataProtectionClient
from pgflex_restore.errors import NoRecoveryPointError, NotFoundError
from pgflex_restore.models import RestoreRequest
from pgflex_restore.parsing import RecoveryPoint
from pgflex_restore.point_scan import PointScan
from pgflex_restore.selection import choose_source_store, restore_scan, scanned_point
from pgflex_restore.settings import Settings
from pgflex_restore.timeutil import parse_datetime

RESOLVE_RECOVERY_POINT = "resolve_recovery_point"

bp = df.Blueprint()


def resolve(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: the restore request (wire JSON), ``now``, and ``resume`` (a scan a throttled attempt left).
    Output: the recovery point it asks for; a point named by id is read alone, the others are found by a
    windowed scan that lists only as far back as it must."""
    scan: PointScan | None = None

    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        nonlocal scan
        request = RestoreRequest.from_dict(payload["request"], allowlist=settings.restore_target_allowlist,
                                           load_allowlist=settings.load_target_allowlist)
        choice = request.recovery_point
        if choice.mode == "id":
            chosen = _by_id(client, request)
            listed = 1
        else:
            now = parse_datetime(payload["now"]) if payload.get("now") else datetime.now(UTC)
            scan = (PointScan.from_dict(payload["resume"]) if payload.get("resume")
                    else restore_scan(choice, request.data_store, now))
            client.scan_recovery_points(request.backup_instance, scan)
            chosen, listed = scanned_point(scan, choice), scan.listed
        # The store the restore body will name (same rule as bodies.py), so the result record tells the truth.
        store = choose_source_store(chosen, request.data_store)
        return {"recoveryPoint": chosen.to_dict(), "store": store, "pointsSeen": listed}

    return run_arm(call, payload, resume=lambda: scan.to_dict() if scan is not None and scan.pages else None)


def _by_id(client: DataProtectionClient, request: RestoreRequest) -> RecoveryPoint:
    wanted = request.recovery_point.recovery_point_id or ""
    try:
        return client.get_recovery_point(request.backup_instance, wanted)
    except NotFoundError as exc:
        raise NoRecoveryPointError(
            f"no recovery point with id {wanted} for this backup instance ({exc.code}: {exc.message}); "
            "list the points (GET /api/recovery-points) or use \"latest\""
        ) from exc


@bp.activity_trigger(input_name="payload")
def resolve_recovery_point(payload: Payload) -> dict[str, Any]:
    return resolve(payload)
