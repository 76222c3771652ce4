"""The OpenAPI document (pgflex_restore/openapi.py) describes exactly the routes the app registers, is a valid
OpenAPI 3.1 document, and its schemas accept what the models and builders really produce.

The running app is fuzzed against the document in tests/e2e/test_openapi_contract.py; this pins down the cheap
parts in milliseconds.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
import jsonschema
import jsonschema_rs
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31

from devhost.http_triggers import build_routes
from devhost.indexer import import_app, index_app, load_host_settings
from pgflex_restore.drills.evidence import build_document, verification
from pgflex_restore.errors import (
    MAX_DETAILS,
    ApiError,
    AuthError,
    DataProtectionError,
    NotFoundError,
    RequestValidationError,
    ThrottledError,
    TransportError,
)
from pgflex_restore.inputs import read_document
from pgflex_restore.load_spec import LOAD_FIELDS
from pgflex_restore.models import TOP_LEVEL_FIELDS, RestoreRequest
from pgflex_restore.openapi import ROUTE_PREFIX, openapi_document
from pgflex_restore.parsing import parse_recovery_point

REPO = Path(__file__).resolve().parents[2]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CONTAINER = "https://acct.blob.core.windows.net/restores"
SERVER = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-target"
INSTANCE = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1/backupInstances/pg1"
DOCUMENT = openapi_document()


def conforms(name: str, instance: Any) -> list[str]:
    """Why ``instance`` does not match components.schemas[name] (formats checked, as schemathesis does)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": DOCUMENT["components"]}
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    return [error.message for error in validator.iter_errors(instance)]


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """function_app's HTTP routes, indexed the way devhost indexes it (the worker's discovery, then host.json)."""
    monkeypatch.setenv("TASKHUB_NAME", "openapihub")  # host.json's hubName resolves it
    app, app_dir = import_app("function_app")
    prefix = load_host_settings(app_dir).route_prefix
    assert f"/{prefix}" == ROUTE_PREFIX, "host.json's routePrefix changed: change ROUTE_PREFIX in openapi.py"
    yield build_routes(index_app(app))


def test_the_document_describes_exactly_the_registered_routes(registered: list[Any]) -> None:
    """A route added without a description (or a description left behind by a removed route) fails here."""
    assert all(route.methods for route in registered), "a route that takes every method cannot be described"
    routes = {(method, f"{ROUTE_PREFIX}/{route.template}") for route in registered for method in route.methods}
    described = {(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item
                 if method in METHODS}
    assert described == routes


def test_every_route_needs_the_function_key_and_the_document_says_so(registered: list[Any]) -> None:
    assert {route.auth_level for route in registered} == {"FUNCTION"}
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert {(s["in"], s["name"]) for s in schemes.values()} == {("header", "x-functions-key"), ("query", "code")}
    assert DOCUMENT["security"] == [{name: []} for name in schemes]
    operations = [op for item in DOCUMENT["paths"].values() for method, op in item.items() if method in METHODS]
    assert all("security" not in op for op in operations)  # none opts out of the key
    assert all(op["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"} for op in operations)


def test_the_document_is_valid_openapi_3_1_with_valid_json_schemas() -> None:
    jsonschema.Draft202012Validator(OPENAPI_31).validate(DOCUMENT)
    for schema in DOCUMENT["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    text = json.dumps(DOCUMENT)
    refs = {part.split('"')[0] for part in text.split('"$ref": "#/components/')[1:]}
    for ref in refs:
        kind, name = ref.split("/")
        assert name in DOCUMENT["components"][kind], ref
    assert len(text) < 64 * 1024  # the HTTP fuzz test holds every non-drill answer under 64 KiB
    assert json.loads(text) == DOCUMENT  # plain JSON: no tuples, no None keys


def test_versions_and_servers() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert DOCUMENT["info"]["version"] == project["version"]
    assert openapi_document("https://app.example.net/")["servers"] == [
        {"url": "https://app.example.net", "description": "this app"}]


def test_the_request_schema_has_every_field_the_parser_reads() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert set(schemas["RestoreRequest"]["properties"]) == TOP_LEVEL_FIELDS
    assert set(schemas["LoadSpec"]["properties"]) == LOAD_FIELDS
    assert schemas["RestoreRequest"]["additionalProperties"] is False  # unknown fields are refused


def _request(**extra: Any) -> dict[str, Any]:
    return {"backupInstance": INSTANCE, "target": {"containerUrl": CONTAINER, "filePrefix": "p/x"}, **extra}


@pytest.mark.parametrize("body", [
    _request(),
    _request(recoveryPoint="latest", before="2026-11-01T02:00:00Z", requestId="incident:42", validateOnly=False,
             restoreLocation="westeurope", dataStore="ArchiveStore", rehydrationPriority="High",
             rehydrationRetentionDuration="P30D",
             load={"server": SERVER, "databases": {"sales": "sales_restored"}, "onExists": "replace",
                   "roles": "skip", "jobs": 8}),
    _request(recoveryPoint=None, before=None, dataStore=None, load=None, validateOnly=None),
    {"backupInstance": {"subscriptionId": "s1", "resourceGroup": "rg", "vaultName": "v1",
                        "backupInstanceName": "pg1"}, "target": {"containerUrl": CONTAINER}, "recoveryPoint": "rp-3"},
])
def test_requests_the_app_accepts_match_the_request_schema(body: dict[str, Any]) -> None:
    parsed = RestoreRequest.from_dict(body, allowlist=[CONTAINER], load_allowlist=[SERVER])
    assert conforms("RestoreRequest", body) == []
    assert conforms("RestoreRequest", parsed.to_dict()) == []  # the normal form too (queue records, plans)


def _refusal(raw: bytes) -> dict[str, Any]:
    try:
        RestoreRequest.from_dict(read_document(raw, "body"), allowlist=[CONTAINER], load_allowlist=[])
    except RequestValidationError as exc:
        return exc.to_dict()
    raise AssertionError("accepted")


@pytest.mark.parametrize("raw", [
    b"", b"\xff", b"[1", b'{"a": 1, "a": 2}', b"[" * 40 + b"]" * 40, b"x" * 70_000, b"null",
    json.dumps({f"unknown{i}": i for i in range(MAX_DETAILS + 5)}).encode(),  # more problems than are listed
    json.dumps({"backupInstance": {"x": 1}, "target": {"containerUrl": "ftp://x", "y": 2}, "load": []}).encode(),
    json.dumps(_request(target={"containerUrl": "https://other.blob.core.windows.net/c"},
                        load={"server": SERVER})).encode(),  # TargetNotAllowed twice: the 403 body
    json.dumps({"backup\nInstance": "a\u2028b"}).encode(),
])
def test_every_refusal_matches_the_validation_error_schema(raw: bytes) -> None:
    body = _refusal(raw)
    assert conforms("ValidationError", body) == [], body


def test_recovery_points_and_evidence_match_their_schemas() -> None:
    point = parse_recovery_point({"name": "rp-1", "id": f"{INSTANCE}/recoveryPoints/rp-1", "properties": {
        "objectType": "AzureBackupDiscreteRecoveryPoint", "recoveryPointTime": "2026-11-01T01:00:00.1234567Z",
        "recoveryPointDataStoresDetails": [{"type": "VaultStore", "state": "Committed", "visible": True}]}})
    assert point is not None and conforms("RecoveryPoint", point.to_dict()) == []
    instance = {"server": "pg1", "backupInstance": INSTANCE, "status": "passed", "recoveryPoint": {"id": "rp-1",
                "time": "2026-11-01T01:00:00Z"}, "pointAgeSeconds": 3600, "phases": {"select": 1.5, "total": 99},
                "rto": {"seconds": 99, "target": 3600, "breached": False}, "checks": [{"name": "files"}],
                "files": [{"name": "pg1_appdb.sql", "size": 10, "sha256": "ab"}]}
    document = build_document({"runId": "drill-20261101T030000Z", "startedAt": "s", "finishedAt": None},
                               [instance, {"status": 1, "phases": "x", "files": [{}]}], None)
    document["verification"] = verification(None, document)
    assert conforms("EvidenceDocument", document) == []


def test_the_route_serves_the_document_with_its_own_server() -> None:
    from triggers.openapi_http import openapi_http

    request = func.HttpRequest("GET", "https://app.example.net/api/openapi.json?code=k", body=b"", headers={})
    reply = openapi_http(request)
    assert reply.status_code == 200 and reply.mimetype == "application/json"
    assert json.loads(reply.get_body()) == openapi_document("https://app.example.net")


def test_restore_times_are_sent_in_the_wire_form() -> None:
    """Regression: createdTime and lastUpdatedTime were str(datetime), '2026-11-01 06:00:00+00:00' (not RFC 3339)."""
    from triggers.http import _instant

    assert _instant(datetime(2026, 11, 1, 6, 0, tzinfo=UTC)) == "2026-11-01T06:00:00Z"
    assert _instant(datetime(2026, 11, 1, 6, 0, 0, 5000)) == "2026-11-01T06:00:00.005000Z"  # naive: the SDK's UTC
    assert _instant(None) is None


@pytest.mark.parametrize(("error", "status", "code"), [
    (TransportError("GET x got no response", request_sent=True), 502, "NoResponse"),  # had no code at all
    (DataProtectionError("an operation URL off ARM"), 502, "DataProtectionError"),
    (AuthError(status=401, code="InvalidAuthenticationToken", message="expired"), 502, "InvalidAuthenticationToken"),
    (AuthError(status=403, code="AuthorizationFailed", message="no role"), 403, "AuthorizationFailed"),
    (NotFoundError(status=404, code="ResourceNotFound", message="gone", details=[{"code": "x"}]), 404,
     "ResourceNotFound"),
    (ApiError(status=400, code="BadRequest", message="no"), 400, "BadRequest"),
    (ThrottledError(status=429, code="TooManyRequests", message="slow down", retry_after="7"), 502,
     "TooManyRequests"),
])
def test_an_arm_failure_of_the_recovery_points_route_keeps_arms_shape(error: DataProtectionError, status: int,
                                                                      code: str) -> None:
    """Regression: an error without an ARM code was answered without error.code; ARM refusing the app's token was
    answered 401, the host's answer for a missing function key."""
    from triggers.http import _upstream_error

    reply = _upstream_error(error)
    body = json.loads(reply.get_body())
    assert (reply.status_code, body["error"]["code"]) == (status, code)
    assert conforms("UpstreamError", body) == []
