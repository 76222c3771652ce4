"""Microsoft.Storage (the storage accounts of a subscription, one account, one blob container) and
Microsoft.Authorization role assignments (those the vaults' identities hold), as the pre-flight reads them,
answers validated against the derived descriptions in emulator/api/.

What ARM checks first is checked first: the caller's RBAC (a scenario's ``denyActions``), then the
subscription, the resource group and the resource (404 with ARM's codes). Containers exist as the scenario
lists them, or, without a list, as the Blob account of the storage connection string (Azurite) has them.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from .arm import Handler, Request, Response
from .errors import ArmError, authorization_failed, check_scope, not_found
from .paging import page
from .resources import vault_identity_principal
from .rules import container_exists
from .spec import checked
from .storagescenario import StorageAccount, covers, grant_scope_id

if TYPE_CHECKING:
    from .state import EmulatorState

VERSIONS = ("2025-06-01",)
AUTHORIZATION_VERSIONS = ("2022-04-01",)
_ST = "microsoft.storage"
_AUTH = "microsoft.authorization"
_TYPE = "Microsoft.Storage/storageAccounts"
_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_SA = _SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Storage/storageAccounts/(?P<account>[^/]+)"
_ROLES = r"(?P<scope>/subscriptions/[^/]+(?:/.+?)?)/providers/Microsoft\.Authorization/roleAssignments"
READ = f"{_TYPE}/read"
CONTAINER_READ = f"{_TYPE}/blobServices/containers/read"
ROLES_READ = "Microsoft.Authorization/roleAssignments/read"
# The $filter forms ListForScope takes (the description's and the REST documentation's).
_PRINCIPAL = re.compile(r"^\s*principalId\s+eq\s+'([^']+)'\s*$", re.IGNORECASE)
_ASSIGNED_TO = re.compile(r"^\s*(atScope\(\)\s+and\s+)?assignedTo\('([^']+)'\)\s*$", re.IGNORECASE)
_AT_SCOPE = re.compile(r"^\s*atScope\(\)\s*$", re.IGNORECASE)


def routes() -> list[tuple[str, str, tuple[str, ...], Handler]]:
    return [
        ("GET", _SUB + r"/providers/Microsoft\.Storage/storageAccounts", VERSIONS, list_accounts),
        ("GET", _SA, VERSIONS, get_account),
        ("GET", _SA + r"/blobServices/default/containers/(?P<container>[^/]+)", VERSIONS, get_container),
        ("GET", _ROLES, AUTHORIZATION_VERSIONS, list_role_assignments),
    ]


def account_resource(account: StorageAccount) -> dict[str, Any]:
    """A StorageAccount: the settings a restore depends on (absent when the scenario says null)."""
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "primaryEndpoints": {"blob": account.blob_endpoint},
        "primaryLocation": account.location,
        "statusOfPrimary": "available",
        "supportsHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": False,
        "networkAcls": {"bypass": account.bypass, "virtualNetworkRules": [], "ipRules": [],
                        "defaultAction": account.default_action},
    }
    if account.allow_cross_tenant_replication is not None:
        properties["allowCrossTenantReplication"] = account.allow_cross_tenant_replication
    if account.public_network_access is not None:
        properties["publicNetworkAccess"] = account.public_network_access
    return {"id": account.id, "name": account.name, "type": _TYPE, "location": account.location, "tags": {},
            "sku": {"name": account.sku, "tier": "Premium" if account.sku.startswith("Premium") else "Standard"},
            "kind": "StorageV2", "properties": properties}


def _account(state: EmulatorState, req: Request, action: str) -> StorageAccount:
    p = req.params
    account = state.scenario.storage_account(p["sub"], p["rg"], p["account"])
    check_scope(state.scenario, p, req.caller, action, account)
    if account is None:
        raise not_found(_TYPE, p["account"], p["rg"])
    return account


def list_accounts(state: EmulatorState, req: Request) -> Response:
    """StorageAccounts_List: every account of the subscription, in pages (a denied subscription: 403)."""
    sub = req.params["sub"]
    scenario = state.scenario
    if READ in scenario.subscription_deny.get(sub.lower(), ()):
        raise authorization_failed(req.caller, READ, f"/subscriptions/{sub}")
    if not scenario.has_subscription(sub):
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
    accounts = [a for a in scenario.storage_accounts if a.subscription.lower() == sub.lower()]
    body = page(accounts, req.query, req.base, req.path, scenario.page_size, render=account_resource)
    return Response(200, checked(_ST, "StorageAccountListResult", body))


def get_account(state: EmulatorState, req: Request) -> Response:
    return Response(200, checked(_ST, "StorageAccount", account_resource(_account(state, req, READ))))


def get_container(state: EmulatorState, req: Request) -> Response:
    """BlobContainers_Get: 404 ContainerNotFound for one the account does not have."""
    account = _account(state, req, CONTAINER_READ)
    name = req.params["container"]
    url = f"{account.blob_endpoint}{name}"
    if not container_exists(state.blobs, account, url):
        raise ArmError(404, "ContainerNotFound", "The specified container does not exist.")
    body = {"id": account.container_id(name), "name": name, "type": f"{_TYPE}/blobServices/containers",
            "etag": '"0x8DCF3D8F1A2B3C4"',
            "properties": {"publicAccess": "None", "leaseStatus": "Unlocked", "leaseState": "Available",
                           "hasImmutabilityPolicy": False, "hasLegalHold": False, "deleted": False,
                           "defaultEncryptionScope": "$account-encryption-key", "denyEncryptionScopeOverride": False}}
    return Response(200, checked(_ST, "BlobContainer", body))


def _part(scope: str, key: str) -> str | None:
    parts = scope.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    index = lowered.index(key) if key in lowered else -1
    return parts[index + 1] if 0 <= index < len(parts) - 1 else None


def _check_scope(state: EmulatorState, req: Request, scope: str) -> None:
    """ARM's checks of a scope, in ARM's order: the caller's role on it (a storage account's ``denyActions``),
    then its subscription, resource group and storage account must exist."""
    sub, rg, name = (_part(scope, k) for k in ("subscriptions", "resourcegroups", "storageaccounts"))
    account = state.scenario.storage_account(sub or "", rg or "", name) if name else None
    if account is not None and ROLES_READ in account.deny_actions:
        raise authorization_failed(req.caller, ROLES_READ, scope)
    if not state.scenario.has_subscription(sub or ""):
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
    if rg and not state.scenario.has_resource_group(sub or "", rg):
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
    if "/providers/microsoft.storage/storageaccounts" in scope.lower() and account is None:
        raise not_found(_TYPE, name or "", rg or "")


def _filter(text: str | None) -> tuple[str | None, bool]:
    """(principal id or None, whether only assignments at or above the scope count)."""
    if not text or not text.strip():
        return None, False
    if _AT_SCOPE.match(text):
        return None, True
    found = _PRINCIPAL.match(text)
    if found:
        return found.group(1), False
    found = _ASSIGNED_TO.match(text)
    if found:
        return found.group(2), bool(found.group(1))
    raise ArmError(400, "InvalidFilter", f"The filter '{text}' is not supported. Supported filters: atScope(), "
                   "principalId eq '{id}', assignedTo('{id}'), atScope() and assignedTo('{id}').", target="$filter")


def list_role_assignments(state: EmulatorState, req: Request) -> Response:
    """RoleAssignments_ListForScope: the vaults' grants (whose scopes the scenario can name as ARM ids) at and
    above the scope, and below it unless the filter is ``atScope()``. Group memberships are not modelled."""
    scope = req.params["scope"]
    _check_scope(state, req, scope)
    principal, at_or_above = _filter(req.query.get("$filter"))
    accounts = state.scenario.storage_accounts
    value = []
    for vault in state.scenario.vaults:
        if not vault.identity:
            continue
        vault_principal = vault_identity_principal(vault)
        if principal is not None and principal.lower() != vault_principal.lower():
            continue
        for grant in vault.role_grants:
            at = grant_scope_id(accounts, grant)
            if at is None or not (covers(at, scope) or (not at_or_above and covers(scope, at))):
                continue
            value.append(_assignment(at, grant.role, vault_principal))
    return Response(200, checked(_AUTH, "RoleAssignmentListResult", {"value": value}))


def _assignment(scope: str, role: str, principal: str) -> dict[str, Any]:
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{role}|{principal}"))
    subscription = scope.strip("/").split("/")[1]
    return {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": f"/subscriptions/{subscription}/providers/Microsoft.Authorization"
                                               f"/roleDefinitions/{role}",
                           "principalId": principal, "principalType": "ServicePrincipal", "scope": scope}}
