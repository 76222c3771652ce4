"""What notification tests check payloads against, and the receivers they send them to.

The JSON Schemas are written here from each format's specification, for the subset the app uses: the Adaptive
Card format (a Teams Workflows message: ``type: message`` with an ``application/vnd.microsoft.card.adaptive``
attachment; a card with TextBlock and FactSet elements and Action.OpenUrl actions), Slack's incoming-webhook
message (``text`` plus Block Kit header/section/context blocks, with Slack's documented limits), the CloudEvents
1.0 JSON format (required attributes, their types, the naming rule for extensions) and the app's own notice.

`Receiver` is a real HTTP server on loopback: it records every POST, answers from a per-path script (by the
``Pgflex-Delivery-Attempt`` header, so a delivery the host re-runs meets the same answer), checks each body
against its schema, and keeps deliveries idempotent as a real receiver should: one delivery per
``Idempotency-Key`` (CloudEvents: per ``source`` + ``id``), repeats counted but not delivered again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft202012Validator

RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ABSOLUTE_URI = r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$"
URI_REFERENCE = r"^[^\s]+$"

# -- Adaptive Cards (Teams Workflows) ----------------------------------------------------------------------------
_TEXT_BLOCK = {
    "type": "object", "required": ["type", "text"], "additionalProperties": False,
    "properties": {
        "type": {"const": "TextBlock"}, "text": {"type": "string", "minLength": 1}, "wrap": {"type": "boolean"},
        "weight": {"enum": ["Default", "Lighter", "Bolder"]},
        "size": {"enum": ["Default", "Small", "Medium", "Large", "ExtraLarge"]},
        "color": {"enum": ["Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"]},
        "isSubtle": {"type": "boolean"},
    },
}
_FACT_SET = {
    "type": "object", "required": ["type", "facts"], "additionalProperties": False,
    "properties": {
        "type": {"const": "FactSet"},
        "facts": {"type": "array", "items": {
            "type": "object", "required": ["title", "value"], "additionalProperties": False,
            "properties": {"title": {"type": "string"}, "value": {"type": "string"}}}},
    },
}
_OPEN_URL = {
    "type": "object", "required": ["type", "url"], "additionalProperties": False,
    "properties": {"type": {"const": "Action.OpenUrl"}, "title": {"type": "string"},
                   "url": {"type": "string", "pattern": r"^https?://[^\s]+$"}},
}
ADAPTIVE_CARD = {
    "type": "object", "required": ["type", "version"], "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string", "pattern": ABSOLUTE_URI}, "type": {"const": "AdaptiveCard"},
        "version": {"type": "string", "pattern": r"^1\.[0-6]$"},
        "body": {"type": "array", "items": {"oneOf": [_TEXT_BLOCK, _FACT_SET]}},
        "actions": {"type": "array", "items": _OPEN_URL},
    },
}
TEAMS_MESSAGE = {
    "type": "object", "required": ["type", "attachments"], "additionalProperties": False,
    "properties": {
        "type": {"const": "message"},
        "attachments": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["contentType", "content"], "additionalProperties": False,
            "properties": {"contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                           "contentUrl": {"type": ["string", "null"]}, "content": ADAPTIVE_CARD}}},
    },
}


# -- Slack incoming webhooks (Block Kit) -------------------------------------------------------------------------
def _slack_text(limit: int, kinds: tuple[str, ...] = ("plain_text", "mrkdwn")) -> dict[str, Any]:
    return {"type": "object", "required": ["type", "text"], "additionalProperties": False,
            "properties": {"type": {"enum": list(kinds)},
                           "text": {"type": "string", "minLength": 1, "maxLength": limit},
                           "emoji": {"type": "boolean"}, "verbatim": {"type": "boolean"}}}


_BLOCK_ID = {"type": "string", "maxLength": 255}
SLACK_MESSAGE = {
    "type": "object", "required": ["text"], "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {"type": "array", "maxItems": 50, "items": {"oneOf": [
            {"type": "object", "required": ["type", "text"], "additionalProperties": False,
             "properties": {"type": {"const": "header"}, "text": _slack_text(150, ("plain_text",)),
                            "block_id": _BLOCK_ID}},
            {"type": "object", "required": ["type"], "additionalProperties": False,
             "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
             "properties": {"type": {"const": "section"}, "text": _slack_text(3000), "block_id": _BLOCK_ID,
                            "fields": {"type": "array", "minItems": 1, "maxItems": 10, "items": _slack_text(2000)}}},
            {"type": "object", "required": ["type", "elements"], "additionalProperties": False,
             "properties": {"type": {"const": "context"}, "block_id": _BLOCK_ID,
                            "elements": {"type": "array", "minItems": 1, "maxItems": 10, "items": _slack_text(3000)}}},
            {"type": "object", "required": ["type"], "additionalProperties": False,
             "properties": {"type": {"const": "divider"}, "block_id": _BLOCK_ID}},
        ]}},
    },
}

# -- CloudEvents 1.0, JSON format --------------------------------------------------------------------------------
CLOUD_EVENT = {
    "type": "object", "required": ["specversion", "id", "source", "type"],
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "minLength": 1},
        "source": {"type": "string", "minLength": 1, "pattern": URI_REFERENCE},
        "type": {"type": "string", "minLength": 1},
        "datacontenttype": {"type": "string", "pattern": r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$"},
        "dataschema": {"type": "string", "pattern": ABSOLUTE_URI},
        "subject": {"type": "string", "minLength": 1},
        "time": {"type": "string", "pattern": RFC3339},
        "data": {},
        "data_base64": {"type": "string"},
    },
    # Attribute names: lower-case letters and digits (data_base64 is the format's own member).
    "propertyNames": {"pattern": r"^([a-z0-9]{1,20}|data_base64)$"},
    # Extension attributes are of the CloudEvents type system: in JSON a string, a number or a boolean.
    "additionalProperties": {"type": ["string", "integer", "boolean"]},
    "not": {"required": ["data", "data_base64"]},
}
CLOUD_EVENT_BATCH = {"type": "array", "minItems": 1, "items": CLOUD_EVENT}

# -- the app's own notice (the generic webhook's body; docs/notifications.md) ----------------------------------
_TIME_OR_NULL = {"oneOf": [{"type": "null"}, {"type": "string", "pattern": RFC3339}]}
NOTICE = {
    "type": "object", "additionalProperties": False,
    "required": ["schema", "kind", "event", "id", "deliveryId", "status", "outcome", "occurredAt", "timings",
                 "error", "details", "links"],
    "properties": {
        "schema": {"const": "pgflex-restore/notification@1"},
        "kind": {"enum": ["restore", "drill"]}, "event": {"enum": ["started", "ended"]},
        "id": {"type": "string", "minLength": 1}, "deliveryId": {"type": "string", "pattern": UUID},
        "status": {"type": "string", "minLength": 1}, "outcome": {"enum": ["running", "success", "failure"]},
        "occurredAt": {"type": "string", "pattern": RFC3339},
        "timings": {"type": "object", "required": ["startedAt", "finishedAt", "durationSeconds"],
                    "additionalProperties": False,
                    "properties": {"startedAt": _TIME_OR_NULL, "finishedAt": _TIME_OR_NULL,
                                   "durationSeconds": {"type": ["number", "null"], "minimum": 0}}},
        "error": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["code", "message"], "additionalProperties": False,
            "properties": {"code": {"type": ["string", "null"]}, "message": {"type": ["string", "null"]},
                           "advice": {"type": ["string", "null"]}}}]},
        "details": {"type": "object"},
        "links": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
    },
}

SCHEMAS = {"webhook": NOTICE, "teams": TEAMS_MESSAGE, "slack": SLACK_MESSAGE, "eventgrid": CLOUD_EVENT}
for _schema in (*SCHEMAS.values(), CLOUD_EVENT_BATCH):
    Draft202012Validator.check_schema(_schema)


def schema_problems(kind: str, body: Any) -> list[str]:
    """Every way ``body`` breaks the schema of ``kind`` (webhook, teams, slack, eventgrid), as readable lines."""
    validator = Draft202012Validator(SCHEMAS[kind])
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(body)]


# -- receivers ---------------------------------------------------------------------------------------------------
@dataclass
class Post:
    """One POST the receiver got."""

    kind: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int
    received_at: Any = None  # the clock's time (virtual in e2e tests), when a clock was given

    @property
    def key(self) -> str | None:
        """What the receiver deduplicates on: Idempotency-Key, or a CloudEvent's source and id."""
        if self.kind == "eventgrid" and isinstance(self.body, dict):
            return f"{self.body.get('source')}|{self.body.get('id')}"
        return self.headers.get("idempotency-key")

    @property
    def attempt(self) -> int:
        return int(self.headers.get("pgflex-delivery-attempt") or 1)


# An answer script: (kind, attempt) -> (status, headers, body); None: 200 (202 for Teams), as the services answer.
Script = Callable[[str, int], "tuple[int, dict[str, str], str] | None"]


@dataclass
class Receiver:
    """A loopback HTTP server standing in for every kind of receiver, by the first path segment."""

    script: Script = lambda kind, attempt: None  # the default answers every POST with success
    token_audience: Callable[[str | None], str | None] | None = None  # Event Grid: audience of a bearer token
    clock: Callable[[], Any] | None = None
    posts: list[Post] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def url(self, kind: str, secret: str, query: str = "") -> str:
        return f"{self.base_url}/{kind}/{secret}" + (f"?{query}" if query else "")

    def eventgrid_endpoint(self) -> str:
        return f"{self.base_url}/api/events"

    def delivered(self, kind: str | None = None) -> list[Post]:
        """The first accepted POST of each key: what an idempotent receiver acted upon."""
        seen: dict[str | None, Post] = {}
        with self.lock:
            for post in self.posts:
                if (kind is None or post.kind == kind) and 200 <= post.status < 300:
                    seen.setdefault(post.key, post)
        return list(seen.values())

    def of(self, kind: str) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if p.kind == kind]

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(path)
        kind = "eventgrid" if parts.path == "/api/events" else parts.path.strip("/").split("/", 1)[0]
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            body = None
        status, extra, text = self._answer(kind, parts.query, headers, body)
        post = Post(kind, parts.path, parse_qs(parts.query), headers, body, status,
                    self.clock() if self.clock else None)
        with self.lock:
            self.posts.append(post)
        return status, extra, text

    def _answer(self, kind: str, query: str, headers: dict[str, str],
                body: Any) -> tuple[int, dict[str, str], str]:
        found = [] if kind in SCHEMAS else [f"unknown receiver path for {kind!r}"]
        if kind in SCHEMAS:
            found += [f"{kind}: {p}" for p in schema_problems(kind, body)]
        wanted = "application/cloudevents+json" if kind == "eventgrid" else "application/json"
        if not headers.get("content-type", "").startswith(wanted):
            found.append(f"{kind}: content type {headers.get('content-type')!r}, expected {wanted}")
        if kind == "eventgrid":
            if parse_qs(query).get("api-version") != ["2018-01-01"]:
                found.append("eventgrid: api-version=2018-01-01 missing")
            audience = self.token_audience(headers.get("authorization")) if self.token_audience else None
            if audience != "https://eventgrid.azure.net":
                with self.lock:
                    self.problems.append(f"eventgrid: token for {audience!r}")
                return 401, {}, '{"error": {"code": "Unauthorized"}}'
        if found:
            with self.lock:
                self.problems.extend(found)
            return 400, {}, json.dumps({"error": found[0]})
        scripted = self.script(kind, int(headers.get("pgflex-delivery-attempt") or 1))
        if scripted is not None:
            return scripted
        return (202, {}, "") if kind == "teams" else (200, {}, "ok" if kind == "slack" else "")


@contextmanager
def running_receiver(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """Serve ``receiver`` on 127.0.0.1 (a port of its own) until the block ends."""
    target = receiver or Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, text = target.handle(self.path, headers, raw)
            data = text.encode("utf-8")
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # silent: tests read .posts
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    target.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="notify-receiver", daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
