"""Drills started by the timer: one run per occurrence, old drill files cleaned up and the cleanup recorded,
results over HTTP, and the dashboard rendered by a real headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from orchestrations.drill import DRILL_RUN_ORCHESTRATION
from pgflex_restore.settings import reset_settings_cache
from tests.e2e.drill_stack import DrillStack, drill_stack
from tests.e2e.stack import backup_instance, server_id

CHROMIUM = Path("/usr/bin/chromium")
OLD_RUN, RECENT_RUN = "drill-20261020T030000Z", "drill-20261029T030000Z"  # 12 and 3 days before the clock


def seed_old_files(drills: DrillStack) -> None:
    container = BlobServiceClient.from_connection_string(drills.stack.azurite.connection_string) \
        .get_container_client(drills.stack.container)
    for name in (f"drills/{OLD_RUN}/pg1/pg1_appdb.sql", f"drills/{OLD_RUN}/pg1/pg1_roles.sql",
                 f"drills/{RECENT_RUN}/pg1/pg1_appdb.sql", "drills/not-a-run/keep.sql", "elsewhere/keep.sql"):
        container.upload_blob(name, b"x" * 10)


def chromium(*args: str) -> str:
    """Run headless Chromium once with a throwaway profile; its stdout."""
    if not CHROMIUM.exists():
        pytest.fail("headless Chromium is missing: /usr/bin/chromium not found; install Debian's package with "
                    "`apt-get update && apt-get install -y chromium` (.ci/run must do this before `make test`)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=60, check=False, env={**os.environ, "HOME": profile},
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_timer_runs_once_cleans_up_and_results_show_in_api_and_dashboard(
        azurite: Azurite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An invalid plan is alerted and starts nothing; two firings of the timer start one run; files of runs older
    than the retention (and only those) are deleted and the deletion recorded; the results API and the
    Chromium-rendered dashboard show the run."""
    instances = {"pg1": backup_instance(), "pg2": backup_instance(serverId=server_id("pg2"),
                                                                   failures={"corruptDump": {"appdb": "truncated"}})}
    with drill_stack(azurite, instances) as drills:
        stack = drills.stack
        seed_old_files(drills)
        # An invalid plan starts nothing and is itself alerted.
        monkeypatch.setenv("DRILL_PLAN", json.dumps(drills.plan(concurrency=0)))
        reset_settings_cache()
        stack.host.run_timer_function("drill_timer")
        assert not [i for i in stack.host.instances() if i.name == DRILL_RUN_ORCHESTRATION]
        assert [(a["reason"], "concurrency" in a["message"]) for a in drills.alerts()] == [("invalid-plan", True)]
        plan_alert = drills.alerts()[0]  # the same format as every drill alert: consumers dedupe on alertId
        assert plan_alert["alertId"] and plan_alert["occurredAt"] and plan_alert["details"].startswith("/api/drills/")

        monkeypatch.setenv("DRILL_PLAN", json.dumps(drills.plan(retention="P7D")))
        reset_settings_cache()
        stack.host.run_timer_function("drill_timer")
        stack.host.run_timer_function("drill_timer")
        runs = [i for i in stack.host.instances() if i.name == DRILL_RUN_ORCHESTRATION]
        assert len(runs) == 1, [r.instance_id for r in runs]
        run_id = runs[0].instance_id
        assert run_id.startswith("drill-2026110")
        summary = stack.host.wait_for(run_id, timeout=30).output
        assert (summary["passed"], summary["failed"]) == (1, 1), summary

        # Retention: only the old run's files went, and the run recorded it.
        left = stack.blobs()
        assert not any(name.startswith(f"drills/{OLD_RUN}/") for name in left)
        kept = {f"drills/{RECENT_RUN}/pg1/pg1_appdb.sql", "drills/not-a-run/keep.sql", "elsewhere/keep.sql"}
        assert kept <= set(left)
        assert summary["cleanup"]["deletedFiles"] == 2 and summary["cleanup"]["deletedRuns"] == [OLD_RUN]
        assert drills.rows(run_id)["cleanup"]["deletedRuns"] == [OLD_RUN]

        # The results API.
        listed = requests.get(f"{stack.api}/drills", headers=stack.key, timeout=30)
        assert listed.status_code == 200 and listed.json()["runs"][0]["runId"] == run_id
        one = requests.get(f"{stack.api}/drills/{run_id}", headers=stack.key, timeout=30).json()
        assert one["runtimeStatus"] == "Completed" and one["summary"]["failed"] == 1
        assert {i["server"]: i["reason"] for i in one["instances"]} == {"pg1": None, "pg2": "dump-truncated"}
        assert one["cleanup"]["deletedFiles"] == 2
        assert requests.get(f"{stack.api}/drills/drill-nope", headers=stack.key, timeout=30).status_code == 404
        assert requests.get(f"{stack.api}/drills", timeout=30).status_code == 401

        # The dashboard, rendered by a real browser.
        page = requests.get(f"{stack.api}/drills/dashboard", headers=stack.key, timeout=30)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        url = f"{stack.api}/drills/dashboard?code={stack.host.function_key}"
        dom = chromium("--dump-dom", url)
        assert "<h1>Restore drills</h1>" in dom
        assert "1 of 2 servers failed their latest drill" in dom
        assert run_id in dom and "dump-truncated" in dom
        assert dom.count('<circle class="dot') == 4  # two servers x (point age, restore duration)
        assert 'id="age-chart"' in dom and 'id="duration-chart"' in dom
        shot = tmp_path / "dashboard.png"
        chromium(f"--screenshot={shot}", "--window-size=1000,1200", url)
        png = shot.read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 20_000  # tables, text and charts painted, not a blank page
