"""The Azure Monitor workbook (infra/modules/monitoring.bicep + workbook.json): deployed next to Application
Insights, and its queries read exactly what the app exports (names from pgflex_restore/telemetry_data.py)."""

from __future__ import annotations

import json
import re

from pgflex_restore.telemetry_data import (
    ARM_CALLS,
    ARM_THROTTLED,
    DRILL_RTO,
    DRILL_VERDICTS,
    RESTORE_PHASES,
    RESTORE_SPAN,
    arm_call_attributes,
    drill_telemetry,
    restore_telemetry,
)
from tests.infra.test_bicep import MODULES, body, expression, module

WORKBOOK = MODULES / "workbook.json"
TABLES = {"requests", "dependencies", "customMetrics"}


def queries() -> dict[str, str]:
    doc = json.loads(WORKBOOK.read_text(encoding="utf-8"))
    assert doc["version"] == "Notebook/1.0"
    return {item["name"]: item["content"]["query"] for item in doc["items"] if item["type"] == 3}


def test_the_workbook_is_a_shared_workbook_on_application_insights_loading_its_json() -> None:
    resource = module("monitoring.bicep")["resources"]["workbook"]
    assert resource["type"] == "Microsoft.Insights/workbooks"
    config = body(resource)
    assert config["kind"] == "shared" and config["properties"]["category"] == "workbook"
    assert expression(config["properties"]["sourceId"]) == "applicationInsights.id"
    # A stable name per resource group and component: redeploying updates the workbook instead of adding one.
    assert expression(config["name"]).startswith("guid(")
    serialized = expression(config["properties"]["serializedData"])
    assert serialized.startswith("string(union(load_json_content(workbook.json)")


def test_every_query_reads_an_exported_table_over_the_chosen_time_range() -> None:
    doc = json.loads(WORKBOOK.read_text(encoding="utf-8"))
    kql = [item["content"] for item in doc["items"] if item["type"] == 3]
    assert kql, "no query in the workbook"
    for content in kql:
        assert content["query"].split("\n", 1)[0] in TABLES, content["title"]
        assert content["timeContextFromParameter"] == "TimeRange"
        assert content["resourceType"] == "microsoft.insights/components"


def test_the_queries_use_the_names_the_app_exports() -> None:
    found = queries()
    assert {"restores-over-time", "drills-over-time", "phase-percentiles", "failures-by-code"} <= set(found)
    for name in ("restores-over-time", "failures-by-code"):
        assert f'where name == "{RESTORE_SPAN}"' in found[name]
        assert "by restoreId" in found[name]  # a restore emitted twice (at least once) counts once
    assert f'where name startswith "{RESTORE_SPAN}."' in found["phase-percentiles"]
    assert "percentile(duration, 90)" in found["phase-percentiles"]
    ordered = re.findall(r'phase == "(\w+)"', found["phase-percentiles"])
    assert ordered == list(RESTORE_PHASES[:len(ordered)])
    assert "customDimensions.errorCode" in found["failures-by-code"]
    assert f'"{DRILL_VERDICTS}"' in found["drills-over-time"]
    assert f'"{DRILL_RTO}"' in found["drill-rto"]
    assert f'"{ARM_CALLS}"' in found["arm-calls"] and f'"{ARM_THROTTLED}"' in found["arm-calls"]


def _exported_attribute_keys() -> set[str]:
    """Every attribute key telemetry_data puts on a span or a metric, from a sample restore, drill and ARM call."""
    summary = {"restoreId": "r", "backupInstance": "b", "recoveryPoint": "p", "status": "failed", "errorCode": "E",
               "jobId": "j", "via": "http", "startedAt": "2026-11-01T00:00:00Z", "finishedAt": "2026-11-01T00:01:00Z",
               "phases": {"selecting": {"startedAt": "2026-11-01T00:00:00Z", "finishedAt": "2026-11-01T00:01:00Z"}}}
    restore = restore_telemetry(summary)
    drill = drill_telemetry({"status": "failed", "server": "s", "reason": "x"})
    keys = set(restore.root.attributes) | set(restore.phases[0].attributes) | set(drill.attributes)
    return keys | set(arm_call_attributes("GET", "https://x/y", 200))


def test_every_dimension_a_query_reads_is_one_the_app_sets() -> None:
    read: set[str] = set()
    for query in queries().values():
        read |= set(re.findall(r"customDimensions\.(\w+)", query))
    assert {"restoreId", "status", "errorCode", "phase", "verdict", "server"} <= read
    assert read <= _exported_attribute_keys(), read - _exported_attribute_keys()
