"""HTTP API of drill results, for people and tools (function key, like every other route).

  GET /api/drills                 recent runs, newest first (?limit=N, default 30)
  GET /api/drills/{run}           one run: summary, every instance's record, cleanup, live progress
  GET /api/drills/{run}/evidence  the run's evidence document, rebuilt from the rows and verified (?format=csv)
  GET /api/drills/dashboard       a self-contained HTML page: latest drill per server, trends as an inline SVG
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.core.exceptions import AzureError

from clients import results_table
from orchestrations.drill import DRILL_RUN_ORCHESTRATION
from pgflex_restore.drills.dashboard import render_dashboard
from pgflex_restore.drills.evidence import (
    build_document,
    instance_records,
    previous_link,
    run_fields,
    stored_evidence,
    to_csv,
    verification,
)
from pgflex_restore.drills.records import SUMMARY_ROW, record_from_entity
from pgflex_restore.drills.run import run_time
from pgflex_restore.errors import ConfigurationError, RequestValidationError
from pgflex_restore.inputs import excerpt, query_choice, query_int
from pgflex_restore.settings import get_settings
from pgflex_restore.timeutil import format_datetime
from triggers._start import own_status, runtime_name

bp = df.Blueprint()

DEFAULT_LIMIT, MAX_LIMIT = 30, 500
DASHBOARD_RUNS = 30
# Every route reads rows without OData type annotations: a value that does not match its declared type (which
# the Tables SDK refuses to decode, failing the whole query) arrives as plain text, and records.py reads every row
# totally, so a bad row is listed as unreadable instead of answering 500.
NO_METADATA = "application/json;odata=nometadata"


def _json(status: int, body: Any) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")


def _error(status: int, code: str, message: str, target: str | None = None) -> func.HttpResponse:
    """ARM's error shape; ``target`` names the route or query parameter the answer is about."""
    return _json(status, {"error": {"code": code, "message": message, **({"target": target} if target else {})}})


def _bad_parameter(exc: RequestValidationError) -> func.HttpResponse:
    return _json(400, exc.to_dict())


def _run_not_found(run_id: str, hint: str = "") -> func.HttpResponse:
    return _error(404, "DrillRunNotFound", f"no drill run with id {excerpt(run_id)}{hint}", "run")


def _quote(value: str) -> str:
    return value.replace("'", "''")


def list_runs(limit: int) -> list[dict[str, Any]]:
    """Summary records, newest first (run ids sort by their scheduled time)."""
    table = results_table(get_settings().drill_results_table)
    rows = [{"runId": e.get("PartitionKey"), **record_from_entity(e)}
            for e in table.query_entities(f"RowKey eq '{SUMMARY_ROW}'", format=NO_METADATA)]
    rows.sort(key=lambda r: str(r.get("runId")), reverse=True)
    return rows[:limit]


def run_rows(run_id: str) -> list[dict[str, Any]]:
    """Every row of one run (summary, cleanup, instances), each with its row key."""
    table = results_table(get_settings().drill_results_table)
    return [{**record_from_entity(e), "_row": e["RowKey"]}
            for e in table.query_entities(f"PartitionKey eq '{_quote(run_id)}'", format=NO_METADATA)]


def run_entities(run_id: str) -> list[dict[str, Any]]:
    """The run's Table rows as stored (the evidence is rebuilt from exactly these)."""
    table = results_table(get_settings().drill_results_table)
    return [dict(e) for e in table.query_entities(f"PartitionKey eq '{_quote(run_id)}'", format=NO_METADATA)]


def evidence_document(run_id: str) -> dict[str, Any] | None:
    """The run's evidence rebuilt from its rows, with ``verification`` beside it; None for no recorded run.

    ``hash`` is the hash stored when the run was recorded (the rebuilt one for an older run that stored none),
    so a document whose rows were edited since fails offline verification as well as ``verified``.
    """
    rows = run_entities(run_id)
    summary = next((r for r in rows if r.get("RowKey") == SUMMARY_ROW), None)
    if summary is None:
        return None
    stored = stored_evidence(summary)
    previous = previous_link(stored["previousRunId"], stored["previousHash"]) if stored else None
    document = build_document(run_fields(summary), instance_records(rows, run_id), previous)
    checked = verification(stored["hash"] if stored else None, document)
    document["hash"] = stored["hash"] if stored else document["hash"]
    document["verification"] = checked
    return document




def instances_since(oldest_run: str) -> list[dict[str, Any]]:
    """Instance records of every run from ``oldest_run`` on (for the dashboard's trends), chosen by row key, so a
    row that lost its ``kind`` column still shows (as unreadable if it is)."""
    table = results_table(get_settings().drill_results_table)
    query = f"PartitionKey ge '{_quote(oldest_run)}' and RowKey ge 'instance:' and RowKey lt 'instance;'"
    return [record_from_entity(e) for e in table.query_entities(query, format=NO_METADATA)]


def dashboard_page() -> str:
    table = results_table(get_settings().drill_results_table)
    summaries = table.query_entities(f"RowKey eq '{SUMMARY_ROW}'", format=NO_METADATA)
    runs = sorted(({"runId": e.get("PartitionKey"), **record_from_entity(e)} for e in summaries),
                  key=lambda r: str(r.get("runId")), reverse=True)[:DASHBOARD_RUNS]
    ids = [r["runId"] for r in runs if isinstance(r.get("runId"), str) and r["runId"]]
    instances = instances_since(min(ids)) if ids else []
    return render_dashboard(runs, instances, generated_at=format_datetime(datetime.now(UTC).replace(microsecond=0)))


def _dashboard() -> func.HttpResponse:
    try:
        page = dashboard_page()
    except ConfigurationError as exc:
        return _error(500, "ConfigurationError", str(exc))
    except AzureError as exc:  # the table is not reachable: say so, rather than a bare 500
        return _error(503, "StorageUnavailable", f"the drill results table could not be read: "
                                                 f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]}")
    return func.HttpResponse(page, status_code=200, mimetype="text/html", charset="utf-8",
                             headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                                      "Cache-Control": "no-store"})


@bp.route(route="drills", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def list_drills_http(req: func.HttpRequest) -> func.HttpResponse:
    try:
        limit = query_int(req.params.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    except RequestValidationError as exc:
        return _bad_parameter(exc)
    try:
        runs = list_runs(limit)
    except ConfigurationError as exc:
        return _error(500, "ConfigurationError", str(exc))
    return _json(200, {"count": len(runs), "runs": runs})


@bp.route(route="drills/dashboard", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def drills_dashboard_http(req: func.HttpRequest) -> func.HttpResponse:
    return _dashboard()


@bp.route(route="drills/{run}/evidence", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def drill_evidence_http(req: func.HttpRequest) -> func.HttpResponse:
    run_id = req.route_params["run"]
    try:
        form = query_choice(req.params.get("format"), "format", ("json", "csv"))
    except RequestValidationError as exc:
        return _bad_parameter(exc)
    if not run_time(run_id):
        return _run_not_found(run_id)
    try:
        document = evidence_document(run_id)
    except ConfigurationError as exc:
        return _error(500, "ConfigurationError", str(exc))
    if document is None:
        return _run_not_found(run_id, ": list the runs with GET /api/drills; a run that is still going has no "
                                      "evidence yet")
    if form == "csv":
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)
        return func.HttpResponse(to_csv(document), status_code=200, mimetype="text/csv", charset="utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}-evidence.csv"'})
    return _json(200, document)


@bp.route(route="drills/{run}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_drill_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id = req.route_params["run"]
    if run_id == "dashboard":  # hosts that match the template before the literal route
        return _dashboard()
    if not run_time(run_id):  # not a run id: never look it up (nor show another API's instance)
        return _run_not_found(run_id)
    try:
        rows = run_rows(run_id)
    except ConfigurationError as exc:
        return _error(500, "ConfigurationError", str(exc))
    status = await own_status(client, run_id, DRILL_RUN_ORCHESTRATION)
    if not rows and status is None:
        return _run_not_found(run_id)
    summary = next((r for r in rows if r["_row"] == SUMMARY_ROW), None)
    cleanup = next((r for r in rows if r["_row"] == "cleanup"), None)
    instances = sorted((r for r in rows if str(r["_row"]).startswith("instance:")),
                       key=lambda r: str(r["_row"]))
    for row in [*instances, *(x for x in (summary, cleanup) if x)]:
        row.pop("_row", None)
    runtime = runtime_name(status) if status is not None else None
    progress = status.custom_status if status is not None and isinstance(status.custom_status, dict) else None
    return _json(200, {"runId": run_id, "runtimeStatus": runtime, "progress": progress, "summary": summary,
                       "cleanup": cleanup, "count": len(instances), "instances": instances})
