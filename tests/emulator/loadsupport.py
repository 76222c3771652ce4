"""Shared helpers for the load-step emulator tests: scenarios with a Container Apps job and a flexible server."""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tests.emulator.emusupport import Arm

SUB = "22222222-3333-4444-5555-666666666666"
RG = "load-rg"
JOB = "pg-loader"
SERVER = "pg-restored"
LOADER_CLIENT = "5c1e0a4d-0000-4000-8000-0000000010ad"
IMAGE = "pgflexrestore.azurecr.io/loader:1.0"
PROGRAM = [sys.executable, str(Path(__file__).with_name("jobprogram.py"))]
JOB_PATH = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.App/jobs/{JOB}"
SERVER_PATH = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{SERVER}"
CONFIG_PATH = f"{SERVER_PATH}/configurations/azure.extensions"
APPS = "2025-07-01"
PG = "2025-08-01"
TERMINAL = ("Succeeded", "Failed", "Stopped")


def job_scenario(**job_overrides: Any) -> dict[str, Any]:
    """One manual job whose image runs tests/emulator/jobprogram.py, with two env vars in its template."""
    job: dict[str, Any] = {
        "location": "westeurope",
        "replicaTimeout": 60,
        "identity": {"clientIds": [LOADER_CLIENT]},
        "images": {IMAGE: PROGRAM},
        "template": {"containers": [{
            "name": "loader", "image": IMAGE, "resources": {"cpu": 1.0, "memory": "2Gi"},
            "env": [{"name": "JOB_A", "value": "from-template"}, {"name": "JOB_B", "value": "only-in-template"},
                    {"name": "AZURE_CLIENT_ID", "value": LOADER_CLIENT}],
        }]},
    }
    job.update(copy.deepcopy(job_overrides))
    return {"subscriptions": {SUB: {"resourceGroups": {RG: {"jobs": {JOB: job}}}}}}


def server_scenario(superuser_dsn: str | None, **server_overrides: Any) -> dict[str, Any]:
    server: dict[str, Any] = {"location": "westeurope", "loaderRoles": {LOADER_CLIENT: "loader-mi"},
                              "timings": {"configurationSeconds": 20, "configurationRetryAfter": 10}}
    if superuser_dsn is not None:
        server["postgres"] = {"superuserDsn": superuser_dsn}
    server.update(copy.deepcopy(server_overrides))
    return {"subscriptions": {SUB: {"resourceGroups": {RG: {"flexibleServers": {SERVER: server}}}}}}


def container(env: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A JobExecutionContainer restating the image and resources, with exactly ``env``."""
    return {"name": "loader", "image": IMAGE, "resources": {"cpu": 1.0, "memory": "2Gi"},
            "env": [{"name": k, "value": v} for k, v in env.items()], **extra}


def start(arm: Arm, body: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
    return arm.post(f"{JOB_PATH}/start", api_version=APPS, json=body, **kwargs)


def execution(arm: Arm, name: str, api_version: str = APPS) -> dict[str, Any]:
    answer = arm.get(f"{JOB_PATH}/executions/{name}", api_version=api_version)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def wait_terminal(arm: Arm, name: str, timeout: float = 30.0) -> list[str]:
    """Poll the execution until it ends; every status seen, in order."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = execution(arm, name)["properties"]["status"]
        seen.append(status)
        if status in TERMINAL:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"execution {name} did not end: {seen[-5:]}")


def output(server: Any, name: str) -> list[str]:
    found = [e for e in server.executions() if e["name"] == name]
    assert found, name
    lines: list[str] = found[0]["output"]
    return lines
