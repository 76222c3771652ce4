"""A notice rendered for each receiver: the generic webhook's JSON, a Teams Workflows message with an Adaptive
Card, a Slack incoming-webhook message (Block Kit), and a CloudEvents 1.0 event for an Event Grid custom topic.

Pure functions of the notice (and the app's public URL, for links), so the activity that sends them stays one
POST, and every shape is unit-tested against a schema written from its format's specification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = "application/json"
CLOUDEVENT = "application/cloudevents+json; charset=utf-8"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION = "1.4"  # what Teams renders everywhere (desktop, web, mobile)
SLACK_HEADER_CHARS = 150  # Block Kit limits
SLACK_TEXT_CHARS = 3000
SLACK_FIELD_CHARS = 2000
SLACK_MAX_FIELDS = 10


@dataclass(frozen=True)
class Rendered:
    """What to POST: the JSON body and its content type."""

    content_type: str
    body: dict[str, Any]


def render(target_type: str, notice: Mapping[str, Any], *, source: str) -> Rendered:
    """The body for one target type; ``source`` is the CloudEvents source (the app's URL or a fixed name)."""
    if target_type == "webhook":
        return Rendered(JSON, dict(notice))
    if target_type == "teams":
        return Rendered(JSON, teams_message(notice))
    if target_type == "slack":
        return Rendered(JSON, slack_message(notice))
    if target_type == "eventgrid":
        return Rendered(CLOUDEVENT, cloud_event(notice, source=source))
    raise ValueError(f"unknown notification target type {target_type!r}")


def headline(notice: Mapping[str, Any]) -> str:
    """One line a human reads first: ``Restore restore-x succeeded``, ``Restore drill drill-... failed``."""
    what = "Restore" if notice["kind"] == "restore" else "Restore drill"
    state = "started" if notice["event"] == "started" else str(notice.get("status"))
    return f"{what} {notice['id']} {state}"


def facts(notice: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The key facts as (title, value) pairs, at most ten (Slack's limit for a section's fields)."""
    details = notice.get("details") or {}
    timings = notice.get("timings") or {}
    found: list[tuple[str, Any]] = [("Status", notice.get("status"))]
    if notice["kind"] == "restore":
        point = details.get("recoveryPoint") or {}
        target = details.get("target") or {}
        found += [("Backup instance", _leaf(details.get("backupInstance"))),
                  ("Recovery point", point.get("id") or point.get("requested")),
                  ("Point time", point.get("time")),
                  ("Target", f"{target.get('containerUrl')} ({target.get('filePrefix')})" if target else None)]
    else:
        counts = [f"{details[k]} {k}" for k in ("passed", "failed", "skipped") if details.get(k) is not None]
        found += [("Drills", f"{details.get('total')} ({', '.join(counts)})" if counts else None),
                  ("Scheduled", details.get("scheduledAt"))]
    found += [("Started", timings.get("startedAt")), ("Finished", timings.get("finishedAt")),
              ("Duration", _duration_text(timings.get("durationSeconds")))]
    error = notice.get("error") or {}
    found += [("Error", error.get("code"))]
    return [(title, str(value)) for title, value in found if value not in (None, "")][:SLACK_MAX_FIELDS]


def teams_message(notice: Mapping[str, Any]) -> dict[str, Any]:
    """A Teams Workflows ("post to a channel when a webhook request is received") message: one Adaptive Card."""
    error = notice.get("error") or {}
    color = {"success": "Good", "failure": "Attention"}.get(str(notice.get("outcome")), "Default")
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": headline(notice), "weight": "Bolder", "size": "Medium", "wrap": True,
         "color": color},
    ]
    if error.get("message"):
        body.append({"type": "TextBlock", "text": str(error["message"]), "wrap": True})
    if error.get("advice"):
        body.append({"type": "TextBlock", "text": str(error["advice"]), "wrap": True, "isSubtle": True})
    body.append({"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in facts(notice)]})
    body.append({"type": "TextBlock", "text": f"delivery {notice['deliveryId']}", "size": "Small",
                 "isSubtle": True, "wrap": True})
    card: dict[str, Any] = {"$schema": ADAPTIVE_CARD_SCHEMA, "type": "AdaptiveCard",
                            "version": ADAPTIVE_CARD_VERSION, "body": body}
    actions = [{"type": "Action.OpenUrl", "title": _link_title(name), "url": url}
               for name, url in _absolute_links(notice)]
    if actions:
        card["actions"] = actions
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}]}


def slack_message(notice: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (the notification's fallback) plus Block Kit blocks."""
    error = notice.get("error") or {}
    title = headline(notice)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, SLACK_HEADER_CHARS), "emoji": False}},
    ]
    lines = [f"*{_slack_escape(str(error['code']))}*: {_slack_escape(str(error.get('message') or ''))}"] \
        if error.get("code") else []
    if error.get("advice"):
        lines.append(f"_{_slack_escape(str(error['advice']))}_")
    links = [f"<{url}|{_link_title(name)}>" for name, url in _absolute_links(notice)]
    if links:
        lines.append(" · ".join(links))
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(lines),
                                                                                  SLACK_TEXT_CHARS)}})
    blocks.append({"type": "section", "fields": [
        {"type": "mrkdwn", "text": _cut(f"*{t}*\n{_slack_escape(v)}", SLACK_FIELD_CHARS)} for t, v in facts(notice)]})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"pgflex-restore · delivery {notice['deliveryId']}"}]})
    return {"text": _cut(_slack_escape(title), SLACK_TEXT_CHARS), "blocks": blocks}


def cloud_event(notice: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """A CloudEvents 1.0 event in the JSON format (structured mode): the notice is its ``data``; its ``id`` is the
    notice's delivery id, so a repeated delivery is the same event to Event Grid's subscribers."""
    kind = "Restore" if notice["kind"] == "restore" else "Drill"
    return {
        "specversion": "1.0",
        "id": notice["deliveryId"],
        "source": source,
        "type": f"Pgflex.{kind}.{str(notice['event']).capitalize()}",
        "subject": f"{notice['kind']}s/{notice['id']}",
        "time": notice["occurredAt"],
        "datacontenttype": JSON,
        "data": dict(notice),
    }


def event_source(link_base: str | None, kind: str) -> str:
    """The CloudEvents ``source``: the app's API for the kind when its public URL is known, else a fixed name."""
    return f"{link_base.rstrip('/')}/api/{kind}s" if link_base else f"/pgflex-restore/{kind}s"


def _absolute_links(notice: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Links a chat client can open: only absolute https/http ones (relative paths need NOTIFY_LINK_BASE)."""
    return [(name, url) for name, url in (notice.get("links") or {}).items()
            if isinstance(url, str) and url.startswith(("https://", "http://"))]


def _link_title(name: str) -> str:
    return {"status": "View status", "evidence": "Evidence", "dashboard": "Dashboard"}.get(name, name.capitalize())


def _slack_escape(text: str) -> str:
    """Slack's three control characters in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration_text(seconds: object) -> str | None:
    if not isinstance(seconds, int | float):
        return None
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _leaf(arm_id: object) -> str | None:
    return str(arm_id).rstrip("/").rsplit("/", 1)[-1] if arm_id else None
