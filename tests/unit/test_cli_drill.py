"""The drill command's text report, progress line and built-in emulator vault."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from cli.drill import EMULATOR_SERVERS, describe, emulator_scenario, summary_text
from cli.progress import LiveLine
from emulator import Scenario


def test_summary_text_names_every_server_and_the_failures() -> None:
    result = {
        "summary": {"runId": "drill-1", "status": "failed", "passed": 1, "failed": 1, "skipped": 0,
                    "cleanup": {"deletedFiles": 4, "deletedRuns": ["drill-0"]}},
        "instances": [
            {"server": "pg1", "status": "passed", "pointAgeSeconds": 7200, "restoreDurationSeconds": 610,
             "databases": {"appdb": {"format": "custom", "tocEntries": 20}}},
            {"server": "pg2", "status": "failed", "reason": "dump-truncated", "message": "cut off"},
        ],
    }
    text = summary_text(result)
    assert text.splitlines()[0] == "drill run drill-1: FAILED (1 passed, 1 failed, 0 skipped)"
    assert "point 2.0 h old, restore 610 s, appdb (custom, 20 TOC entries)" in text
    assert "[dump-truncated] cut off" in text
    assert "4 old drill files deleted (drill-0)" in text


def test_progress_prints_changes_only() -> None:
    stream = io.StringIO()
    progress = LiveLine(stream)
    progress.show(describe({"phase": "drilling", "total": 3, "completed": 1, "passed": 1}))
    progress.show(describe({"phase": "drilling", "total": 3, "completed": 1, "passed": 1}))
    progress.show(describe({"phase": "recording"}))
    progress.clear()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "1/3 done, 1 passed, 0 failed" in lines[0] and lines[1].endswith("recording")


def test_the_built_in_vault_is_a_valid_emulator_scenario() -> None:
    scenario = Scenario.from_dict(emulator_scenario("http://127.0.0.1:10000/devstoreaccount1/drills",
                                                    datetime(2026, 11, 25, tzinfo=UTC)), datetime(2026, 11, 25,
                                                                                                  tzinfo=UTC))
    instances = scenario.vaults[0].backup_instances
    assert sorted(i.server_name for i in instances.values()) == sorted(EMULATOR_SERVERS)
