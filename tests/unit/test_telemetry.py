"""The telemetry module: spans and metrics into in-memory exporters, at most once per restore or drill in a
process, hooks that never raise; and, in fresh interpreters, nothing imported without the setting, and the
Azure Monitor exporter posting to a local ingestion endpoint with it."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from pgflex_restore import telemetry
from tests.telemetry_support import in_memory_telemetry

REPO = Path(__file__).resolve().parents[2]
DP = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
SUMMARY = {
    "restoreId": "restore-t1", "backupInstance": f"{DP}/backupInstances/pg1", "recoveryPoint": "rp-0",
    "status": "failed", "errorCode": "UserErrorX", "jobId": None, "via": "http",
    "startedAt": "2026-11-01T06:00:00.250000Z", "finishedAt": "2026-11-01T06:12:00Z",
    "phases": {"selecting": {"startedAt": "2026-11-01T06:00:00.250000Z", "finishedAt": "2026-11-01T06:00:05Z"},
               "validating": {"startedAt": "2026-11-01T06:00:05Z", "finishedAt": "2026-11-01T06:12:00Z"}},
}
NANOS_0600 = 1_793_512_800 * 10**9  # 2026-11-01T06:00:00Z


def test_a_finished_restore_is_one_trace_of_its_own_emitted_once() -> None:
    with in_memory_telemetry() as seen:
        outer = trace.get_tracer("test").start_span("an activity invocation")
        with trace.use_span(outer, end_on_exit=True):
            assert telemetry.restore_finished(SUMMARY) is True
            assert telemetry.restore_finished(SUMMARY) is False  # re-delivered: nothing twice
        (root,) = seen.spans("restore")
        assert root.parent is None and root.kind == SpanKind.CONSUMER  # not a child of the invocation's span
        assert root.status.status_code == StatusCode.ERROR and root.status.description == "UserErrorX"
        assert (root.start_time, root.end_time) == (NANOS_0600 + 250_000_000, NANOS_0600 + 720 * 10**9)
        assert root.attributes == {"restoreId": "restore-t1", "status": "failed", "errorCode": "UserErrorX",
                                   "backupInstance": f"{DP}/backupInstances/pg1", "recoveryPoint": "rp-0",
                                   "via": "http"}
        children = [s for s in seen.spans() if s.name.startswith("restore.")]
        assert [s.name for s in sorted(children, key=lambda s: s.start_time or 0)] == [
            "restore.selecting", "restore.validating"]
        assert root.context is not None
        for child in children:
            assert child.parent is not None and child.parent.span_id == root.context.span_id
            assert child.context is not None and child.context.trace_id == root.context.trace_id
            assert child.attributes is not None and child.attributes["restoreId"] == "restore-t1"
        assert [s.status.status_code for s in children] == [StatusCode.UNSET, StatusCode.ERROR]
        assert seen.histogram("pgflex.restore.phase.duration", "phase") == {
            "selecting": (1, 4.75), "validating": (1, 715.0)}


def test_arm_calls_are_counted_by_method_status_class_and_operation_and_429s_apart() -> None:
    with in_memory_telemetry() as seen:
        for method, path, status in (("GET", "/backupJobs/j1", 200), ("GET", "/backupJobs/j1", 429),
                                     ("POST", "/backupInstances/pg1/restore", 202),
                                     ("POST", "/backupInstances/pg1/restore", None)):
            telemetry.arm_call(method, f"https://management.azure.com{DP}{path}?api-version=2026-06-01", status)
        assert seen.total("pgflex.arm.calls") == 4
        assert seen.total("pgflex.arm.calls", method="GET", statusClass="2xx",
                          operation="Microsoft.DataProtection/backupVaults/backupJobs") == 1
        assert seen.total("pgflex.arm.calls", statusClass="none") == 1
        assert seen.total("pgflex.arm.throttled") == 1
        assert seen.total("pgflex.arm.throttled", operation="Microsoft.DataProtection/backupVaults/backupJobs") == 1


def test_drill_verdicts_by_server_and_their_rto() -> None:
    record = {"runId": "drill-1", "backupInstance": "bi-1", "server": "pg-a", "status": "passed",
              "startedAt": "2026-11-01T03:00:00Z", "finishedAt": "2026-11-01T03:05:00Z"}
    with in_memory_telemetry() as seen:
        assert telemetry.drill_recorded(record) and not telemetry.drill_recorded(record)
        assert telemetry.drill_recorded({**record, "backupInstance": "bi-2", "server": "pg-b", "status": "failed",
                                         "reason": "dump-truncated"})
        assert seen.total("pgflex.drill.verdicts", verdict="passed", server="pg-a") == 1
        assert seen.total("pgflex.drill.verdicts", verdict="failed", reason="dump-truncated") == 1
        assert seen.histogram("pgflex.drill.rto", "server") == {"pg-a": (1, 300.0)}


def test_the_hooks_never_raise(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    with in_memory_telemetry() as seen, caplog.at_level(logging.WARNING, logger="pgflex_restore.telemetry"):
        assert telemetry.restore_finished({"restoreId": "no-times", "status": "succeeded"}) is False
        assert "restore telemetry not emitted: KeyError" in caplog.text
        monkeypatch.setattr(telemetry.Telemetry, "arm_call", lambda *a: 1 / 0)
        telemetry.arm_call("GET", "https://management.azure.com/x", 200)
        assert seen.spans() == []


def test_nothing_is_emitted_without_the_setting() -> None:
    assert telemetry.current() is None
    assert telemetry.restore_finished(SUMMARY) is False and telemetry.drill_recorded({"status": "passed"}) is False
    telemetry.arm_call("GET", "https://management.azure.com/x", 200)


# In a fresh interpreter: the app, a real ARM request through the client's one request path, and every hook.
_WITHOUT_SETTING = """
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Jobs(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"id": self.path.split("?")[0], "properties": {"status": "Completed"}}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Jobs)
threading.Thread(target=server.serve_forever, daemon=True).start()
import function_app
from opentelemetry import trace
from pgflex_restore import telemetry
from pgflex_restore.client import DataProtectionClient
from pgflex_restore.ids import VaultId

class Token:
    token = "t"

class Credential:
    def get_token(self, *scopes, **kwargs):
        return Token()

client = DataProtectionClient(f"http://127.0.0.1:{server.server_address[1]}", "2026-06-01", Credential())
vault = VaultId.parse("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1")
client.get_job(vault, "11111111-2222-3333-4444-555555555555")
emitted = [telemetry.restore_finished({"restoreId": "r"}), telemetry.drill_recorded({"status": "passed"})]
loaded = sorted(m for m in sys.modules if m.startswith(("azure.monitor", "opentelemetry.sdk", "opentelemetry.metrics")))
print(json.dumps({"emitted": emitted, "current": repr(telemetry.current()), "loaded": loaded,
                  "provider": type(trace.get_tracer_provider()).__name__}))
"""


# The exporter's own usage statistics and remote configuration go to Microsoft's hosts: off in a test.
OFFLINE = {"APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true", "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
           "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true"}


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    return {**env, "PYTHONPATH": str(REPO), **extra}


def test_without_the_setting_no_exporter_is_configured_or_even_imported() -> None:
    done = subprocess.run([sys.executable, "-c", _WITHOUT_SETTING], cwd=REPO, env=_child_env(), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"emitted": [False, False], "current": "None", "loaded": [], "provider": "ProxyTracerProvider"}


# With the setting: the distro configured by the app's own path, every socket outside loopback refused (and noted).
_WITH_SETTING = """
import json, socket, sys
blocked = []
_connect, _resolve = socket.socket.connect, socket.getaddrinfo

def connect(sock, address):
    host = address[0] if isinstance(address, tuple) else ""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not (host.startswith("127.") or host == "::1"):
        blocked.append(str(address))
        raise OSError("not loopback")
    return _connect(sock, address)

def resolve(host, *args, **kwargs):
    if host not in ("127.0.0.1", "localhost", "::1", None):
        blocked.append(str(host))
        raise socket.gaierror("not loopback")
    return _resolve(host, *args, **kwargs)

socket.socket.connect, socket.getaddrinfo = connect, resolve
from pgflex_restore import telemetry
summary = json.loads(sys.argv[1])
emitted = telemetry.restore_finished(summary)
telemetry.arm_call("GET", "https://management.azure.com/subscriptions/s1/resourceGroups/rg/providers/"
                   "Microsoft.DataProtection/backupVaults/v1/backupJobs/j1", 429)
from opentelemetry import metrics, trace
flushed = [trace.get_tracer_provider().force_flush(20000), metrics.get_meter_provider().force_flush(20000)]
print(json.dumps({"emitted": emitted, "flushed": flushed, "blocked": blocked}))
"""


class _Ingestion(BaseHTTPRequestHandler):
    """Application Insights' track endpoint: accepts every envelope, and keeps them."""

    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        envelopes = json.loads(body)
        self.received.extend((self.path, e) for e in envelopes)
        answer = json.dumps({"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes), "errors": []})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ingestion() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    received: list[tuple[str, dict[str, Any]]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Ingestion", (_Ingestion,), {"received": received}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", received
    finally:
        server.shutdown()
        server.server_close()


def test_with_the_setting_the_azure_monitor_exporter_posts_to_the_ingestion_endpoint(
        ingestion: tuple[str, list[tuple[str, dict[str, Any]]]], tmp_path: Path) -> None:
    url, received = ingestion
    connection = f"InstrumentationKey=00000000-0000-4000-8000-000000000001;IngestionEndpoint={url};LiveEndpoint={url}"
    env = _child_env(APPLICATIONINSIGHTS_CONNECTION_STRING=connection, TMPDIR=str(tmp_path), **OFFLINE)
    done = subprocess.run([sys.executable, "-c", _WITH_SETTING, json.dumps(SUMMARY)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"emitted": True, "flushed": [True, True],
                                                                "blocked": []}
    assert {path.lstrip("/") for path, _ in received} == {"v2.1/track"}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for _, envelope in received:
        assert envelope["iKey"] == "00000000-0000-4000-8000-000000000001"
        by_type.setdefault(envelope["data"]["baseType"], []).append(envelope["data"]["baseData"])
    (request,) = by_type["RequestData"]
    assert request["name"] == "restore" and request["success"] is False
    assert request["properties"]["restoreId"] == "restore-t1" and request["properties"]["errorCode"] == "UserErrorX"
    assert sorted(d["name"] for d in by_type["RemoteDependencyData"]) == ["restore.selecting", "restore.validating"]
    metrics = {m["name"] for data in by_type["MetricData"] for m in data["metrics"]}
    assert {"pgflex.restore.phase.duration", "pgflex.arm.calls", "pgflex.arm.throttled"} <= metrics
    assert "MessageData" not in by_type  # the Functions host sends the logs; the app does not send them again


def test_a_connection_string_the_exporter_refuses_turns_telemetry_off_and_says_so() -> None:
    code = ("from pgflex_restore import telemetry; "
            "print(telemetry.restore_finished({'restoreId': 'r'}), telemetry.current())")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=_child_env(APPLICATIONINSIGHTS_CONNECTION_STRING="not a connection string", **OFFLINE),
                          check=False)
    assert done.returncode == 0 and done.stdout.split() == ["False", "None"], done.stderr[-3000:]
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING: telemetry is off: ValueError" in done.stderr
