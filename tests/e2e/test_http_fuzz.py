"""Every HTTP route, fuzzed through the running app (devhost + emulator + Azurite): never a 500, and every 4xx
names the field it is about. Seeded (derandomized), so a failure reproduces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devhost.azurite import Azurite
from tests.e2e.stack import Stack, instance_id, running_stack

pytestmark = pytest.mark.one_mode

QUERY_NAMES = ("backupInstance", "before", "limit", "format", "code", "x", "containerUrl", "recoveryPoint",
               "loadServer")
_text = st.text(max_size=40) | st.sampled_from(["latest", "drill-20261101T020000Z", "restore-x", "%", "a\nb",
                                               "²", "-1", "csv", "dashboard", "\u2028", "x" * 500])
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12), inner, max_size=4), max_leaves=16)


@pytest.fixture
def stack(azurite: Azurite) -> Iterator[Stack]:
    with running_stack(azurite) as running:
        yield running


def _valid_body(stack: Stack) -> dict[str, Any]:
    return {"backupInstance": instance_id("pg1"), "target": {"containerUrl": stack.container_url},
            "validateOnly": True}


@st.composite
def bodies(draw: st.DrawFn, stack: Stack) -> bytes:
    """Raw JSON, broken JSON, deep or big documents, and valid requests with one field replaced."""
    kind = draw(st.sampled_from(["json", "raw", "deep", "mutated", "mutated", "nested"]))
    if kind == "json":
        return json.dumps(draw(_json)).encode()
    if kind == "raw":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        depth = draw(st.integers(1, 5000))
        return ("[" * depth + "]" * depth).encode()
    body = _valid_body(stack)
    if kind == "nested":
        body["target"][draw(st.sampled_from(["containerUrl", "filePrefix", "extra"]))] = draw(_json)
    else:
        body[draw(st.sampled_from(["backupInstance", "recoveryPoint", "before", "requestId", "load", "dataStore",
                                   "rehydrationRetentionDuration", "validateOnly", "restoreLocation", "x"]))] = \
            draw(_json)
    return json.dumps(body).encode()


def _names_a_field(reply: requests.Response) -> bool:
    try:
        error = reply.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    details = error.get("details") or []
    return bool(error.get("target")) or (bool(details) and all(d.get("field") for d in details))


def _routes(stack: Stack) -> list[tuple[str, str]]:
    """(method, template) of every registered HTTP route: a new route is fuzzed without touching this test."""
    return sorted((method, route.template) for route in stack.host.http.routes for method in route.methods or {"GET"})


def test_every_route_registered_is_fuzzed(stack: Stack) -> None:
    templates = {template for _, template in _routes(stack)}
    assert {"restores", "restores/{restoreId}", "restores/{restoreId}/cancel", "recovery-points", "drills",
            "drills/dashboard", "drills/{run}", "drills/{run}/evidence", "openapi.json", "preflight"} <= templates


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_no_input_reaches_a_500_and_every_4xx_names_a_field(stack: Stack, data: st.DataObject) -> None:
    method, template = data.draw(st.sampled_from(_routes(stack)))
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        value = data.draw(_text.filter(lambda v: v not in ("", ".", "..")))
        path = path[:start] + quote(value, safe="") + path[end + 1:]
    query = data.draw(st.dictionaries(st.sampled_from(QUERY_NAMES), _text, max_size=3))
    if template in ("recovery-points", "preflight") and data.draw(st.booleans()):
        query["backupInstance"] = instance_id(data.draw(st.sampled_from(["pg1", "nope"])))
    if template == "preflight" and data.draw(st.booleans()):
        query["containerUrl"] = data.draw(st.sampled_from([stack.container_url, stack.container_url + "x"]))
    query.pop("code", None)  # the function key goes in the header
    body = data.draw(bodies(stack)) if method == "POST" else None
    reply = requests.request(method, f"{stack.api}/{path}", params=query, data=body, timeout=60,
                             headers={**stack.key, "Content-Type": "application/json"})
    assert reply.status_code < 500, (method, path, query, body and body[:200], reply.status_code, reply.text[:300])
    if 400 <= reply.status_code < 500:
        assert _names_a_field(reply), (method, path, query, reply.status_code, reply.text[:300])
    assert len(reply.content) < 64 * 1024 or template.startswith("drills")
