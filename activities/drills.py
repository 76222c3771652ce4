"""Drill activities that talk to ARM: which instances the vaults protect, and which point of each to drill.

Thin adapters over DataProtectionClient through ``run_arm``, so drills get the same envelope, error mapping and
ARM call counting as restores, and the orchestrator waits out 429s the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities._arm import run_arm
from activities.payload import Payload
from pgflex_restore.client import DataProtectionClient
from pgflex_restore.drills.choice import decide, drill_scan
from pgflex_restore.drills.plan import PointSelection
from pgflex_restore.ids import BackupInstanceId, VaultId
from pgflex_restore.parsing import BackupInstance
from pgflex_restore.point_scan import PointScan
from pgflex_restore.settings import Settings
from pgflex_restore.timeutil import parse_datetime

DRILL_LIST_INSTANCES = "drill_list_instances"
DRILL_CHOOSE_POINT = "drill_choose_point"

bp = df.Blueprint()


def _entry(vault: VaultId, instance: BackupInstance, source: str) -> dict[str, Any]:
    server_id = instance.datasource_resource_id or ""
    return {
        "id": str(BackupInstanceId(vault.subscription_id, vault.resource_group, vault.vault_name, instance.name)),
        "name": instance.name,
        "vault": vault.vault_name,
        "server": server_id.rstrip("/").rsplit("/", 1)[-1] if server_id else None,
        "serverId": server_id or None,
        "datasourceType": instance.datasource_type,
        "protectionState": instance.current_protection_state,
        "source": source,
        "found": True,
    }


def list_instances(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: {"vaults": [ids], "instances": [ids]}. Output: every instance of the vaults plus the named ones."""

    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        named = [BackupInstanceId.parse(i) for i in payload.get("instances") or []]
        vaults = [VaultId.parse(v) for v in payload.get("vaults") or []]
        wanted = list(dict.fromkeys([*vaults, *(bi.vault for bi in named)]))
        listings = {vault: client.list_backup_instances(vault) for vault in wanted}
        out: list[dict[str, Any]] = []
        for bi in named:
            match = next((i for i in listings[bi.vault] if i.name.lower() == bi.backup_instance_name.lower()), None)
            if match is None:
                out.append({"id": str(bi), "name": bi.backup_instance_name, "vault": bi.vault_name,
                            "source": "plan", "found": False})
            else:
                out.append(_entry(bi.vault, match, "plan"))
        for vault in vaults:
            out.extend(_entry(vault, instance, "vault") for instance in listings[vault])
        return {"instances": out}

    return run_arm(call, payload)


def choose_point(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: backupInstance, selection, now, maxPointAgeSeconds, seed (and ``resume``, a scan a throttled
    attempt left). Output: the point to drill and the RPO facts, never the listing: however many points the
    instance keeps, the result (and so the drill's history) stays the same size."""
    scan: PointScan | None = None

    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        nonlocal scan
        now = parse_datetime(payload["now"])
        scan = PointScan.from_dict(payload["resume"]) if payload.get("resume") else drill_scan(
            PointSelection.from_dict(payload["selection"]), now=now, seed=payload["seed"])
        client.scan_recovery_points(BackupInstanceId.parse(payload["backupInstance"]), scan)
        choice = decide(scan, now=now, max_age=timedelta(seconds=float(payload["maxPointAgeSeconds"])))
        return {"choice": choice.to_dict(), "pointsSeen": scan.listed, "pages": scan.pages}

    return run_arm(call, payload, resume=lambda: scan.to_dict() if scan is not None and scan.pages else None)


@bp.activity_trigger(input_name="payload")
def drill_list_instances(payload: Payload) -> dict[str, Any]:
    return list_instances(payload)


@bp.activity_trigger(input_name="payload")
def drill_choose_point(payload: Payload) -> dict[str, Any]:
    return choose_point(payload)
