"""The drill plan: what to drill, how to pick the point, where to restore, and the limits (DRILL_PLAN).

The plan is JSON (the setting's value, or a path to a file). Parsing collects every problem with its JSON path,
like restore requests do, so an operator fixes a plan in one go; unknown keys are refused because a typo
(``"maxPointAg"``) silently ignored would weaken the check. ``to_dict`` is the normal form that crosses the
durable boundary. docs/drills.md documents every key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pgflex_restore.ids import BackupInstanceId, VaultId
from pgflex_restore.target_urls import normalize_container_url
from pgflex_restore.timeutil import format_iso_duration, parse_duration_or_seconds

from .proof_plan import PROOF_KEYS, ProofReader, merged, needs_load, resolve

PLAN_KEYS = frozenset({
    "container", "instances", "vaults", "exclude", "recoveryPoint", "maxPointAge", "concurrency", "retention",
    "expectedDatabases", "restoreTimeout", "servers", *PROOF_KEYS,
})
INSTANCE_KEYS = frozenset({"backupInstance", "expectedDatabases", *PROOF_KEYS})
DEFAULT_MAX_POINT_AGE = timedelta(days=8)  # PostgreSQL flexible-server vaulted backups are weekly
DEFAULT_RETENTION = timedelta(days=7)
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 50


class PlanError(ValueError):
    """The drill plan is invalid; ``problems`` maps each JSON path to what is wrong with it."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("invalid drill plan: " + "; ".join(f"{k or '(plan)'}: {v}" for k, v in problems.items()))


@dataclass(frozen=True)
class PointSelection:
    """``latest``, or ``random`` among the points of the last ``within_days`` (seeded by the run id)."""

    mode: str = "latest"
    within_days: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "withinDays": self.within_days} if self.mode == "random" else {"mode": "latest"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointSelection:
        """Inverse of to_dict (trusted input: the plan was validated when the run started)."""
        if data.get("mode") == "random":
            return cls("random", float(data["withinDays"]))
        return cls()


@dataclass(frozen=True)
class PlannedInstance:
    """A backup instance named in the plan, with the databases it must contain when known."""

    backup_instance: str
    expected_databases: tuple[str, ...] | None = None
    proof: dict[str, Any] = field(default_factory=dict)  # proof keys set on this instance (proof_plan.py)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backupInstance": self.backup_instance, **self.proof}
        if self.expected_databases is not None:
            out["expectedDatabases"] = list(self.expected_databases)
        return out


@dataclass(frozen=True)
class DrillPlan:
    """A validated plan; durations are timedeltas, ids canonical, the container normalised."""

    container: str
    instances: tuple[PlannedInstance, ...] = ()
    vaults: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    selection: PointSelection = field(default_factory=PointSelection)
    max_point_age: timedelta = DEFAULT_MAX_POINT_AGE
    concurrency: int = DEFAULT_CONCURRENCY
    retention: timedelta = DEFAULT_RETENTION
    expected_databases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    restore_timeout: timedelta | None = None
    proof: dict[str, Any] = field(default_factory=dict)  # plan-level proof keys (load, checks, targets...)
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)  # server name -> its proof keys

    def proof_for(self, backup_instance: str, instance_name: str, server_name: str | None) -> dict[str, Any] | None:
        """The resolved proof options of one instance: plan level, then its server's, then its own entry."""
        server_level: dict[str, Any] = {}
        for key in (backup_instance, instance_name, server_name):
            for name, options in self.servers.items():
                if key and name.lower() == key.lower() and not server_level:
                    server_level = options
        own = next((p.proof for p in self.instances if p.backup_instance.lower() == backup_instance.lower()), {})
        return resolve(merged(self.proof, server_level, own))

    @property
    def loads(self) -> bool:
        """Some drill of this plan loads (so LOAD_JOB must be set)."""
        return needs_load(self.proof) or any(needs_load(o) for o in self.servers.values()) \
            or any(needs_load(p.proof) for p in self.instances)

    def databases_for(self, backup_instance: str, instance_name: str, server_name: str | None) -> list[str] | None:
        """Expected databases: the instance's own list, else the map by server name, instance name or id."""
        for planned in self.instances:
            if planned.backup_instance.lower() == backup_instance.lower() and planned.expected_databases:
                return list(planned.expected_databases)
        for key in (server_name, instance_name, backup_instance):
            if key:
                for name, databases in self.expected_databases.items():
                    if name.lower() == key.lower():
                        return list(databases)
        return None

    def excluded(self, backup_instance: str, instance_name: str) -> bool:
        return any(x.lower() in (backup_instance.lower(), instance_name.lower()) for x in self.exclude)

    def to_dict(self) -> dict[str, Any]:
        """The normal form (also valid input for ``parse_plan``)."""
        out: dict[str, Any] = {
            "container": self.container,
            "instances": [i.to_dict() for i in self.instances],
            "vaults": list(self.vaults),
            "exclude": list(self.exclude),
            "recoveryPoint": self.selection.to_dict(),
            "maxPointAge": format_iso_duration(self.max_point_age),
            "concurrency": self.concurrency,
            "retention": format_iso_duration(self.retention),
            "expectedDatabases": {k: list(v) for k, v in self.expected_databases.items()},
        }
        if self.restore_timeout is not None:
            out["restoreTimeout"] = format_iso_duration(self.restore_timeout)
        out.update(self.proof)
        if self.servers:
            out["servers"] = {k: dict(v) for k, v in self.servers.items()}
        return out


def load_plan_text(raw: str) -> str:
    """DRILL_PLAN holds the JSON itself or a path to a JSON file."""
    text = raw.strip()
    if text.startswith("{"):
        return text
    path = Path(text).expanduser()
    if not path.is_file():
        raise PlanError({"": f"DRILL_PLAN is neither JSON nor the path of a readable file: {text[:120]!r}"})
    return path.read_text(encoding="utf-8")


def parse_plan(data: object, *, allowlist: Sequence[str] = (), default_vaults: Sequence[str] = (),
               load_allowlist: Sequence[str] | None = None) -> DrillPlan:
    """Validate a plan (a dict or JSON text). ``allowlist``: RESTORE_TARGET_ALLOWLIST in normal form;
    ``load_allowlist``: LOAD_TARGET_ALLOWLIST in normal form (None: not checked, for a plan validated already).

    Without ``instances`` and ``vaults`` the plan drills every vault of ``default_vaults`` (RESTORE_VAULTS).
    :raises PlanError: every problem found, by JSON path.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise PlanError({"": f"not valid JSON: {exc}"}) from exc
    if not isinstance(data, dict):
        raise PlanError({"": "the drill plan must be a JSON object"})
    return _Reader(allowlist, load_allowlist).read(data, default_vaults)


class _Reader:
    def __init__(self, allowlist: Sequence[str], load_allowlist: Sequence[str] | None = None) -> None:
        self.allowlist = set(allowlist)
        self.problems: dict[str, str] = {}
        self.proof = ProofReader(self.fail, load_allowlist)

    def fail(self, path: str, message: str) -> None:
        self.problems.setdefault(path, message)

    def read(self, data: dict[str, Any], default_vaults: Sequence[str]) -> DrillPlan:
        for key in sorted(set(data) - PLAN_KEYS):
            self.fail(key, f"unknown key; allowed: {', '.join(sorted(PLAN_KEYS))}")
        container = self.container(data.get("container"))
        instances = self.instances(data.get("instances", []))
        vaults = self.vaults(data.get("vaults", []))
        if not instances and not vaults and "instances" not in data and "vaults" not in data:
            vaults = self.vaults(list(default_vaults), "RESTORE_VAULTS")
        if not instances and not vaults and not self.problems:
            self.fail("instances", "nothing to drill: list backup instances, vaults, or set RESTORE_VAULTS")
        exclude = tuple(self.names(data.get("exclude", []), "exclude"))
        selection = self.selection(data.get("recoveryPoint", "latest"))
        max_age = self.duration(data, "maxPointAge", DEFAULT_MAX_POINT_AGE)
        retention = self.duration(data, "retention", DEFAULT_RETENTION)
        timeout = self.duration(data, "restoreTimeout", None)
        concurrency = self.concurrency(data.get("concurrency", DEFAULT_CONCURRENCY))
        expected = self.expected(data.get("expectedDatabases", {}))
        proof = self.proof.read(data, "")
        servers = self.servers(data.get("servers", {}))
        if self.problems:
            raise PlanError(self.problems)
        return DrillPlan(container or "", instances, vaults, exclude, selection, max_age or DEFAULT_MAX_POINT_AGE,
                         concurrency, retention or DEFAULT_RETENTION, expected, timeout, proof, servers)

    def servers(self, value: object) -> dict[str, dict[str, Any]]:
        if not isinstance(value, dict):
            self.fail("servers", "must map a server (or backup instance) name to its proof keys")
            return {}
        out: dict[str, dict[str, Any]] = {}
        for name, options in value.items():
            if not isinstance(options, dict):
                self.fail(f"servers.{name}", "must be an object of proof keys (load, checks, rtoTarget, ...)")
                continue
            for key in sorted(set(options) - PROOF_KEYS):
                self.fail(f"servers.{name}.{key}", f"unknown key; allowed: {', '.join(sorted(PROOF_KEYS))}")
            out[str(name)] = self.proof.read(options, f"servers.{name}.")
        return out

    def container(self, value: object) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.fail("container", "required: the URL of the blob container drills restore into")
            return None
        try:
            url = normalize_container_url(value)
        except ValueError as exc:
            self.fail("container", str(exc))
            return None
        if url not in self.allowlist:
            self.fail("container", f"{url} is not on RESTORE_TARGET_ALLOWLIST")
        return url

    def instances(self, value: object) -> tuple[PlannedInstance, ...]:
        if not isinstance(value, list):
            self.fail("instances", "must be a list of backup instance ids or {backupInstance, expectedDatabases}")
            return ()
        out: list[PlannedInstance] = []
        for index, item in enumerate(value):
            path = f"instances[{index}]"
            raw_id: object = item
            databases: tuple[str, ...] | None = None
            proof: dict[str, Any] = {}
            if isinstance(item, dict):
                for key in sorted(set(item) - INSTANCE_KEYS):
                    self.fail(f"{path}.{key}", f"unknown key; allowed: {', '.join(sorted(INSTANCE_KEYS))}")
                raw_id = item.get("backupInstance")
                if "expectedDatabases" in item:
                    databases = tuple(self.names(item["expectedDatabases"], f"{path}.expectedDatabases"))
                proof = self.proof.read(item, f"{path}.")
                path = f"{path}.backupInstance"
            try:
                bi = BackupInstanceId.parse(raw_id) if isinstance(raw_id, str) else None
            except ValueError as exc:
                self.fail(path, str(exc))
                continue
            if bi is None:
                self.fail(path, "must be a backup instance ARM id")
                continue
            if all(str(bi).lower() != p.backup_instance.lower() for p in out):
                out.append(PlannedInstance(str(bi), databases, proof))
        return tuple(out)

    def vaults(self, value: object, path: str = "vaults") -> tuple[str, ...]:
        if not isinstance(value, list):
            self.fail(path, "must be a list of Backup vault ARM ids")
            return ()
        out: list[str] = []
        for index, item in enumerate(value):
            try:
                vault = str(item) if isinstance(item, VaultId) else str(VaultId.parse(item))
            except (ValueError, TypeError) as exc:
                self.fail(f"{path}[{index}]", str(exc))
                continue
            if vault.lower() not in (v.lower() for v in out):
                out.append(vault)
        return tuple(out)

    def names(self, value: object, path: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(path, "must be a list of non-empty strings")
            return []
        return [v.strip() for v in value]

    def selection(self, value: object) -> PointSelection:
        if value in ("latest", {"mode": "latest"}):
            return PointSelection()
        if isinstance(value, dict) and value.get("mode") == "random":
            unknown = set(value) - {"mode", "withinDays"}
            days = value.get("withinDays")
            if unknown:
                self.fail("recoveryPoint", f"unknown key(s) {', '.join(sorted(unknown))}")
            elif isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 3650:
                self.fail("recoveryPoint.withinDays", "required with mode random: a number of days above 0")
            else:
                return PointSelection("random", float(days))
            return PointSelection()
        self.fail("recoveryPoint", 'must be "latest" or {"mode": "random", "withinDays": N}')
        return PointSelection()

    def duration(self, data: dict[str, Any], key: str, default: timedelta | None) -> timedelta | None:
        if key not in data:
            return default
        value = data[key]
        try:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValueError("must be an ISO 8601 duration such as P8D, or seconds")
            parsed = parse_duration_or_seconds(str(value))
        except ValueError as exc:
            self.fail(key, str(exc))
            return default
        if parsed <= timedelta(0):
            self.fail(key, "must be longer than zero")
        return parsed

    def concurrency(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
            self.fail("concurrency", f"must be a whole number from 1 to {MAX_CONCURRENCY}")
            return DEFAULT_CONCURRENCY
        return value

    def expected(self, value: object) -> dict[str, tuple[str, ...]]:
        if not isinstance(value, dict):
            self.fail("expectedDatabases", "must map a server (or backup instance) name to a list of databases")
            return {}
        return {str(k): tuple(self.names(v, f"expectedDatabases.{k}")) for k, v in value.items()}
