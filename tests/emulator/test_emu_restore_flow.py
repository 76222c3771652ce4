"""The validate -> restore -> job timeline over raw HTTP, on a virtual clock, for both api-versions."""

from __future__ import annotations

import re

import pytest

from emulator import EmulatorServer, VirtualClock
from tests.emulator.emusupport import BI_PATH, BV_PATH, LOCATION, SUB, Arm, restore_body, scenario

VERSIONS = ("2021-07-01", "2026-06-01")


@pytest.mark.parametrize("version", VERSIONS)
def test_validate_answers_202_with_the_three_headers_and_the_version_scoped_status_url(
    arm: Arm, clock: VirtualClock, version: str
) -> None:
    rp = arm.latest_rp()
    answer = arm.post(f"{BI_PATH}/validateRestore", api_version=version,
                      json={"restoreRequestObject": restore_body(rp)})
    assert answer.status_code == 202
    assert answer.content == b""
    status_url = answer.headers["Azure-AsyncOperation"]
    location_scope = f"{arm.server.url}/subscriptions/{SUB}/providers/Microsoft.DataProtection/locations/{LOCATION}"
    if version == "2021-07-01":
        assert status_url.startswith(f"{location_scope}/operationStatus/")
    else:
        assert status_url.startswith(f"{arm.server.url}{BV_PATH}/operationStatus/")
    assert status_url.endswith(f"?api-version={version}")
    if version == "2021-07-01":
        assert answer.headers["Location"].startswith(f"{location_scope}/operationResults/")
    else:  # the instance-scoped result route, as 2026-06-01's TriggerRestore examples answer
        assert answer.headers["Location"].startswith(f"{arm.server.url}{BI_PATH}/operationResults/")
    assert answer.headers["Location"].endswith(f"?api-version={version}")
    assert answer.headers["Retry-After"] == "10"

    running = arm.get(status_url).json()
    assert running["status"] == "InProgress"
    assert running["endTime"] == "0001-01-01T00:00:00Z"
    assert arm.get(answer.headers["Location"]).status_code == 202
    clock.advance(20)
    done = arm.get(status_url).json()
    assert done["status"] == "Succeeded"
    assert done["id"] == status_url.split("?")[0].replace(arm.server.url, "")
    assert done["name"] == status_url.split("?")[0].rsplit("/", 1)[1]
    result = arm.get(answer.headers["Location"])
    assert result.status_code == 200
    assert result.json() == {"objectType": "OperationJobExtendedInfo"}


def test_restore_runs_a_job_from_inprogress_to_completed(arm: Arm, clock: VirtualClock) -> None:
    rp = arm.latest_rp()
    answer = arm.post(f"{BI_PATH}/restore", json=restore_body(rp))
    assert answer.status_code == 202
    assert answer.headers["Retry-After"] == "30"
    status_url, location = answer.headers["Azure-AsyncOperation"], answer.headers["Location"]
    pending = arm.get(location)
    assert pending.status_code == 202
    assert pending.headers["Azure-AsyncOperation"] == status_url
    assert pending.headers["Retry-After"] == "30"

    clock.advance(60)
    status = arm.get(status_url).json()
    assert status["status"] == "Succeeded"
    job_id = status["properties"]["jobId"]
    assert status["properties"]["objectType"] == "OperationJobExtendedInfo"
    assert re.fullmatch(rf"{BV_PATH}/backupJobs/[0-9a-f-]{{36}}", job_id)
    assert arm.get(location).json() == {"jobId": job_id, "objectType": "OperationJobExtendedInfo"}

    job = arm.get(job_id).json()
    props = job["properties"]
    assert job["name"] == job_id.rsplit("/", 1)[1]
    assert props["status"] == "InProgress"
    assert props["operation"] == props["operationCategory"] == "Restore"
    assert props["dataSourceType"] == "Microsoft.DBforPostgreSQL/flexibleServers"
    assert props["duration"] == "00:01:00"
    assert props["extendedInfo"]["subTasks"][1]["taskProgress"] == "9%"
    assert "endTime" not in props and "Retry-After" not in arm.get(job_id).headers

    clock.advance(600)
    props = arm.get(job_id).json()["properties"]
    assert props["status"] == "Completed"
    assert props["duration"] == "00:11:00"
    assert props["endTime"] == "2026-03-01T12:11:00.0000000Z"
    assert props["extendedInfo"]["additionalDetails"]["ProgressPercentage"] == "100"
    assert props["extendedInfo"]["sourceRecoverPoint"]["recoveryPointID"] == rp
    listed = arm.get(f"{BV_PATH}/backupJobs").json()["value"]
    assert [j["id"] for j in listed] == [job_id]


def test_status_spelling_follows_the_scenario(clock: VirtualClock) -> None:
    data = scenario()
    data["statusSpelling"] = "Inprogress"
    with EmulatorServer(data, clock=clock) as server:
        arm = Arm(server)
        answer = arm.post(f"{BI_PATH}/validateRestore", json={"restoreRequestObject": restore_body(arm.latest_rp())})
        assert arm.get(answer.headers["Azure-AsyncOperation"]).json()["status"] == "Inprogress"


def test_every_status_scope_of_2026_answers_the_same_operation(arm: Arm, clock: VirtualClock) -> None:
    answer = arm.post(f"{BI_PATH}/restore", json=restore_body(arm.latest_rp()))
    op_id = answer.headers["Azure-AsyncOperation"].split("?")[0].rsplit("/", 1)[1]
    clock.advance(60)
    scopes = [
        f"/subscriptions/{SUB}/providers/Microsoft.DataProtection/locations/{LOCATION}/operationStatus/{op_id}",
        f"{BV_PATH}/operationStatus/{op_id}",
        f"/subscriptions/{SUB}/resourceGroups/backup-rg/providers/Microsoft.DataProtection/operationStatus/{op_id}",
    ]
    for path in scopes:
        body = arm.get(path).json()
        assert body["status"] == "Succeeded" and body["id"] == path
    # 2021-07-01 defines only the location scope.
    assert arm.get(scopes[1], api_version="2021-07-01").status_code == 404
    assert arm.get(scopes[0], api_version="2021-07-01").status_code == 200


def test_a_job_can_fail_at_a_percentage_with_error_details(clock: VirtualClock) -> None:
    failures = {"jobFailAtPercent": 40, "jobError": {"code": "UserErrorPgDumpFailed", "message": "dump failed"}}
    with EmulatorServer(scenario(failures=failures), clock=clock) as server:
        arm = Arm(server)
        answer = arm.post(f"{BI_PATH}/restore", json=restore_body(arm.latest_rp()))
        clock.advance(60)
        job_id = arm.get(answer.headers["Azure-AsyncOperation"]).json()["properties"]["jobId"]
        assert arm.get(job_id).json()["properties"]["status"] == "InProgress"
        clock.advance(600 * 0.4 + 60 * 0.4 - 60 + 1)
        props = arm.get(job_id).json()["properties"]
        assert props["status"] == "Failed"
        assert props["errorDetails"][0]["code"] == "UserErrorPgDumpFailed"
        assert props["errorDetails"][0]["message"] == "dump failed"
        assert props["duration"] == "00:04:24"
        assert server.jobs()[0]["status"] == "Failed"


def test_validate_failure_from_the_scenario_fails_the_operation(clock: VirtualClock) -> None:
    failures = {"validate": {"code": "UserErrorSomethingWrong", "message": "nope"}}
    with EmulatorServer(scenario(failures=failures), clock=clock) as server:
        arm = Arm(server)
        answer = arm.post(f"{BI_PATH}/validateRestore", json={"restoreRequestObject": restore_body(arm.latest_rp())})
        clock.advance(20)
        status = arm.get(answer.headers["Azure-AsyncOperation"]).json()
        assert status["status"] == "Failed"
        assert status["error"] == {"code": "UserErrorSomethingWrong", "message": "nope"}
        result = arm.get(answer.headers["Location"])
        assert result.status_code == 400
        assert result.json()["error"]["code"] == "UserErrorSomethingWrong"


def test_backup_instances_list_carries_the_flexible_server_id(arm: Arm) -> None:
    body = arm.get(f"{BV_PATH}/backupInstances").json()
    by_name = {bi["name"]: bi for bi in body["value"]}
    info = by_name["pg-prod"]["properties"]["dataSourceInfo"]
    assert info["resourceID"].endswith("/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-prod")
    assert info["datasourceType"] == "Microsoft.DBforPostgreSQL/flexibleServers"
    assert info["objectType"] == "Datasource"
    assert by_name["pg-prod"]["properties"]["objectType"] == "BackupInstance"
    assert arm.get(f"{BI_PATH}").json()["id"] == f"{BV_PATH}/backupInstances/pg-prod"


def test_percent_encoded_operation_urls_reach_the_same_operation(arm: Arm) -> None:
    answer = arm.post(f"{BI_PATH}/restore", json=restore_body(arm.latest_rp()))
    url = answer.headers["Azure-AsyncOperation"]
    base, _, query = url.partition("?")
    assert "=" in base.rsplit("/", 1)[1]  # ids are base64, padded like the service's
    encoded = base.replace("=", "%3D") + "?" + query
    assert arm.get(encoded).json() == arm.get(url).json()
