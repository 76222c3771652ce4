"""Queue triggers against real Azurite queues: encodings, retries, and the poison queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devhost import DevHost, VirtualClock
from devhost.azurite import Azurite
from tests.devhost.devhost_testing import SAMPLE_ENV

pytestmark = pytest.mark.azurite


@pytest.fixture
def queue_name() -> str:
    return f"work-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def storage_host(azurite: Azurite, clock: VirtualClock, queue_name: str) -> Iterator[DevHost]:
    env = {**SAMPLE_ENV, "WORK_QUEUE": queue_name}
    with DevHost.load("sample_app.function_app", clock=clock, env=env,
                      storage_connection_string=azurite.connection_string) as host:
        yield host


def test_message_starts_an_orchestration_and_is_deleted(storage_host: DevHost, azurite: Azurite,
                                                        queue_name: str) -> None:
    queue = QueueClient.from_connection_string(azurite.connection_string, queue_name)
    queue.send_message(json.dumps({"id": "from-queue", "cities": ["Queueville"]}))  # messageEncoding: none
    storage_host.wait_idle(timeout=20)
    state = storage_host.wait_for("from-queue")
    assert state.output == ["Hello Queueville!"]
    assert queue.get_queue_properties().approximate_message_count == 0


def test_failing_message_moves_to_poison_after_max_dequeue_count(storage_host: DevHost, azurite: Azurite,
                                                                 queue_name: str) -> None:
    queue = QueueClient.from_connection_string(azurite.connection_string, queue_name)
    queue.send_message(json.dumps({"fail": True}))
    storage_host.wait_idle(timeout=20)
    poison = QueueClient.from_connection_string(azurite.connection_string, f"{queue_name}-poison")
    moved = [m.content for m in poison.peek_messages(max_messages=5)]
    assert moved == [json.dumps({"fail": True})]
    assert queue.get_queue_properties().approximate_message_count == 0
    assert storage_host.instances() == []


def test_base64_encoding_and_queue_message_metadata(azurite: Azurite, clock: VirtualClock,
                                                    queue_name: str) -> None:
    from b64_app import function_app

    function_app.received.clear()
    with DevHost.load("b64_app.function_app", clock=clock, env={"B64_QUEUE": queue_name},
                      storage_connection_string=azurite.connection_string) as host:
        encoded = QueueClient.from_connection_string(azurite.connection_string, queue_name,
                                                     message_encode_policy=TextBase64EncodePolicy())
        encoded.send_message("héllo")
        encoded.send_message("fail")
        raw = QueueClient.from_connection_string(azurite.connection_string, queue_name)
        raw.send_message("not base64!")  # the trigger cannot decode it: straight to poison (maxDequeueCount 1)
        host.wait_idle(timeout=20)
    bodies = [r["body"] for r in function_app.received]
    assert bodies == ["héllo".encode(), b"fail"]
    first = function_app.received[0]
    assert first["dequeue_count"] == 1 and first["id"] and first["inserted"] is not None
    poison = QueueClient.from_connection_string(azurite.connection_string, f"{queue_name}-poison")
    assert sorted(m.content for m in poison.peek_messages(max_messages=5)) == \
        sorted(["not base64!", TextBase64EncodePolicy().encode("fail")])


def test_http_queue_output_binding_feeds_the_queue_trigger(storage_host: DevHost) -> None:
    body = json.dumps({"id": "via-output", "cities": ["Outbound"]})
    assert storage_host.call_http("POST", "/api/enqueue", body)[0] == 202
    state = storage_host.wait_for("via-output", timeout=20)  # waits for the instance to appear, too
    assert state.output == ["Hello Outbound!"]


def test_a_storage_outage_delays_the_pollers_but_never_stops_durable_timers(clock: VirtualClock,
                                                                              queue_name: str) -> None:
    """Azurite dies while the host runs: queue polling fails and backs off, but a day of durable timers still runs
    on the virtual clock (the pollers' failing retries must not hold the clock)."""
    from devhost.azurite import start_azurite

    own = start_azurite()
    env = {**SAMPLE_ENV, "WORK_QUEUE": queue_name}
    try:
        with DevHost.load("sample_app.function_app", clock=clock, env=env,
                          storage_connection_string=own.connection_string) as host:
            host.wait_idle(timeout=20)
            own.stop()
            state = host.wait_for(host.start_orchestration("long_timer_orch"), timeout=60)
            assert state.runtime_status == "Completed"
            host.wait_idle(timeout=30)
    finally:
        own.stop()
