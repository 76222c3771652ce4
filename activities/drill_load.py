"""Storage activities of a loading drill: the previous passing drill's row counts, and the loader's drop report.

One outside call each, in the ``{"ok": true, ...}`` envelope ArmSteps expects; a storage error raises and the
orchestrator retries it.
"""

from __future__ import annotations

import json
from typing import Any

import azure.durable_functions as df

from activities._arm import run_load_arm
from activities.payload import Payload
from clients import container_client, results_table
from pgflex_restore.drills.proof import previous_passing
from pgflex_restore.drills.records import record_from_entity
from pgflex_restore.ids import FlexibleServerId
from pgflex_restore.load_client import LoadClient
from pgflex_restore.settings import Settings, get_settings

DRILL_PREVIOUS_ROWS = "drill_previous_rows"
DRILL_READ_DROP_REPORT = "drill_read_drop_report"
DRILL_SOURCE_SERVER = "drill_source_server"
DROP_REPORT_SUFFIX = "_drop-report.json"
MAX_REPORT_BYTES = 4 * 1024 * 1024

bp = df.Blueprint()


def previous_rows(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: server (the source server's name), runId. Output: ``previous``: the newest earlier passing drill of
    that server with row counts (``{"runId", "rowCounts"}``), or None."""
    table = results_table(get_settings().drill_results_table)
    rows = table.query_entities("kind eq 'instance' and status eq 'passed' and server eq @server "
                                "and PartitionKey lt @run",
                                parameters={"server": str(payload["server"]), "run": str(payload["runId"])})
    found = previous_passing((record_from_entity(r) for r in rows), str(payload["runId"]))
    return {"ok": True, "previous": found}


def read_drop_report(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: containerUrl, prefix. Output: the loader's drop report (``<prefix>_drop-report.json``) or None."""
    from azure.core.exceptions import ResourceNotFoundError

    name = f"{payload['prefix']}{DROP_REPORT_SUFFIX}"
    try:
        data = container_client(payload["containerUrl"]).download_blob(name, offset=0,
                                                                       length=MAX_REPORT_BYTES).readall()
    except ResourceNotFoundError:
        return {"ok": True, "report": None, "reportBlob": name}
    try:
        report = json.loads(data)
    except ValueError as exc:
        return {"ok": True, "report": None, "reportBlob": name, "problem": f"the drop report is not JSON: {exc}"}
    return {"ok": True, "report": report if isinstance(report, dict) else None, "reportBlob": name}


def source_server(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: server (the drilled backup instance's data source: the live flexible server). Output: its host and
    state, for the loader's read-only source comparison. Nothing is written there, so LOAD_TARGET_ALLOWLIST (the
    servers loads may write into) does not apply."""
    def call(client: LoadClient, settings: Settings) -> dict[str, Any]:
        return {"server": client.get_server(FlexibleServerId.parse(payload["server"])).to_dict()}

    return run_load_arm(call, payload)


@bp.activity_trigger(input_name="payload")
def drill_source_server(payload: Payload) -> dict[str, Any]:
    return source_server(payload)


@bp.activity_trigger(input_name="payload")
def drill_previous_rows(payload: Payload) -> dict[str, Any]:
    return previous_rows(payload)


@bp.activity_trigger(input_name="payload")
def drill_read_drop_report(payload: Payload) -> dict[str, Any]:
    return read_drop_report(payload)
