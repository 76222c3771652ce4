"""Drill plan parsing: defaults, normal form, and every problem reported by its JSON path."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from pgflex_restore.drills.plan import PlanError, PointSelection, load_plan_text, parse_plan

CONTAINER = "https://acct.blob.core.windows.net/drills"
VAULT = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
BI = f"{VAULT}/backupInstances/pg1-bi"


def test_minimal_plan_gets_safe_defaults() -> None:
    """Only container and vaults: latest point, 8-day RPO (weekly backups), concurrency 4, 7-day retention."""
    plan = parse_plan({"container": CONTAINER + "/", "vaults": [VAULT]}, allowlist=[CONTAINER])
    assert plan.container == CONTAINER
    assert plan.selection == PointSelection()
    assert (plan.max_point_age, plan.concurrency, plan.retention) == (timedelta(days=8), 4, timedelta(days=7))
    assert parse_plan(plan.to_dict(), allowlist=[CONTAINER]) == plan


def test_full_plan_round_trips() -> None:
    """Every key parses; to_dict is accepted back unchanged."""
    raw = {
        "container": CONTAINER, "vaults": [VAULT], "exclude": ["pg9-bi"],
        "instances": [BI, {"backupInstance": BI.replace("pg1", "pg2"), "expectedDatabases": ["appdb"]}],
        "recoveryPoint": {"mode": "random", "withinDays": 7}, "maxPointAge": "PT36H", "concurrency": 10,
        "retention": 86400, "expectedDatabases": {"pg1": ["appdb", "reporting"]}, "restoreTimeout": "PT6H",
    }
    plan = parse_plan(json.dumps(raw), allowlist=[CONTAINER])
    assert plan.selection == PointSelection("random", 7.0)
    assert plan.max_point_age == timedelta(hours=36) and plan.retention == timedelta(days=1)
    assert plan.restore_timeout == timedelta(hours=6)
    assert plan.databases_for(BI.replace("pg1", "pg2"), "pg2-bi", "pg2") == ["appdb"]
    assert plan.databases_for(BI, "pg1-bi", "PG1") == ["appdb", "reporting"]
    assert plan.databases_for(BI, "pg1-bi", None) is None
    assert plan.excluded("x", "PG9-BI")
    assert parse_plan(plan.to_dict(), allowlist=[CONTAINER]) == plan


def test_every_problem_is_reported_by_path() -> None:
    """Bad values and unknown keys are all listed in one error."""
    with pytest.raises(PlanError) as failure:
        parse_plan({"container": "https://evil.blob.core.windows.net/other", "vaults": ["nope"], "maxPointAg": "P1D",
                    "concurrency": 0, "recoveryPoint": {"mode": "random"}, "retention": "-5",
                    "instances": [{"backupInstance": BI, "databases": []}]}, allowlist=[CONTAINER])
    problems = failure.value.problems
    assert set(problems) >= {"container", "vaults[0]", "maxPointAg", "concurrency", "recoveryPoint.withinDays",
                             "retention", "instances[0].databases"}
    assert "RESTORE_TARGET_ALLOWLIST" in problems["container"]


def test_vaults_default_to_restore_vaults() -> None:
    """A plan naming neither instances nor vaults drills RESTORE_VAULTS; with none of those it is refused."""
    plan = parse_plan({"container": CONTAINER}, allowlist=[CONTAINER], default_vaults=[VAULT])
    assert plan.vaults == (VAULT,)
    with pytest.raises(PlanError) as failure:
        parse_plan({"container": CONTAINER}, allowlist=[CONTAINER])
    assert "nothing to drill" in str(failure.value)


def test_plan_text_is_json_or_a_path(tmp_path: Path) -> None:
    """DRILL_PLAN holds the JSON or names a file; anything else is a clear error."""
    assert load_plan_text(' {"a": 1}') == '{"a": 1}'
    path = tmp_path / "plan.json"
    path.write_text('{"container": "x"}')
    assert load_plan_text(str(path)) == '{"container": "x"}'
    with pytest.raises(PlanError):
        load_plan_text("/no/such/plan.json")
    with pytest.raises(PlanError):
        parse_plan("{not json")
