"""Fidelity: the official azure-mgmt-dataprotection SDK, authenticated by the real azure-identity
ManagedIdentityCredential through the emulator's App Service token endpoint, runs the whole restore flow.

The SDK's own LRO poller drives validate and restore; the scenario's Retry-After of 0 makes it poll at
``polling_interval`` and a clock that steps forward on every read lets the timelines run without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.dataprotection import DataProtectionMgmtClient

from emulator import EmulatorServer
from tests.emulator.emusupport import (
    ARCHIVED_RP,
    BI,
    BV_PATH,
    CONTAINER_URL,
    LOCATION,
    RG,
    START,
    SUB,
    VAULT,
    restore_body,
    scenario,
)

FAST = {"validateSeconds": 20, "validateRetryAfter": 0, "restoreSeconds": 60, "restoreRetryAfter": 0,
        "jobSeconds": 600}


class SteppingClock:
    """Moves five seconds forward each time it is read: time passes only as the client polls."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=5)
            return self._now


@pytest.fixture
def sdk_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    with EmulatorServer(scenario(timings=FAST), clock=SteppingClock(START)) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("MSI_ENDPOINT", raising=False)
        monkeypatch.delenv("IDENTITY_SERVER_THUMBPRINT", raising=False)
        yield server


def _client(server: EmulatorServer, api_version: str) -> DataProtectionMgmtClient:
    credential = ManagedIdentityCredential()
    return DataProtectionMgmtClient(credential, SUB, base_url=server.url, api_version=api_version,
                                    polling_interval=0)


@pytest.mark.parametrize("api_version", ["2021-07-01", "2026-06-01"])
def test_official_sdk_runs_list_validate_restore_and_job(sdk_server: EmulatorServer, api_version: str) -> None:
    client = _client(sdk_server, api_version)
    points = list(client.recovery_points.list(RG, VAULT, BI, enforce_https=False))
    assert len(points) == 25  # 3 pages of 10
    latest = points[0]
    assert latest.name == latest.properties.recovery_point_id
    assert latest.properties.object_type == "AzureBackupDiscreteRecoveryPoint"
    assert latest.properties.recovery_point_data_stores_details[0].type == "VaultStore"
    assert latest.properties.recovery_point_time == datetime.fromisoformat("2026-03-01T02:00:00+00:00")
    got = client.recovery_points.get(RG, VAULT, BI, latest.name, enforce_https=False)
    assert got.id == latest.id

    instances = list(client.backup_instances.list(RG, VAULT, enforce_https=False))
    prod = next(i for i in instances if i.name == BI)
    assert prod.properties.data_source_info.resource_id.endswith("/flexibleServers/pg-prod")

    body = restore_body(latest.name)
    validated = client.backup_instances.begin_validate_for_restore(
        RG, VAULT, BI, {"restoreRequestObject": body}, enforce_https=False).result()
    assert validated.object_type == "OperationJobExtendedInfo"

    result = client.backup_instances.begin_trigger_restore(RG, VAULT, BI, body, enforce_https=False).result()
    assert result.job_id.startswith(f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DataProtection/")
    job = client.jobs.get(RG, VAULT, result.job_id.rsplit("/", 1)[1], enforce_https=False)
    assert job.properties.operation == "Restore"
    assert job.properties.operation_category == "Restore"
    assert job.properties.data_source_type == "Microsoft.DBforPostgreSQL/flexibleServers"
    for _ in range(200):
        job = client.jobs.get(RG, VAULT, job.name, enforce_https=False)
        if job.properties.status != "InProgress":
            break
    assert job.properties.status == "Completed"
    assert job.properties.end_time is not None
    assert job.properties.extended_info.recovery_destination == CONTAINER_URL
    listed = list(client.jobs.list(RG, VAULT, enforce_https=False))
    assert [j.name for j in listed] == [job.name]

    # The SDK's pollers finished through each version's Location (final-state-via: location).
    results = {r["path"].rsplit("/operationResults/", 1)[0] for r in sdk_server.requests
               if "/operationResults/" in r["path"]}
    expected = f"{BV_PATH}/backupInstances/{BI}" if api_version == "2026-06-01" else \
        f"/subscriptions/{SUB}/providers/Microsoft.DataProtection/locations/{LOCATION}"
    assert results == {expected}
    methods = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in sdk_server.requests]
    assert ("POST", "validateRestore") in methods and ("POST", "restore") in methods
    assert all(r["headers"]["authorization"] for r in sdk_server.requests if r["path"] != "/msi/token")
    assert all("x-ms-client-request-id" in r["headers"] for r in sdk_server.requests if r["path"] != "/msi/token")


def test_official_sdk_sees_failed_validation_as_an_error(sdk_server: EmulatorServer) -> None:
    client = _client(sdk_server, "2026-06-01")
    poller = client.backup_instances.begin_validate_for_restore(
        RG, VAULT, "pg-archive", {"restoreRequestObject": restore_body(ARCHIVED_RP)}, enforce_https=False)
    with pytest.raises(HttpResponseError) as raised:
        poller.result()
    assert "UserErrorRecoveryPointRehydrationRequired" in str(raised.value)


def test_official_sdk_gets_arm_errors_as_typed_exceptions(sdk_server: EmulatorServer) -> None:
    client = _client(sdk_server, "2026-06-01")
    with pytest.raises(ResourceNotFoundError) as raised:
        client.jobs.get(RG, VAULT, "00000000-0000-0000-0000-000000000000", enforce_https=False)
    assert raised.value.error is not None and raised.value.error.code == "ResourceNotFound"
    bad = restore_body("whatever")
    del bad["restoreTargetInfo"]["targetDetails"]["filePrefix"]
    with pytest.raises(HttpResponseError) as invalid:
        client.backup_instances.begin_trigger_restore(RG, VAULT, BI, bad, enforce_https=False)
    assert invalid.value.status_code == 400
    assert invalid.value.error is not None
    assert invalid.value.error.target == "restoreTargetInfo.targetDetails.filePrefix"


def test_official_sdk_recovers_from_revoked_tokens_through_the_claims_challenge(sdk_server: EmulatorServer) -> None:
    client = _client(sdk_server, "2026-06-01")
    assert list(client.backup_instances.list(RG, VAULT, enforce_https=False))
    sdk_server.revoke_tokens()
    assert list(client.backup_instances.list(RG, VAULT, enforce_https=False))
    statuses = [r["status"] for r in sdk_server.requests if r["path"].endswith("/backupInstances")]
    assert statuses == [200, 401, 200]
    assert len([r for r in sdk_server.requests if r["path"] == "/msi/token"]) == 2
