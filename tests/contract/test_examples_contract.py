"""Every official example response (and the Learn doc's) parses without losing a field the app uses."""

from __future__ import annotations

from typing import Any

import pytest

from pgflex_restore.ids import job_guid
from pgflex_restore.parsing import (
    parse_backup_instance,
    parse_job,
    parse_operation_result,
    parse_operation_status,
    parse_recovery_point,
)
from pgflex_restore.timeutil import parse_elapsed_seconds, parse_service_datetime
from tests.contract.swagger import SwaggerSchemas

VERSIONS = ("2021-07-01", "2026-06-01")


def _body(example: Any, version: str, name: str, status: str = "200") -> Any:
    return example(version, name)["responses"][status]["body"]


def _check_point(resource: dict[str, Any]) -> None:
    point = parse_recovery_point(resource)
    props = resource["properties"]
    assert point.id == resource["name"] and point.arm_id == resource["id"]
    assert point.time == parse_service_datetime(props["recoveryPointTime"])
    assert point.type == props.get("recoveryPointType")
    assert point.expiry_time == parse_service_datetime(props.get("expiryTime"))
    assert point.state == props.get("recoveryPointState")
    stores = props.get("recoveryPointDataStoresDetails", [])
    assert [s.type for s in point.stores] == [s["type"] for s in stores]
    for parsed, raw in zip(point.stores, stores, strict=True):
        assert parsed.creation_time == parse_service_datetime(raw.get("creationTime"))
        assert parsed.visible == raw.get("visible") and parsed.state == raw.get("state")


@pytest.mark.parametrize("version", VERSIONS)
def test_list_recovery_points(loose_schemas: dict[str, SwaggerSchemas], example: Any, version: str) -> None:
    """RecoveryPoints_List: the body matches the spec and each point keeps name, time, type, stores."""
    body = _body(example, version, "BackupInstanceOperations/ListRecoveryPoints.json")
    spec = loose_schemas[version]
    assert spec.errors(body, spec.response_definition("RecoveryPoints_List")) == []
    assert len(body["value"]) >= 1
    for item in body["value"]:
        _check_point(item)


@pytest.mark.parametrize("version", VERSIONS)
def test_get_recovery_point(loose_schemas: dict[str, SwaggerSchemas], example: Any, version: str) -> None:
    """RecoveryPoints_Get parses fully."""
    body = _body(example, version, "BackupInstanceOperations/GetRecoveryPoint.json")
    spec = loose_schemas[version]
    assert spec.errors(body, spec.response_definition("RecoveryPoints_Get")) == []
    _check_point(body)


OPERATION_STATUS = {
    "2021-07-01": ["GetOperationStatus.json"],
    "2026-06-01": ["GetOperationStatus.json", "GetOperationStatusVaultContext.json",
                   "GetOperationStatusRGContext.json"],
}


@pytest.mark.parametrize(("version", "name"), [(v, n) for v, names in OPERATION_STATUS.items() for n in names])
def test_operation_status(loose_schemas: dict[str, SwaggerSchemas], example: Any, version: str, name: str) -> None:
    """Every OperationStatus variant: status, state, id and times kept."""
    data = example(version, name)
    body = data["responses"]["200"]["body"]
    spec = loose_schemas[version]
    assert spec.errors(body, spec.response_definition(data.get("operationId", "OperationStatus_Get"))) == []
    status = parse_operation_status(body)
    assert status.status == body["status"] and status.id == body["id"]
    assert status.state == "succeeded" and status.done
    assert status.start_time == parse_service_datetime(body["startTime"])
    assert status.end_time == parse_service_datetime(body["endTime"])


def test_learn_doc_inprogress_status(loose_schemas: dict[str, SwaggerSchemas]) -> None:
    """The Learn REST doc's in-progress status: 'Inprogress', endTime 0001-01-01, a full ARM job id."""
    job_id = ("/subscriptions/ef4ab5a7-c2c0-4304-af80-af49f48af3d1/resourceGroups/DataprotectionTestRG"
              "/providers/Microsoft.DataProtection/backupVaults/testBkpVault/backupJobs"
              "/c4bd49a1-0645-4faf-9a03-6f4d5e8a3c45")
    body = {
        "id": "/subscriptions/ef4ab5a7-c2c0-4304-af80-af49f48af3d1/providers/Microsoft.DataProtection/locations"
              "/westus/operationStatus/ZmMzNDFmYWMtZWJlMS00NGJhLWE4YTgtMDNjYjI4Y2M5OTExOzM1NjlmZjRhLTMyYzMtNDA",
        "name": "ZmMzNDFmYWMtZWJlMS00NGJhLWE4YTgtMDNjYjI4Y2M5OTExOzM1NjlmZjRhLTMyYzMtNDA",
        "status": "Inprogress",
        "startTime": "2021-08-05T09:59:15.1178208Z",
        "endTime": "0001-01-01T00:00:00Z",
        "properties": {"jobId": job_id, "objectType": "OperationJobExtendedInfo"},
    }
    assert loose_schemas["2021-07-01"].errors(body, "OperationResource") == []
    status = parse_operation_status(body)
    assert status.state == "running" and not status.done and status.end_time is None
    assert status.job_id == job_id and job_guid(status.job_id) == "c4bd49a1-0645-4faf-9a03-6f4d5e8a3c45"


@pytest.mark.parametrize("version", VERSIONS)
def test_operation_result(loose_schemas: dict[str, SwaggerSchemas], example: Any, version: str) -> None:
    """OperationResult_Get 200 gives the (malformed but verbatim) job id; 202 carries the polling headers."""
    data = example(version, "GetOperationResult.json")
    body = data["responses"]["200"]["body"]
    spec = loose_schemas[version]
    assert spec.errors(body, spec.response_definition("OperationResult_Get")) == []
    assert parse_operation_result(body) == body["jobId"] == "c60cb49-63e8-4b21-b9bd-26277b3fdfae"
    headers = data["responses"]["202"]["headers"]
    assert {"Azure-AsyncOperation", "Location", "Retry-After"} <= set(headers)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["BackupInstanceOperations/ValidateRestore.json",
                                  "BackupInstanceOperations/TriggerRestore.json"])
def test_lro_200_bodies(example: Any, version: str, name: str) -> None:
    """The 200 answer of validate/restore is an OperationJobExtendedInfo with a job id."""
    assert parse_operation_result(_body(example, version, name)) == "c60cb49-63e8-4b21-b9bd-26277b3fdfae"


def _check_job(resource: dict[str, Any]) -> None:
    job = parse_job(resource)
    props = resource["properties"]
    assert job.guid == resource["name"] and job.arm_id == resource["id"] and job.guid == job_guid(resource["id"])
    assert job.status == props["status"]
    assert (job.operation, job.operation_category) == (props["operation"], props["operationCategory"])
    assert job.backup_instance_id == props.get("backupInstanceId")
    assert job.data_source_id == props["dataSourceId"]
    assert job.start_time == parse_service_datetime(props["startTime"])
    assert job.end_time == parse_service_datetime(props.get("endTime"))
    assert job.duration_seconds == parse_elapsed_seconds(props.get("duration"))
    if props.get("duration"):
        assert job.duration_seconds is not None
    assert len(job.error_details) == len(props.get("errorDetails", []))
    assert job.additional_details == props.get("extendedInfo", {}).get("additionalDetails", {})


@pytest.mark.parametrize("version", VERSIONS)
def test_get_job(loose_schemas: dict[str, SwaggerSchemas], example: Any, version: str) -> None:
    """Jobs_Get: status, times, duration (TimeSpan form), ids kept; 'Started' means running."""
    body = _body(example, version, "JobCRUD/GetJob.json")
    spec = loose_schemas[version]
    assert spec.errors(body, spec.response_definition("Jobs_Get")) == []
    _check_job(body)
    assert parse_job(body).outcome == "running"


@pytest.mark.parametrize("version", VERSIONS)
def test_list_jobs(loose_schemas: dict[str, SwaggerSchemas], example: Any, version: str) -> None:
    """Jobs_List: every job parses with its fields."""
    body = _body(example, version, "JobCRUD/ListJobs.json")
    spec = loose_schemas[version]
    assert spec.errors(body, spec.response_definition("Jobs_List")) == []
    assert len(body["value"]) >= 2
    outcomes = set()
    for item in body["value"]:
        _check_job(item)
        outcomes.add(parse_job(item).outcome)
    assert outcomes <= {"running", "succeeded", "succeeded_with_warnings", "failed", "cancelled"}


@pytest.mark.parametrize("version", VERSIONS)
def test_list_backup_instances(loose_schemas: dict[str, SwaggerSchemas], example: Any, version: str) -> None:
    """BackupInstances_List: name, id, datasource id/type, friendly name, protection status kept."""
    body = _body(example, version, "BackupInstanceOperations/ListBackupInstances.json")
    spec = loose_schemas[version]
    assert spec.errors(body, spec.response_definition("BackupInstances_List")) == []
    for item in body["value"]:
        bi = parse_backup_instance(item)
        props = item["properties"]
        assert (bi.arm_id, bi.name, bi.friendly_name) == (item["id"], item["name"], props.get("friendlyName"))
        assert bi.datasource_resource_id == props["dataSourceInfo"]["resourceID"]
        assert bi.datasource_type == props["dataSourceInfo"]["datasourceType"]
        assert bi.protection_status == props.get("protectionStatus", {}).get("status")


@pytest.mark.parametrize("version", VERSIONS)
def test_loose_validator_still_checks_responses(loose_schemas: dict[str, SwaggerSchemas], version: str) -> None:
    """Negative control for responses: a recovery point without recoveryPointTime is refused."""
    bad = {"name": "x", "properties": {"objectType": "AzureBackupDiscreteRecoveryPoint"}}
    assert loose_schemas[version].errors(bad, "AzureBackupRecoveryPointResource")
