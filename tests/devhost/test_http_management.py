"""HTTP triggers and the durable management API, through real sockets and the real DurableOrchestrationClient."""

from __future__ import annotations

import json
import threading

from devhost import DevHost


def post_json(host: DevHost, path: str, body: object = None) -> tuple[int, dict[str, str], object]:
    status, headers, raw = host.call_http("POST", path, body)
    return status, headers, json.loads(raw) if raw else None


def get_json(host: DevHost, path: str, **kwargs: object) -> tuple[int, object]:
    status, _, raw = host.call_http("GET", path, **kwargs)  # type: ignore[arg-type]
    return status, json.loads(raw) if raw else None


def test_http_starter_returns_working_check_status_urls(host: DevHost) -> None:
    status, headers, body = post_json(host, "/api/orchestrators/hello_sequence?instance_id=abc", ["Rome"])
    assert status == 202
    assert isinstance(body, dict) and body["id"] == "abc"
    assert headers["Location"] == body["statusQueryGetUri"]
    assert body["statusQueryGetUri"].startswith(host.http_base + "/runtime/webhooks/durabletask/instances/abc?")
    host.wait_for("abc")
    code, status_body = get_json(host, body["statusQueryGetUri"], key=False)
    assert code == 200
    assert status_body["runtimeStatus"] == "Completed" and status_body["output"] == ["Hello Rome!"]
    assert status_body["input"] == '["Rome"]'  # start_new double-encodes; the host keeps the JSON text
    assert host.get("abc").input == ["Rome"]
    # the webhooks need the system key, like the real host
    bare = body["statusQueryGetUri"].split("?")[0]
    assert host.call_http("GET", bare, key=False)[0] == 401


def test_client_status_with_history_and_not_found(host: DevHost) -> None:
    post_json(host, "/api/orchestrators/hello_sequence?instance_id=h1", ["Oslo"])
    host.wait_for("h1")
    code, status = get_json(host, "/api/ops/status/h1")
    assert code == 200 and status["runtimeStatus"] == "Completed"
    events = [e["EventType"] for e in status["historyEvents"]]
    assert events == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    assert status["historyEvents"][1]["FunctionName"] == "say_hello"
    assert status["historyEvents"][1]["Result"] == '"Hello Oslo!"'
    assert get_json(host, "/api/ops/status/nobody")[1] is None  # a falsy status object, as for the real host


def test_start_running_id_fails_and_finished_id_restarts(host: DevHost) -> None:
    assert post_json(host, "/api/orchestrators/wait_forever?instance_id=one")[0] == 202
    host.wait_idle()
    status, _, body = post_json(host, "/api/orchestrators/wait_forever?instance_id=one")
    assert status == 409 and "already exists" in body["error"]
    assert host.get("one").custom_status == "waiting"
    post_json(host, "/api/ops/terminate/one")
    assert host.wait_for("one").runtime_status == "Terminated"
    assert host.get("one").output == "stopped by test"
    assert post_json(host, "/api/orchestrators/hello_sequence?instance_id=one", ["B"])[0] == 202
    assert host.wait_for("one").output == ["Hello B!"]
    status, _, body = post_json(host, "/api/orchestrators/no_such_orchestrator")
    assert status == 409 and "doesn't exist" in body["error"]


def test_raise_event_is_double_encoded_like_production(host: DevHost) -> None:
    post_json(host, "/api/orchestrators/wait_forever?instance_id=ev")
    host.wait_idle()
    assert post_json(host, "/api/ops/raise/ev", {"v": 1})[0] == 200
    assert host.wait_for("ev").output == '{"v": 1}'  # a string holding JSON (SDK issue #295)
    raised = post_json(host, "/api/ops/raise/ev", {"v": 2})
    assert raised[0] == 500  # the client raises: the instance is gone (410)


def test_send_event_webhook_delivers_parsed_json(host: DevHost) -> None:
    _, _, body = post_json(host, "/api/orchestrators/wait_forever?instance_id=wh")
    host.wait_idle()
    url = body["sendEventPostUri"].replace("{eventName}", "go")
    status, _, _ = host.call_http("POST", url, {"v": 3}, key=False)
    assert status == 202
    assert host.wait_for("wh").output == {"v": 3}
    terminate = body["terminatePostUri"].replace("{text}", "late")
    assert host.call_http("POST", terminate, key=False)[0] == 410


def test_list_and_purge(host: DevHost) -> None:
    for iid in ("r1", "r2"):
        post_json(host, f"/api/orchestrators/wait_forever?instance_id={iid}")
    post_json(host, "/api/orchestrators/hello_sequence?instance_id=done1", ["x"])
    post_json(host, "/api/orchestrators/hello_sequence?instance_id=done2", ["y"])
    host.wait_for("done1")
    host.wait_for("done2")
    host.wait_idle()
    assert get_json(host, "/api/ops/list")[1] == ["r1", "r2"]
    assert get_json(host, "/api/ops/all")[1] == ["done1", "done2", "r1", "r2"]
    assert post_json(host, "/api/ops/purge/done1")[2] == 1
    assert post_json(host, "/api/ops/purge/done1")[2] == 0
    assert post_json(host, "/api/ops/purge/r1")[2] == 0  # running instances are not purged
    assert post_json(host, "/api/ops/purge_by")[2] == 1
    assert sorted(i.instance_id for i in host.instances()) == ["r1", "r2"]


def test_management_payload_and_client_binding(host: DevHost) -> None:
    payload = get_json(host, "/api/ops/payload/xyz")[1]
    assert set(payload) == {"id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "rewindPostUri",
                            "purgeHistoryDeleteUri", "restartPostUri", "suspendPostUri", "resumePostUri"}
    assert payload["id"] == "xyz" and "taskHub=DevhostTests" in payload["statusQueryGetUri"]
    binding = json.loads(host.urls.client_binding())
    assert binding["taskHubName"] == "DevhostTests"
    assert binding["rpcBaseUrl"].endswith("/durabletask/") and binding["rpcBaseUrl"] == host.rpc_base_url
    assert binding["managementUrls"]["id"] == "INSTANCEID"
    for key in ("creationUrls", "baseUrl", "requiredQueryStringParameters", "httpBaseUrl",
                "maxGrpcMessageSizeInBytes", "grpcHttpClientTimeout"):
        assert key in binding


def test_function_keys_routes_and_methods(host: DevHost) -> None:
    assert host.call_http("GET", "/api/secure/7", key=False)[0] == 401
    assert host.call_http("GET", "/api/secure/7?code=wrong", key=False)[0] == 401
    status, _, raw = host.call_http("GET", f"/api/secure/7?code={host.function_key}", key=False)
    assert status == 200 and json.loads(raw) == {"item": "7", "function": "secure"}
    status, headers, raw = host.call_http("GET", "/api/ping?who=me", key=False)
    assert (status, raw, headers["X-Devhost"]) == (200, b"pong me", "yes")
    assert host.call_http("POST", "/api/ping", key=False)[0] == 404  # method not allowed by the route
    assert host.call_http("GET", "/api/nowhere")[0] == 404


def test_webhook_errors_use_the_extensions_status_codes(host: DevHost) -> None:
    base = f"/runtime/webhooks/durabletask/instances/ghost?code={host.system_key}"
    assert host.call_http("GET", base, key=False)[0] == 404
    assert host.call_http("POST", base.replace("ghost?", "ghost/terminate?"), key=False)[0] == 404
    assert host.call_http("POST", base.replace("ghost?", "ghost/raiseEvent/go?"), {}, key=False)[0] == 404
    assert host.call_http("POST", base.replace("ghost?", "ghost/rewind?"), key=False)[0] == 501
    start = f"/runtime/webhooks/durabletask/orchestrators/hello_sequence/@bad?code={host.system_key}"
    status, _, raw = host.call_http("POST", start, ["x"], key=False)
    assert status == 400 and "must not start with @" in json.loads(raw)["ExceptionMessage"]
    start = f"/runtime/webhooks/durabletask/orchestrators/echo_orch/direct?code={host.system_key}"
    status, headers, raw = host.call_http("POST", start, {"a": [1]}, key=False)
    assert status == 202 and json.loads(raw)["id"] == "direct"
    assert host.wait_for("direct").output == {"a": [1]}  # a raw JSON body is the input itself
    code, body = get_json(host, headers["Location"], key=False)
    assert code == 200 and body["input"] == {"a": [1]}


def test_chunked_request_bodies_reach_the_function(host: DevHost) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", int(host.http_base.rsplit(":", 1)[1]), timeout=10)
    conn.putrequest("POST", "/api/orchestrators/echo_orch?instance_id=chunky")
    conn.putheader("x-functions-key", host.function_key)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for piece in (b'{"chun', b'ked": true}'):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    assert conn.getresponse().status == 202
    conn.close()
    assert host.wait_for("chunky").output == {"chunked": True}


def test_suspend_holds_events_until_resume_and_restart_reuses_the_input(host: DevHost) -> None:
    post_json(host, "/api/orchestrators/wait_forever?instance_id=sus")
    host.wait_idle()
    assert post_json(host, "/api/ops/suspend/sus")[0] == 200
    assert get_json(host, "/api/ops/status/sus")[1]["runtimeStatus"] == "Suspended"
    assert post_json(host, "/api/ops/raise/sus", ["held"])[0] == 200
    host.wait_idle()
    assert host.get("sus").runtime_status == "Suspended"  # the event waits
    assert post_json(host, "/api/ops/resume/sus")[0] == 200
    state = host.wait_for("sus")
    assert state.output == '["held"]'
    kinds = state.event_types()
    assert kinds.index("ExecutionSuspended") < kinds.index("ExecutionResumed") < kinds.index("EventRaised")
    post_json(host, "/api/orchestrators/echo_orch?instance_id=again", {"k": "v"})
    host.wait_for("again")
    assert post_json(host, "/api/ops/restart/again")[2] == "again"
    assert host.wait_for("again").output == {"k": "v"}


def test_a_burst_of_concurrent_connections_is_answered_without_resets(host: DevHost) -> None:
    """Fifty callers connect at once: every one gets its answer (the host queues connections, it never resets)."""
    import socket
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlsplit

    target = urlsplit(host.http_base)
    barrier = threading.Barrier(50)

    def call(_: int) -> bytes:
        with socket.create_connection((target.hostname or "127.0.0.1", target.port or 80), timeout=30) as sock:
            barrier.wait(timeout=30)
            sock.sendall(b"GET /api/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            return answer

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(call, range(50)))
    assert all(a.startswith(b"HTTP/1.") and b" 200 " in a.split(b"\r\n", 1)[0] for a in answers)
