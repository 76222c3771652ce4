"""``python -m pgflex_restore drill``: one run in-process on the real clock, against the emulator and Azurite."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

import clients
from cli.restore import main
from devhost.azurite import Azurite
from emulator import EmulatorServer
from pgflex_restore.settings import reset_settings_cache
from tests.e2e.stack import backup_instance, points, scenario, server_id, vault_id

pytestmark = pytest.mark.one_mode

FAST = {"validateSeconds": 0.3, "validateRetryAfter": 1, "restoreSeconds": 0.3, "restoreRetryAfter": 1,
        "jobSeconds": 1}


def test_cli_drill_runs_with_progress_and_reports(azurite: Azurite, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """--plan FILE runs every drill of the plan; stderr shows progress; stdout the JSON; exit 1 on a failure."""
    container = "clidrills"
    container_url = f"{azurite.endpoints.blob_account_url}/{container}"
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(container)
    instances = {
        "pg1": backup_instance(timings=FAST),
        "pg2": backup_instance(serverId=server_id("pg2"), timings=FAST,
                               failures={"corruptDump": {"reporting": "empty"}}),
    }
    now = datetime.now(UTC)
    for spec in instances.values():
        spec["recoveryPoints"] = points(3, newest=now - timedelta(hours=1))
    with EmulatorServer(scenario(instances, [container_url]), storage_connection_string=azurite.connection_string) \
            as emulator:
        env = {**emulator.env(), "AzureWebJobsStorage": azurite.connection_string, "TASKHUB_NAME": "clidrill",
               "RESTORE_TARGET_ALLOWLIST": container_url, "POLL_MIN_SECONDS": "0.2", "POLL_DEFAULT_SECONDS": "0.5",
               "DRILL_RESULTS_TABLE": "clidrills", "DRILL_ALERTS_QUEUE": "cli-drill-alerts"}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for reset in (reset_settings_cache, clients.reset):
            reset()
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"container": container_url, "vaults": [vault_id()], "maxPointAge": "P1D"}))
        out, err = io.StringIO(), io.StringIO()
        code = main(["drill", "--plan", str(plan), "--output", "json"], stdout=out, stderr=err)
        for reset in (reset_settings_cache, clients.reset):
            reset()
    result = json.loads(out.getvalue())
    assert code == 1, err.getvalue()
    assert "drilling" in err.getvalue()
    assert result["summary"]["runId"].startswith("drill-") and "-cli" in result["summary"]["runId"]
    assert {r["server"]: r["reason"] for r in result["instances"]} == {"pg1": None, "pg2": "empty-file"}


def test_cli_drill_refuses_a_bad_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan with problems is not run: exit 2 and every problem named."""
    monkeypatch.setenv("ARM_ENDPOINT", "https://management.azure.com")
    reset_settings_cache()
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"container": "https://acct.blob.core.windows.net/drills", "concurrency": 0}))
    err = io.StringIO()
    assert main(["drill", "--plan", str(plan)], stdout=io.StringIO(), stderr=err) == 2
    assert "concurrency" in err.getvalue() and "RESTORE_TARGET_ALLOWLIST" in err.getvalue()
    reset_settings_cache()
