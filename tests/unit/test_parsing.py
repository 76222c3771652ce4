"""Response parsers: recovery points, operation status/result, jobs, backup instances, CloudError."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from pgflex_restore.errors import AuthError, NotFoundError, ServerError, ThrottledError
from pgflex_restore.jobs import job_outcome
from pgflex_restore.parsing import (
    BackupInstance,
    DataStoreDetails,
    Job,
    OperationStatus,
    RecoveryPoint,
    parse_backup_instance,
    parse_cloud_error,
    parse_job,
    parse_operation_result,
    parse_operation_status,
    parse_recovery_point,
)


def rp(name: str = "rp1", stores: list[dict[str, Any]] | None = None, **props: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "objectType": "AzureBackupDiscreteRecoveryPoint",
        "recoveryPointTime": "2026-10-01T02:00:00.1234567Z",
        "recoveryPointDataStoresDetails": stores if stores is not None else [
            {"type": "VaultStore", "state": "COMMITTED", "visible": True, "creationTime": "2026-10-01T02:00:00Z",
             "expiryTime": "2027-01-01T00:00:00Z"}],
    }
    properties.update(props)
    return {"name": name, "id": f"/x/recoveryPoints/{name}", "properties": properties}


def test_recovery_point_fields_and_round_trip() -> None:
    """Every field the app uses is kept, and to_dict/from_dict round-trip through JSON."""
    point = parse_recovery_point(rp(recoveryPointType="Full", expiryTime="2027-01-01T00:00:00Z",
                                    recoveryPointState="Completed", friendlyName="weekly"))
    assert point.id == "rp1" and point.arm_id == "/x/recoveryPoints/rp1"
    assert point.time == datetime(2026, 10, 1, 2, 0, 0, 123456, tzinfo=UTC)
    assert point.type == "Full" and point.state == "Completed" and point.friendly_name == "weekly"
    assert point.stores[0] == DataStoreDetails("VaultStore", "COMMITTED", True,
                                               datetime(2026, 10, 1, 2, tzinfo=UTC),
                                               datetime(2027, 1, 1, tzinfo=UTC))
    assert point.in_vault_store and not point.archive_only
    assert RecoveryPoint.from_dict(json.loads(json.dumps(point.to_dict()))) == point


def test_recovery_point_store_flags() -> None:
    """Archive-only, invisible and deleted copies are judged correctly; no stores listed means VaultStore."""
    archive = parse_recovery_point(rp(stores=[
        {"type": "VaultStore", "visible": False},
        {"type": "ArchiveStore", "state": "COMMITTED", "rehydrationStatus": "COMPLETED",
         "rehydrationExpiryTime": "2026-12-01T00:00:00Z"}]))
    assert archive.archive_only and archive.in_archive_store and not archive.in_vault_store
    assert archive.stores[1].rehydration_status == "COMPLETED"
    deleted = parse_recovery_point(rp(stores=[{"type": "VaultStore", "state": "Deleted"}, {"visible": True}]))
    assert not deleted.in_vault_store and len(deleted.stores) == 1
    bare = parse_recovery_point(rp(stores=[]))
    assert bare.in_vault_store and not bare.archive_only


def test_recovery_point_name_fallback_and_errors() -> None:
    """The name falls back to properties.recoveryPointId; no name or time is a ValueError."""
    data = rp()
    del data["name"]
    data["properties"]["recoveryPointId"] = "from-props"
    assert parse_recovery_point(data).id == "from-props"
    with pytest.raises(ValueError, match="neither"):
        parse_recovery_point({"properties": {"recoveryPointTime": "2026-01-01T00:00:00Z"}})
    with pytest.raises(ValueError, match="recoveryPointTime"):
        parse_recovery_point({"name": "x", "properties": {}})


@pytest.mark.parametrize(
    ("status", "state"),
    [("Succeeded", "succeeded"), ("SUCCEEDED", "succeeded"), ("Failed", "failed"), ("Canceled", "canceled"),
     ("Cancelled", "canceled"), ("Inprogress", "running"), ("InProgress", "running"), ("Accepted", "running"),
     ("whatever", "running")],
)
def test_operation_states(status: str, state: str) -> None:
    """Terminal states compared case-insensitively; anything else is running."""
    parsed = parse_operation_status({"status": status})
    assert parsed.state == state and parsed.done is (state != "running")


def test_operation_status_learn_doc_inprogress() -> None:
    """The Learn doc's Inprogress with endTime 0001-01-01 and a full-ARM-id jobId."""
    job = ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/testBkpVault"
           "/backupJobs/c4bd49a1-0b5a-4f4e-8c58-ae1c6d2c26c1")
    body = {"id": "/x/operationStatus/op1", "name": "op1", "status": "Inprogress",
            "startTime": "2021-08-05T09:59:15.0526731Z", "endTime": "0001-01-01T00:00:00Z",
            "properties": {"objectType": "OperationJobExtendedInfo", "jobId": job}}
    status = parse_operation_status(body)
    assert status.state == "running" and status.end_time is None and status.job_id == job
    assert status.start_time is not None and status.start_time.year == 2021
    assert OperationStatus.from_dict(json.loads(json.dumps(status.to_dict()))) == status


def test_operation_status_failed_error_and_missing_status() -> None:
    """The error object is kept; a missing status keeps polling."""
    failed = parse_operation_status({"status": "Failed", "error": {"code": "UserErrorX", "message": "m"}})
    assert failed.error == {"code": "UserErrorX", "message": "m"} and failed.state == "failed"
    assert parse_operation_status({}).state == "running"
    assert parse_operation_status({"status": "Failed", "error": {}}).error is None


def test_operation_result() -> None:
    """jobId from OperationJobExtendedInfo at top level or under properties; None otherwise."""
    assert parse_operation_result({"jobId": "j1", "objectType": "OperationJobExtendedInfo"}) == "j1"
    assert parse_operation_result({"properties": {"jobId": "j2"}}) == "j2"
    assert parse_operation_result({}) is None and parse_operation_result(None) is None


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("Completed", "succeeded"), ("Succeeded", "succeeded"), ("Success", "succeeded"),
     ("CompletedWithWarnings", "succeeded_with_warnings"), ("SuccessWithWarning", "succeeded_with_warnings"),
     ("Failed", "failed"), ("Cancelled", "cancelled"), ("Canceled", "cancelled"), ("InProgress", "running"),
     ("Started", "running"), ("Cancelling", "running"), ("Paused", "running"), (None, "running")],
)
def test_job_outcomes(status: str | None, outcome: str) -> None:
    """Both api-versions' job vocabularies map to five outcomes."""
    assert job_outcome(status) == outcome


def job(status: str = "InProgress", **props: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "status": status, "operation": "Restore", "operationCategory": "Restore",
        "backupInstanceId": "/bi", "dataSourceId": "/ds", "startTime": "2026-11-01T02:00:00Z",
        "duration": "01:02:03.5", "restoreType": "ALR",
    }
    properties.update(props)
    return {"id": "/v/backupJobs/g-1", "name": "g-1", "properties": properties}


def test_job_fields_and_round_trip() -> None:
    """Every field the app reports is kept and survives the JSON round trip."""
    parsed = parse_job(job("Completed", endTime="2026-11-01T03:02:03Z",
                           errorDetails=[{"code": "W", "message": "warn"}],
                           extendedInfo={"recoveryDestination": "https://a/c/pg1_db.sql",
                                         "additionalDetails": {"TargetFile": "pg1_db.sql"}}))
    assert parsed.guid == "g-1" and parsed.arm_id == "/v/backupJobs/g-1" and parsed.outcome == "succeeded"
    assert parsed.duration_seconds == pytest.approx(3723.5) and parsed.progress_percent == 100.0
    assert parsed.end_time == datetime(2026, 11, 1, 3, 2, 3, tzinfo=UTC)
    assert parsed.recovery_destination == "https://a/c/pg1_db.sql" and parsed.restore_type == "ALR"
    assert parsed.error_details == ({"code": "W", "message": "warn"},)
    assert parsed.additional_details == {"TargetFile": "pg1_db.sql"}
    assert parsed.is_restore and parsed.done
    assert Job.from_dict(json.loads(json.dumps(parsed.to_dict()))) == parsed


def test_job_progress_is_honest() -> None:
    """Progress comes only from reported percentages; unknown stays None."""
    assert parse_job(job(extendedInfo={"subTasks": [{"taskId": 1, "taskName": "a", "taskStatus": "Started"}]})
                     ).progress_percent is None
    assert parse_job(job(extendedInfo={"subTasks": [
        {"taskId": 1, "taskName": "a", "taskStatus": "x", "taskProgress": "40%"},
        {"taskId": 2, "taskName": "b", "taskStatus": "x", "taskProgress": "60"}]})).progress_percent == 50.0
    assert parse_job(job(extendedInfo={"additionalDetails": {"ProgressPercentage": "12.5"}})).progress_percent == 12.5
    assert parse_job(job(extendedInfo={"subTasks": [
        {"taskId": 1, "taskName": "a", "taskStatus": "x", "taskProgress": 30}]})).progress_percent == 30.0
    assert parse_job(job(extendedInfo={"additionalDetails": {"progress": "150"}})).progress_percent is None
    assert parse_job(job("Failed")).progress_percent is None


def test_job_iso_duration_and_missing_bits() -> None:
    """ISO durations parse; a job without name uses its id's last segment; nothing at all is a ValueError."""
    parsed = parse_job({"id": "/v/backupJobs/g-2/", "properties": {"status": "Started", "duration": "PT1M"}})
    assert parsed.guid == "g-2" and parsed.duration_seconds == 60 and not parsed.is_restore
    assert parse_job({"name": "g-3"}).status == "Unknown"
    with pytest.raises(ValueError):
        parse_job({"properties": {}})


def test_backup_instance() -> None:
    """Datasource id/type, friendly name and protection status are kept; round trip works."""
    resource = {"id": "/v/backupInstances/bi1", "name": "bi1", "properties": {
        "friendlyName": "pg1", "currentProtectionState": "ProtectionConfigured",
        "dataSourceInfo": {"resourceID": "/pg/flex1", "datasourceType": "Microsoft.DBforPostgreSQL/flexibleServers"},
        "protectionStatus": {"status": "ProtectionConfigured"}}}
    bi = parse_backup_instance(resource)
    assert (bi.name, bi.datasource_resource_id, bi.friendly_name) == ("bi1", "/pg/flex1", "pg1")
    assert bi.datasource_type == "Microsoft.DBforPostgreSQL/flexibleServers"
    assert bi.protection_status == bi.current_protection_state == "ProtectionConfigured"
    assert BackupInstance.from_dict(json.loads(json.dumps(bi.to_dict()))) == bi
    fallback = parse_backup_instance({"id": "/v/backupInstances/bi2",
                                      "properties": {"dataSourceSetInfo": {"resourceID": "/pg/set"}}})
    assert fallback.name == "bi2" and fallback.datasource_resource_id == "/pg/set"
    with pytest.raises(ValueError):
        parse_backup_instance({})


def test_cloud_error_json() -> None:
    """A CloudError body and ARM's id headers end up on the typed error."""
    body = json.dumps({"error": {"code": "AuthorizationFailed", "message": "no", "target": "t",
                                 "details": [{"code": "d", "message": "dm"}, "junk"]}}).encode()
    err = parse_cloud_error(403, body, {"X-MS-Request-Id": "r1", "x-ms-correlation-request-id": "c1",
                                        "retry-after": "5"})
    assert isinstance(err, AuthError)
    assert (err.code, err.message, err.target, err.request_id, err.correlation_id, err.retry_after) == (
        "AuthorizationFailed", "no", "t", "r1", "c1", "5")
    assert err.details == [{"code": "d", "message": "dm"}]


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "needle"),
    [
        (502, b"<html>Bad Gateway</html>", ServerError, "HTTP502", "Bad Gateway"),
        (404, None, NotFoundError, "HTTP404", "no error body"),
        (429, "", ThrottledError, "HTTP429", "no error body"),
        (404, {"code": "ResourceNotFound", "message": "gone"}, NotFoundError, "ResourceNotFound", "gone"),
        (500, b"[1, 2]", ServerError, "HTTP500", "[1, 2]"),
        (500, b"\xff\xfe", ServerError, "HTTP500", ""),
        (401, {"error": "invalid_token", "error_description": "token expired"}, AuthError, "invalid_token",
         "token expired"),
        (401, b'{"error": "invalid_token"}', AuthError, "invalid_token", "invalid_token"),
    ],
)
def test_cloud_error_odd_bodies(status: int, body: Any, cls: type, code: str, needle: str) -> None:
    """Non-JSON, empty, bare and non-object bodies still give a typed error with a message."""
    err = parse_cloud_error(status, body, {})
    assert isinstance(err, cls) and err.code == code and needle in err.message
