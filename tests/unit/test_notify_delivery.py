"""One delivery: the POST over a real loopback socket, what each answer means, Retry-After and backoff, and that
neither an error nor a result ever holds the target's URL; the activity refuses a target that changed."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from activities.notify import deliver
from pgflex_restore.errors import NotificationError
from pgflex_restore.notify.delivery import Answer, eventgrid_url, failure, outcome, post, redact
from pgflex_restore.notify.notices import restore_ended
from pgflex_restore.notify.policy import MAX_RETRY_AFTER_SECONDS, retry_after_seconds, retry_delay
from pgflex_restore.notify.targets import snapshot
from pgflex_restore.settings import get_settings, reset_settings_cache
from tests.notify_support import Receiver, running_receiver

SECRET_PATH = "/hooks/T0ABCDEF/B0GHIJKL/sekr3tTokenValue"
SECRET_QUERY = "sig=QuerySecret1234&sv=1.0"
URL = f"https://receiver.example{SECRET_PATH}?{SECRET_QUERY}"
NOW = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


def leaks(text: str) -> list[str]:
    return [s for s in ("T0ABCDEF", "B0GHIJKL", "sekr3tTokenValue", "QuerySecret1234") if s in text]


def test_retry_after_is_seconds_or_an_http_date() -> None:
    assert retry_after_seconds("30") == 30.0
    assert retry_after_seconds(format_datetime(NOW + timedelta(seconds=90), usegmt=True), now=NOW) == 90.0
    assert retry_after_seconds(format_datetime(NOW - timedelta(seconds=90), usegmt=True), now=NOW) == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds(" ") is None


def test_retry_delay_honours_retry_after_within_bounds_else_backs_off() -> None:
    assert retry_delay(1, None) == 5.0 and retry_delay(2, None) == 20.0 and retry_delay(9, None) == 20.0
    assert retry_delay(1, 30.0) == 30.0
    assert retry_delay(1, 3600.0) == MAX_RETRY_AFTER_SECONDS
    assert retry_delay(1, 0.0) == 1.0


@pytest.mark.parametrize(("status", "delivered", "retryable"), [
    (200, True, False), (202, True, False), (204, True, False),
    (400, False, False), (401, False, False), (403, False, False), (404, False, False), (410, False, False),
    (408, False, True), (429, False, True), (500, False, True), (502, False, True), (503, False, True),
    (507, False, True),
])
def test_what_each_answer_means(status: int, delivered: bool, retryable: bool) -> None:
    got = outcome(Answer(status, None, ""), URL)
    assert (got["delivered"], got["retryable"], got["status"]) == (delivered, retryable, status)
    assert (got["error"] is None) == delivered


def test_a_throttled_answer_carries_its_retry_after_and_a_refusal_does_not() -> None:
    assert outcome(Answer(429, "12", "slow down"), URL)["retryAfter"] == 12.0
    assert outcome(Answer(503, format_datetime(NOW + timedelta(seconds=40), usegmt=True), ""), URL,
                   now=NOW)["retryAfter"] == 40.0
    assert outcome(Answer(404, "12", "no_service"), URL) == {
        "delivered": False, "status": 404, "retryable": False, "retryAfter": None, "error": "HTTP 404: no_service"}


def test_a_redirect_is_not_followed_and_says_so() -> None:
    got = outcome(Answer(302, None, f"moved to {URL}"), URL)
    assert not got["delivered"] and not got["retryable"]
    assert "redirects are not followed" in got["error"] and not leaks(got["error"])


def test_an_answer_that_echoes_the_url_is_kept_without_it() -> None:
    echo = f"Bad request to {URL} (path {SECRET_PATH}, query {SECRET_QUERY}, sig QuerySecret1234, " \
           f"decoded {SECRET_PATH.replace('/', '%2F')})"
    got = outcome(Answer(400, None, echo), URL)
    assert got["error"].startswith("HTTP 400: Bad request to ***") and not leaks(got["error"])
    assert redact("nothing secret here", URL) == "nothing secret here"


def test_the_eventgrid_api_version_is_added_once() -> None:
    topic = "https://t.westeurope-1.eventgrid.azure.net/api/events"
    assert eventgrid_url(topic) == f"{topic}?api-version=2018-01-01"
    assert eventgrid_url(f"{topic}?api-version=2018-01-01") == f"{topic}?api-version=2018-01-01"


def test_post_sends_the_body_and_headers_over_a_real_socket() -> None:
    with running_receiver() as receiver:
        notice = restore_ended({"restoreId": "r1", "status": "succeeded"}, NOW)
        body = json.dumps(notice).encode()
        answer = post(receiver.url("webhook", "s3cret", "k=v"), body,
                      {"Content-Type": "application/json", "Idempotency-Key": notice["deliveryId"]})
    assert (answer.status, answer.retry_after) == (200, None)
    [got] = receiver.posts
    assert got.path == "/webhook/s3cret" and got.query == {"k": ["v"]} and got.body == notice
    assert got.headers["idempotency-key"] == notice["deliveryId"]
    assert receiver.problems == []


def test_post_passes_the_receivers_status_and_retry_after() -> None:
    receiver = Receiver(script=lambda kind, attempt: (503, {"Retry-After": "7"}, "busy"))
    with running_receiver(receiver):
        answer = post(receiver.url("slack", "x"), b'{"text": "t"}', {"Content-Type": "application/json"})
    assert (answer.status, answer.retry_after, answer.body) == (503, "7", "busy")


@pytest.fixture
def closed_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    yield port


def test_no_answer_is_a_retryable_error_that_names_no_url(closed_port: int) -> None:
    with pytest.raises(NotificationError) as caught:
        post(f"http://127.0.0.1:{closed_port}{SECRET_PATH}?{SECRET_QUERY}", b"{}", {})
    assert caught.value.retryable and str(caught.value) == "no answer (connection refused)"
    assert failure(caught.value) == {"delivered": False, "status": None, "retryable": True, "retryAfter": None,
                                     "error": "no answer (connection refused)"}


def test_a_receiver_that_never_answers_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    try:
        with pytest.raises(NotificationError) as caught:
            post(f"http://127.0.0.1:{listener.getsockname()[1]}{SECRET_PATH}", b"{}", {}, timeout=0.3)
        assert caught.value.retryable and str(caught.value) == "no answer (timed out after 0.3 s)"
    finally:
        for sock in (*accepted, listener):
            sock.close()


def test_the_activity_refuses_a_target_that_changed_since_the_restore_started() -> None:
    """The orchestration holds index and digest; when the setting changed, the index may name another receiver."""
    first = json.dumps([{"type": "webhook", "url": "https://a.example/hook/one"}])
    os.environ["NOTIFY_TARGETS"] = first
    reset_settings_cache()
    [target] = snapshot(get_settings().notify_targets, "restore")
    os.environ["NOTIFY_TARGETS"] = json.dumps([{"type": "webhook", "url": "https://a.example/hook/two"}])
    reset_settings_cache()
    notice = restore_ended({"restoreId": "r1", "status": "succeeded"}, NOW)
    got = deliver({"target": target["index"], "digest": target["digest"], "label": target["label"],
                   "attempt": 1, "notice": notice})
    assert got["delivered"] is False and got["retryable"] is False
    assert got["error"] == "NOTIFY_TARGETS changed since this started: entry 0 is no longer webhook a.example"
    missing = deliver({"target": 3, "digest": "x", "label": "teams t.example", "notice": notice})
    assert missing["error"].startswith("NOTIFY_TARGETS changed") and not missing["delivered"]
