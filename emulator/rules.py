"""Service rules a restore request must pass, beyond the schema: they fail the validate/restore operation.

Error codes follow the service's ``UserError...`` naming; messages say what to fix.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .scenario import DATASOURCE_TYPE, BackupInstance, Scenario, Vault
from .storage import BlobTarget, account_of, container_of
from .storagescenario import WRITER_ROLES, StorageAccount, account_for_url, covers, grant_scope_id

BLOB_ROLE = "Storage Blob Data Contributor"
_ALLOWED_REQUESTS = ("AzureBackupRecoveryPointBasedRestoreRequest", "AzureBackupRestoreWithRehydrationRequest")


def _error(code: str, message: str, target: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if target:
        error["target"] = target
    return error


def check_restore_request(
    scenario: Scenario, vault: Vault, instance: BackupInstance, request: dict[str, Any], blobs: BlobTarget | None
) -> dict[str, Any] | None:
    """The first rule ``request`` breaks, as an Error object, or None. A target whose storage account the
    scenario declares is also held to that account's settings (README: restore targets)."""
    kind = request.get("objectType")
    if kind not in _ALLOWED_REQUESTS:
        return _error("UserErrorRestoreTypeNotSupported",
                      f"'{kind}' is not supported for {DATASOURCE_TYPE}; use a recovery point based restore.",
                      "objectType")
    target = request.get("restoreTargetInfo", {})
    details = target.get("targetDetails") if target.get("objectType") == "RestoreFilesTargetInfo" else None
    if not isinstance(details, dict) or str(details.get("restoreTargetLocationType", "")).lower() != "azureblobs":
        return _error("UserErrorRestoreTargetNotSupported",
                      f"{DATASOURCE_TYPE} backups can only be restored as files to Azure Blobs "
                      "(RestoreFilesTargetInfo with restoreTargetLocationType AzureBlobs).", "restoreTargetInfo")
    url = str(details.get("url", "")).rstrip("/")
    account = account_for_url(scenario.storage_accounts, url) if _is_url(url) else None
    return (_recovery_point_error(instance, request)
            or _target_error(scenario, vault, url, account)
            or _storage_error(blobs, account, url, str(details.get("filePrefix", ""))))


def _recovery_point_error(instance: BackupInstance, request: dict[str, Any]) -> dict[str, Any] | None:
    rp_id = str(request.get("recoveryPointId", ""))
    point = instance.recovery_point(rp_id)
    if point is None:
        return _error("UserErrorRecoveryPointNotFound",
                      f"The recovery point '{rp_id}' was not found for backup instance '{instance.name}'. "
                      "List the recovery points again and pick an existing one.", "recoveryPointId")
    source = str(request.get("sourceDataStoreType", ""))
    if "VaultStore" not in point.stores:
        rehydrating = request.get("objectType") == "AzureBackupRestoreWithRehydrationRequest"
        if not rehydrating or source.lower() != "archivestore":
            return _error("UserErrorRecoveryPointRehydrationRequired",
                          f"The recovery point '{point.id}' is only in the ArchiveStore. Restore it with an "
                          "AzureBackupRestoreWithRehydrationRequest (sourceDataStoreType ArchiveStore) "
                          "or rehydrate it first.", "sourceDataStoreType")
    elif source.lower() not in {s.lower() for s in point.stores}:
        return _error("UserErrorDataStoreNotFound",
                      f"The recovery point '{point.id}' has no copy in '{source}'; "
                      f"it is in {', '.join(point.stores)}.", "sourceDataStoreType")
    return None


def _is_url(url: str) -> bool:
    split = urlsplit(url)
    return split.scheme in ("http", "https") and bool(split.netloc) and bool(split.path.strip("/"))


_URL_FIELD = "restoreTargetInfo.targetDetails.url"


def _target_error(scenario: Scenario, vault: Vault, url: str, account: StorageAccount | None) -> dict[str, Any] | None:
    if not _is_url(url):
        return _error("UserErrorInvalidRestoreTargetUrl",
                      f"'{url}' is not a blob container URL (https://<account>.blob.core.windows.net/<container>).",
                      _URL_FIELD)
    if account is not None:
        setting_error = _account_error(vault, account)
        if setting_error is not None:
            return setting_error
    if not vault.identity or not _has_role(scenario, vault, url, account):
        lacking = "has no managed identity, so it cannot have" if not vault.identity else "does not have"
        return _error("UserErrorMissingRequiredPermissions",
                      f"The Backup vault '{vault.name}' {lacking} the '{BLOB_ROLE}' role on "
                      f"the storage account '{account_of(url)}' of the restore target '{url}'. Assign the role "
                      "to the vault's managed identity and retry.", _URL_FIELD)
    return None


def _account_error(vault: Vault, account: StorageAccount) -> dict[str, Any] | None:
    """The declared target account's settings (codes modelled: README)."""
    if not account.reachable:
        return _error("UserErrorRestoreTargetNotReachable",
                      f"The storage account '{account.name}' does not accept Azure Backup over its public endpoint "
                      "(public network access disabled, or a firewall without the trusted services exception).",
                      _URL_FIELD)
    if account.allow_cross_tenant_replication is False:
        return _error("UserErrorCrossTenantReplicationNotAllowed",
                      f"The storage account '{account.name}' does not allow cross-tenant replication; set "
                      "AllowCrossTenantReplication to true and retry.", _URL_FIELD)
    if (account.subscription.lower() != vault.subscription.lower()
            and vault.cross_subscription_restore != "Enabled"):
        return _error("UserErrorCrossSubscriptionRestoreNotEnabled",
                      f"The restore target is in subscription '{account.subscription}' and cross subscription "
                      f"restore is {vault.cross_subscription_restore} on the Backup vault '{vault.name}'.", _URL_FIELD)
    return None


def _has_role(scenario: Scenario, vault: Vault, url: str, account: StorageAccount | None) -> bool:
    """True if the vault identity may write to ``url``: a writer role on the container, the account or above it
    (a URL scope matches by prefix; an ARM id scope covers the declared account's container)."""
    lowered = url.lower()
    target = account.container_id(container_of(url)) if account is not None else None
    for grant in vault.role_grants:
        if grant.role not in WRITER_ROLES:
            continue
        if grant.scope.startswith("/"):
            scope = grant_scope_id(scenario.storage_accounts, grant)
            if target is not None and scope is not None and covers(scope, target):
                return True
        elif lowered == grant.scope.lower() or lowered.startswith(grant.scope.lower() + "/"):
            return True
    return False


def container_exists(blobs: BlobTarget | None, account: StorageAccount | None, url: str) -> bool | None:
    """Whether the target container exists: the declared account's list when it has one, else the Blob account of
    the storage connection string; None when neither can tell."""
    if account is not None and account.containers is not None:
        return container_of(url) in account.containers
    if blobs is not None:
        return blobs.container_exists(url)
    return None if account is None else False


def _storage_error(blobs: BlobTarget | None, account: StorageAccount | None, url: str,
                   prefix: str) -> dict[str, Any] | None:
    if container_exists(blobs, account, url) is False:
        return _error("UserErrorRestoreTargetContainerNotFound",
                      f"The container '{container_of(url)}' of the restore target '{url}' does not exist.",
                      "restoreTargetInfo.targetDetails.url")
    existing = blobs.names_with_prefix(url, f"{prefix}_") if blobs is not None else []
    if existing:
        return _error("UserErrorRestoreTargetFileAlreadyExists",
                      f"Conflict (409): the recovery option is FailIfExists and {len(existing)} file(s) with the "
                      f"prefix '{prefix}' already exist in '{url}' (e.g. '{existing[0]}'). "
                      "Use another filePrefix or remove the files.", "restoreTargetInfo.targetDetails.filePrefix")
    return None
