"""The scenario: which vaults, backup instances and recovery points exist, and how each instance behaves.

A scenario is a plain dict (from JSON or YAML). Keys are camelCase like the ARM API. See README section
"Scenario format" (and ``example_scenario.yaml``) for the full list; every key but the names is optional.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .clock import parse_time
from .errors import ScenarioError
from .loadscenario import ContainerAppJob, FlexibleServer, parse_job, parse_server
from .storagescenario import WRITER_ROLES, RoleGrant, StorageAccount, parse_grants, parse_storage_account

DATASOURCE_TYPE = "Microsoft.DBforPostgreSQL/flexibleServers"
PROTECTION_STATES = ("ProtectionConfigured", "ProtectionStopped", "BackupSchedulesSuspended",
                     "RetentionSchedulesSuspended", "ProtectionError", "ConfiguringProtectionFailed", "SoftDeleting",
                     "SoftDeleted")
CROSS_SUBSCRIPTION_STATES = ("Enabled", "Disabled", "PermanentlyDisabled")
STORE_TYPES = ("VaultStore", "ArchiveStore")
CORRUPTIONS = ("truncated", "bad-magic", "empty")
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_duration(text: str, where: str) -> timedelta:
    """ISO 8601 duration with weeks, days, hours, minutes, seconds (P1D, PT12H, P1W)."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        raise ScenarioError(f"{where}: '{text}' is not an ISO 8601 duration like P1D or PT6H")
    weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


@dataclass(frozen=True)
class Timings:
    """Seconds (on the emulator clock) each phase takes, and the Retry-After the 202s advertise."""

    validate_seconds: float = 20
    validate_retry_after: int = 10
    restore_seconds: float = 30
    restore_retry_after: int = 30
    job_seconds: float = 600
    # Retry-After on a running operation's status: "same" (the 202's), a number of seconds, or "absent".
    status_retry_after: int | str = "same"


@dataclass(frozen=True)
class Failures:
    """Per-instance failures for drills and error-path tests."""

    validate: dict[str, Any] | None = None  # {"code", "message"}: the validate operation fails with it
    restore: dict[str, Any] | None = None  # the restore operation fails with it (no job is created)
    job_fail_at_percent: float | None = None
    job_error: dict[str, Any] | None = None
    corrupt_dump: dict[str, str] = field(default_factory=dict)  # database ("*" = all) -> corruption
    missing_database_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecoveryPoint:
    id: str
    time: datetime
    stores: tuple[str, ...] = ("VaultStore",)


@dataclass(frozen=True)
class PastJob:
    """A job that ran before the scenario starts: the vault's job list holds backups as well as restores."""

    operation: str  # "Backup" | "Restore"
    start: datetime
    duration_seconds: float = 600
    status: str = "Completed"  # "Completed" | "Failed"
    target_container_url: str = ""
    file_prefix: str = ""


@dataclass(frozen=True)
class BackupInstance:
    name: str
    server_id: str
    databases: tuple[str, ...]
    recovery_points: tuple[RecoveryPoint, ...]
    timings: Timings
    failures: Failures
    friendly_name: str
    policy_name: str = "pgflex-weekly"
    past_jobs: tuple[PastJob, ...] = ()
    protection_state: str = "ProtectionConfigured"

    @property
    def server_name(self) -> str:
        return self.server_id.rstrip("/").rsplit("/", 1)[-1]

    def recovery_point(self, rp_id: str) -> RecoveryPoint | None:
        return next((rp for rp in self.recovery_points if rp.id.lower() == rp_id.lower()), None)


@dataclass(frozen=True)
class Vault:
    subscription: str
    resource_group: str
    name: str
    location: str
    role_grants: tuple[RoleGrant, ...]
    backup_instances: dict[str, BackupInstance]
    identity: bool = True  # a system-assigned identity (the one that writes restored files)
    cross_subscription_restore: str = "Enabled"

    @property
    def storage_role_assignments(self) -> tuple[str, ...]:
        """The scopes (URLs or ARM ids) where the vault's identity may write blobs."""
        return tuple(g.scope for g in self.role_grants if g.role in WRITER_ROLES)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.DataProtection/backupVaults/{self.name}"
        )


@dataclass(frozen=True)
class Throttle:
    """A per-subscription token bucket, as ARM's: capacity and refill rate, reads and writes apart."""

    reads_bucket: float = 250
    reads_per_second: float = 25
    writes_bucket: float = 200
    writes_per_second: float = 10


@dataclass(frozen=True)
class Scenario:
    vaults: tuple[Vault, ...] = ()
    throttle: dict[str, Throttle] = field(default_factory=dict)
    page_size: int = 10
    status_spelling: str = "InProgress"
    jobs: tuple[ContainerAppJob, ...] = ()
    servers: tuple[FlexibleServer, ...] = ()
    token_lifetimes: dict[str, int] = field(default_factory=dict)  # resource -> seconds
    storage_accounts: tuple[StorageAccount, ...] = ()
    subscription_deny: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lower-case sub -> RBAC actions

    @staticmethod
    def load(path: str | Path, now: datetime) -> Scenario:
        """Read a JSON or YAML scenario file."""
        text = Path(path).read_text(encoding="utf-8")
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        return Scenario.from_dict(data, now)

    @staticmethod
    def from_dict(data: Any, now: datetime) -> Scenario:
        """Build from a dict; ``now`` anchors relative recovery-point generators ("latest": "now-P2D")."""
        data = _mapping(data, "scenario")
        vaults: list[Vault] = []
        jobs: list[ContainerAppJob] = []
        servers: list[FlexibleServer] = []
        accounts: list[StorageAccount] = []
        deny: dict[str, tuple[str, ...]] = {}
        for sub_id, sub in _mapping(data.get("subscriptions", {}), "subscriptions").items():
            deny[str(sub_id).lower()] = tuple(str(a) for a in _mapping(sub, f"subscriptions.{sub_id}")
                                              .get("denyActions") or ())
            groups = _mapping(sub, f"subscriptions.{sub_id}").get("resourceGroups", {})
            for rg, group in _mapping(groups, f"subscriptions.{sub_id}.resourceGroups").items():
                where = f"subscriptions.{sub_id}.resourceGroups.{rg}.vaults"
                for name, raw in _mapping(_mapping(group, where).get("vaults", {}), where).items():
                    vaults.append(_vault((sub_id, rg, name), _mapping(raw, f"{where}.{name}"), now, f"{where}.{name}"))
                base = f"subscriptions.{sub_id}.resourceGroups.{rg}"
                for name, raw in _mapping(group.get("jobs", {}), f"{base}.jobs").items():
                    jobs.append(parse_job((sub_id, rg, name), _mapping(raw, f"{base}.jobs.{name}"),
                                          f"{base}.jobs.{name}"))
                for name, raw in _mapping(group.get("flexibleServers", {}), f"{base}.flexibleServers").items():
                    servers.append(parse_server((sub_id, rg, name), _mapping(raw, f"{base}.flexibleServers.{name}"),
                                                f"{base}.flexibleServers.{name}"))
                for name, raw in _mapping(group.get("storageAccounts", {}), f"{base}.storageAccounts").items():
                    accounts.append(parse_storage_account((sub_id, rg, str(name)),
                                                          _mapping(raw, f"{base}.storageAccounts.{name}"),
                                                          f"{base}.storageAccounts.{name}"))
        throttle = {
            sub: Throttle(**_camel_kwargs(_mapping(raw, f"throttle.{sub}"), Throttle, f"throttle.{sub}"))
            for sub, raw in _mapping(data.get("throttle", {}), "throttle").items()
        }
        spelling = str(data.get("statusSpelling", "InProgress"))
        if spelling.lower() != "inprogress":
            raise ScenarioError("statusSpelling: must be 'InProgress' or 'Inprogress'")
        page_size = int(data.get("pageSize", 10))
        if page_size < 1:
            raise ScenarioError("pageSize: must be at least 1")
        lifetimes = {str(k).rstrip("/").lower(): int(v)
                     for k, v in _mapping(data.get("tokenLifetimes", {}), "tokenLifetimes").items()}
        names = [a.name for a in accounts]
        if len(names) != len(set(names)):
            raise ScenarioError("storageAccounts: a storage account name is unique across all subscriptions")
        return Scenario(tuple(vaults), throttle, page_size, spelling, tuple(jobs), tuple(servers), lifetimes,
                        tuple(accounts), deny)

    def vault(self, subscription: str, resource_group: str, name: str) -> Vault | None:
        for vault in self.vaults:
            if (vault.subscription.lower(), vault.resource_group.lower(), vault.name.lower()) == (
                subscription.lower(), resource_group.lower(), name.lower(),
            ):
                return vault
        return None

    def _resources(self) -> tuple[Vault | ContainerAppJob | FlexibleServer | StorageAccount, ...]:
        return (*self.vaults, *self.jobs, *self.servers, *self.storage_accounts)

    def has_subscription(self, subscription: str) -> bool:
        return any(v.subscription.lower() == subscription.lower() for v in self._resources())

    def has_resource_group(self, subscription: str, resource_group: str) -> bool:
        return any(
            (v.subscription.lower(), v.resource_group.lower()) == (subscription.lower(), resource_group.lower())
            for v in self._resources()
        )

    def job(self, subscription: str, resource_group: str, name: str) -> ContainerAppJob | None:
        key = (subscription.lower(), resource_group.lower(), name.lower())
        return next((j for j in self.jobs if (j.subscription.lower(), j.resource_group.lower(),
                                              j.name.lower()) == key), None)

    def storage_account(self, subscription: str, resource_group: str, name: str) -> StorageAccount | None:
        key = (subscription.lower(), resource_group.lower(), name.lower())
        return next((a for a in self.storage_accounts if (a.subscription.lower(), a.resource_group.lower(),
                                                          a.name.lower()) == key), None)

    def server(self, subscription: str, resource_group: str, name: str) -> FlexibleServer | None:
        key = (subscription.lower(), resource_group.lower(), name.lower())
        return next((s for s in self.servers if (s.subscription.lower(), s.resource_group.lower(),
                                                 s.name.lower()) == key), None)


def _vault(names: tuple[str, str, str], raw: dict[str, Any], now: datetime, where: str) -> Vault:
    sub, rg, name = names
    location = str(raw.get("location", "westeurope"))
    grants = parse_grants(raw.get("storageRoleAssignments"), f"{where}.storageRoleAssignments")
    identity = raw.get("identity", "SystemAssigned")
    if identity not in ("SystemAssigned", "None", None):
        raise ScenarioError(f"{where}.identity: SystemAssigned (default) or None")
    csr = str(raw.get("crossSubscriptionRestore", "Enabled"))
    if csr not in CROSS_SUBSCRIPTION_STATES:
        raise ScenarioError(f"{where}.crossSubscriptionRestore: one of {', '.join(CROSS_SUBSCRIPTION_STATES)}")
    instances = {
        bi_name: _instance(sub, bi_name, _mapping(bi, f"{where}.backupInstances.{bi_name}"), now,
                           f"{where}.backupInstances.{bi_name}")
        for bi_name, bi in _mapping(raw.get("backupInstances", {}), f"{where}.backupInstances").items()
    }
    return Vault(sub, rg, name, location, grants, instances, identity == "SystemAssigned", csr)


def _instance(sub: str, name: str, raw: dict[str, Any], now: datetime, where: str) -> BackupInstance:
    server_id = raw.get("serverId") or (
        f"/subscriptions/{sub}/resourceGroups/pg-rg/providers/{DATASOURCE_TYPE}/{name}"
    )
    if f"/providers/{DATASOURCE_TYPE}/".lower() not in str(server_id).lower():
        raise ScenarioError(f"{where}.serverId: must be a {DATASOURCE_TYPE} resource id")
    databases = tuple(str(d) for d in raw.get("databases", ["appdb"]))
    points = _recovery_points(raw.get("recoveryPoints", {"count": 5, "every": "P1D"}), name, now,
                              f"{where}.recoveryPoints")
    timings = Timings(**_camel_kwargs(_mapping(raw.get("timings", {}), f"{where}.timings"), Timings,
                                      f"{where}.timings"))
    status_retry = timings.status_retry_after
    if status_retry not in ("same", "absent") and not (isinstance(status_retry, int) and status_retry >= 0):
        raise ScenarioError(f"{where}.timings.statusRetryAfter: \"same\", \"absent\" or whole seconds >= 0")
    failures = _failures(_mapping(raw.get("failures", {}), f"{where}.failures"), f"{where}.failures")
    server_name = str(server_id).rstrip("/").rsplit("/", 1)[-1]
    past_jobs = tuple(_past_job(_mapping(item, f"{where}.pastJobs[{i}]"), now, f"{where}.pastJobs[{i}]")
                      for i, item in enumerate(raw.get("pastJobs") or []))
    state = str(raw.get("protectionState", "ProtectionConfigured"))
    if state not in PROTECTION_STATES:
        raise ScenarioError(f"{where}.protectionState: one of {', '.join(PROTECTION_STATES)}")
    return BackupInstance(name, str(server_id), databases, points, timings, failures,
                          str(raw.get("friendlyName", server_name)), past_jobs=past_jobs, protection_state=state)


def _past_job(raw: dict[str, Any], now: datetime, where: str) -> PastJob:
    """{"operation": "Backup"|"Restore", "start": "now-P1D", "durationSeconds", "status", "targetContainerUrl",
    "filePrefix"}: a job already in the vault's list when the scenario starts."""
    operation = str(raw.get("operation", "Backup"))
    status = str(raw.get("status", "Completed"))
    if operation not in ("Backup", "Restore") or status not in ("Completed", "Failed"):
        raise ScenarioError(f"{where}: operation Backup|Restore and status Completed|Failed")
    start = _relative_time(str(raw.get("start", "now-P1D")), now, f"{where}.start")
    return PastJob(operation, start, float(raw.get("durationSeconds", 600)), status,
                   str(raw.get("targetContainerUrl", "")), str(raw.get("filePrefix", "")))


def _recovery_points(raw: Any, bi_name: str, now: datetime, where: str) -> tuple[RecoveryPoint, ...]:
    if isinstance(raw, list):
        points = []
        for index, raw_item in enumerate(raw):
            item = _mapping(raw_item, f"{where}[{index}]")
            if "time" not in item:
                raise ScenarioError(f"{where}[{index}].time: required")
            time = parse_time(str(item["time"]))
            stores = _stores(item.get("stores", ["VaultStore"]), f"{where}[{index}].stores")
            points.append(RecoveryPoint(str(item.get("id") or _rp_id(bi_name, time)), time, stores))
        return tuple(sorted(points, key=lambda p: p.time, reverse=True))
    raw = _mapping(raw, where)
    count = int(raw.get("count", 5))
    every = parse_duration(str(raw.get("every", "P1D")), f"{where}.every")
    latest = _relative_time(str(raw.get("latest", "now")), now, f"{where}.latest")
    stores = _stores(raw.get("stores", ["VaultStore"]), f"{where}.stores")
    archive_older_than = raw.get("archiveAfter")
    cutoff = latest - parse_duration(str(archive_older_than), f"{where}.archiveAfter") if archive_older_than else None
    result = []
    for index in range(count):
        time = latest - every * index
        point_stores = ("ArchiveStore",) if cutoff is not None and time < cutoff else stores
        result.append(RecoveryPoint(_rp_id(bi_name, time), time, point_stores))
    return tuple(result)


def _relative_time(text: str, now: datetime, where: str) -> datetime:
    """'now', 'now-P3D' or an absolute ISO timestamp."""
    lowered = text.strip().lower()
    if lowered == "now":
        return now.replace(microsecond=0)
    if lowered.startswith("now-"):
        return now.replace(microsecond=0) - parse_duration(text.strip()[4:], where)
    try:
        return parse_time(text)
    except ValueError as exc:
        raise ScenarioError(f"{where}: '{text}' is not 'now', 'now-<duration>' or an ISO timestamp") from exc


def _rp_id(bi_name: str, time: datetime) -> str:
    """Stable GUID-like id, like the service's recovery point names."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{bi_name}/{time.isoformat()}"))


def _stores(raw: Any, where: str) -> tuple[str, ...]:
    stores = tuple(str(s) for s in (raw if isinstance(raw, list) else [raw]))
    bad = [s for s in stores if s not in STORE_TYPES]
    if bad or not stores:
        raise ScenarioError(f"{where}: stores must be among {', '.join(STORE_TYPES)}")
    return stores


def _failures(raw: dict[str, Any], where: str) -> Failures:
    corrupt = raw.get("corruptDump")
    corrupt_map: dict[str, str] = {}
    if isinstance(corrupt, str):
        corrupt_map = {"*": corrupt}
    elif isinstance(corrupt, dict):
        corrupt_map = {str(k): str(v) for k, v in corrupt.items()}
    elif corrupt is not None:
        raise ScenarioError(f"{where}.corruptDump: a mode or a {{database: mode}} map")
    for mode in corrupt_map.values():
        if mode not in CORRUPTIONS:
            raise ScenarioError(f"{where}.corruptDump: '{mode}' is not one of {', '.join(CORRUPTIONS)}")
    missing = raw.get("missingDatabaseFile", ())
    missing_t = (missing,) if isinstance(missing, str) else tuple(str(m) for m in missing)
    percent = raw.get("jobFailAtPercent")
    for key in ("validate", "restore", "jobError"):
        if key in raw and not (isinstance(raw[key], dict) and "code" in raw[key]):
            raise ScenarioError(f"{where}.{key}: needs at least a 'code'")
    return Failures(raw.get("validate"), raw.get("restore"),
                    float(percent) if percent is not None else None, raw.get("jobError"), corrupt_map, missing_t)


def _camel_kwargs(raw: dict[str, Any], cls: type, where: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    result: dict[str, Any] = {}
    for key, value in raw.items():
        snake = re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
        if snake not in names:
            raise ScenarioError(f"{where}.{key}: unknown key")
        result[snake] = value
    return result


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a mapping")
    return value
