"""Service rules a restore request must pass, beyond the schema: they fail the validate/restore operation.

Error codes follow the service's ``UserError...`` naming; messages say what to fix.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .scenario import DATASOURCE_TYPE, BackupInstance, Vault
from .storage import BlobTarget, account_of, container_of

BLOB_ROLE = "Storage Blob Data Contributor"
_ALLOWED_REQUESTS = ("AzureBackupRecoveryPointBasedRestoreRequest", "AzureBackupRestoreWithRehydrationRequest")


def _error(code: str, message: str, target: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if target:
        error["target"] = target
    return error


def check_restore_request(
    vault: Vault, instance: BackupInstance, request: dict[str, Any], blobs: BlobTarget | None
) -> dict[str, Any] | None:
    """The first rule ``request`` breaks, as an Error object, or None."""
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
    return (_recovery_point_error(instance, request)
            or _target_error(vault, url)
            or (_storage_error(blobs, url, str(details.get("filePrefix", ""))) if blobs is not None else None))


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


def _target_error(vault: Vault, url: str) -> dict[str, Any] | None:
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.netloc or not split.path.strip("/"):
        return _error("UserErrorInvalidRestoreTargetUrl",
                      f"'{url}' is not a blob container URL (https://<account>.blob.core.windows.net/<container>).",
                      "restoreTargetInfo.targetDetails.url")
    if not _has_role(vault, url):
        return _error("UserErrorMissingRequiredPermissions",
                      f"The Backup vault '{vault.name}' managed identity does not have the '{BLOB_ROLE}' role on "
                      f"the storage account '{account_of(url)}' of the restore target '{url}'. Assign the role "
                      "to the vault's managed identity and retry.", "restoreTargetInfo.targetDetails.url")
    return None


def _has_role(vault: Vault, url: str) -> bool:
    """True if the vault identity may write to ``url``: a container or whole-account assignment covers it."""
    lowered = url.lower()
    return any(lowered == scope.lower() or lowered.startswith(scope.lower() + "/")
               for scope in vault.storage_role_assignments)


def _storage_error(blobs: BlobTarget, url: str, prefix: str) -> dict[str, Any] | None:
    if not blobs.container_exists(url):
        return _error("UserErrorRestoreTargetContainerNotFound",
                      f"The container '{container_of(url)}' of the restore target '{url}' does not exist.",
                      "restoreTargetInfo.targetDetails.url")
    existing = blobs.names_with_prefix(url, f"{prefix}_")
    if existing:
        return _error("UserErrorRestoreTargetFileAlreadyExists",
                      f"Conflict (409): the recovery option is FailIfExists and {len(existing)} file(s) with the "
                      f"prefix '{prefix}' already exist in '{url}' (e.g. '{existing[0]}'). "
                      "Use another filePrefix or remove the files.", "restoreTargetInfo.targetDetails.filePrefix")
    return None
