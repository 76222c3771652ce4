"""The control API under /_emulator/, the request log, and the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from emulator import EmulatorServer, VirtualClock
from emulator.spec import SpecNotFoundError, find_spec, spec_root
from tests.emulator.emusupport import BI_PATH, BV_PATH, Arm, restore_body, scenario

REPO = Path(__file__).resolve().parents[2]


def _control(server: EmulatorServer, method: str, path: str, body: object = None) -> requests.Response:
    return requests.request(method, f"{server.url}/_emulator/{path}", json=body, timeout=10)


def test_request_log_records_what_the_client_sent_without_the_token(arm: Arm) -> None:
    body = {"restoreRequestObject": restore_body(arm.latest_rp())}
    arm.post(f"{BI_PATH}/validateRestore", json=body, headers={"x-ms-client-request-id": "abc-123"})
    entry = _control(arm.server, "GET", "requests").json()["requests"][-1]
    assert entry["method"] == "POST" and entry["path"] == f"{BI_PATH}/validateRestore"
    assert entry["query"] == {"api-version": "2026-06-01"}
    assert entry["headers"]["authorization"] is True
    assert entry["headers"]["x-ms-client-request-id"] == "abc-123"
    assert entry["headers"]["content-type"] == "application/json"
    assert entry["body"] == body
    assert entry["status"] == 202
    assert entry["time"] == "2026-03-01T12:00:00.0000000Z"
    assert arm.token not in str(arm.server.requests)
    assert _control(arm.server, "DELETE", "requests").status_code == 200
    assert arm.server.requests == []


def test_clock_faults_jobs_and_scenario_over_http(arm: Arm, clock: VirtualClock) -> None:
    server = arm.server
    assert _control(server, "POST", "clock/advance", {"seconds": 90}).json()["now"] == "2026-03-01T12:01:30.0000000Z"
    assert clock.now().minute == 1
    _control(server, "POST", "clock/set", {"time": "2026-03-02T00:00:00Z"})
    assert _control(server, "GET", "clock").json()["now"] == "2026-03-02T00:00:00.0000000Z"

    assert _control(server, "POST", "faults", {"kind": "status", "status": 429, "retryAfter": 3,
                                               "count": 1}).status_code == 200
    assert len(_control(server, "GET", "faults").json()["faults"]) == 1
    assert arm.get(f"{BV_PATH}/backupInstances").status_code == 429
    _control(server, "POST", "faults", {"faults": [{"kind": "status", "status": 500, "count": 5}]})
    _control(server, "DELETE", "faults")
    assert arm.get(f"{BV_PATH}/backupInstances").status_code == 200
    assert _control(server, "POST", "faults", {"kind": "explode"}).status_code == 400

    arm.post(f"{BI_PATH}/restore", json=restore_body(arm.latest_rp()))
    jobs = _control(server, "GET", "jobs").json()["jobs"]
    assert len(jobs) == 1 and jobs[0]["status"] == "InProgress" and jobs[0]["filePrefix"] == "restore1"

    replacement = scenario(databases=["other"])
    assert _control(server, "POST", "scenario", replacement).json() == {"vaults": 1}
    assert _control(server, "GET", "jobs").json()["jobs"] == []
    assert _control(server, "POST", "scenario", {"subscriptions": 5}).status_code == 400
    assert _control(server, "GET", "health").json() == {"status": "ok"}
    assert _control(server, "GET", "nothing").status_code == 404


def test_clock_control_refuses_a_real_clock() -> None:
    with EmulatorServer(scenario()) as server:
        assert _control(server, "POST", "clock/advance", {"seconds": 1}).status_code == 409


def test_env_points_the_app_at_the_emulator(server: EmulatorServer) -> None:
    env = server.env()
    assert env["ARM_ENDPOINT"] == server.url
    assert env["IDENTITY_ENDPOINT"] == f"{server.url}/msi/token"
    assert env["IDENTITY_HEADER"] == server.identity_header


EXAMPLE_VAULT = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/backup-rg/providers/"
                 "Microsoft.DataProtection/backupVaults/pg-vault")


def example_instances(url: str, identity: str, header: str, api_version: str) -> set[str]:
    """The example vault's backup instances, with a token from the identity endpoint the command printed."""
    token = requests.get(identity, params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
                         headers={"X-IDENTITY-HEADER": header}, timeout=10).json()["access_token"]
    answer = requests.get(f"{url}{EXAMPLE_VAULT}/backupInstances", params={"api-version": api_version},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return {bi["name"] for bi in answer.json()["value"]}


def test_command_line_prints_its_addresses_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--scenario", str(REPO / "emulator" / "example_scenario.yaml"),
         "--clock", "virtual", "--start-time", "2026-03-01T00:00:00Z"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(3)]
        assert lines[0].startswith("EMULATOR_URL=http://127.0.0.1:")
        assert lines[1].startswith("IDENTITY_ENDPOINT=") and lines[2].startswith("IDENTITY_HEADER=")
        url = lines[0].split("=", 1)[1]
        assert requests.get(f"{url}/_emulator/clock", timeout=10).json()["now"] == "2026-03-01T00:00:00.0000000Z"
        identity, header = (line.split("=", 1)[1] for line in lines[1:])
        assert example_instances(url, identity, header, "2021-07-01") == {"pg-prod-orders", "pg-legacy"}
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)  # drains and closes both pipes
    assert process.returncode == 0


def test_command_line_without_arguments_serves_the_example_scenario() -> None:
    process = subprocess.Popen([sys.executable, "-m", "emulator"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().split("=", 1)[1]
        identity, header = (process.stdout.readline().strip().split("=", 1)[1] for _ in range(2))
        assert example_instances(url, identity, header, "2026-06-01") == {"pg-prod-orders", "pg-legacy"}
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_command_line_reports_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"pageSize": 0}')
    result = subprocess.run([sys.executable, "-m", "emulator", "--scenario", str(bad)], cwd=REPO,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "pageSize" in result.stderr


def test_the_official_spec_is_found_by_env_var_or_reported_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = spec_root()
    monkeypatch.setenv("PGFLEX_AZURE_SPEC", str(real))
    assert spec_root() == real
    with pytest.raises(SpecNotFoundError, match="PGFLEX_AZURE_SPEC"):
        find_spec([tmp_path])


def test_stop_closes_keep_alive_connections() -> None:
    server = EmulatorServer(scenario()).start()
    session = requests.Session()
    assert session.get(f"{server.url}/_emulator/health", timeout=5).status_code == 200
    server.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{server.url}/_emulator/health", timeout=5)
