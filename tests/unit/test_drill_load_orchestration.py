"""The load sub-orchestration's drill variants, driven as generators: a drop of scratch databases, and amcheck
allowed on the drill server for a load that asks for it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from orchestrations.load import load_input
from pgflex_restore.polling import PollPolicy
from tests.unit.test_load_orchestration import JOB, NOW, SERVER, answers, execution, ok, payloads, run_load

SCRATCH = [{"database": "drill_x_0000_sales", "oid": 16452}]


def state(load: dict[str, Any]) -> dict[str, Any]:
    return load_input(restore_id="drill-x:0000:drop", load=load, job=JOB, container_url="https://a.blob.core."
                      "windows.net/c", prefix="p", deadline=NOW + timedelta(hours=1), poll=PollPolicy(5, 600, 30),
                      max_retries=2, polls_per_generation=10)


def drop_answers(report: dict[str, Any] | None, status: str = "Succeeded") -> dict[str, list[Any]]:
    given = answers(load_get_execution=[execution(status)], drill_read_drop_report=[ok(report=report)])
    for name in ("load_read_extensions", "load_get_extensions", "load_ledger_read", "load_read_report",
                 "load_ledger_record"):
        del given[name]
    return given


def loader_request(context: Any) -> dict[str, Any]:
    (start,) = payloads(context, "load_start_execution")
    document: dict[str, Any] = json.loads(start["body"]["containers"][0]["env"][-1]["value"])
    return document


def test_a_drop_starts_the_loader_with_only_names_and_oids_and_reads_its_drop_report() -> None:
    report = {"action": "drop", "status": "dropped",
              "dropped": [{"database": "drill_x_0000_sales", "oid": 16452, "outcome": "dropped"}]}
    result, context = run_load(drop_answers(report), state({"server": SERVER, "action": "drop",
                                                            "databases": SCRATCH}))
    assert result["status"] == "dropped" and result["load"]["dropped"] == report["dropped"]
    request = loader_request(context)
    assert request["action"] == "drop" and request["databases"] == SCRATCH and request["runId"].endswith(":drop")
    assert not payloads(context, "load_put_extensions")


def test_a_drop_that_fails_or_writes_no_report_is_drop_failed_naming_what_to_do() -> None:
    report = {"action": "drop", "status": "failed",
              "dropped": [{"database": "drill_x_0000_sales", "oid": 16452, "outcome": "failed", "error": "busy"}]}
    result, _ = run_load(drop_answers(report), state({"server": SERVER, "action": "drop", "databases": SCRATCH}))
    assert result["status"] == "drop_failed" and "drill_x_0000_sales: failed busy" in result["error"]["message"]
    result, _ = run_load(drop_answers(None, "Failed"), state({"server": SERVER, "action": "drop",
                                                              "databases": SCRATCH}))
    assert result["status"] == "drop_failed" and "without a report" in result["error"]["message"]


def load_with(amcheck: bool, allowed: list[str]) -> tuple[Any, Any]:
    given = answers(load_get_extensions=[ok(configuration={"value": ["pg_trgm"], "allowedValues": allowed})])
    load = {"server": SERVER, "databases": {"sales": "drill_x_0000_sales"}, "onExists": "fail", "amcheck": amcheck}
    if "amcheck" in allowed and amcheck:
        given["load_put_extensions"] = [ok(operation={"done": True})]
    return run_load(given, state(load))


def test_a_drill_asking_for_amcheck_gets_it_allowed_when_the_server_can() -> None:
    result, context = load_with(True, ["pg_trgm", "amcheck"])
    assert result["load"]["extensions"] == {"needed": ["amcheck", "pg_trgm"], "added": ["amcheck"]}
    assert payloads(context, "load_put_extensions")[0]["value"] == "pg_trgm,amcheck"
    assert loader_request(context)["amcheck"] is True
    result, context = load_with(True, ["pg_trgm"])  # cannot be allowed: the loader reports amcheck skipped
    assert result["status"] == "loaded" and not payloads(context, "load_put_extensions")
    result, context = load_with(False, ["pg_trgm", "amcheck"])
    assert result["load"]["extensions"]["needed"] == ["pg_trgm"]
