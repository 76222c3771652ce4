"""Which backup instances one run drills: the plan's explicit list plus every PostgreSQL flexible server of
the plan's vaults, minus exclusions, in a stable order (the fan-out must be the same on every replay).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .plan import DrillPlan
from .run import instance_prefix

PG_FLEX_TYPE = "microsoft.dbforpostgresql/flexibleservers"
_LEAF_UNSAFE = re.compile(r"[^A-Za-z0-9\-_.]+")


def is_pg_flex(instance: Mapping[str, Any]) -> bool:
    """Protects a PostgreSQL flexible server (by datasource type, else by the datasource's resource id)."""
    kind = str(instance.get("datasourceType") or "").lower()
    if kind:
        return kind == PG_FLEX_TYPE
    return f"/providers/{PG_FLEX_TYPE}/" in str(instance.get("serverId") or "").lower()


def file_leaf(instance: Mapping[str, Any]) -> str:
    """The last part of the restore's filePrefix: the server's name (else the instance's), path-safe."""
    name = str(instance.get("server") or instance.get("name") or "server")
    return _LEAF_UNSAFE.sub("-", name).strip("-.") or "server"


def drill_targets(plan: DrillPlan, listed: Sequence[Mapping[str, Any]], run_id: str) -> list[dict[str, Any]]:
    """One entry per instance: ``skip`` (with a reason) or what the instance sub-orchestration needs."""
    targets: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in sorted(listed, key=lambda i: (str(i.get("source") != "plan"), str(i.get("id")).lower())):
        key = str(item.get("id")).lower()
        if key in seen:
            continue
        seen.add(key)
        entry: dict[str, Any] = {
            "id": item.get("id"), "name": item.get("name"), "vault": item.get("vault"),
            "server": item.get("server"), "serverId": item.get("serverId"),
        }
        name = str(item.get("name"))
        if plan.excluded(str(item.get("id")), name):
            entry["skip"] = {"reason": "excluded", "message": "excluded by the drill plan"}
        elif item.get("found") is False:
            entry["fail"] = {"reason": "backup-instance-not-found",
                             "message": "the plan names a backup instance its vault does not list"}
        elif not is_pg_flex(item):
            entry["skip"] = {"reason": "not-postgresql-flexible-server",
                             "message": f"datasource type {item.get('datasourceType')} is not drilled"}
        entry["expectedDatabases"] = plan.databases_for(str(item.get("id")), name, item.get("server"))
        if not entry.get("skip") and not entry.get("fail"):
            entry["proof"] = plan.proof_for(str(item.get("id")), name, item.get("server"))
        entry["prefix"] = instance_prefix(run_id, name)
        entry["leaf"] = file_leaf(item)
        targets.append(entry)
    return targets
