"""The drill plan's proof keys (issue 16): validation by JSON path, overrides, the resolved durable form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_restore.drills.plan import PlanError, parse_plan
from pgflex_restore.drills.proof_plan import PROOF_KEYS
from pgflex_restore.load_spec import normalize_load_target

CONTAINER = "https://acct.blob.core.windows.net/drills"
VAULT = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
BI = f"{VAULT}/backupInstances/pg1-bi"
DRILL = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-drill"
LOADS = [normalize_load_target(DRILL)]


def plan(**keys: object) -> dict[str, object]:
    return {"container": CONTAINER, "vaults": [VAULT], **keys}


def test_plan_level_keys_resolve_with_defaults_and_round_trip() -> None:
    parsed = parse_plan(plan(load={"server": DRILL}, rtoTarget="PT4H", rpoTarget=86400,
                             checks=[{"name": "orders", "database": "sales", "sql": "SELECT 1", "min": 1}]),
                        allowlist=[CONTAINER], load_allowlist=LOADS)
    resolved = parsed.proof_for(BI, "pg1-bi", "pg1")
    assert resolved == {"load": {"server": DRILL, "jobs": 1}, "amcheck": False, "compareWithSource": False,
                        "minRowRatio": 0.5, "maxRowDrop": 0.5, "rtoTargetSeconds": 14400.0,
                        "rpoTargetSeconds": 86400.0,
                        "checks": [{"name": "orders", "database": "sales", "sql": "SELECT 1", "min": 1}]}
    assert parsed.loads
    assert parse_plan(parsed.to_dict(), allowlist=[CONTAINER], load_allowlist=LOADS) == parsed


def test_server_and_instance_levels_override_the_plan_key_by_key() -> None:
    parsed = parse_plan(plan(rtoTarget="PT4H", maxRowDrop=0.2, servers={"PG1": {"rtoTarget": "PT1H"}},
                             instances=[{"backupInstance": BI, "amcheck": True}]), allowlist=[CONTAINER])
    resolved = parsed.proof_for(BI, "pg1-bi", "pg1") or {}
    assert (resolved["rtoTargetSeconds"], resolved["maxRowDrop"], resolved["amcheck"]) == (3600.0, 0.2, True)
    other = parsed.proof_for(BI.replace("pg1", "pg2"), "pg2-bi", "pg2") or {}
    assert (other["rtoTargetSeconds"], other["amcheck"], other["load"]) == (14400.0, False, None)
    assert not parsed.loads


def test_no_proof_keys_means_no_proof() -> None:
    assert parse_plan(plan(), allowlist=[CONTAINER]).proof_for(BI, "pg1-bi", "pg1") is None


@pytest.mark.parametrize(("keys", "path"), [
    ({"load": {"server": DRILL.replace("pg-drill", "pg-prod")}}, "load.server"),
    ({"load": {"server": "nope"}}, "load.server"),
    ({"load": {"server": DRILL, "jobs": 0}}, "load.jobs"),
    ({"load": {"server": DRILL, "job": 2}}, "load.job"),
    ({"checks": [{"name": "x", "database": "sales"}]}, "checks[0].sql"),
    ({"checks": [{"name": "x", "database": "sales", "sql": "s", "min": "1"}]}, "checks[0].min"),
    ({"checks": [{"name": "x", "database": "s", "sql": "s"}, {"name": "x", "database": "s", "sql": "s"}]},
     "checks[1].name"),
    ({"amcheck": "yes"}, "amcheck"),
    ({"minRowRatio": 1.5}, "minRowRatio"),
    ({"maxRowDrop": True}, "maxRowDrop"),
    ({"rtoTarget": "soon"}, "rtoTarget"),
    ({"rpoTarget": 0}, "rpoTarget"),
    ({"servers": {"pg1": {"rtoTarget": "PT1H", "colour": 1}}}, "servers.pg1.colour"),
    ({"servers": {"pg1": {"load": {"server": DRILL.replace("pg-drill", "pg-prod")}}}}, "servers.pg1.load.server"),
    ({"instances": [{"backupInstance": BI, "maxRowDrop": -1}]}, "instances[0].maxRowDrop"),
])
def test_each_problem_is_reported_by_its_path(keys: dict[str, object], path: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan(plan(**keys), allowlist=[CONTAINER], load_allowlist=LOADS)
    assert path in caught.value.problems, caught.value.problems


def test_a_server_listed_by_host_is_allowed() -> None:
    parse_plan(plan(load={"server": DRILL, "jobs": 3}), allowlist=[CONTAINER],
               load_allowlist=["pg-drill.postgres.database.azure.com"])


JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 100) | st.floats(-1, 2, allow_nan=False)
                    | st.text(max_size=12), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["server", "jobs", "name", "database", "sql", "min", "x"]),
                                      inner, max_size=4), max_leaves=8)


@given(st.dictionaries(st.sampled_from(sorted(PROOF_KEYS)), JSON, max_size=4))
def test_any_proof_keys_either_parse_and_round_trip_or_fail_by_path(keys: dict[str, object]) -> None:
    try:
        parsed = parse_plan(plan(**keys), allowlist=[CONTAINER], load_allowlist=LOADS)
    except PlanError as exc:
        assert exc.problems and all(p.split(".")[0].split("[")[0] in PROOF_KEYS for p in exc.problems)
        return
    assert parse_plan(parsed.to_dict(), allowlist=[CONTAINER], load_allowlist=LOADS) == parsed
