"""Notifications end to end: restores and drills in devhost report to real loopback receivers (a JSON webhook, a
Teams Workflows stand-in, a Slack stand-in, an Event Grid topic stand-in checking the app's managed-identity
token against the emulator), each payload checked against its schema by the receiver.

Receivers deduplicate on the delivery's stable id (Idempotency-Key; a CloudEvent's source and id), as real ones
should: the host may run a delivery twice (DEVHOST_REDELIVERY), so raw POST counts can be higher than deliveries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.redelivery import Redelivery
from tests.e2e.drill_stack import drill_stack
from tests.e2e.stack import Stack, backup_instance, running_stack
from tests.notify_support import Receiver, Script, running_receiver

KINDS = ("webhook", "teams", "slack", "eventgrid")
# The secret parts of the receivers' URLs: none may appear in any log, history, status, output or result.
SECRETS = ("hookSECRETpath7f3a", "QUERYsecret9b21", "TEAMSworkflowSECRET55", "sigSECRETc0ffee",
           "T0SLACKsecret", "B0SLACKsecret", "slackTOKENsecret42")
QUICK = {"validateSeconds": 2, "validateRetryAfter": 5, "restoreSeconds": 2, "restoreRetryAfter": 5,
         "jobSeconds": 60}


def secret_urls(receiver: Receiver) -> dict[str, str]:
    return {
        "webhook": receiver.url("webhook", "hookSECRETpath7f3a", "token=QUERYsecret9b21"),
        "teams": receiver.url("teams", "workflows/TEAMSworkflowSECRET55/triggers/manual/paths/invoke",
                              "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sig=sigSECRETc0ffee"),
        "slack": receiver.url("slack", "services/T0SLACKsecret/B0SLACKsecret/slackTOKENsecret42"),
    }


def targets(receiver: Receiver, kinds: tuple[str, ...] = KINDS, **extra: Any) -> str:
    urls = secret_urls(receiver)
    return json.dumps([{"type": kind, **({"endpoint": receiver.eventgrid_endpoint()} if kind == "eventgrid"
                                         else {"url": urls[kind]}), **extra} for kind in kinds])


@contextmanager
def notifying(azurite: Azurite, script: Script | None = None, *, kinds: tuple[str, ...] = KINDS,
              instances: dict[str, dict[str, Any]] | None = None, host_options: dict[str, Any] | None = None,
              **extra: Any) -> Iterator[tuple[Stack, Receiver]]:
    """A stack whose NOTIFY_TARGETS point at one receiver (every kind), which checks Event Grid tokens with the
    emulator and stamps each POST with the virtual clock."""
    receiver = Receiver(script=script) if script else Receiver()
    with running_receiver(receiver):
        env = {"NOTIFY_TARGETS": targets(receiver, kinds, **extra)}
        with running_stack(azurite, instances or {"pg1": backup_instance(timings=QUICK)}, extra_env=env,
                           host_options=host_options) as stack:
            receiver.token_audience = stack.emulator.tokens.audience_of
            receiver.clock = stack.clock.now
            yield stack, receiver


def summary_of(notifications: list[dict[str, Any]]) -> list[tuple[str, str, bool, int]]:
    return [(n["target"].split()[0], n["event"], n["delivered"], n["attempts"]) for n in notifications]


def test_a_restore_notifies_every_target_type_once(azurite: Azurite) -> None:
    """Succeeded: one delivery per receiver, each valid for its format; Event Grid with a token for its audience."""
    with notifying(azurite) as (stack, receiver):
        result = stack.run(stack.request_body(requestId="notify-ok"))
        assert result["status"] == "succeeded", result
        assert summary_of(result["notifications"]) == [(k, "ended", True, 1) for k in KINDS]
        assert receiver.problems == []
        delivered = {kind: receiver.delivered(kind) for kind in KINDS}
        assert {kind: len(posts) for kind, posts in delivered.items()} == dict.fromkeys(KINDS, 1)
        notice = delivered["webhook"][0].body
        assert (notice["kind"], notice["event"], notice["id"], notice["status"], notice["outcome"]) == (
            "restore", "ended", "restore-notify-ok", "succeeded", "success")
        assert notice["links"] == {"status": "/api/restores/restore-notify-ok"}
        assert notice["details"]["recoveryPoint"]["id"] == "rp-0" and notice["timings"]["durationSeconds"] > 0
        card = delivered["teams"][0].body["attachments"][0]["content"]
        assert card["body"][0]["text"] == "Restore restore-notify-ok succeeded"
        assert delivered["slack"][0].body["text"] == "Restore restore-notify-ok succeeded"
        event = delivered["eventgrid"][0].body
        assert (event["type"], event["id"], event["subject"], event["data"]) == (
            "Pgflex.Restore.Ended", notice["deliveryId"], "restores/restore-notify-ok", notice)
        assert {p.headers["idempotency-key"] for p in receiver.posts} == {notice["deliveryId"]}
        assert all(r["deliveryId"] == notice["deliveryId"] for r in result["notifications"])
        tokens = [r for r in stack.emulator.requests if r["path"] == "/msi/token"
                  and r["query"].get("resource") == "https://eventgrid.azure.net"]
        assert tokens and all(r["status"] == 200 for r in tokens)


def test_a_failed_restore_notifies_every_target_with_its_error(azurite: Azurite) -> None:
    failing = backup_instance(timings=QUICK, failures={
        "jobFailAtPercent": 40, "jobError": {"code": "UserErrorRestoreFailed", "message": "disk full"}})
    with notifying(azurite, instances={"pg1": failing}) as (stack, receiver):
        result = stack.run(stack.request_body(requestId="notify-failed"))
        assert result["status"] == "failed" and result["error"]["code"] == "UserErrorRestoreFailed"
        assert summary_of(result["notifications"]) == [(k, "ended", True, 1) for k in KINDS]
        assert receiver.problems == []
        notice = receiver.delivered("webhook")[0].body
        assert (notice["status"], notice["outcome"], notice["error"]["code"], notice["error"]["message"]) == (
            "failed", "failure", "UserErrorRestoreFailed", "disk full")
        card = receiver.delivered("teams")[0].body["attachments"][0]["content"]
        assert card["body"][0]["color"] == "Attention" and card["body"][1]["text"] == "disk full"
        slack = receiver.delivered("slack")[0].body
        assert "*UserErrorRestoreFailed*: disk full" in slack["blocks"][1]["text"]["text"]
        assert receiver.delivered("eventgrid")[0].body["data"]["outcome"] == "failure"


def test_started_events_when_configured(azurite: Azurite) -> None:
    """events ["started", "ended"]: the start is delivered before the restore's first ARM call, the end last."""
    with notifying(azurite, kinds=("webhook", "eventgrid"), events=["started", "ended"]) as (stack, receiver):
        result = stack.run(stack.request_body(requestId="notify-started"))
        assert result["status"] == "succeeded"
        assert summary_of(result["notifications"]) == [
            ("webhook", "started", True, 1), ("eventgrid", "started", True, 1),
            ("webhook", "ended", True, 1), ("eventgrid", "ended", True, 1)]
        assert receiver.problems == []
        assert [p.body["event"] for p in receiver.delivered("webhook")] == ["started", "ended"]
        assert [p.body["type"] for p in receiver.delivered("eventgrid")] == ["Pgflex.Restore.Started",
                                                                             "Pgflex.Restore.Ended"]
        started = receiver.delivered("webhook")[0]
        assert (started.body["status"], started.body["outcome"]) == ("running", "running")
        calls = [c.name for c in stack.host.activity_calls]
        assert calls.index("notify_deliver") < calls.index("resolve_recovery_point")
        assert calls[-2:] == ["notify_deliver", "notify_deliver"]  # both ends come after everything else


def test_a_receiver_failing_at_first_is_retried_honouring_retry_after(azurite: Azurite) -> None:
    """500 then 200, 503 with Retry-After 30 then 200, 429 with Retry-After 12 then 200: each delivered on its
    second attempt, the second attempt no sooner than the longest Retry-After (virtual clock)."""
    answers = {"webhook": (500, {}, "boom"), "teams": (503, {"Retry-After": "30"}, "busy"),
               "slack": (429, {"Retry-After": "12"}, "rate_limited")}

    def script(kind: str, attempt: int) -> tuple[int, dict[str, str], str] | None:
        return answers.get(kind) if attempt == 1 else None

    with notifying(azurite, script) as (stack, receiver):
        result = stack.run(stack.request_body(requestId="notify-retry"))
        assert result["status"] == "succeeded"
        assert summary_of(result["notifications"]) == [("webhook", "ended", True, 2), ("teams", "ended", True, 2),
                                                       ("slack", "ended", True, 2), ("eventgrid", "ended", True, 1)]
        for kind in ("webhook", "teams", "slack"):
            posts = receiver.of(kind)
            first, second = min(p.received_at for p in posts if p.attempt == 1), \
                min(p.received_at for p in posts if p.attempt == 2)
            assert (second - first).total_seconds() >= 30, (kind, first, second)
            assert len({p.headers["idempotency-key"] for p in posts}) == 1  # one id for every attempt
            assert len(receiver.delivered(kind)) == 1


def test_a_receiver_down_for_good_is_recorded_and_the_restore_still_succeeds(azurite: Azurite) -> None:
    def script(kind: str, attempt: int) -> tuple[int, dict[str, str], str] | None:
        return (500, {}, "internal error") if kind == "webhook" else None

    with notifying(azurite, script, kinds=("webhook", "slack")) as (stack, receiver):
        result = stack.run(stack.request_body(requestId="notify-down"))
        assert result["status"] == "succeeded" and result["error"] is None
        down, slack = result["notifications"]
        assert {k: down[k] for k in ("event", "delivered", "attempts", "status", "error")} == {
            "event": "ended", "delivered": False, "attempts": 3, "status": 500, "error": "HTTP 500: internal error"}
        assert (slack["delivered"], slack["attempts"]) == (True, 1)
        assert {p.attempt for p in receiver.of("webhook")} == {1, 2, 3} and receiver.delivered("webhook") == []
        view = stack.get_restore("restore-notify-down")
        assert view["status"]["phase"] == "succeeded" and "notifying" not in view["status"]
        assert view["result"]["status"] == "succeeded"
        assert view["result"]["notifications"][0]["delivered"] is False


def test_a_redelivered_notification_reaches_each_receiver_once(azurite: Azurite) -> None:
    """Every delivery activity runs twice (its first outcome lost): two POSTs with the same id and body, one
    delivery at each idempotent receiver, and one attempt in the record."""
    redelivery = Redelivery(point="after", activities=frozenset({"notify_deliver"}))
    with notifying(azurite, host_options={"redelivery": redelivery}) as (stack, receiver):
        result = stack.run(stack.request_body(requestId="notify-twice"))
        assert summary_of(result["notifications"]) == [(k, "ended", True, 1) for k in KINDS]
        assert stack.reruns("notify_deliver") == len(KINDS)
        for kind in KINDS:
            posts = receiver.of(kind)
            assert len(posts) == 2 and posts[0].body == posts[1].body and posts[0].key == posts[1].key
            assert len(receiver.delivered(kind)) == 1
        assert receiver.problems == []


def test_no_secret_reaches_a_log_a_history_a_status_or_a_result(azurite: Azurite,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """The receivers' URL paths and queries are secrets: a restore that notifies (one receiver echoing the URL in
    its 400, one answering 503) leaves them in no log record (DEBUG included), no orchestration input, output,
    custom status or history, no activity input or output, and no status answer."""
    def script(kind: str, attempt: int) -> tuple[int, dict[str, str], str] | None:
        if kind == "teams":
            return 400, {}, f"bad request to {secret_urls(receiver)['teams']}"
        return (503, {}, "down") if kind == "slack" else None

    caplog.set_level(logging.DEBUG)
    with notifying(azurite, script, events=["started", "ended"]) as (stack, receiver):
        result = stack.run(stack.request_body(requestId="notify-secret"))
        assert result["status"] == "succeeded"
        teams = next(n for n in result["notifications"] if n["target"].startswith("teams"))
        assert teams["error"].startswith("HTTP 400: bad request to ***") and teams["delivered"] is False
        view = requests_text(stack, "restore-notify-secret")
        haystacks = {
            "logs": "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records),
            "instances": json.dumps([vars(s) for s in stack.host.instances()], default=str),
            "activities": json.dumps([(c.name, c.input, c.output, c.error) for c in stack.host.activity_calls],
                                     default=str),
            "status": view,
            "result": json.dumps(result),
        }
        # The search works: the secrets are in the setting, and each haystack holds what it should.
        assert all(s in json.dumps(stack.host.env) for s in SECRETS)
        assert "notify_deliver" in haystacks["activities"] and "to teams 127.0.0.1" in haystacks["logs"]
        leaks = {name: [s for s in SECRETS if s in text] for name, text in haystacks.items()}
        assert leaks == {name: [] for name in haystacks}


def requests_text(stack: Stack, restore_id: str) -> str:
    import requests

    return requests.get(f"{stack.api}/restores/{restore_id}", headers=stack.key, timeout=30).text


def test_a_drill_run_notifies_once_for_the_whole_run(azurite: Azurite) -> None:
    """Two servers drilled: one start and one end notice for the run (the drill's own restores notify nobody)."""
    instances = {name: backup_instance(timings=QUICK) for name in ("pg1", "pg2")}
    receiver = Receiver()
    with running_receiver(receiver):
        urls = secret_urls(receiver)
        env = {"NOTIFY_TARGETS": json.dumps([
            {"type": "webhook", "url": urls["webhook"], "events": ["started", "ended"], "on": ["drill"]},
            {"type": "eventgrid", "endpoint": receiver.eventgrid_endpoint()},
            {"type": "slack", "url": urls["slack"], "on": ["restore"]}])}
        with drill_stack(azurite, instances, extra_env=env) as drills:
            receiver.token_audience = drills.stack.emulator.tokens.audience_of
            summary = drills.run(drills.plan())
            assert (summary["status"], summary["total"], summary["passed"]) == ("passed", 2, 2), summary
            assert summary_of(summary["notifications"]) == [
                ("webhook", "started", True, 1), ("webhook", "ended", True, 1), ("eventgrid", "ended", True, 1)]
            assert receiver.problems == [] and receiver.of("slack") == []
            started, ended = (p.body for p in receiver.delivered("webhook"))
            assert (started["kind"], started["event"], ended["event"], ended["id"]) == (
                "drill", "started", "ended", summary["runId"])
            assert (ended["status"], ended["details"]["total"], ended["details"]["passed"]) == ("passed", 2, 2)
            assert ended["links"]["evidence"] == f"/api/drills/{summary['runId']}/evidence"
            [event] = [p.body for p in receiver.delivered("eventgrid")]
            assert (event["type"], event["subject"]) == ("Pgflex.Drill.Ended", f"drills/{summary['runId']}")
