"""ARM ids of Backup vaults, backup instances, recovery points and jobs: parse, validate, build.

Callers hand us ids typed by people (odd casing, trailing slashes, whole portal URLs); everything downstream
works on these frozen, canonical objects so a malformed id fails once, here, with the bad part named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

from .inputs import excerpt

PROVIDER = "Microsoft.DataProtection"
_BAD_CHARS = re.compile(r"[/?#%\\\s\x00-\x1f]")
_MAX_NAME = 260
_API_VERSION_QUERY = re.compile(r"api-version=[0-9A-Za-z.\-]{1,40}")


class ArmIdError(ValueError):
    """An ARM id or one of its parts is malformed; the message names the part."""


def _check_part(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ArmIdError(f"{name} is missing or empty")
    text = value.strip()
    if len(text) > _MAX_NAME:
        raise ArmIdError(f"{name} is longer than {_MAX_NAME} characters")
    if _BAD_CHARS.search(text):
        raise ArmIdError(f"{name} {excerpt(text)} contains a character not allowed in an ARM name "
                         "(/ ? # % \\ or space)")
    return text


def _segments(text: object, kind: str) -> list[str]:
    if not isinstance(text, str) or not text.strip():
        raise ArmIdError(f"{kind} id is empty")
    value = text.strip()
    if "://" in value:  # a full management URL pasted from a log: its api-version query is the only one allowed
        parts = urlsplit(value)
        if parts.fragment or (parts.query and not _API_VERSION_QUERY.fullmatch(parts.query)):
            raise ArmIdError(f"{kind} id must not carry a query (other than api-version) or a fragment")
        value = parts.path
    elif "?" in value or "#" in value:
        raise ArmIdError(f"{kind} id must not carry a query or a fragment: {excerpt(text)}")
    value = value.rstrip("/")
    if not value.startswith("/"):
        raise ArmIdError(f"{kind} id must start with /subscriptions/: {excerpt(text)}")
    return value[1:].split("/")


def _expect(segments: list[str], index: int, key: str, text: str) -> str:
    if len(segments) <= index or segments[index].lower() != key.lower():
        raise ArmIdError(f"{key} segment missing in {excerpt(text)}")
    if len(segments) <= index + 1 or not segments[index + 1]:
        raise ArmIdError(f"{key} name missing in {excerpt(text)}")
    return _check_part(key, segments[index + 1])


def _parse_vault_segments(segments: list[str], text: str) -> VaultId:
    sub = _expect(segments, 0, "subscriptions", text)
    rg = _expect(segments, 2, "resourceGroups", text)
    if len(segments) <= 4 or segments[4].lower() != "providers":
        raise ArmIdError(f"providers segment missing in {excerpt(text)}")
    if len(segments) <= 5 or segments[5].lower() != PROVIDER.lower():
        raise ArmIdError(f"provider must be {PROVIDER} in {excerpt(text)}")
    vault = _expect(segments, 6, "backupVaults", text)
    return VaultId(sub, rg, vault)


@dataclass(frozen=True)
class VaultId:
    """A Backup vault."""

    subscription_id: str
    resource_group: str
    vault_name: str

    def __post_init__(self) -> None:
        _check_part("subscriptionId", self.subscription_id)
        _check_part("resourceGroup", self.resource_group)
        _check_part("vaultName", self.vault_name)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.DataProtection/backupVaults/{v}``."""
        segments = _segments(text, "Backup vault")
        vault = _parse_vault_segments(segments, text)
        if len(segments) > 8:
            raise ArmIdError(f"unexpected segments after the vault name in {excerpt(text)}")
        return cls(vault.subscription_id, vault.resource_group, vault.vault_name)

    @property
    def path(self) -> str:
        """The canonical ARM path (no host, no query)."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/backupVaults/{self.vault_name}"
        )

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class BackupInstanceId:
    """A backup instance (one protected PostgreSQL flexible server) inside a vault."""

    subscription_id: str
    resource_group: str
    vault_name: str
    backup_instance_name: str

    def __post_init__(self) -> None:
        _check_part("subscriptionId", self.subscription_id)
        _check_part("resourceGroup", self.resource_group)
        _check_part("vaultName", self.vault_name)
        _check_part("backupInstanceName", self.backup_instance_name)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse a full backup-instance ARM id (case-insensitive segment names, trailing slash tolerated)."""
        segments = _segments(text, "backup instance")
        vault = _parse_vault_segments(segments, text)
        name = _expect(segments, 8, "backupInstances", text)
        if len(segments) > 10:
            raise ArmIdError(f"unexpected segments after the backup instance name in {excerpt(text)}")
        return cls(vault.subscription_id, vault.resource_group, vault.vault_name, name)

    @classmethod
    def from_parts(
        cls, subscription_id: str, resource_group: str, vault_name: str, backup_instance_name: str
    ) -> Self:
        """Build from the four names (validated; surrounding whitespace removed)."""
        return cls(
            _check_part("subscriptionId", subscription_id),
            _check_part("resourceGroup", resource_group),
            _check_part("vaultName", vault_name),
            _check_part("backupInstanceName", backup_instance_name),
        )

    @property
    def vault(self) -> VaultId:
        """The vault that holds this instance."""
        return VaultId(self.subscription_id, self.resource_group, self.vault_name)

    @property
    def path(self) -> str:
        """The canonical ARM path."""
        return f"{self.vault.path}/backupInstances/{self.backup_instance_name}"

    def same_as(self, other: BackupInstanceId) -> bool:
        """ARM names compare case-insensitively."""
        return self.path.lower() == other.path.lower()

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class RecoveryPointId:
    """One recovery point of a backup instance; ``recovery_point_id`` is the resource name."""

    backup_instance: BackupInstanceId
    recovery_point_id: str

    def __post_init__(self) -> None:
        _check_part("recoveryPointId", self.recovery_point_id)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``.../backupInstances/{bi}/recoveryPoints/{id}``."""
        segments = _segments(text, "recovery point")
        vault = _parse_vault_segments(segments, text)
        name = _expect(segments, 8, "backupInstances", text)
        point = _expect(segments, 10, "recoveryPoints", text)
        if len(segments) > 12:
            raise ArmIdError(f"unexpected segments after the recovery point id in {excerpt(text)}")
        bi = BackupInstanceId(vault.subscription_id, vault.resource_group, vault.vault_name, name)
        return cls(bi, point)

    @property
    def path(self) -> str:
        """The canonical ARM path."""
        return f"{self.backup_instance.path}/recoveryPoints/{self.recovery_point_id}"

    def __str__(self) -> str:
        return self.path


def job_guid(job_id: str) -> str:
    """The ``{jobId}`` for Jobs_Get: the last segment of a full ARM job id, or the bare GUID itself.

    The restore operation returns a full id; the job GET wants only the name. Not checked as a GUID: the
    service's own examples carry malformed ones.
    """
    if not isinstance(job_id, str) or not job_id.strip():
        raise ArmIdError("job id is empty")
    text = job_id.strip().split("?", 1)[0].rstrip("/")
    last = text.rsplit("/", 1)[-1]
    if "/" in text:
        segments = text.lstrip("/").split("/")
        if len(segments) < 2 or segments[-2].lower() != "backupjobs":
            raise ArmIdError(f"backupJobs segment missing in {excerpt(job_id)}")
    return _check_part("job id", last)


def _parse_resource(text: str, kind: str, provider: str, resource_type: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of ``/subscriptions/{s}/resourceGroups/{rg}/providers/{provider}/
    {resource_type}/{name}``; segment names and the provider compare case-insensitively."""
    segments = _segments(text, kind)
    sub = _expect(segments, 0, "subscriptions", text)
    rg = _expect(segments, 2, "resourceGroups", text)
    if len(segments) <= 4 or segments[4].lower() != "providers":
        raise ArmIdError(f"providers segment missing in {excerpt(text)}")
    if len(segments) <= 5 or segments[5].lower() != provider.lower():
        raise ArmIdError(f"provider must be {provider} in {excerpt(text)}")
    name = _expect(segments, 6, resource_type, text)
    if len(segments) > 8:
        raise ArmIdError(f"unexpected segments after the {kind} name in {excerpt(text)}")
    return sub, rg, name


@dataclass(frozen=True)
class FlexibleServerId:
    """An Azure Database for PostgreSQL flexible server: where a restore's files are loaded."""

    PROVIDER = "Microsoft.DBforPostgreSQL"

    subscription_id: str
    resource_group: str
    server_name: str

    def __post_init__(self) -> None:
        _check_part("subscriptionId", self.subscription_id)
        _check_part("resourceGroup", self.resource_group)
        _check_part("server name", self.server_name)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{n}``."""
        return cls(*_parse_resource(text, "flexible server", cls.PROVIDER, "flexibleServers"))

    @property
    def path(self) -> str:
        """The canonical ARM path (no host, no query)."""
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/{self.PROVIDER}/flexibleServers/{self.server_name}")

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class ContainerAppJobId:
    """A Container Apps job (the loader): its executions load the restored files into a server."""

    PROVIDER = "Microsoft.App"

    subscription_id: str
    resource_group: str
    job_name: str

    def __post_init__(self) -> None:
        _check_part("subscriptionId", self.subscription_id)
        _check_part("resourceGroup", self.resource_group)
        _check_part("job name", self.job_name)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.App/jobs/{name}``."""
        return cls(*_parse_resource(text, "Container Apps job", cls.PROVIDER, "jobs"))

    @property
    def path(self) -> str:
        """The canonical ARM path (no host, no query)."""
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/{self.PROVIDER}/jobs/{self.job_name}")

    def __str__(self) -> str:
        return self.path
