"""Injected faults (429, 5xx bursts, dropped connections, slow answers) and the per-subscription throttle."""

from __future__ import annotations

import time

import pytest
import requests

from emulator import EmulatorServer, VirtualClock
from tests.emulator.emusupport import BI_PATH, BV_PATH, SUB, Arm, restore_body, scenario


def test_429_for_the_next_n_matching_requests(arm: Arm) -> None:
    arm.server.inject_fault("status", count=2, status=429, retry_after=7, path="/recoveryPoints$")
    assert arm.get(f"{BV_PATH}/backupInstances").status_code == 200  # does not match
    for _ in range(2):
        answer = arm.get(f"{BI_PATH}/recoveryPoints")
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "7"
        assert answer.json()["error"]["code"] == "TooManyRequests"
        assert answer.headers["x-ms-request-id"]
    assert arm.get(f"{BI_PATH}/recoveryPoints").status_code == 200
    assert [r["status"] for r in arm.server.requests[-3:]] == [429, 429, 200]
    assert arm.server.requests[-2]["fault"] == "status"


def test_5xx_burst_only_for_the_method_given(arm: Arm) -> None:
    arm.server.inject_fault("status", count=3, status=503, method="POST")
    assert arm.get(f"{BV_PATH}/backupInstances").status_code == 200
    codes = [arm.post(f"{BI_PATH}/validateRestore", json={}).status_code for _ in range(4)]
    assert codes == [503, 503, 503, 400]
    arm.server.inject_fault("status", status=500)
    answer = arm.get(f"{BV_PATH}/backupInstances")
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "InternalServerError"


def test_dropped_connection_before_processing_leaves_no_job(arm: Arm) -> None:
    rp = arm.latest_rp()
    arm.server.inject_fault("drop", path="/restore$")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{arm.server.url}{BI_PATH}/restore", params={"api-version": "2026-06-01"},
                      json=restore_body(rp), headers={"Authorization": f"Bearer {arm.token}"}, timeout=10)
    assert arm.server.jobs() == []
    assert arm.server.requests[-1]["status"] is None


def test_dropped_connection_after_processing_still_starts_the_restore(arm: Arm) -> None:
    rp = arm.latest_rp()
    arm.server.inject_fault("drop-after-processing", path="/restore$")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{arm.server.url}{BI_PATH}/restore", params={"api-version": "2026-06-01"},
                      json=restore_body(rp), headers={"Authorization": f"Bearer {arm.token}"}, timeout=10)
    jobs = arm.server.jobs()
    assert len(jobs) == 1 and jobs[0]["status"] == "InProgress"
    listed = arm.get(f"{BV_PATH}/backupJobs").json()["value"]
    assert listed[0]["properties"]["status"] == "InProgress"
    assert arm.post(f"{BI_PATH}/restore", json=restore_body(rp)).status_code == 409


def test_slow_response(arm: Arm) -> None:
    arm.server.inject_fault("delay", delay_seconds=0.3)
    began = time.monotonic()
    assert arm.get(f"{BV_PATH}/backupInstances").status_code == 200
    assert time.monotonic() - began >= 0.3
    with pytest.raises(requests.Timeout):
        arm.server.inject_fault("delay", delay_seconds=0.5)
        requests.get(f"{arm.server.url}{BV_PATH}/backupInstances", params={"api-version": "2026-06-01"},
                     headers={"Authorization": f"Bearer {arm.token}"}, timeout=0.1)


def test_ratelimit_headers_are_always_sent(arm: Arm) -> None:
    assert arm.get(f"{BV_PATH}/backupInstances").headers["x-ms-ratelimit-remaining-subscription-reads"]
    answer = arm.post(f"{BI_PATH}/validateRestore", json={"restoreRequestObject": restore_body(arm.latest_rp())})
    assert answer.headers["x-ms-ratelimit-remaining-subscription-writes"]
    not_found = arm.get(f"{BV_PATH}/backupJobs/00000000-0000-0000-0000-000000000000")
    assert not_found.status_code == 404 and not_found.headers["x-ms-ratelimit-remaining-subscription-reads"]


def test_token_bucket_throttle_refills_on_the_emulator_clock(clock: VirtualClock) -> None:
    data = scenario()
    data["throttle"] = {SUB: {"readsBucket": 3, "readsPerSecond": 0.5, "writesBucket": 1, "writesPerSecond": 0.1}}
    with EmulatorServer(data, clock=clock) as server:
        arm = Arm(server)
        remaining = [arm.get(f"{BV_PATH}/backupInstances").headers["x-ms-ratelimit-remaining-subscription-reads"]
                     for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        throttled = arm.get(f"{BV_PATH}/backupInstances")
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "2"
        assert throttled.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
        assert throttled.json()["error"]["code"] == "TooManyRequests"
        # writes have their own bucket
        body = {"restoreRequestObject": restore_body("x")}
        assert arm.post(f"{BI_PATH}/validateRestore", json=body).status_code == 202
        write_throttled = arm.post(f"{BI_PATH}/validateRestore", json=body)
        assert write_throttled.status_code == 429 and write_throttled.headers["Retry-After"] == "10"
        clock.advance(2)
        assert arm.get(f"{BV_PATH}/backupInstances").status_code == 200
        server.set_throttle(SUB, None)
        assert all(arm.get(f"{BV_PATH}/backupInstances").status_code == 200 for _ in range(5))


def test_throttle_through_the_control_api(server: EmulatorServer, arm: Arm) -> None:
    control = f"{server.url}/_emulator/throttle"
    assert requests.post(control, json={"subscription": SUB, "readsBucket": 1, "readsPerSecond": 1},
                         timeout=10).status_code == 200
    assert arm.get(f"{BV_PATH}/backupInstances").status_code == 200
    assert arm.get(f"{BV_PATH}/backupInstances").status_code == 429
    requests.post(control, json={"subscription": SUB, "disable": True}, timeout=10)
    assert arm.get(f"{BV_PATH}/backupInstances").status_code == 200


def test_foreign_operation_url_starts_the_restore_and_points_its_operation_elsewhere(arm: Arm) -> None:
    """Processed as usual (the job starts); only the Azure-AsyncOperation host changes, path and query kept."""
    rp = arm.latest_rp()
    arm.server.inject_fault("foreign-operation-url", method="POST", path="/restore$",
                            url="https://operations.elsewhere.example:8443")
    answer = arm.post(f"{BI_PATH}/restore", json=restore_body(rp))
    assert answer.status_code == 202
    status_url, result_url = answer.headers["Azure-AsyncOperation"], answer.headers["Location"]
    assert status_url.startswith("https://operations.elsewhere.example:8443/subscriptions/")
    assert "/operationStatus/" in status_url and status_url.endswith("?api-version=2026-06-01")
    assert result_url.startswith(arm.server.url)  # only the headers asked for move
    assert len(arm.server.jobs()) == 1 and arm.server.requests[-1]["fault"] == "foreign-operation-url"
    # The same path on the emulator itself answers: only the host was foreign.
    assert arm.get(arm.server.url + status_url.split(":8443", 1)[1]).status_code == 200


def test_foreign_operation_url_moves_location_too_and_refuses_bad_origins(server: EmulatorServer, arm: Arm) -> None:
    body = {"restoreRequestObject": restore_body(arm.latest_rp())}
    server.inject_fault("foreign-operation-url", path="/validateRestore$", url="http://127.0.0.1:1",
                        headers=("Azure-AsyncOperation", "Location"))
    answer = arm.post(f"{BI_PATH}/validateRestore", json=body)
    assert answer.status_code == 202
    assert all(answer.headers[h].startswith("http://127.0.0.1:1/") for h in ("Azure-AsyncOperation", "Location"))
    control = f"{server.url}/_emulator/faults"
    for bad in ({"url": "elsewhere.example"}, {"url": "https://elsewhere.example/path"}, {"url": None},
                {"url": "https://elsewhere.example", "headers": ["Retry-After"]}):
        refused = requests.post(control, json={"kind": "foreign-operation-url", **bad}, timeout=10)
        assert refused.status_code == 400, bad
