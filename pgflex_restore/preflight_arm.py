"""What the pre-flight reads through ARM, as pure functions: the target storage account (found by the name in the
container URL), the vault's identity and settings, and the role assignments of that identity.

Microsoft.Storage ``2025-06-01`` and Microsoft.Authorization ``2022-04-01`` (role assignments), the stable versions
whose API description the repository keeps (emulator/api/SOURCE.md). Kept apart from the client so every answer's
shape is unit-tested without HTTP; unknown or missing fields read as None, never as a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .target_urls import is_loopback_host

STORAGE_API_VERSION = "2025-06-01"
AUTHORIZATION_API_VERSION = "2022-04-01"

# The built-in roles that may write blobs (Microsoft.Storage/.../blobs/write as a data action). Owner and
# Contributor do not: they are control-plane roles.
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
BLOB_WRITER_ROLES = {BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor", BLOB_DATA_OWNER: "Storage Blob Data Owner"}
# Assignments at a management group (or the root) are above every subscription the list returns them for.
_ABOVE_SUBSCRIPTIONS = ("/providers/microsoft.management/managementgroups/",)


def _props(body: Mapping[str, Any]) -> Mapping[str, Any]:
    props = body.get("properties")
    return props if isinstance(props, Mapping) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def id_part(arm_id: str | None, key: str) -> str | None:
    """The value after ``key`` (``subscriptions``, ``resourceGroups``, ...) in an ARM id (keys case-insensitive)."""
    parts = (arm_id or "").strip("/").split("/")
    lowered = [p.lower() for p in parts]
    index = lowered.index(key.lower()) if key.lower() in lowered else -1
    return parts[index + 1] if 0 <= index < len(parts) - 1 else None


def account_and_container(container_url: str) -> tuple[str | None, str]:
    """The storage account a (normalised) container URL names, and the container: the host's first label
    (``<account>.blob.core.windows.net``), or on a loopback emulator the first path segment (Azurite's
    ``http://127.0.0.1:10000/<account>/<container>``; None when the URL has no account segment)."""
    parts = urlsplit(container_url)
    segments = [s for s in parts.path.split("/") if s]
    container = segments[-1] if segments else ""
    if is_loopback_host(parts.hostname):
        return (segments[0].lower() if len(segments) == 2 else None), container
    return (parts.hostname or "").split(".")[0].lower() or None, container


@dataclass(frozen=True)
class StorageAccountFacts:
    """The storage account settings a restore as files depends on (StorageAccount, ARM)."""

    id: str
    name: str
    allow_cross_tenant_replication: bool | None
    public_network_access: str | None
    default_action: str | None
    bypass: tuple[str, ...]
    blob_endpoint: str | None = None

    @property
    def subscription(self) -> str | None:
        return id_part(self.id, "subscriptions")

    @property
    def resource_group(self) -> str | None:
        return id_part(self.id, "resourceGroups")

    def container_id(self, container: str) -> str:
        """The container's ARM id (a role assignment scope)."""
        return f"{self.id}/blobServices/default/containers/{container}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "allowCrossTenantReplication": self.allow_cross_tenant_replication,
                "publicNetworkAccess": self.public_network_access, "defaultAction": self.default_action,
                "bypass": list(self.bypass), "blobEndpoint": self.blob_endpoint}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StorageAccountFacts:
        replication = data.get("allowCrossTenantReplication")
        return cls(str(data["id"]), str(data["name"]), replication if isinstance(replication, bool) else None,
                   _text(data.get("publicNetworkAccess")), _text(data.get("defaultAction")),
                   tuple(str(b) for b in data.get("bypass") or ()), _text(data.get("blobEndpoint")))


def parse_storage_account(body: Mapping[str, Any]) -> StorageAccountFacts:
    """A StorageAccount (list item or GET). ``networkAcls.bypass`` is a comma-separated list ("Logging, Metrics")."""
    props = _props(body)
    acls = _mapping(props.get("networkAcls"))
    bypass = tuple(b.strip() for b in str(acls.get("bypass") or "").split(",") if b.strip())
    replication = props.get("allowCrossTenantReplication")
    arm_id = _text(body.get("id")) or ""
    return StorageAccountFacts(
        id=arm_id, name=_text(body.get("name")) or arm_id.rstrip("/").rsplit("/", 1)[-1],
        allow_cross_tenant_replication=replication if isinstance(replication, bool) else None,
        public_network_access=_text(props.get("publicNetworkAccess")),
        default_action=_text(acls.get("defaultAction")), bypass=bypass,
        blob_endpoint=_text(_mapping(props.get("primaryEndpoints")).get("blob")),
    )


def find_account(items: Iterable[Mapping[str, Any]], name: str) -> StorageAccountFacts | None:
    """The account named ``name`` among a list's items (names are globally unique, compared case-insensitively)."""
    for item in items:
        if str(item.get("name") or "").lower() == name.lower():
            return parse_storage_account(item)
    return None


@dataclass(frozen=True)
class VaultFacts:
    """The Backup vault's identity (the one that writes the restored files) and its cross-subscription setting."""

    id: str
    principal_id: str | None
    identity_type: str | None
    cross_subscription_restore: str | None  # Enabled | Disabled | PermanentlyDisabled; None: not answered

    @property
    def subscription(self) -> str | None:
        return id_part(self.id, "subscriptions")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "principalId": self.principal_id, "identityType": self.identity_type,
                "crossSubscriptionRestore": self.cross_subscription_restore}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VaultFacts:
        return cls(str(data["id"]), _text(data.get("principalId")), _text(data.get("identityType")),
                   _text(data.get("crossSubscriptionRestore")))


def parse_vault(body: Mapping[str, Any], vault_id: str) -> VaultFacts:
    """A BackupVaultResource: ``identity.principalId`` only for a system-assigned identity (a user-assigned one
    has its own principal under ``userAssignedIdentities``, which the restore does not use)."""
    identity = _mapping(body.get("identity"))
    kind = _text(identity.get("type"))
    system = kind is not None and "systemassigned" in kind.replace(" ", "").lower().split(",")
    features = _mapping(_props(body).get("featureSettings"))
    state = _text(_mapping(features.get("crossSubscriptionRestoreSettings")).get("state"))
    return VaultFacts(_text(body.get("id")) or vault_id, _text(identity.get("principalId")) if system else None,
                      kind, state)


@dataclass(frozen=True)
class RoleAssignmentFacts:
    """One role assignment: where (scope), which role (the definition's GUID), to whom."""

    scope: str
    role: str
    principal_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "role": self.role, "principalId": self.principal_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoleAssignmentFacts:
        return cls(str(data["scope"]), str(data["role"]), str(data["principalId"]))


def parse_role_assignment(body: Mapping[str, Any]) -> RoleAssignmentFacts | None:
    """A RoleAssignment; None without a scope, role or principal. ``roleDefinitionId`` is a full id
    (``/subscriptions/.../roleDefinitions/<guid>`` or ``/providers/...``): the GUID is its last segment."""
    props = _props(body)
    scope, role, principal = (_text(props.get(k)) for k in ("scope", "roleDefinitionId", "principalId"))
    if scope is None or role is None or principal is None:
        return None
    return RoleAssignmentFacts(scope, role.rstrip("/").rsplit("/", 1)[-1].lower(), principal)


def covers(scope: str, resource_id: str) -> bool:
    """Whether an assignment at ``scope`` applies to ``resource_id``: the same resource or an ancestor of it
    (segment by segment, case-insensitively), or a management group the list returned it for."""
    wanted, at = resource_id.rstrip("/").lower(), scope.rstrip("/").lower()
    if at == "" or at.startswith(_ABOVE_SUBSCRIPTIONS):
        return True
    return wanted == at or wanted.startswith(at + "/")


def writer_roles(assignments: Iterable[RoleAssignmentFacts], principal_id: str, resource_id: str) -> list[str]:
    """The blob-data-writer roles ``principal_id`` holds on ``resource_id`` (by name), from a list's items."""
    return sorted({BLOB_WRITER_ROLES[a.role] for a in assignments
                   if a.role in BLOB_WRITER_ROLES and a.principal_id.lower() == principal_id.lower()
                   and covers(a.scope, resource_id)})
