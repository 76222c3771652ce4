"""Scenario entries for restore targets: storage accounts (the settings a restore as files depends on, their
containers) and the role assignments the vaults' identities hold on them.

``storageAccounts`` sit next to ``vaults`` under ``subscriptions.<sub>.resourceGroups.<rg>``; a vault's
``storageRoleAssignments`` are container or account URLs (Storage Blob Data Contributor there) or
``{scope, role}`` entries, where the scope is a URL or an ARM id and the role a built-in name or a GUID.
See README "Restore targets: storage accounts and role assignments".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ScenarioError
from .storage import account_of, container_of

BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
ROLE_IDS = {
    "storage blob data contributor": BLOB_DATA_CONTRIBUTOR,
    "storage blob data owner": BLOB_DATA_OWNER,
    "storage blob data reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
}
# Roles whose data actions write blobs: what the vault's identity needs on the target.
WRITER_ROLES = frozenset({BLOB_DATA_CONTRIBUTOR, BLOB_DATA_OWNER})
PUBLIC_NETWORK_ACCESS = ("Enabled", "Disabled", "SecuredByPerimeter")
_ACCOUNT_KEYS = {"location", "blobEndpoint", "allowCrossTenantReplication", "publicNetworkAccess", "networkAcls",
                 "containers", "denyActions", "sku"}


@dataclass(frozen=True)
class StorageAccount:
    """A storage account a restore may target. ``None`` settings are left out of its answers."""

    subscription: str
    resource_group: str
    name: str
    location: str
    blob_endpoint: str
    allow_cross_tenant_replication: bool | None
    public_network_access: str | None
    default_action: str
    bypass: str
    containers: tuple[str, ...] | None  # None: the containers of the Blob account of the storage connection string
    deny_actions: tuple[str, ...] = ()
    sku: str = "Standard_LRS"

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Storage/storageAccounts/{self.name}")

    def container_id(self, container: str) -> str:
        return f"{self.id}/blobServices/default/containers/{container}"

    @property
    def reachable(self) -> bool:
        """Whether Azure Backup can write here: a public endpoint, and a firewall that lets trusted services in."""
        if (self.public_network_access or "Enabled").lower() == "disabled":
            return False
        bypass = {b.strip().lower() for b in self.bypass.split(",")}
        return self.default_action.lower() == "allow" or "azureservices" in bypass


def parse_storage_account(names: tuple[str, str, str], raw: dict[str, Any], where: str) -> StorageAccount:
    sub, rg, name = names
    unknown = sorted(set(raw) - _ACCOUNT_KEYS)
    if unknown:
        raise ScenarioError(f"{where}.{unknown[0]}: unknown key")
    if not (3 <= len(name) <= 24 and name.isalnum() and name == name.lower()):
        raise ScenarioError(f"{where}: a storage account name is 3-24 lower-case letters and digits")
    replication = raw.get("allowCrossTenantReplication", True)
    if replication is not None and not isinstance(replication, bool):
        raise ScenarioError(f"{where}.allowCrossTenantReplication: true, false or null (absent from answers)")
    access = raw.get("publicNetworkAccess", "Enabled")
    if access is not None and access not in PUBLIC_NETWORK_ACCESS:
        raise ScenarioError(f"{where}.publicNetworkAccess: one of {', '.join(PUBLIC_NETWORK_ACCESS)}, or null")
    acls = raw.get("networkAcls") or {}
    if not isinstance(acls, dict) or acls.get("defaultAction", "Allow") not in ("Allow", "Deny"):
        raise ScenarioError(f"{where}.networkAcls: {{defaultAction: Allow|Deny, bypass: \"AzureServices\"}}")
    containers = raw.get("containers")
    if containers is not None and not isinstance(containers, list):
        raise ScenarioError(f"{where}.containers: a list of container names")
    endpoint = str(raw.get("blobEndpoint") or f"https://{name}.blob.core.windows.net/")
    return StorageAccount(
        sub, rg, name, str(raw.get("location", "westeurope")), endpoint.rstrip("/") + "/", replication, access,
        str(acls.get("defaultAction", "Allow")), str(acls.get("bypass", "AzureServices")),
        tuple(str(c) for c in containers) if containers is not None else None,
        tuple(str(a) for a in raw.get("denyActions") or ()), str(raw.get("sku", "Standard_LRS")),
    )


@dataclass(frozen=True)
class RoleGrant:
    """A role a vault's identity holds: ``scope`` as the scenario wrote it (a URL, or an ARM id)."""

    scope: str
    role: str  # the role definition's GUID


def parse_grants(raw: Any, where: str) -> tuple[RoleGrant, ...]:
    """A vault's ``storageRoleAssignments``: URLs (Storage Blob Data Contributor) or ``{scope, role}``."""
    grants = []
    for index, item in enumerate(raw or []):
        if isinstance(item, str):
            grants.append(RoleGrant(item.rstrip("/"), BLOB_DATA_CONTRIBUTOR))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("scope"), str):
            raise ScenarioError(f"{where}[{index}]: a URL, or {{scope: <URL or ARM id>, role: <name or GUID>}}")
        role = str(item.get("role", "Storage Blob Data Contributor"))
        grants.append(RoleGrant(item["scope"].rstrip("/"), ROLE_IDS.get(role.lower(), role.lower())))
    return tuple(grants)


def account_for_url(accounts: tuple[StorageAccount, ...], url: str) -> StorageAccount | None:
    """The declared account a container (or account) URL names: by the URL's account name."""
    try:
        name = account_of(url).lower()
    except ValueError:
        return None
    return next((a for a in accounts if a.name.lower() == name), None)


def grant_scope_id(accounts: tuple[StorageAccount, ...], grant: RoleGrant) -> str | None:
    """A grant's scope as an ARM id: as written, or its URL's container or account (None: an undeclared one)."""
    if grant.scope.startswith("/"):
        return grant.scope
    account = account_for_url(accounts, grant.scope)
    if account is None:
        return None
    # https://<account>.blob.core.windows.net[/<container>]; Azurite: http://host:port/<account>/<container>
    path = [p for p in urlsplit(grant.scope).path.split("/") if p]
    whole_account = not path or (len(path) == 1 and path[0].lower() == account.name.lower())
    return account.id if whole_account else account.container_id(container_of(grant.scope))


def covers(scope: str, resource_id: str) -> bool:
    """An assignment at ``scope`` applies to ``resource_id`` (the same resource or an ancestor)."""
    at, wanted = scope.rstrip("/").lower(), resource_id.rstrip("/").lower()
    return wanted == at or wanted.startswith(at + "/")
