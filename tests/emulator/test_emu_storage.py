"""Restored files landing in Azurite: real pg_dump archives, drills' corruptions, FailIfExists, missing container."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pgdumplib
import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from devhost.azurite import Azurite
from emulator import EmulatorServer, VirtualClock
from tests.emulator.emusupport import BI_PATH, RG, SUB, VAULT, Arm, restore_body, scenario

# pgdumplib.load keeps each archive open and a temporary folder alive and offers no close(); Python reports both
# when a Dump is collected. That is the library's, so only that report is allowed in this module.
pytestmark = [pytest.mark.azurite, pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]


@pytest.fixture
def container(azurite: Azurite) -> Iterator[ContainerClient]:
    name = f"restores{uuid.uuid4().hex[:10]}"
    with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        client = service.get_container_client(name)
        client.create_container()
        yield client
        client.delete_container()


def _url(container: ContainerClient) -> str:
    """The container as the app would name it; the emulator maps the container name onto Azurite."""
    return f"https://restoresacct.blob.core.windows.net/{container.container_name}"


def _emulator(azurite: Azurite, clock: VirtualClock, **overrides: Any) -> EmulatorServer:
    data = scenario(**overrides)
    vault = data["subscriptions"][SUB]["resourceGroups"][RG]["vaults"][VAULT]
    vault["storageRoleAssignments"] = ["https://restoresacct.blob.core.windows.net"]  # account-wide role
    return EmulatorServer(data, clock=clock, storage_connection_string=azurite.connection_string)


def _restore(arm: Arm, clock: VirtualClock, url: str, prefix: str = "restore1") -> dict[str, Any]:
    answer = arm.post(f"{BI_PATH}/restore", json=restore_body(arm.latest_rp(), prefix=prefix, url=url))
    assert answer.status_code == 202
    clock.advance(60)
    status = arm.get(answer.headers["Azure-AsyncOperation"]).json()
    assert status["status"] == "Succeeded", status
    clock.advance(600)
    job: dict[str, Any] = arm.get(status["properties"]["jobId"]).json()
    return job


def test_completed_job_writes_real_dumps_under_the_prefix(
    azurite: Azurite, clock: VirtualClock, container: ContainerClient, tmp_path: Path
) -> None:
    with _emulator(azurite, clock) as server:
        arm = Arm(server)
        job = _restore(arm, clock, _url(container))
        assert job["properties"]["status"] == "Completed"
        names = sorted(b.name for b in container.list_blobs())
        assert names == sorted(["restore1_appdb.sql", "restore1_reporting.sql", "restore1_roles.sql",
                                "restore1_tablespace.sql", "restore1_schema.sql"])
        details = job["properties"]["extendedInfo"]
        assert details["additionalDetails"]["RestoredFiles"].split(",")[0] == "restore1_appdb.sql"
        assert details["dataTransferredInBytes"] > 0
        for database in ("appdb", "reporting"):
            data = container.download_blob(f"restore1_{database}.sql").readall()
            assert data[:5] == b"PGDMP"
            path = tmp_path / f"{database}.dump"
            path.write_bytes(data)
            dump = pgdumplib.load(path)
            assert dump.dbname == database
        customers = list(pgdumplib.load(tmp_path / "appdb.dump").table_data("public", "customers"))
        assert len(customers) == 20
        roles = container.download_blob("restore1_roles.sql").readall().decode()
        assert "CREATE ROLE app_owner" in roles


def test_files_appear_without_polling_once_the_clock_passes_the_end(
    azurite: Azurite, clock: VirtualClock, container: ContainerClient
) -> None:
    with _emulator(azurite, clock) as server:
        arm = Arm(server)
        arm.post(f"{BI_PATH}/restore", json=restore_body(arm.latest_rp(), url=_url(container)))
        assert list(container.list_blobs()) == []
        clock.advance(3600)
        assert server.jobs()[0]["status"] == "Completed"
        assert len(list(container.list_blobs())) == 5


@pytest.mark.parametrize("mode", ["truncated", "bad-magic", "empty"])
def test_corrupted_dumps_for_drills(
    azurite: Azurite, clock: VirtualClock, container: ContainerClient, tmp_path: Path, mode: str
) -> None:
    with _emulator(azurite, clock, failures={"corruptDump": {"reporting": mode}}) as server:
        arm = Arm(server)
        assert _restore(arm, clock, _url(container))["properties"]["status"] == "Completed"
        good = container.download_blob("restore1_appdb.sql").readall()
        bad = container.download_blob("restore1_reporting.sql").readall()
        assert good[:5] == b"PGDMP"
        path = tmp_path / "bad.dump"
        path.write_bytes(bad)
        if mode == "empty":
            assert bad == b""
        else:
            assert len(bad) > 0
        with pytest.raises(ValueError):
            pgdumplib.load(path)


def test_missing_database_file(azurite: Azurite, clock: VirtualClock, container: ContainerClient) -> None:
    with _emulator(azurite, clock, failures={"missingDatabaseFile": "reporting"}) as server:
        _restore(Arm(server), clock, _url(container))
        names = {b.name for b in container.list_blobs()}
        assert "restore1_appdb.sql" in names and "restore1_reporting.sql" not in names
        assert "restore1_roles.sql" in names


def test_fail_if_exists_when_files_with_the_prefix_exist(
    azurite: Azurite, clock: VirtualClock, container: ContainerClient
) -> None:
    container.upload_blob("restore1_appdb.sql", b"old")
    with _emulator(azurite, clock) as server:
        arm = Arm(server)
        body = {"restoreRequestObject": restore_body(arm.latest_rp(), url=_url(container))}
        answer = arm.post(f"{BI_PATH}/validateRestore", json=body)
        clock.advance(60)
        status = arm.get(answer.headers["Azure-AsyncOperation"]).json()
        assert status["status"] == "Failed"
        assert status["error"]["code"] == "UserErrorRestoreTargetFileAlreadyExists"
        assert "409" in status["error"]["message"]
        result = arm.get(answer.headers["Location"])
        assert result.status_code == 409
        other = {"restoreRequestObject": restore_body(arm.latest_rp(), prefix="fresh",
                                                      url=_url(container))}
        answer = arm.post(f"{BI_PATH}/validateRestore", json=other)
        clock.advance(60)
        assert arm.get(answer.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"


def test_missing_container_fails_validation(azurite: Azurite, clock: VirtualClock, container: ContainerClient) -> None:
    with _emulator(azurite, clock) as server:
        arm = Arm(server)
        url = "https://restoresacct.blob.core.windows.net/doesnotexist"
        answer = arm.post(f"{BI_PATH}/validateRestore",
                          json={"restoreRequestObject": restore_body(arm.latest_rp(), url=url)})
        clock.advance(60)
        error = arm.get(answer.headers["Azure-AsyncOperation"]).json()["error"]
        assert error["code"] == "UserErrorRestoreTargetContainerNotFound"
