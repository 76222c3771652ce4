"""The app's HTTP contract as an OpenAPI 3.1 document, served at ``GET /api/openapi.json``.

Written by hand from the code, not generated from it: the triggers build their answers as plain dicts, so the
document is what says which keys a caller may rely on. Three tests keep it true: every registered route has
exactly one description here (tests/unit/test_openapi.py), the schemas accept what the models and records really
hold, and a seeded schemathesis run against the running app finds no 500 and no answer off its schema
(tests/e2e/test_openapi_contract.py). Pure: no Functions imports, the same document for every caller but
``servers``.
"""

from __future__ import annotations

from typing import Any

from .drills.evidence import CSV_COLUMNS
from .inputs import MAX_DOCUMENT_BYTES
from .openapi_drills import drill_schemas
from .openapi_schemas import (
    EXAMPLE_INSTANCE,
    Schema,
    answer_schemas,
    error_schemas,
    nullable,
    obj,
    ref,
    request_schemas,
    string,
)

OPENAPI_VERSION = "3.1.0"
API_VERSION = "0.1.0"  # pyproject.toml's version (a test keeps them equal)
ROUTE_PREFIX = "/api"  # host.json's extensions.http.routePrefix
DIALECT = "https://spec.openapis.org/oas/3.1/dialect/base"
# Every id the app gives a restore: restore-<requestId>, restore~<guid>, alert-..., a drill's ...:restore.
RESTORE_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.:~-]{0,199}$"
RUN_ID_PATTERN = "^drill-[0-9]{8}T[0-9]{6}Z(-[A-Za-z0-9]+)?$"
MAX_RUNS = 500  # triggers/drills_http.py MAX_LIMIT
DEFAULT_RUNS = 30
EXAMPLE_CONTAINER = "https://account.blob.core.windows.net/restores"


def openapi_document(server_url: str | None = None) -> dict[str, Any]:
    """The whole document; ``server_url`` (scheme and host the app answered on) becomes its one server."""
    server = ({"url": server_url.rstrip("/"), "description": "this app"} if server_url else
              {"url": "https://{app}.azurewebsites.net", "variables": {"app": {"default": "pgflex-restore",
                                                                               "description": "the Function App"}}})
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": DIALECT,
        "info": {
            "title": "pgflex-restore",
            "version": API_VERSION,
            "summary": "Restore Azure Database for PostgreSQL flexible-server backups taken by Azure Backup",
            "description": "Start, follow and cancel restores; list recovery points; read restore drill results. "
                           "Every route needs a function key (the x-functions-key header or the code query "
                           "parameter); without one the host answers 401 with an empty body. Errors have ARM's "
                           "shape: {\"error\": {\"code\", \"message\", \"target\"?, \"details\"?}}.",
        },
        "servers": [server],
        "security": [{"functionKeyHeader": []}, {"functionKeyQuery": []}],
        "tags": [{"name": "restores"}, {"name": "drills"}, {"name": "contract"}],
        "paths": paths(),
        "components": {
            "schemas": {**request_schemas(), **error_schemas(), **answer_schemas(), **drill_schemas()},
            "parameters": parameters(),
            "responses": shared_responses(),
            "securitySchemes": {
                "functionKeyHeader": {"type": "apiKey", "in": "header", "name": "x-functions-key",
                                      "description": "a function key of the Function App"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code",
                                     "description": "the same key as a query parameter"},
            },
        },
    }


def _json(description: str, schema: Schema, **more: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}, **more}


def _shared(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def shared_responses() -> dict[str, Any]:
    return {
        "Unauthorized": {"description": "no function key, or a wrong one: the host answers with an empty body"},
        "InvalidParameter": _json("a query parameter is invalid (details names it)", ref("ValidationError")),
        "ConfigurationError": _json("the app's settings are invalid (code ConfigurationError): fix the app "
                                    "settings named in the message", ref("Error")),
        "RestoreNotFound": _json("no restore with this id (code RestoreNotFound, target restoreId)", ref("Error")),
        "DrillRunNotFound": _json("no recorded drill run with this id (code DrillRunNotFound, target run)",
                                  ref("Error")),
    }


def parameters() -> dict[str, Any]:
    return {
        "restoreId": {"name": "restoreId", "in": "path", "required": True,
                      "description": "the restore id POST /api/restores answered (restore-<requestId>, ...)",
                      "schema": string(pattern=RESTORE_ID_PATTERN), "example": "restore-incident-42"},
        "run": {"name": "run", "in": "path", "required": True, "description": "a drill run id",
                "schema": string(pattern=RUN_ID_PATTERN), "example": "drill-20261125T030000Z"},
    }


def paths() -> dict[str, Any]:
    return {f"{ROUTE_PREFIX}{path}": item for path, item in {**_restore_paths(), **_drill_paths(),
                                                                **_preflight_path(), **_contract_paths()}.items()}


def _restore_paths() -> dict[str, Any]:
    example = {"backupInstance": EXAMPLE_INSTANCE, "recoveryPoint": "latest", "before": "2026-11-01T02:00:00Z",
               "target": {"containerUrl": EXAMPLE_CONTAINER, "filePrefix": "incident-42"},
               "requestId": "incident-42"}
    started = _json("accepted: the restore runs (or, with created false, a restore with this id exists already); "
                    "follow it at restoreStatusUri", ref("RestoreStarted"), headers={
                        "Location": {"description": "the restore's status URL", "schema": string(format="uri")},
                        "Retry-After": {"description": "seconds to wait before the first look",
                                        "schema": {"type": "integer", "minimum": 0}}})
    return {
        "/restores": {"post": {
            "tags": ["restores"], "operationId": "startRestore", "summary": "Start a restore",
            "description": "Validates the request (every invalid field at once) and starts the restore, at most "
                           "once per requestId. The same JSON is accepted on the restore-requests queue.",
            "requestBody": {"required": True, "description": f"at most {MAX_DOCUMENT_BYTES} bytes of UTF-8 JSON",
                            "content": {"application/json": {"schema": ref("RestoreRequest"),
                                                              "example": example}}},
            "responses": {
                "202": started,
                "400": _json("invalid request: every invalid field in details", ref("ValidationError")),
                "401": _shared("Unauthorized"),
                "403": _json("the target container (or the load's server) is not on its allowlist (details' code "
                             "TargetNotAllowed)", ref("ValidationError")),
                "500": _json("the app's settings are invalid, or the request needs one the app lacks (a load "
                             "without LOAD_JOB): code ConfigurationError", ref("Error")),
            }}},
        "/restores/{restoreId}": {"parameters": [_param("restoreId")], "get": {
            "tags": ["restores"], "operationId": "getRestore", "summary": "A restore's status, progress and result",
            "responses": {
                "200": _json("the restore; result is its result record once it has finished",
                             ref("RestoreStatus")),
                "401": _shared("Unauthorized"), "404": _shared("RestoreNotFound"),
            }}},
        "/restores/{restoreId}/cancel": {"parameters": [_param("restoreId")], "post": {
            "tags": ["restores"], "operationId": "cancelRestore", "summary": "Stop a restore's orchestration",
            "description": "Stops the orchestration, its job tracker and a running load (and its loader "
                           "execution). An Azure restore job that already started is NOT cancelled: the answer "
                           "names it.",
            "responses": {
                "202": _json("stopped", ref("CancelAccepted")),
                "401": _shared("Unauthorized"), "404": _shared("RestoreNotFound"),
                "409": _json("the restore already ended (code RestoreFinished)", ref("Error")),
            }}},
        "/recovery-points": {"get": {
            "tags": ["restores"], "operationId": "listRecoveryPoints",
            "summary": "A backup instance's recovery points, newest first",
            "parameters": [
                {"name": "backupInstance", "in": "query", "required": True, "description": "the backup "
                 "instance's ARM id", "schema": string(minLength=1), "example": EXAMPLE_INSTANCE},
                {"name": "before", "in": "query", "description": "only points at or before this instant",
                 "schema": string(format="date-time"), "example": "2026-11-01T02:00:00Z"},
            ],
            "responses": {
                "200": _json("the points", obj({
                    "backupInstance": string(), "count": {"type": "integer", "minimum": 0},
                    "recoveryPoints": {"type": "array", "items": ref("RecoveryPoint")},
                }, ("backupInstance", "count", "recoveryPoints"))),
                "400": _json("a parameter is missing (MissingParameter) or invalid (InvalidParameter), or "
                             "Microsoft.DataProtection refused the listing", {"anyOf": [
                                 ref("Error"), ref("UpstreamError")]}),
                "401": _shared("Unauthorized"),
                "403": _json("the app's identity may not read this vault", ref("UpstreamError")),
                "404": _json("Microsoft.DataProtection knows no such backup instance", ref("UpstreamError")),
                "500": _shared("ConfigurationError"),
                "502": _json("Microsoft.DataProtection failed, throttled, refused the app's token or did not "
                             "answer (NoResponse)", ref("UpstreamError")),
            }}},
    }


def _drill_paths() -> dict[str, Any]:
    return {
        "/drills": {"get": {
            "tags": ["drills"], "operationId": "listDrillRuns", "summary": "Recent drill runs, newest first",
            "parameters": [{"name": "limit", "in": "query", "description": "how many runs",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RUNS,
                                       "default": DEFAULT_RUNS}}],
            "responses": {"200": _json("the runs' summaries", ref("DrillRunList")),
                          "400": _shared("InvalidParameter"), "401": _shared("Unauthorized"),
                          "500": _shared("ConfigurationError")}}},
        "/drills/dashboard": {"get": {
            "tags": ["drills"], "operationId": "drillDashboard", "summary": "The drills dashboard",
            "description": "A self-contained HTML page (no scripts, no external assets).",
            "responses": {"200": {"description": "the page", "content": {"text/html": {"schema": string()}}},
                          "401": _shared("Unauthorized"), "500": _shared("ConfigurationError")}}},
        "/drills/{run}": {"parameters": [_param("run")], "get": {
            "tags": ["drills"], "operationId": "getDrillRun",
            "summary": "One run: summary, cleanup, every instance's record, live progress",
            "responses": {"200": _json("the run", ref("DrillRun")), "401": _shared("Unauthorized"),
                          "404": _shared("DrillRunNotFound"), "500": _shared("ConfigurationError")}}},
        "/drills/{run}/evidence": {"parameters": [_param("run")], "get": {
            "tags": ["drills"], "operationId": "getDrillEvidence",
            "summary": "The run's evidence document, verified (JSON, or CSV)",
            "parameters": [{"name": "format", "in": "query", "description": "json (default) or csv, "
                            "case-insensitive", "schema": string(enum=["json", "csv"], default="json")}],
            "responses": {
                "200": {"description": "the evidence", "content": {
                    "application/json": {"schema": ref("EvidenceDocument")},
                    "text/csv": {"schema": string(f"RFC 4180, one row per server and check; columns: "
                                                  f"{', '.join(CSV_COLUMNS)}")}}},
                "400": _shared("InvalidParameter"), "401": _shared("Unauthorized"),
                "404": _json("no such run, or one still running (code DrillRunNotFound)", ref("Error")),
                "500": _shared("ConfigurationError")}}},
    }


def _preflight_path() -> dict[str, Any]:
    def query(name: str, description: str, required: bool = False) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": required, "description": description,
                "schema": string(minLength=1)}

    return {"/preflight": {"get": {
        "tags": ["restores"], "operationId": "preflight", "summary": "A restore's pre-flight, nothing restored",
        "description": "The checks a restore runs before validating (docs/preflight.md); 200 whatever they find: "
                       "ok is false when a finding blocks.",
        "parameters": [query("backupInstance", "the backup instance's ARM id", True),
                       query("containerUrl", "the target container (RESTORE_TARGET_ALLOWLIST)", True),
                       query("recoveryPoint", "latest (default) or a recovery point id"),
                       query("loadServer", "a flexible server's ARM id to load into (LOAD_TARGET_ALLOWLIST)")],
        "responses": {
            "200": _json("the findings", obj({
                "backupInstance": string(), "containerUrl": string(), "recoveryPoint": string(),
                "loadServer": nullable(string()), "ok": {"type": "boolean"},
                "findings": {"type": "array", "items": ref("Finding")}, "blocking": {"type": "integer", "minimum": 0},
                "warnings": {"type": "integer", "minimum": 0}, "armCalls": {"type": "integer", "minimum": 0},
            }, ("backupInstance", "containerUrl", "recoveryPoint", "loadServer", "ok", "findings", "blocking",
                "warnings", "armCalls"))),
            "400": _shared("InvalidParameter"), "401": _shared("Unauthorized"),
            "403": _json("the container or the server is not on its allowlist (code TargetNotAllowed)",
                         ref("ValidationError")),
            "500": _shared("ConfigurationError"),
        }}}}


def _contract_paths() -> dict[str, Any]:
    return {"/openapi.json": {"get": {
        "tags": ["contract"], "operationId": "getOpenApiDocument", "summary": "This document",
        "description": "servers names the host the request came to.",
        "responses": {"200": _json("the OpenAPI 3.1 document", obj(
            {"openapi": string(const=OPENAPI_VERSION), "info": {"type": "object"}, "paths": {"type": "object"}},
            ("openapi", "info", "paths"), open_=True)), "401": _shared("Unauthorized")}}}}
