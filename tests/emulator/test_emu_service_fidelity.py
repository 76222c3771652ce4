"""The emulator answers like the service where a client can tell: driven by the official azure-mgmt-dataprotection
SDK (and raw HTTP where the SDK hides the wire; test_emu_sdk.py runs the SDK's own LRO pollers through both
versions' Location URLs): the vault resource, both api-versions' Location shapes, Retry-After
on running operation statuses, job lists mixing backups and restores, JWT-shaped tokens, no null strings or objects,
and recovery-point pages whose cost does not grow with the number of points."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from azure.identity import ManagedIdentityCredential
from azure.mgmt.dataprotection import DataProtectionMgmtClient

from emulator import EmulatorServer, VirtualClock
from tests.emulator.emusupport import BI, BI_PATH, BV_PATH, LOCATION, RG, START, SUB, VAULT, restore_body, scenario

SLOW = {"validateSeconds": 30, "validateRetryAfter": 10, "restoreSeconds": 60, "restoreRetryAfter": 15,
        "jobSeconds": 600}
PAST_JOBS = [
    {"operation": "Backup", "start": "now-P1D"},
    {"operation": "Backup", "start": "now-P2D", "status": "Failed"},
    {"operation": "Restore", "start": "now-PT5H", "targetContainerUrl": "https://other.blob.core.windows.net/x",
     "filePrefix": "older"},
]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    clock = VirtualClock(START)
    with EmulatorServer(scenario(timings=SLOW, pastJobs=PAST_JOBS), clock=clock) as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("MSI_ENDPOINT", raising=False)
        yield running


def sdk(server: EmulatorServer, api_version: str) -> DataProtectionMgmtClient:
    return DataProtectionMgmtClient(ManagedIdentityCredential(), SUB, base_url=server.url, api_version=api_version,
                                    polling_interval=0)


def raw(server: EmulatorServer) -> requests.Session:
    session = requests.Session()
    token = ManagedIdentityCredential().get_token("https://management.azure.com/.default").token
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def nulls(value: Any, path: str = "") -> list[str]:
    """Paths of null values in a JSON document (the service omits absent strings and objects)."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in nulls(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in nulls(item, f"{path}[{index}]")]
    return []


@pytest.mark.parametrize("api_version", ["2021-07-01", "2026-06-01"])
def test_the_vault_is_served(server: EmulatorServer, api_version: str) -> None:
    vault = sdk(server, api_version).backup_vaults.get(RG, VAULT, enforce_https=False)
    assert vault.name == VAULT and vault.location == LOCATION
    assert vault.identity.type == "SystemAssigned" and vault.identity.principal_id
    assert vault.properties.storage_settings[0].datastore_type == "VaultStore"


@pytest.mark.parametrize(("api_version", "location_scope"), [
    ("2021-07-01", f"/subscriptions/{SUB}/providers/Microsoft.DataProtection/locations/{LOCATION}/operationResults/"),
    ("2026-06-01", f"{BI_PATH}/operationResults/"),
])
def test_location_has_each_versions_shape_and_is_served(
        server: EmulatorServer, api_version: str, location_scope: str) -> None:
    session = raw(server)
    point = session.get(f"{server.url}{BI_PATH}/recoveryPoints", params={"api-version": api_version},
                        timeout=10).json()["value"][0]["name"]
    answer = session.post(f"{server.url}{BI_PATH}/restore", params={"api-version": api_version},
                          json=restore_body(point), timeout=10)
    assert answer.status_code == 202
    assert answer.headers["Location"].startswith(server.url + location_scope)
    assert session.get(answer.headers["Location"], timeout=10).status_code == 202  # served, not 404
    server.clock.advance(61)
    done = session.get(answer.headers["Location"], timeout=10)
    assert done.status_code == 200 and done.json()["jobId"].startswith(f"{BV_PATH}/backupJobs/")


def test_running_statuses_carry_retry_after_as_the_scenario_says(monkeypatch: pytest.MonkeyPatch) -> None:
    for setting, expected in (("same", "15"), (7, "7"), ("absent", None)):
        clock = VirtualClock(START)
        with EmulatorServer(scenario(timings={**SLOW, "statusRetryAfter": setting}), clock=clock) as server:
            for name, value in server.env().items():
                monkeypatch.setenv(name, value)
            session = raw(server)
            point = session.get(f"{server.url}{BI_PATH}/recoveryPoints", params={"api-version": "2026-06-01"},
                                timeout=10).json()["value"][0]["name"]
            started = session.post(f"{server.url}{BI_PATH}/restore", params={"api-version": "2026-06-01"},
                                   json=restore_body(point), timeout=10)
            running = session.get(started.headers["Azure-AsyncOperation"], timeout=10)
            assert running.json()["status"] == "InProgress"
            assert running.headers.get("Retry-After") == expected, setting
            clock.advance(61)
            finished = session.get(started.headers["Azure-AsyncOperation"], timeout=10)
            assert finished.json()["status"] == "Succeeded" and "Retry-After" not in finished.headers


def test_the_job_list_holds_backups_and_restores(server: EmulatorServer) -> None:
    jobs = list(sdk(server, "2026-06-01").jobs.list(RG, VAULT, enforce_https=False))
    kinds = sorted((j.properties.operation_category, j.properties.status) for j in jobs)
    assert kinds == [("Backup", "Completed"), ("Backup", "Failed"), ("Restore", "Completed")]
    restore = next(j for j in jobs if j.properties.operation_category == "Restore")
    assert restore.properties.extended_info.additional_details["FilePrefix"] == "older"
    assert all(j.properties.start_time < START for j in jobs)


def test_tokens_are_jwt_shaped_with_audience_expiry_and_object_id(server: EmulatorServer) -> None:
    token = ManagedIdentityCredential().get_token("https://management.azure.com/.default")
    header, payload, signature = token.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["typ"] == "JWT"
    assert claims["aud"] == "https://management.azure.com" and claims["exp"] == token.expires_on
    assert claims["oid"] and claims["tid"] and signature


@pytest.mark.parametrize("api_version", ["2021-07-01", "2026-06-01"])
def test_strings_and_objects_are_omitted_rather_than_null(server: EmulatorServer, api_version: str) -> None:
    session = raw(server)
    query = {"api-version": api_version}
    documents = [session.get(f"{server.url}{path}", params=query, timeout=10).json()
                 for path in (BV_PATH, f"{BV_PATH}/backupInstances", f"{BI_PATH}/recoveryPoints",
                              f"{BV_PATH}/backupJobs")]
    assert [p for document in documents for p in nulls(document)] == []


def test_a_page_of_recovery_points_costs_the_same_at_ten_thousand_points(monkeypatch: pytest.MonkeyPatch) -> None:
    many = {"count": 10_000, "every": "PT1H", "latest": "now-PT1H"}
    with EmulatorServer(scenario(recoveryPoints=many), clock=VirtualClock(START)) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        client = sdk(server, "2026-06-01")
        began = time.monotonic()
        points = list(client.recovery_points.list(RG, VAULT, BI, enforce_https=False))
        assert len(points) == 10_000
        assert time.monotonic() - began < 120  # 1,000 pages of 10; a guard against O(n) pages, not a benchmark
        newest = points[0].properties.recovery_point_time
        window = list(client.recovery_points.list(
            RG, VAULT, BI, enforce_https=False,
            filter=f"startDate eq '{(newest - timedelta(hours=30)).isoformat()}' and "
                   f"endDate eq '{(newest - timedelta(hours=10)).isoformat()}'"))
        assert len(window) == 21 and window[0].properties.recovery_point_time == newest - timedelta(hours=10)
