"""Each hostile or careless input a probe of the running app found mishandled, answered as it must be now.

Every answer to bad input is a 4xx naming its field (or a ``-rejected`` record), bounded in size whatever the
input's size; every request id, alert id and queue message has exactly one outcome; each API sees only its own
instances.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devhost.azurite import Azurite
from pgflex_restore.alerts import parse_alert
from tests.e2e.stack import Stack, running_stack
from tests.e2e.test_restore_queue import alert

DEEP = "[" * 100_000 + "]" * 100_000


def post_raw(stack: Stack, body: str | bytes) -> requests.Response:
    return requests.post(f"{stack.api}/restores", data=body, timeout=60,
                         headers={**stack.key, "Content-Type": "application/json"})


def fields(reply: requests.Response) -> set[str]:
    error = reply.json()["error"]
    return {error.get("target"), *(d["field"] for d in error.get("details", []))} - {None}


def test_deeply_nested_json_is_a_field_error_over_http_and_rejected_on_the_queue(azurite: Azurite) -> None:
    with running_stack(azurite) as stack:
        reply = post_raw(stack, DEEP[:60_000])
        assert reply.status_code == 400 and fields(reply) == {"body"}, reply.text
        assert "deeper" in reply.json()["error"]["message"]
        stack.send_queue_message("[" * 30_000 + "]" * 30_000)
        stack.wait_until(lambda: len(stack.queue_messages(f"{stack.queue}-rejected")) == 1, timeout=30)
        record = stack.queue_messages(f"{stack.queue}-rejected")[0]
        assert [e["field"] for e in record["errors"]] == ["message"] and "deeper" in record["reason"]
        assert stack.queue_messages(f"{stack.queue}-poison") == []


@pytest.mark.parametrize("field, value", [
    ("requestId", "x\n"), ("requestId", "x\u2028"), ("recoveryPoint", "rp-0\n"),
    ("target.filePrefix", "restored\n"), ("backupInstance", "?query"),
])
def test_a_trailing_newline_or_a_query_is_refused_not_sent_to_arm(azurite: Azurite, field: str, value: str) -> None:
    with running_stack(azurite) as stack:
        body = stack.request_body()
        if field == "target.filePrefix":
            body["target"]["filePrefix"] = value
        elif field == "backupInstance":
            body["backupInstance"] += value
        else:
            body[field] = value
        reply = stack.post_restore(body)
        assert reply.status_code == 400, reply.text
        assert field in fields(reply)
        assert stack.arm_requests() == [] and stack.host.instances() == []


def test_answers_and_rejected_records_stay_small_whatever_the_input(azurite: Azurite) -> None:
    with running_stack(azurite) as stack:
        huge_key = post_raw(stack, json.dumps({"k" * 10_000_000: 1}))
        assert huge_key.status_code == 400 and fields(huge_key) == {"body"}
        assert len(huge_key.content) < 2_000
        many = post_raw(stack, json.dumps({f"f{i}": 0 for i in range(4_000)}))
        assert many.status_code == 400 and len(many.content) < 20_000, len(many.content)
        assert many.json()["error"]["omittedDetails"] > 3_900
        echoed = stack.request_body(requestId="r" * 30_000, recoveryPoint="p" * 30_000)
        reply = stack.post_restore(echoed)
        assert reply.status_code == 400 and {"requestId", "recoveryPoint"} <= fields(reply)
        assert len(reply.content) < 4_000
        stack.send_queue_message(echoed)  # 60 KB: the echo made the record exceed a queue message
        stack.wait_until(lambda: len(stack.queue_messages(f"{stack.queue}-rejected")) == 1, timeout=30)
        record = stack.queue_messages(f"{stack.queue}-rejected")[0]
        assert {e["field"] for e in record["errors"]} >= {"requestId", "recoveryPoint"}
        kept = stack.blob_text(*record["originalBlob"].split("/", 1))  # the whole original, nothing lost
        assert json.loads(kept) == echoed and record["originalBytes"] == len(kept.encode())
        assert stack.queue_messages(f"{stack.queue}-poison") == []


def test_unicode_digits_in_a_limit_are_a_400(azurite: Azurite) -> None:
    with running_stack(azurite) as stack:
        for limit in ("²", "٣", "1e3", "-1", "0", "501", "\uff19"):
            reply = requests.get(f"{stack.api}/drills", params={"limit": limit}, headers=stack.key, timeout=30)
            assert reply.status_code == 400 and fields(reply) == {"limit"}, (limit, reply.text)


def test_a_request_id_can_never_name_another_restores_job_tracker(azurite: Azurite) -> None:
    with running_stack(azurite) as stack:
        first = stack.run(stack.request_body(requestId="w"))
        assert first["status"] == "succeeded"
        tracker = "restore-w:job"
        assert stack.instance(tracker) is not None
        second = stack.post_restore(stack.request_body(requestId="w:job", target={
            "containerUrl": stack.container_url, "filePrefix": "second"}))
        assert second.status_code == 202 and second.json()["created"] is True
        assert second.json()["restoreId"] == "restore-w~job" != tracker
        stack.host.wait_for("restore-w~job", timeout=60)
        assert len(stack.arm_requests("POST", "/restore")) == 2


def test_alerts_whose_ids_differ_only_by_punctuation_both_restore(azurite: Azurite) -> None:
    with running_stack(azurite) as stack:
        ids = [parse_alert(alert(alert_guid=guid)).restore_id for guid in ("A_B", "a-b")]
        assert ids[0] != ids[1]
        for guid in ("A_B", "a-b"):
            stack.send_queue_message(alert(alert_guid=guid))
        for restore_id in ids:
            stack.wait_until(lambda r=restore_id: stack.instance(r) is not None, timeout=30)
            assert stack.host.wait_for(restore_id, timeout=60).output["status"] == "succeeded"
        assert stack.queue_messages(f"{stack.queue}-duplicates") == []


def test_concurrent_starts_of_a_restore_that_ends_at_once_run_it_once(azurite: Azurite) -> None:
    """20 POSTs with one request id for a restore that fails on its first call: one instance, one ARM call."""
    with running_stack(azurite) as stack:
        body = stack.request_body(instance="no-such-instance", requestId="burst")
        with ThreadPoolExecutor(20) as pool:
            replies = list(pool.map(lambda _: stack.post_restore(body), range(20)))
        assert all(r.status_code == 202 for r in replies)
        assert sum(r.json()["created"] for r in replies) == 1
        state = stack.host.wait_for("restore-burst", timeout=60)
        assert state.output["status"] == "failed"
        late = stack.post_restore(body)
        assert late.json()["created"] is False and late.json()["runtimeStatus"] == "Completed"
        assert len(stack.arm_requests()) == 1 + stack.reruns()


def test_restore_routes_see_only_restores(azurite: Azurite) -> None:
    with running_stack(azurite) as stack:
        stack.run(stack.request_body(requestId="mine"))
        drill = stack.host.start_orchestration("drill_run_orchestrator", {"not": "a plan"},
                                               instance_id="drill-20261101T000000Z")
        for other in ("restore-mine:job", drill, "restore-mine\n", "a#b", "x" * 300):
            got = requests.get(f"{stack.api}/restores/{requests.utils.quote(other, safe='')}", headers=stack.key,
                               timeout=30)
            assert got.status_code == 404 and fields(got) == {"restoreId"}, (other, got.text)
            cancel = requests.post(f"{stack.api}/restores/{requests.utils.quote(other, safe='')}/cancel",
                                   headers=stack.key, timeout=30)
            assert cancel.status_code == 404, (other, cancel.text)
        assert stack.host.get(drill).runtime_status != "Terminated"
        restore_as_drill = requests.get(f"{stack.api}/drills/restore-mine", headers=stack.key, timeout=30)
        assert restore_as_drill.status_code == 404 and fields(restore_as_drill) == {"run"}



def test_every_rejected_message_names_a_field(azurite: Azurite) -> None:
    with running_stack(azurite) as stack:
        broken_alert = alert()
        del broken_alert["data"]["essentials"]["firedDateTime"]
        for message in ("[1, 2]", json.dumps(broken_alert), '{"a": 1, "a": 2}'):
            stack.send_queue_message(message)
        stack.wait_until(lambda: len(stack.queue_messages(f"{stack.queue}-rejected")) == 3, timeout=30)
        fields_named = sorted(e["field"] for r in stack.queue_messages(f"{stack.queue}-rejected") for e in r["errors"])
        assert fields_named == ["data.essentials", "message", "message"]
