"""Drill activities that talk to ARM: which instances the vaults protect, and each instance's recovery points.

Thin adapters over DataProtectionClient through ``run_arm``, so drills get the same envelope, error mapping and
ARM call counting as restores, and the orchestrator waits out 429s the same way.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities._arm import run_arm
from activities.payload import Payload
from pgflex_restore.client import DataProtectionClient
from pgflex_restore.ids import BackupInstanceId, VaultId
from pgflex_restore.parsing import BackupInstance
from pgflex_restore.settings import Settings

DRILL_LIST_INSTANCES = "drill_list_instances"
DRILL_LIST_POINTS = "drill_list_points"
MAX_POINTS = 500  # newest first; a drill needs the newest point and those of the random window

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

    return run_arm(call)


def list_points(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: {"backupInstance": id}. Output: its recovery points, newest first."""

    def call(client: DataProtectionClient, settings: Settings) -> dict[str, Any]:
        points = client.list_recovery_points(BackupInstanceId.parse(payload["backupInstance"]))
        points.sort(key=lambda p: (p.time, p.id), reverse=True)
        return {"points": [p.to_dict() for p in points[:MAX_POINTS]], "pointsSeen": len(points)}

    return run_arm(call)


@bp.activity_trigger(input_name="payload")
def drill_list_instances(payload: Payload) -> dict[str, Any]:
    return list_instances(payload)


@bp.activity_trigger(input_name="payload")
def drill_list_points(payload: Payload) -> dict[str, Any]:
    return list_points(payload)
