"""Notices and their renderings, checked against schemas written from each format's specification
(tests/notify_support.py): the generic webhook's notice, Teams' Adaptive Card message, Slack's Block Kit message
and a CloudEvents 1.0 event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pgflex_restore.notify.notices import (
    delivery_id,
    drill_ended,
    drill_started,
    restore_ended,
    restore_started,
    with_link_base,
)
from pgflex_restore.notify.payloads import (
    CLOUDEVENT,
    cloud_event,
    event_source,
    facts,
    headline,
    render,
    slack_message,
    teams_message,
)
from tests.notify_support import CLOUD_EVENT_BATCH, schema_problems

AT = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
BI = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v/backupInstances/pg1"
BASE = "https://app1.azurewebsites.net"


def result(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "restoreId": "restore-incident~42", "status": "succeeded", "backupInstance": BI, "validateOnly": False,
        "recoveryPoint": {"id": "rp-0", "time": "2026-11-01T04:00:00Z", "store": "VaultStore"},
        "target": {"containerUrl": "https://acct.blob.core.windows.net/restores", "filePrefix": "incident-42"},
        "jobId": f"{BI}/backupJobs/j1", "startedAt": "2026-11-01T06:00:00Z", "finishedAt": "2026-11-01T06:42:30Z",
        "jobMayBeRunning": False, "origin": {"via": "http"}, "error": None,
    }
    record.update(changes)
    return record


FAILED = result(status="failed", error={"code": "UserErrorRestoreFailed", "message": "disk <full> & more",
                                        "advice": "see the job's error details", "retryable": False})
SUMMARY = {"runId": "drill-20261125T030000Z", "status": "failed", "scheduledAt": "2026-11-25T03:00:00Z",
           "startedAt": "2026-11-25T03:00:00Z", "finishedAt": "2026-11-25T04:10:00Z", "total": 5, "passed": 3,
           "failed": 2, "skipped": 0,
           "failures": [{"backupInstance": BI, "server": "pg1", "reason": "rpo-breached"},
                        {"backupInstance": BI + "b", "server": "pg2", "reason": "restore-failed"}]}
PLAN = {"restoreId": "restore-incident~42", "backupInstance": BI, "validateOnly": False, "origin": {"via": "queue"},
        "request": {"recoveryPoint": "latest", "target": {"containerUrl": "https://a.blob.core.windows.net/c",
                                                          "filePrefix": "p"}}}
RUN = {"runId": "drill-1", "scheduledAt": "2026-11-25T03:00:00Z", "origin": {"via": "timer"},
       "plan": {"container": "https://a.blob.core.windows.net/drills", "vaults": ["v1", "v2"]}}


def notices() -> list[dict[str, Any]]:
    return [restore_started(PLAN, AT), restore_ended(result(), AT), restore_ended(FAILED, AT),
            drill_started(RUN, AT), drill_ended(SUMMARY, AT), drill_ended({**SUMMARY, "status": "passed",
                                                                          "failed": 0, "failures": []}, AT)]


@pytest.mark.parametrize("notice", notices(), ids=lambda n: f"{n['kind']}-{n['event']}-{n['status']}")
def test_every_notice_and_rendering_meets_its_schema(notice: dict[str, Any]) -> None:
    for base in (None, BASE):
        linked = with_link_base(notice, base)
        assert schema_problems("webhook", render("webhook", linked, source="/s").body) == []
        assert schema_problems("teams", teams_message(linked)) == []
        assert schema_problems("slack", slack_message(linked)) == []
        event = cloud_event(linked, source=event_source(base, notice["kind"]))
        assert schema_problems("eventgrid", event) == []
        assert list(Draft202012Validator(CLOUD_EVENT_BATCH).iter_errors([event])) == []


def test_a_restore_end_says_what_happened() -> None:
    notice = restore_ended(FAILED, AT)
    assert (notice["kind"], notice["event"], notice["id"], notice["status"], notice["outcome"]) == \
        ("restore", "ended", "restore-incident~42", "failed", "failure")
    assert notice["timings"] == {"startedAt": "2026-11-01T06:00:00Z", "finishedAt": "2026-11-01T06:42:30Z",
                                 "durationSeconds": 2550.0}
    assert notice["error"] == {"code": "UserErrorRestoreFailed", "message": "disk <full> & more",
                               "advice": "see the job's error details"}
    assert notice["links"] == {"status": "/api/restores/restore-incident~42"}
    assert notice["details"]["recoveryPoint"]["id"] == "rp-0" and notice["details"]["via"] == "http"
    assert restore_ended(result(status="loaded"), AT)["outcome"] == "success"
    assert restore_ended(result(status="deadline_exceeded"), AT)["outcome"] == "failure"


def test_delivery_ids_are_stable_per_event_and_differ_between_events() -> None:
    assert restore_ended(result(), AT)["deliveryId"] == restore_ended(FAILED, datetime(2027, 1, 1, tzinfo=UTC))[
        "deliveryId"] == delivery_id("restore", "restore-incident~42", "ended")
    assert restore_started(PLAN, AT)["deliveryId"] != restore_ended(result(), AT)["deliveryId"]
    assert delivery_id("drill", "restore-incident~42", "ended") != delivery_id("restore", "restore-incident~42",
                                                                               "ended")


def test_a_drill_run_is_one_summary_notice() -> None:
    notice = drill_ended(SUMMARY, AT)
    assert (notice["status"], notice["outcome"]) == ("failed", "failure")
    assert notice["details"]["failures"] == [{"backupInstance": "pg1", "server": "pg1", "reason": "rpo-breached"},
                                             {"backupInstance": "pg1b", "server": "pg2", "reason": "restore-failed"}]
    assert notice["error"] == {"code": "DrillsFailed", "message": "2 of 5 drills failed (restore-failed, rpo-breached)"}
    assert set(notice["links"]) == {"status", "evidence", "dashboard"}
    listing = drill_ended({**SUMMARY, "error": "could not list the backup instances"}, AT)
    assert listing["error"]["code"] == "DrillRunFailed"
    assert drill_started(RUN, AT)["details"] == {"scheduledAt": "2026-11-25T03:00:00Z",
                                                 "container": "https://a.blob.core.windows.net/drills", "vaults": 2,
                                                 "via": "timer"}


def test_links_become_absolute_only_with_a_base() -> None:
    notice = restore_ended(result(), AT)
    assert with_link_base(notice, None)["links"] == {"status": "/api/restores/restore-incident~42"}
    assert with_link_base(notice, BASE + "/")["links"] == {"status": f"{BASE}/api/restores/restore-incident~42"}
    assert "actions" not in teams_message(notice)["attachments"][0]["content"]
    card = teams_message(with_link_base(notice, BASE))["attachments"][0]["content"]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "View status",
                                "url": f"{BASE}/api/restores/restore-incident~42"}]


def test_the_teams_card_leads_with_the_outcome_and_lists_the_facts() -> None:
    card = teams_message(restore_ended(FAILED, AT))["attachments"][0]["content"]
    assert (card["type"], card["version"], card["$schema"]) == ("AdaptiveCard", "1.4",
                                                                "http://adaptivecards.io/schemas/adaptive-card.json")
    title, message, advice, fact_set, footer = card["body"]
    assert title["text"] == "Restore restore-incident~42 failed" and title["color"] == "Attention"
    assert message["text"] == "disk <full> & more" and advice["isSubtle"] is True
    assert {"title": "Error", "value": "UserErrorRestoreFailed"} in fact_set["facts"]
    assert {"title": "Duration", "value": "42 min 30 s"} in fact_set["facts"]
    assert footer["text"].startswith("delivery ")
    good = teams_message(restore_ended(result(), AT))["attachments"][0]["content"]["body"][0]
    assert good["color"] == "Good"


def test_slack_text_is_escaped_and_kept_within_block_kit_limits() -> None:
    message = slack_message(restore_ended(FAILED, AT))
    assert message["text"] == "Restore restore-incident~42 failed"
    header, section, fields, context = message["blocks"]
    assert header["text"]["type"] == "plain_text"
    assert "disk &lt;full&gt; &amp; more" in section["text"]["text"]
    assert len(fields["fields"]) <= 10 and context["type"] == "context"
    long = restore_ended(result(restoreId="r" * 400), AT)
    assert len(slack_message(long)["blocks"][0]["text"]["text"]) == 150
    assert schema_problems("slack", slack_message(long)) == []


def test_the_cloud_event_carries_the_notice_with_a_stable_id() -> None:
    notice = restore_ended(result(), AT)
    event = cloud_event(notice, source=event_source(BASE, "restore"))
    assert (event["specversion"], event["type"], event["id"], event["subject"], event["source"]) == (
        "1.0", "Pgflex.Restore.Ended", notice["deliveryId"], "restores/restore-incident~42",
        f"{BASE}/api/restores")
    assert event["data"] == notice and event["time"] == notice["occurredAt"]
    assert cloud_event(drill_started(RUN, AT), source="/x")["type"] == "Pgflex.Drill.Started"
    assert event_source(None, "drill") == "/pgflex-restore/drills"
    assert render("eventgrid", notice, source="/x").content_type == CLOUDEVENT


def test_the_schemas_themselves_catch_what_they_are_for() -> None:
    """Each hand-written schema refuses the mistakes it exists to catch."""
    event = cloud_event(restore_ended(result(), AT), source="/s")
    assert schema_problems("eventgrid", {k: v for k, v in event.items() if k != "id"})
    assert schema_problems("eventgrid", {**event, "specversion": "0.3"})
    assert schema_problems("eventgrid", {**event, "data_base64": "AA=="})  # data and data_base64 both
    assert schema_problems("eventgrid", {**event, "Extension": "x"})  # attribute names are lower-case
    assert schema_problems("eventgrid", {**event, "time": "yesterday"})
    card = teams_message(restore_ended(result(), AT))
    bad_fact = {"type": "FactSet", "facts": [{"title": "x"}]}
    card["attachments"][0]["content"]["body"].append(bad_fact)
    assert schema_problems("teams", card)
    assert schema_problems("teams", {"type": "message", "attachments": []})
    assert schema_problems("slack", {"blocks": []})  # no fallback text
    assert schema_problems("slack", {"text": "x", "blocks": [{"type": "section"}]})  # neither text nor fields
    assert schema_problems("slack", {"text": "x", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]})
    assert schema_problems("webhook", {**restore_ended(result(), AT), "outcome": "ok"})


def test_headlines_and_facts() -> None:
    assert headline(restore_started(PLAN, AT)) == "Restore restore-incident~42 started"
    assert headline(drill_ended(SUMMARY, AT)) == "Restore drill drill-20261125T030000Z failed"
    assert ("Drills", "5 (3 passed, 2 failed, 0 skipped)") in facts(drill_ended(SUMMARY, AT))
    assert ("Recovery point", "latest") in facts(restore_started(PLAN, AT))
    with pytest.raises(ValueError, match="unknown notification target type"):
        render("pager", restore_ended(result(), AT), source="/s")
