"""Restore bodies: shape, store choice, rehydration form and per-api-version fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pgflex_restore.bodies import build_restore_request, build_validate_request
from pgflex_restore.errors import NoRecoveryPointError
from pgflex_restore.ids import BackupInstanceId
from pgflex_restore.lro import AsyncOperation, OperationPoll, OperationResultPoll
from pgflex_restore.models import RecoveryPointChoice, RestoreRequest
from pgflex_restore.parsing import DataStoreDetails, OperationStatus, RecoveryPoint

BI = BackupInstanceId("s", "rg", "v", "pg-1")
URL = "https://acct.blob.core.windows.net/restores"
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def request(**kw: object) -> RestoreRequest:
    values: dict[str, object] = {"backup_instance": BI, "recovery_point": RecoveryPointChoice.latest(),
                                 "target_container_url": URL, "file_prefix": "pg1"}
    values.update(kw)
    return RestoreRequest(**values)  # type: ignore[arg-type]


def rp(*stores: str) -> RecoveryPoint:
    return RecoveryPoint("rp1", None, T0, stores=tuple(DataStoreDetails(s) for s in stores))


def test_vault_store_body() -> None:
    """The recovery-point-based request with RestoreFilesTargetInfo, exactly."""
    body = build_restore_request(request(restore_location="westeurope"), rp("VaultStore"), api_version="2021-07-01")
    assert body == {
        "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
        "recoveryPointId": "rp1",
        "sourceDataStoreType": "VaultStore",
        "restoreTargetInfo": {
            "objectType": "RestoreFilesTargetInfo",
            "recoveryOption": "FailIfExists",
            "targetDetails": {"url": URL, "filePrefix": "pg1", "restoreTargetLocationType": "AzureBlobs"},
            "restoreLocation": "westeurope",
        },
    }


def test_archive_only_gets_rehydration() -> None:
    """An archive-only point produces the rehydration request with priority and retention."""
    body = build_restore_request(request(rehydration_priority="High", rehydration_retention="P10D"),
                                 rp("ArchiveStore"), api_version="2026-06-01")
    assert body["objectType"] == "AzureBackupRestoreWithRehydrationRequest"
    assert body["sourceDataStoreType"] == "ArchiveStore"
    assert (body["rehydrationPriority"], body["rehydrationRetentionDuration"]) == ("High", "P10D")
    assert "restoreLocation" not in body["restoreTargetInfo"]


def test_archive_requested_explicitly() -> None:
    """data_store=ArchiveStore restores from archive even when a vault copy exists."""
    body = build_restore_request(request(data_store="ArchiveStore"), rp("VaultStore", "ArchiveStore"),
                                 api_version="2026-06-01")
    assert body["sourceDataStoreType"] == "ArchiveStore"
    with pytest.raises(NoRecoveryPointError):
        build_restore_request(request(data_store="VaultStore"), rp("ArchiveStore"), api_version="2026-06-01")


def test_source_resource_id_only_where_defined() -> None:
    """sourceResourceId is sent with 2026-06-01 and never with 2021-07-01."""
    src = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1"
    new = build_restore_request(request(), rp("VaultStore"), api_version="2026-06-01", source_resource_id=src)
    old = build_restore_request(request(), rp("VaultStore"), api_version="2021-07-01", source_resource_id=src)
    assert new["sourceResourceId"] == src and "sourceResourceId" not in old
    with pytest.raises(ValueError, match="not supported"):
        build_restore_request(request(), rp("VaultStore"), api_version="2099-01-01")


def test_validate_wrapper() -> None:
    """validateRestore wraps the same body."""
    body = build_restore_request(request(), rp(), api_version="2026-06-01")
    assert build_validate_request(body) == {"restoreRequestObject": body}


def test_lro_handles_are_plain_json() -> None:
    """The LRO handles cross the durable boundary as JSON the orchestrator reads."""
    op = AsyncOperation("https://m/s==2026-06-01", "https://m/l", "60", None, False, "r", "c")
    assert json.loads(json.dumps(op.to_dict()))["statusUrl"] == "https://m/s==2026-06-01"
    poll = OperationPoll(OperationStatus("Inprogress", "running"), "30")
    assert json.loads(json.dumps(poll.to_dict()))["retryAfter"] == "30"
    result = OperationResultPoll(True, "job", None)
    assert json.loads(json.dumps(result.to_dict())) == {"done": True, "jobId": "job", "retryAfter": None}
