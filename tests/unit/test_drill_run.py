"""Run identity (one run per schedule occurrence), the timer's scheduled time, targets and the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime

from pgflex_restore.drills.dashboard import latest_per_server, render_dashboard
from pgflex_restore.drills.plan import parse_plan
from pgflex_restore.drills.run import instance_prefix, run_id_for, run_time, scheduled_occurrence
from pgflex_restore.drills.targets import drill_targets
from triggers.timer import scheduled_time

VAULT = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
CONTAINER = "https://acct.blob.core.windows.net/drills"
PG = "Microsoft.DBforPostgreSQL/flexibleServers"


def test_run_id_round_trips_and_names_the_occurrence() -> None:
    moment = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    assert run_id_for(moment) == "drill-20261125T030000Z"
    assert run_time(run_id_for(moment, "cli1a2b")) == moment
    assert run_time("drill-nonsense") is None
    assert instance_prefix("drill-1", "bi") == "drills/drill-1/bi/"


def test_timer_uses_the_invoked_occurrence() -> None:
    """Azure's ScheduleStatus.Next is the occurrence being invoked; a late or repeated firing maps to it too."""
    daily = "0 0 3 * * *"
    now = datetime(2026, 11, 25, 5, 17, tzinfo=UTC)
    status = {"Last": "2026-11-24T03:00:00Z", "Next": "2026-11-25T03:00:00Z", "LastUpdated": "2026-11-24T03:00:01Z"}
    assert scheduled_time(status, daily, now) == datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    assert scheduled_time(None, daily, now) == datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    assert scheduled_occurrence("0 */15 * * * *", now) == datetime(2026, 11, 25, 5, 15, tzinfo=UTC)


def test_targets_filter_exclude_and_flag_missing() -> None:
    """PostgreSQL flexible servers are drilled; other datasources skipped; exclusions skipped; unknown named
    instances fail; the order is stable and the plan's instances come first."""
    plan = parse_plan({"container": CONTAINER, "vaults": [VAULT], "exclude": ["bi-c"],
                       "expectedDatabases": {"pga": ["appdb"]}}, allowlist=[CONTAINER])
    listed = [
        {"id": f"{VAULT}/backupInstances/bi-b", "name": "bi-b", "datasourceType": "Microsoft.Storage/x",
         "source": "vault"},
        {"id": f"{VAULT}/backupInstances/bi-a", "name": "bi-a", "server": "pga", "datasourceType": PG,
         "source": "vault"},
        {"id": f"{VAULT}/backupInstances/bi-c", "name": "bi-c", "datasourceType": PG, "source": "vault"},
        {"id": f"{VAULT}/backupInstances/bi-z", "name": "bi-z", "source": "plan", "found": False},
    ]
    targets = drill_targets(plan, listed, "drill-1")
    assert [t["name"] for t in targets] == ["bi-z", "bi-a", "bi-b", "bi-c"]
    assert targets[0]["fail"]["reason"] == "backup-instance-not-found"
    assert "skip" not in targets[1] and targets[1]["expectedDatabases"] == ["appdb"]
    assert targets[1]["prefix"] == "drills/drill-1/bi-a/" and targets[1]["leaf"] == "pga"
    assert targets[2]["skip"]["reason"] == "not-postgresql-flexible-server"
    assert targets[3]["skip"]["reason"] == "excluded"


def test_dashboard_escapes_and_shows_latest_per_server() -> None:
    """Values from storage are escaped; the latest run per server is shown; an empty store still renders."""
    rows = [
        {"runId": "drill-1", "backupInstance": "a", "server": "<b>pg</b>", "status": "failed", "reason": "x",
         "startedAt": "2026-11-01T03:00:00Z", "pointAgeSeconds": 7200, "restoreDurationSeconds": 600},
        {"runId": "drill-2", "backupInstance": "a", "server": "<b>pg</b>", "status": "passed",
         "startedAt": "2026-11-02T03:00:00Z", "pointAgeSeconds": 3600, "restoreDurationSeconds": 660},
    ]
    assert [r["runId"] for r in latest_per_server(rows)] == ["drill-2"]
    page = render_dashboard([{"runId": "drill-2", "status": "passed"}], rows, generated_at="now")
    assert "<b>pg</b>" not in page and "&lt;b&gt;pg&lt;/b&gt;" in page
    assert page.count("<circle") == 4 and "<script" not in page and "http" not in page
    assert "no data yet" in render_dashboard([], [], generated_at="now")


def test_drill_settings_defaults_and_bad_names() -> None:
    """DRILL_RESULTS_TABLE / DRILL_ALERTS_QUEUE default as documented; bad names are refused by setting name."""
    import pytest

    from pgflex_restore.errors import ConfigurationError
    from pgflex_restore.settings import Settings

    defaults = Settings.from_env({})
    assert (defaults.drill_results_table, defaults.drill_alerts_queue) == ("restoredrills", "restore-drill-alerts")
    with pytest.raises(ConfigurationError) as failure:
        Settings.from_env({"DRILL_RESULTS_TABLE": "no-dashes", "DRILL_ALERTS_QUEUE": "Upper"})
    assert set(failure.value.problems) == {"DRILL_RESULTS_TABLE", "DRILL_ALERTS_QUEUE"}
