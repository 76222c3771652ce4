"""`python -m pgflex_restore start` (make start) as a user runs it: a subprocess serving the app on a fixed port,
driven over HTTP like curl, then stopped with SIGTERM, leaving nothing listening."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from cli.local_stack import daily_points, server_id, vault_tree

pytestmark = pytest.mark.one_mode

REPO = Path(__file__).resolve().parents[2]
SUB = "22222222-3333-4444-5555-666666666666"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_start_serves_the_app_until_sigterm_and_a_restore_runs_over_http(tmp_path: Path) -> None:
    instance = {"serverId": server_id(SUB, "db", "pg-start"), "databases": ["appdb"],
                "recoveryPoints": daily_points(3, datetime.now(UTC) - timedelta(hours=2)),
                "timings": {"validateSeconds": 1, "validateRetryAfter": 1, "restoreSeconds": 1,
                            "restoreRetryAfter": 1, "jobSeconds": 3}}
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(vault_tree({"pg-start": instance}, [], subscription=SUB, resource_group="rg",
                                              vault="v")))
    settings = tmp_path / "local.settings.json"  # the Functions convention: Values become app settings
    settings.write_text(json.dumps({"IsEncrypted": False, "Values": {"POLL_MIN_SECONDS": "1",
                                                                      "POLL_DEFAULT_SECONDS": "1"}}))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pgflex_restore", "start", "--port", str(port), "--scenario", str(scenario),
         "--settings", str(settings)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert process.stdout is not None
        printed: list[str] = []
        deadline = time.monotonic() + 90
        while not (printed and printed[-1].startswith("READY")):
            assert time.monotonic() < deadline and process.poll() is None, "".join(printed)
            printed.append(process.stdout.readline())
        text = "".join(printed)
        assert f"http://localhost:{port}/api/restores" in text and "Function key: testkey" in text
        curl = next(line for line in printed if line.strip().startswith("curl "))
        body = json.loads(curl.split(" -d '", 1)[1].rsplit("'", 1)[0])
        assert body["backupInstance"].endswith("/backupInstances/pg-start")

        base = f"http://localhost:{port}/api"
        started = requests.post(f"{base}/restores", json=body, headers={"x-functions-key": "testkey"}, timeout=30)
        assert started.status_code == 202, started.text
        status_url = started.json()["restoreStatusUri"]
        assert status_url == f"{base}/restores/restore-try-1"
        while (reply := requests.get(status_url, headers={"x-functions-key": "testkey"}, timeout=30).json())[
                "runtimeStatus"] != "Completed":
            assert time.monotonic() < deadline + 60, reply
            time.sleep(0.5)
        assert reply["result"]["status"] == "succeeded", reply["result"]
        assert requests.post(f"{base}/restores", json=body, timeout=10).status_code == 401  # the key is required
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "stopped" in err
    assert not listening(port)
