"""The app answers as its OpenAPI document says: schemathesis fuzzes every operation of the document against the
running app (devhost + emulator + Azurite), and real answers of every kind (a restore running, finished, failed,
with its outcome unknown and cancelled; recovery points and ARM's failures; a recorded drill run and its evidence)
are checked against the document the app serves, which is the one it builds.

Checks: no 500, every status code, content type and body as documented. Seeded and derandomized, so a failure
reproduces; bounded, so the whole file runs in well under a minute on two slow cores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devhost.azurite import Azurite
from pgflex_restore.openapi import EXAMPLE_CONTAINER, openapi_document
from tests.e2e.drill_stack import drill_stack
from tests.e2e.stack import Stack, backup_instance, instance_id, running_stack

pytestmark = pytest.mark.one_mode

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Per operation: its examples, the coverage phase's boundary cases (about 450 requests in all), then MAX_EXAMPLES
# generated requests, valid and invalid ones.
MAX_EXAMPLES = 25
CONFIG = {
    "seed": 18_003,
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none",
                   "with-security-parameters": False},  # the key is sent as a header; a fuzzed code= only 401s
    # Coverage cases with methods the document does not have (TRACE, ...) test the host's routing, which devhost
    # only stands in for (its HTTP server answers 501 to TRACE, where Azure's host has its own answer).
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True, "unexpected-methods": []},
               "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
}

# The document as the app builds it; the other tests check the app serves exactly this one (_served). Schemathesis'
# lazy from_fixture loader, which could fetch it from each test's app, fails under pytest 9 (request.node._nodeid).
contract = schemathesis.openapi.from_dict(openapi_document(), config=SchemathesisConfig.from_dict(CONFIG))


@pytest.fixture
def stack(azurite: Azurite) -> Iterator[Stack]:
    """The app, with the document's example container allowed: the example request and its variations are
    accepted (202) and run, which the emulator's vault may not write to, so they fail at validation."""
    with running_stack(azurite, extra_env={"RESTORE_TARGET_ALLOWLIST": EXAMPLE_CONTAINER}) as running:
        yield running


@contract.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one app per operation, on purpose
def test_every_operation_answers_as_documented(case: Any, stack: Stack) -> None:
    case.call_and_validate(base_url=stack.host.http_base, headers=stack.key, checks=CHECKS, timeout=60)


def _call(schema: Any, stack: Stack, method: str, path: str, *, status: int, **parts: Any) -> Any:
    """One explicit request through the document's operation, validated like the fuzzed ones (a 5xx asked for is
    only checked against its documented form)."""
    case = schema[path][method].Case(**parts)
    checks = CHECKS if status < 500 else [c for c in CHECKS if c is not not_a_server_error]
    reply = case.call_and_validate(headers=stack.key, checks=checks, timeout=60)
    assert reply.status_code == status, reply.text[:500]
    media_type = str(reply.headers.get("content-type") or reply.headers.get("Content-Type"))
    return json.loads(reply.content) if "json" in media_type else reply.text


def _served(stack: Stack) -> Any:
    schema = schemathesis.openapi.from_url(f"{stack.api}/openapi.json", headers=stack.key, timeout=30)
    assert schema.raw_schema == openapi_document(stack.host.http_base)  # served as built, with its own server
    return schema


def test_finished_and_failed_restores_answer_as_documented(azurite: Azurite) -> None:
    failing = backup_instance("pg3", failures={"jobFailAtPercent": 40,
                                               "jobError": {"code": "UserErrorRestoreFailed", "message": "full"}})
    with running_stack(azurite, {"pg1": backup_instance(), "pg3": failing, "pg4": backup_instance("pg4")}) as stack:
        schema = _served(stack)
        # pg4's restore is accepted with an operation URL off ARM: a record with findJob (RestoreOutcomeUnknown),
        # unless a lost delivery (DEVHOST_REDELIVERY) let the re-run find its job.
        stack.emulator.inject_fault("foreign-operation-url", method="POST", path="pg4/restore$",
                                    url="http://127.0.0.1:9")
        for name, request_id, outcome in (("pg1", "done", "succeeded"), ("pg3", "failing", "failed"),
                                          ("pg4", "unknown", "failed|succeeded")):
            started = _call(schema, stack, "POST", "/api/restores", status=202,
                            body=stack.request_body(name, requestId=request_id, target={
                                "containerUrl": stack.container_url, "filePrefix": request_id}))
            stack.host.wait_for(started["restoreId"], timeout=60)
            finished = _call(schema, stack, "GET", "/api/restores/{restoreId}", status=200,
                             path_parameters={"restoreId": started["restoreId"]})
            assert finished["runtimeStatus"] == "Completed", finished
            assert finished["result"]["status"] in outcome.split("|"), finished
            again = _call(schema, stack, "POST", "/api/restores", status=202,
                          body=stack.request_body(name, requestId=request_id))
            assert again["created"] is False and again["restoreId"] == started["restoreId"]
        validated = _call(schema, stack, "POST", "/api/restores", status=202,
                          body=stack.request_body(validateOnly=True, target={
                              "containerUrl": stack.container_url, "filePrefix": "validated"}))
        stack.host.wait_for(validated["restoreId"], timeout=60)
        checked = _call(schema, stack, "GET", "/api/restores/{restoreId}", status=200,
                        path_parameters={"restoreId": validated["restoreId"]})
        assert checked["result"]["status"] == "validated", checked
        _call(schema, stack, "POST", "/api/restores/{restoreId}/cancel", status=409,
              path_parameters={"restoreId": "restore-done"})
        _call(schema, stack, "GET", "/api/restores/{restoreId}", status=404,
              path_parameters={"restoreId": "restore-none"})
        _call(schema, stack, "POST", "/api/restores", status=403, body=stack.request_body(
            target={"containerUrl": "https://other.blob.core.windows.net/elsewhere"}))
        _call(schema, stack, "POST", "/api/restores", status=400, body={"backupInstance": "nope", "x": 1})


def test_a_running_and_a_cancelled_restore_answer_as_documented(azurite: Azurite) -> None:
    """The clock stands still (no auto-advance): the restore waits at its first durable timer until cancelled."""
    with running_stack(azurite, host_options={"auto_advance": False}) as stack:
        schema = _served(stack)
        _call(schema, stack, "POST", "/api/restores", status=202, body=stack.request_body(requestId="long"))
        stack.wait_until(lambda: (stack.get_restore("restore-long")["status"].get("phase") == "validating"))
        during = _call(schema, stack, "GET", "/api/restores/{restoreId}", status=200,
                       path_parameters={"restoreId": "restore-long"})
        assert during["runtimeStatus"] == "Running" and during["result"] is None, during
        cancelled = _call(schema, stack, "POST", "/api/restores/{restoreId}/cancel", status=202,
                          path_parameters={"restoreId": "restore-long"})
        assert cancelled["cancelled"] is True and cancelled["jobId"] is None
        stack.wait_until(lambda: stack.get_restore("restore-long")["runtimeStatus"] == "Terminated")
        ended = _call(schema, stack, "GET", "/api/restores/{restoreId}", status=200,
                      path_parameters={"restoreId": "restore-long"})
        assert ended["result"] is None and "cancelled" in str(ended["output"]), ended


def test_recovery_points_and_their_failures_answer_as_documented(azurite: Azurite) -> None:
    with running_stack(azurite) as stack:
        schema = _served(stack)
        listed = _call(schema, stack, "GET", "/api/recovery-points", status=200,
                       query={"backupInstance": instance_id("pg1"), "before": "2026-11-01T00:00:00Z"})
        assert listed["count"] == len(listed["recoveryPoints"]) > 0
        _call(schema, stack, "GET", "/api/recovery-points", status=404, query={"backupInstance": instance_id("no")})
        _call(schema, stack, "GET", "/api/recovery-points", status=400, query={"backupInstance": "nope"})
        stack.emulator.inject_fault("drop", path="/recoveryPoints")
        dropped = _call(schema, stack, "GET", "/api/recovery-points", status=502,
                        query={"backupInstance": instance_id("pg1")})
        assert dropped["error"]["code"] == "NoResponse", dropped
        stack.emulator.inject_fault("status", status=401, code="InvalidAuthenticationToken", path="/recoveryPoints",
                                    count=2)  # the client retries once with a fresh token
        refused = _call(schema, stack, "GET", "/api/recovery-points", status=502,
                        query={"backupInstance": instance_id("pg1")})
        assert refused["error"]["code"] == "InvalidAuthenticationToken", refused


def test_a_recorded_drill_run_answers_as_documented(azurite: Azurite) -> None:
    with drill_stack(azurite, {"pg1": backup_instance()}) as drills:
        stack = drills.stack
        summary = drills.run(drills.plan())
        run = summary["runId"]
        schema = _served(stack)
        listed = _call(schema, stack, "GET", "/api/drills", status=200, query={"limit": 5})
        assert [r["runId"] for r in listed["runs"]] == [run]
        one = _call(schema, stack, "GET", "/api/drills/{run}", status=200, path_parameters={"run": run})
        assert one["count"] == 1 and one["summary"]["status"] == summary["status"]
        evidence = _call(schema, stack, "GET", "/api/drills/{run}/evidence", status=200,
                         path_parameters={"run": run})
        assert evidence["verification"]["verified"] is True
        csv = _call(schema, stack, "GET", "/api/drills/{run}/evidence", status=200, path_parameters={"run": run},
                    query={"format": "CSV"})
        assert csv.startswith("runId,hash,")
        page = _call(schema, stack, "GET", "/api/drills/dashboard", status=200)
        assert "<html" in page.lower()
        _call(schema, stack, "GET", "/api/drills/{run}", status=404,
              path_parameters={"run": "drill-20200101T000000Z"})


def test_the_document_is_served_under_the_function_key_only(azurite: Azurite) -> None:
    with running_stack(azurite) as stack:
        assert requests.get(f"{stack.api}/openapi.json", timeout=30).status_code == 401
        reply = requests.get(f"{stack.api}/openapi.json", params={"code": stack.host.function_key}, timeout=30)
        assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
        assert json.loads(reply.content)["servers"] == [{"url": stack.host.http_base, "description": "this app"}]
