"""Container Apps jobs in the emulator: real HTTP, and each execution's container really runs (jobprogram.py)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator import EmulatorServer, VirtualClock
from emulator.spec import provider_validator
from tests.emulator.emusupport import START, Arm
from tests.emulator.loadsupport import (
    APPS,
    IMAGE,
    JOB,
    JOB_PATH,
    LOADER_CLIENT,
    SUB,
    container,
    execution,
    job_scenario,
    output,
    start,
    wait_terminal,
)


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    """An emulator serving one job; a test changes the job's scenario keys with an indirect parameter."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    with EmulatorServer(job_scenario(**overrides), clock=VirtualClock(START)) as server:
        yield server


@pytest.fixture
def arm(emulator: EmulatorServer) -> Arm:
    return Arm(emulator, api_version=APPS)


def _env_of(lines: list[str]) -> dict[str, Any]:
    line = next(line for line in lines if "ENV " in line)
    found: dict[str, Any] = json.loads(line.split("ENV ", 1)[1])
    return found


def test_get_job_answers_the_job_with_its_template(arm: Arm) -> None:
    answer = arm.get(JOB_PATH)
    assert answer.status_code == 200
    job = answer.json()
    provider_validator("microsoft.app").validate("Job", job)
    properties = job["properties"]
    assert properties["configuration"]["triggerType"] == "Manual"
    assert properties["configuration"]["replicaTimeout"] == 60
    loader = properties["template"]["containers"][0]
    assert loader["image"] == IMAGE and loader["resources"] == {"cpu": 1.0, "memory": "2Gi"}
    assert {"name": "JOB_A", "value": "from-template"} in loader["env"]
    identities = job["identity"]["userAssignedIdentities"]
    assert [v["clientId"] for v in identities.values()] == [LOADER_CLIENT]


def test_a_start_override_replaces_the_template_for_that_execution(
        arm: Arm, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOB_LEAKED_FROM_HOST", "the test's own environment")
    answer = start(arm, {"containers": [container({"JOB_A": "overridden", "JOB_TOKEN_CLIENTS": f"{LOADER_CLIENT},"
                                                   "00000000-0000-4000-8000-00000000dead,system"})]})
    assert answer.status_code == 200
    name = answer.json()["name"]
    assert name.startswith(f"{JOB}-") and answer.json()["id"] == f"{JOB_PATH}/executions/{name}"
    assert wait_terminal(arm, name)[-1] == "Succeeded"
    lines = output(emulator, name)
    env = _env_of(lines)
    assert env["values"]["JOB_A"] == "overridden"
    assert "JOB_B" not in env["names"]  # not restated: gone for this execution
    assert "JOB_LEAKED_FROM_HOST" not in env["names"]  # a container does not inherit the emulator's environment
    assert {"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "CONTAINER_APP_JOB_EXECUTION_NAME"} <= set(env["names"])
    # The execution's identity header gets tokens for the job's identity only.
    assert f"[loader] TOKEN {LOADER_CLIENT} 200" in lines
    assert "[loader] TOKEN 00000000-0000-4000-8000-00000000dead 400" in lines
    assert "[loader] TOKEN system 400" in lines
    shown = execution(arm, name)["properties"]["template"]["containers"][0]["env"]
    assert [e["name"] for e in shown] == ["JOB_A", "JOB_TOKEN_CLIENTS"]


def test_a_start_without_body_runs_the_job_template(arm: Arm, emulator: EmulatorServer) -> None:
    answer = arm.post(f"{JOB_PATH}/start", api_version=APPS)
    assert answer.status_code == 200
    name = answer.json()["name"]
    assert wait_terminal(arm, name)[-1] == "Succeeded"
    env = _env_of(output(emulator, name))
    assert env["values"]["JOB_B"] == "only-in-template"
    assert env["values"]["CONTAINER_APP_JOB_NAME"] == JOB


def test_a_template_wrapped_in_template_is_refused(arm: Arm, emulator: EmulatorServer) -> None:
    answer = start(arm, {"template": {"containers": [container({"JOB_A": "x"})]}})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidRequestContent"
    assert "wrapped" in answer.json()["error"]["message"]
    missing_image = start(arm, {"containers": [{"name": "loader", "env": []}]})
    assert missing_image.status_code == 400 and missing_image.json()["error"]["target"] == "containers[0].image"
    assert emulator.executions() == []


@pytest.mark.parametrize("emulator", [{"start": {"status": 202, "seconds": 30, "retryAfter": 7}}], indirect=True)
def test_a_202_start_gives_the_execution_through_its_location(arm: Arm, emulator: EmulatorServer) -> None:
    answer = start(arm, {"containers": [container({"JOB_A": "x"})]})
    assert answer.status_code == 202 and answer.text == ""
    location = answer.headers["Location"]
    assert location.startswith(f"{emulator.url}/subscriptions/{SUB}/providers/Microsoft.App/locations/westeurope/")
    assert answer.headers["Retry-After"] == "7"
    pending = arm.get(location)
    assert pending.status_code == 202 and pending.headers["Location"] == location
    assert isinstance(emulator.clock, VirtualClock)
    emulator.clock.advance(30)
    done = arm.get(location)
    assert done.status_code == 200
    name = done.json()["name"]
    assert done.json()["id"] == f"{JOB_PATH}/executions/{name}"
    assert wait_terminal(arm, name)[-1] == "Succeeded"


@pytest.mark.parametrize("emulator", [{"processingSeconds": 0.4, "interludes": ["Degraded", "Unknown"]}],
                         indirect=True)
def test_statuses_follow_the_scripted_sequence(arm: Arm) -> None:
    name = start(arm, {"containers": [container({"JOB_MODE": "sleep", "JOB_SLEEP": "1.5"})]}).json()["name"]
    seen = wait_terminal(arm, name)
    distinct = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]
    assert distinct == ["Processing", "Degraded", "Unknown", "Running", "Succeeded"]
    body = execution(arm, name)
    provider_validator("microsoft.app").validate("JobExecution", body)
    assert body["properties"]["startTime"] <= body["properties"]["endTime"]


def test_a_failing_container_ends_failed_with_its_output_kept(arm: Arm, emulator: EmulatorServer) -> None:
    name = start(arm, {"containers": [container({"JOB_MODE": "fail"})]}).json()["name"]
    assert wait_terminal(arm, name)[-1] == "Failed"
    assert "[loader] boom: the load failed" in output(emulator, name)
    record = next(e for e in emulator.executions() if e["name"] == name)
    assert record["reason"] == "Container 'loader' exited with code 3."
    detailed = execution(arm, name, api_version="2026-07-01")["properties"]
    assert detailed["detailedStatus"]["replicas"][0]["containers"][0]["code"] == 3


@pytest.mark.parametrize("emulator", [{"replicaTimeout": 1}], indirect=True)
def test_the_replica_timeout_kills_the_container_and_fails_the_execution(arm: Arm, emulator: EmulatorServer) -> None:
    name = start(arm, {"containers": [container({"JOB_MODE": "sleep", "JOB_SLEEP": "60"})]}).json()["name"]
    assert wait_terminal(arm, name, timeout=15)[-1] == "Failed"
    record = next(e for e in emulator.executions() if e["name"] == name)
    assert "replicaTimeout of 1 seconds" in record["reason"]
    assert record["containers"][0]["exitCode"] != 0


def test_stop_kills_a_running_execution(arm: Arm, emulator: EmulatorServer) -> None:
    name = start(arm, {"containers": [container({"JOB_MODE": "sleep", "JOB_SLEEP": "60"})]}).json()["name"]
    stopped = arm.post(f"{JOB_PATH}/executions/{name}/stop", api_version=APPS)
    assert stopped.status_code == 200
    assert execution(arm, name)["properties"]["status"] == "Stopped"
    listed = arm.get(f"{JOB_PATH}/executions").json()
    provider_validator("microsoft.app").validate("ContainerAppJobExecutions", listed)
    assert [e["name"] for e in listed["value"]] == [name]


def test_unknown_job_execution_and_version(arm: Arm) -> None:
    missing = arm.get(JOB_PATH.replace(JOB, "no-such-job"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"
    no_execution = arm.get(f"{JOB_PATH}/executions/{JOB}-nothere")
    assert no_execution.status_code == 404
    wrong_version = arm.get(JOB_PATH, api_version="2026-06-01")
    assert wrong_version.status_code == 400
    assert wrong_version.json()["error"]["code"] == "InvalidApiVersionParameter"
    assert "2026-07-01,2025-07-01" in wrong_version.json()["error"]["message"]
    assert arm.get(JOB_PATH, api_version="2026-07-01").status_code == 200


@pytest.mark.parametrize("emulator", [{"denyActions": ["Microsoft.App/jobs/start/action"]}], indirect=True)
def test_a_withheld_role_is_403_authorization_failed(arm: Arm, emulator: EmulatorServer) -> None:
    assert arm.get(JOB_PATH).status_code == 200
    answer = start(arm, {"containers": [container({})]})
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "AuthorizationFailed"
    assert "'Microsoft.App/jobs/start/action' over scope" in error["message"] and JOB_PATH in error["message"]
    assert emulator.executions() == []


def test_faults_and_throttling_apply_to_job_calls(arm: Arm, emulator: EmulatorServer) -> None:
    emulator.inject_fault("status", status=429, retry_after=9, method="POST", path="/start$")
    throttled = start(arm, {"containers": [container({})]})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "9"
    assert emulator.executions() == []
    assert start(arm, {"containers": [container({})]}).status_code == 200


@pytest.mark.parametrize("emulator", [{"images": {}}], indirect=True)
def test_an_unmapped_image_runs_the_real_loader_from_the_repository(arm: Arm, emulator: EmulatorServer) -> None:
    name = start(arm, {"containers": [container({"LOAD_REQUEST": "not a load request"})]}).json()["name"]
    assert wait_terminal(arm, name, timeout=60)[-1] == "Failed"
    record = next(e for e in emulator.executions() if e["name"] == name)
    assert record["containers"][0]["argv"] == [sys.executable, "-m", "loader"]
    assert record["containers"][0]["exitCode"] != 0  # bad input (2, docs/loading.md) once the loader is whole
    assert record["output"]  # and why is kept


def test_a_command_runs_with_its_program_mapped_to_a_local_one(arm: Arm, emulator: EmulatorServer) -> None:
    command = container({"JOB_MODE": "ok"}, command=["python", "tests/emulator/jobprogram.py"])
    name = start(arm, {"containers": [command]}).json()["name"]
    assert wait_terminal(arm, name)[-1] == "Succeeded"
    record = next(e for e in emulator.executions() if e["name"] == name)
    assert record["containers"][0]["argv"] == [sys.executable, "tests/emulator/jobprogram.py"]


@pytest.mark.parametrize("emulator", [{"stop": {"status": 202}}], indirect=True)
def test_a_202_stop_is_done_when_its_location_says_so(arm: Arm, emulator: EmulatorServer) -> None:
    name = start(arm, {"containers": [container({"JOB_MODE": "sleep", "JOB_SLEEP": "60"})]}).json()["name"]
    stopping = arm.post(f"{JOB_PATH}/executions/{name}/stop", api_version=APPS)
    assert stopping.status_code == 202 and stopping.headers["Retry-After"] == "1"
    location = stopping.headers["Location"]
    deadline = time.monotonic() + 15
    while (answer := arm.get(location)).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answer.status_code == 200 and answer.text == ""
    assert execution(arm, name)["properties"]["status"] == "Stopped"


@pytest.mark.parametrize("emulator", [{"secrets": {"storage": "UseDevelopmentStorage=true"}}], indirect=True)
def test_secret_refs_resolve_from_the_job_and_stay_hidden(arm: Arm, emulator: EmulatorServer) -> None:
    loader = container({"JOB_MODE": "ok"})
    loader["env"].append({"name": "JOB_SECRET", "secretRef": "storage"})
    name = start(arm, {"containers": [loader]}).json()["name"]
    assert wait_terminal(arm, name)[-1] == "Succeeded"
    assert _env_of(output(emulator, name))["values"]["JOB_SECRET"] == "UseDevelopmentStorage=true"
    shown = execution(arm, name)["properties"]["template"]["containers"][0]["env"]
    assert {"name": "JOB_SECRET", "secretRef": "storage"} in shown
    assert "UseDevelopmentStorage" not in arm.get(JOB_PATH).text
    loader["env"][-1] = {"name": "JOB_SECRET", "secretRef": "no-such-secret"}
    refused = start(arm, {"containers": [loader]})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "ContainerAppSecretRefNotFound"
