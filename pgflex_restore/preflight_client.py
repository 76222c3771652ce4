"""The pre-flight's ARM reads: the vault, the backup instance, the storage accounts of a subscription, a container,
the role assignments of a principal on a scope; the load's server comes from LoadClient.

The same transport as every ARM call (the app's credential, the loopback-only http rule, the ARM_BUDGET pacer,
typed errors); each method sends one request (a list: one per page) and never waits. Microsoft.Storage and
Microsoft.Authorization have their own api-versions (preflight_arm.py); the vault and the instance use the app's
DataProtection api-version.
"""

from __future__ import annotations

from typing import Any

from .ids import BackupInstanceId, VaultId
from .load_client import LoadClient
from .parsing import BackupInstance, parse_backup_instance
from .preflight_arm import (
    AUTHORIZATION_API_VERSION,
    STORAGE_API_VERSION,
    RoleAssignmentFacts,
    StorageAccountFacts,
    VaultFacts,
    find_account,
    parse_role_assignment,
    parse_vault,
)


class PreflightClient(LoadClient):
    """Read-only ARM calls of the pre-flight; 403 and 404 arrive as AuthError and NotFoundError."""

    def get_vault(self, vault: VaultId) -> VaultFacts:
        """BackupVaults_Get: the identity and featureSettings. :raises ApiError, TransportError:"""
        response = self._send("GET", self._url(vault.path))
        self._check(response)
        return parse_vault(self._json(response), vault.path)

    def get_backup_instance(self, instance: BackupInstanceId) -> BackupInstance:
        """BackupInstances_Get: the protection state and the data source. :raises ApiError, TransportError:"""
        response = self._send("GET", self._url(instance.path))
        self._check(response)
        return parse_backup_instance(self._json(response))

    def find_storage_account(self, subscription: str, name: str) -> StorageAccountFacts | None:
        """StorageAccounts_List of one subscription, page by page until an account named ``name`` is seen.

        :raises ApiError, TransportError:
        """
        found: list[StorageAccountFacts] = []

        def enough(items: list[dict[str, Any]]) -> bool:
            account = find_account(items, name)
            if account is not None:
                found.append(account)
            return account is not None

        url = self._url(f"/subscriptions/{subscription}/providers/Microsoft.Storage/storageAccounts",
                        {"api-version": STORAGE_API_VERSION})
        self._pages(url, enough=enough)
        return found[0] if found else None

    def get_container(self, account_id: str, container: str) -> dict[str, Any]:
        """BlobContainers_Get. :raises NotFoundError: no such container (or account). :raises ApiError:"""
        url = self._url(f"{account_id}/blobServices/default/containers/{container}",
                        {"api-version": STORAGE_API_VERSION})
        response = self._send("GET", url)
        self._check(response)
        return self._json(response)

    def list_role_assignments(self, scope: str, principal_id: str) -> list[RoleAssignmentFacts]:
        """RoleAssignments_ListForScope with ``principalId eq '<id>'``: the principal's assignments at, above and
        below ``scope`` (not those it holds through a group). :raises ApiError, TransportError:"""
        url = self._url(f"{scope}/providers/Microsoft.Authorization/roleAssignments",
                        {"api-version": AUTHORIZATION_API_VERSION, "$filter": f"principalId eq '{principal_id}'"})
        facts = (parse_role_assignment(item) for item in self._pages(url))
        return [f for f in facts if f is not None]
