"""Request bodies for validateRestore and restore, shaped exactly as the chosen api-version's swagger says.

Restores of PostgreSQL flexible servers are "restore as files": ``RestoreFilesTargetInfo`` with the container
URL and a file prefix, ``FailIfExists`` so an earlier restore's files are never overwritten. A point that only
has an ArchiveStore copy needs ``AzureBackupRestoreWithRehydrationRequest``. Fields an api-version does not
define are never sent (``sourceResourceId`` exists only from 2026-06-01 on in the versions we support).
"""

from __future__ import annotations

from typing import Any

from .models import RestoreRequest
from .parsing import RecoveryPoint
from .selection import ARCHIVE_STORE, choose_source_store
from .settings import SUPPORTED_API_VERSIONS

RECOVERY_POINT_BASED = "AzureBackupRecoveryPointBasedRestoreRequest"
WITH_REHYDRATION = "AzureBackupRestoreWithRehydrationRequest"
FILES_TARGET = "RestoreFilesTargetInfo"

# Fields of AzureBackupRestoreRequest beyond the 2021-07-01 set, per api-version.
_OPTIONAL_REQUEST_FIELDS: dict[str, frozenset[str]] = {
    "2021-07-01": frozenset(),
    "2026-06-01": frozenset({"sourceResourceId"}),
}


def build_restore_request(
    request: RestoreRequest,
    point: RecoveryPoint,
    *,
    api_version: str,
    source_resource_id: str | None = None,
) -> dict[str, Any]:
    """The ``AzureBackupRestoreRequest`` body for ``point``, POSTed to ``.../restore``.

    :raises NoRecoveryPointError: the requested data store has no usable copy of ``point``.
    :raises ValueError: unsupported api-version.
    """
    if api_version not in SUPPORTED_API_VERSIONS:
        raise ValueError(f"api-version {api_version!r} is not supported ({', '.join(SUPPORTED_API_VERSIONS)})")
    store = choose_source_store(point, request.data_store)
    target: dict[str, Any] = {
        "objectType": FILES_TARGET,
        "recoveryOption": "FailIfExists",
        "targetDetails": {
            "url": request.target_container_url,
            "filePrefix": request.file_prefix,
            "restoreTargetLocationType": "AzureBlobs",
        },
    }
    if request.restore_location:
        target["restoreLocation"] = request.restore_location
    body: dict[str, Any] = {
        "objectType": RECOVERY_POINT_BASED,
        "recoveryPointId": point.id,
        "sourceDataStoreType": store,
        "restoreTargetInfo": target,
    }
    if store == ARCHIVE_STORE:
        body["objectType"] = WITH_REHYDRATION
        body["rehydrationPriority"] = request.rehydration_priority
        body["rehydrationRetentionDuration"] = request.rehydration_retention
    if source_resource_id and "sourceResourceId" in _OPTIONAL_REQUEST_FIELDS[api_version]:
        body["sourceResourceId"] = source_resource_id
    return body


def build_validate_request(restore_body: dict[str, Any]) -> dict[str, Any]:
    """``ValidateRestoreRequestObject``: the same restore body, wrapped, for ``.../validateRestore``."""
    return {"restoreRequestObject": restore_body}
