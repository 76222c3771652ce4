"""The scenario format: recovery-point generators, relative times, and clear errors for bad files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator import EmulatorServer, Scenario, ScenarioError, VirtualClock
from emulator.clock import parse_time, timespan
from tests.emulator.emusupport import BI, RG, SUB, VAULT, scenario

NOW = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def _instance(data: dict[str, Any]) -> Any:
    built = Scenario.from_dict(data, NOW)
    return built.vault(SUB, RG, VAULT).backup_instances[BI]  # type: ignore[union-attr]


def test_generator_counts_back_from_latest_relative_to_now() -> None:
    inst = _instance(scenario(recoveryPoints={"count": 4, "every": "PT12H", "latest": "now-P2D"}))
    times = [rp.time for rp in inst.recovery_points]
    assert times[0] == NOW - timedelta(days=2)
    assert times[-1] == NOW - timedelta(days=2, hours=36)
    assert len({rp.id for rp in inst.recovery_points}) == 4


def test_archive_after_moves_old_points_to_the_archive_store() -> None:
    inst = _instance(scenario(recoveryPoints={"count": 5, "every": "P7D", "latest": "now", "archiveAfter": "P10D"}))
    assert [rp.stores for rp in inst.recovery_points] == [("VaultStore",)] * 2 + [("ArchiveStore",)] * 3


def test_explicit_points_are_sorted_newest_first_and_get_ids() -> None:
    inst = _instance(scenario(recoveryPoints=[{"time": "2026-01-01T00:00:00Z"}, {"time": "2026-02-01T00:00:00Z",
                                                                                  "id": "rp-feb"}]))
    assert inst.recovery_points[0].id == "rp-feb"
    assert inst.recovery_point("RP-FEB") is not None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"timings": {"validateSecs": 3}}, "timings.validateSecs: unknown key"),
        ({"recoveryPoints": {"every": "daily"}}, "recoveryPoints.every"),
        ({"recoveryPoints": [{"id": "x"}]}, "recoveryPoints[0].time"),
        ({"recoveryPoints": {"stores": ["TapeStore"]}}, "recoveryPoints.stores"),
        ({"failures": {"corruptDump": "shredded"}}, "corruptDump"),
        ({"failures": {"validate": "no"}}, "failures.validate"),
        ({"serverId": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Sql/servers/z"}, "serverId"),
    ],
)
def test_bad_scenarios_name_the_key(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Scenario.from_dict(scenario(**override), NOW)


def test_status_spelling_and_page_size_are_checked() -> None:
    with pytest.raises(ScenarioError, match="statusSpelling"):
        Scenario.from_dict({"statusSpelling": "Running"}, NOW)
    with pytest.raises(ScenarioError, match="pageSize"):
        Scenario.from_dict({"pageSize": 0}, NOW)


def test_json_and_yaml_files_load(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(scenario()))
    assert Scenario.load(path, NOW).vault(SUB, RG, VAULT) is not None
    example = Scenario.load(REPO / "emulator" / "example_scenario.yaml", NOW)
    assert example.status_spelling == "Inprogress"
    assert len(example.vaults[0].backup_instances["pg-prod-orders"].recovery_points) == 30


def test_server_accepts_a_scenario_object_and_any_clock() -> None:
    class FixedClock:
        def now(self) -> datetime:
            return NOW

    with EmulatorServer(Scenario.from_dict(scenario(), NOW), clock=FixedClock()) as server:
        assert server.state.now() == NOW
    with EmulatorServer(scenario(), clock=VirtualClock(NOW)) as server:
        assert server.url.startswith("http://127.0.0.1:")


def test_time_helpers() -> None:
    assert parse_time("2024-01-31T00:00:00.0000000Z") == datetime(2024, 1, 31, tzinfo=UTC)
    assert parse_time("2024-01-31T01:00:00.1234567+01:00") == datetime(2024, 1, 31, 0, 0, 0, 123456, tzinfo=UTC)
    assert timespan(timedelta(hours=2, minutes=3, seconds=4)) == "02:03:04"
    assert timespan(timedelta(days=1, seconds=1, microseconds=5)) == "1.00:00:01.0000050"
    with pytest.raises(ValueError):
        VirtualClock(NOW).advance(-1)
