"""The durable management HTTP API (webhook and worker RPC forms) and the client binding JSON the host sends.

`DurableOrchestrationClient` only ever talks HTTP to `rpcBaseUrl`; management URLs handed to callers point at the
public webhook routes. Both are answered here with the extension's status codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devhost.clock import api_timestamp, parse_timestamp
from devhost.engine import Engine
from devhost.errors import (
    InstanceGoneError,
    InstanceNotFoundError,
    OrchestrationAlreadyExistsError,
    UnknownFunctionError,
)
from devhost.history import summarize
from devhost.model import Instance
from devhost.server import Request, Response

WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"
RPC_PREFIX = "/durabletask/"
_ALREADY_EXISTS = "Microsoft.Azure.WebJobs.Extensions.DurableTask.OrchestrationAlreadyExistsException"


@dataclass
class Urls:
    """Where the host listens: the public base (webhooks, HTTP triggers) and the worker RPC base."""

    http_base: str
    rpc_base: str
    hub: str
    system_key: str

    @property
    def webhook_base(self) -> str:
        return self.http_base + WEBHOOK_PREFIX.rstrip("/")

    def query(self) -> str:
        return f"taskHub={self.hub}&connection=Storage&code={self.system_key}"

    def management_urls(self, instance_id: str, base: str | None = None) -> dict[str, str]:
        root = (base or self.http_base) + WEBHOOK_PREFIX + "instances/" + instance_id
        q = self.query()
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{root}?{q}",
            "sendEventPostUri": f"{root}/raiseEvent/{{eventName}}?{q}",
            "terminatePostUri": f"{root}/terminate?reason={{text}}&{q}",
            "rewindPostUri": f"{root}/rewind?reason={{text}}&{q}",
            "purgeHistoryDeleteUri": f"{root}?{q}",
            "restartPostUri": f"{root}/restart?{q}",
            "suspendPostUri": f"{root}/suspend?reason={{text}}&{q}",
            "resumePostUri": f"{root}/resume?reason={{text}}&{q}",
        }

    def client_binding(self) -> str:
        """The durableClient binding value, key for key as BindingHelper writes it."""
        orchestrators = f"{self.webhook_base}/orchestrators/{{functionName}}[/{{instanceId}}]"
        return json.dumps({
            "taskHubName": self.hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{orchestrators}?code={self.system_key}",
                "createAndWaitOnNewInstancePostUri":
                    f"{orchestrators}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}"
                    f"&code={self.system_key}",
            },
            "managementUrls": self.management_urls("INSTANCEID"),
            "baseUrl": self.webhook_base,
            "requiredQueryStringParameters": f"code={self.system_key}",
            "rpcBaseUrl": self.rpc_base,
            "httpBaseUrl": "",
            "maxGrpcMessageSizeInBytes": 0,
            "grpcHttpClientTimeout": "00:01:40",
        })


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, \
        json.dumps(body).encode()


def _error(status: int, message: str, exception_type: str = "System.ArgumentException") -> Response:
    return _json(status, {"Message": "An error has occurred.", "ExceptionMessage": message,
                          "ExceptionType": exception_type, "StackTrace": None})


def _flag(query: dict[str, str], name: str, default: bool) -> bool:
    value = query.get(name)
    return default if value is None else value.lower() == "true"


def status_json(inst: Instance, show_input: bool, show_history: bool, show_output: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": inst.name, "instanceId": inst.instance_id, "runtimeStatus": inst.status,
        "input": inst.execution.input_token if show_input else None, "customStatus": inst.custom_status,
        "output": inst.output, "createdTime": api_timestamp(inst.created_time),
        "lastUpdatedTime": api_timestamp(inst.last_updated_time or inst.created_time),
    }
    if show_history:
        body["historyEvents"] = summarize(inst.execution.history, show_output)
    return body


class ManagementApi:
    """Answers management requests against one Engine."""

    def __init__(self, engine: Engine, urls: Urls) -> None:
        self.engine = engine
        self.urls = urls

    def handle(self, request: Request, path: str, origin: str) -> Response:
        """`path` is relative to the webhook or RPC prefix, e.g. 'instances/abc/terminate'."""
        method, query, body = request.method, request.query, request.body
        parts = [p for p in path.split("/") if p]
        if method == "POST" and parts[:1] == ["orchestrators"] and len(parts) in (2, 3):
            return self._start(parts[1], parts[2] if len(parts) == 3 else None, body, origin)
        if parts[:1] == ["instances"]:
            found = self._instances(method, parts, query, body, origin)
            if found is not None:
                return found
        return _error(404, f"devhost: no management route for {method} {path}")

    def _instances(self, method: str, parts: list[str], query: dict[str, str], body: bytes,
                   origin: str) -> Response | None:
        verb = parts[2] if len(parts) > 2 else ""
        if len(parts) == 3 and verb == "rewind":
            return _error(501, "devhost does not implement rewind", "System.NotImplementedException")
        routes: dict[tuple[str, int, str], Callable[[], Response]] = {
            ("GET", 1, ""): lambda: self._list(query),
            ("DELETE", 1, ""): lambda: self._purge_by(query),
            ("GET", 2, ""): lambda: self._status(parts[1], query, origin),
            ("DELETE", 2, ""): lambda: self._purge(parts[1]),
            ("POST", 4, "raiseEvent"): lambda: self._raise(parts[1], parts[3], body),
            ("POST", 3, "terminate"): lambda: self._terminate(parts[1], query.get("reason", "")),
            ("POST", 3, "suspend"): lambda: self._steer(self.engine.suspend, parts[1], query.get("reason", "")),
            ("POST", 3, "resume"): lambda: self._steer(self.engine.resume, parts[1], query.get("reason", "")),
            ("POST", 3, "restart"): lambda: self._restart(parts[1], query, origin),
        }
        handler = routes.get((method, len(parts), verb))
        return handler() if handler else None

    def _purge(self, instance_id: str) -> Response:
        deleted = self.engine.purge(instance_id)
        return _json(200, {"instancesDeleted": deleted}) if deleted else (404, {}, b"")

    def _start(self, name: str, instance_id: str | None, body: bytes, origin: str) -> Response:
        try:
            token = json.loads(body) if body.strip() else None
        except ValueError:
            return _error(400, "The request content is not valid JSON.")
        try:
            new_id = self.engine.start(name, token, instance_id)
        except UnknownFunctionError as exc:
            return _error(400, str(exc))
        except ValueError as exc:
            return _error(400, str(exc))
        except OrchestrationAlreadyExistsError as exc:
            return _error(500, str(exc), _ALREADY_EXISTS)
        payload = self.urls.management_urls(new_id, origin)
        return _json(202, payload, {"Location": payload["statusQueryGetUri"], "Retry-After": "10"})

    def _status(self, instance_id: str, query: dict[str, str], origin: str) -> Response:
        with self.engine.lock:
            inst = self.engine.instances.get(instance_id)
            if inst is None:
                return 404, {}, b""
            body = status_json(inst, _flag(query, "showInput", True), _flag(query, "showHistory", False),
                               _flag(query, "showHistoryOutput", False))
            status = inst.status  # read with the body, so the status code never contradicts it
        if status in ("Pending", "Running", "ContinuedAsNew", "Suspended"):
            location = self.urls.management_urls(instance_id, origin)["statusQueryGetUri"]
            return _json(202, body, {"Location": location, "Retry-After": "10"})
        if status == "Failed" and _flag(query, "returnInternalServerErrorOnFailure", False):
            return _json(500, body)
        return _json(200, body)

    def _list(self, query: dict[str, str]) -> Response:
        created_from = parse_timestamp(query["createdTimeFrom"]) if query.get("createdTimeFrom") else None
        created_to = parse_timestamp(query["createdTimeTo"]) if query.get("createdTimeTo") else None
        statuses = [s for s in query.get("runtimeStatus", "").split(",") if s] or None
        prefix = query.get("instanceIdPrefix", "")
        show_input = _flag(query, "showInput", True)
        with self.engine.lock:
            found = [status_json(i, show_input, False, False)
                     for i in self.engine.select(created_from, created_to, statuses)
                     if i.instance_id.startswith(prefix)]
        return _json(200, found)

    def _purge_by(self, query: dict[str, str]) -> Response:
        created_from = parse_timestamp(query["createdTimeFrom"]) if query.get("createdTimeFrom") else None
        created_to = parse_timestamp(query["createdTimeTo"]) if query.get("createdTimeTo") else None
        statuses = [s for s in query.get("runtimeStatus", "").split(",") if s] or None
        deleted = self.engine.purge_by(created_from, created_to, statuses)
        return _json(200, {"instancesDeleted": deleted}) if deleted else (404, {}, b"")

    def _raise(self, instance_id: str, name: str, body: bytes) -> Response:
        try:
            self.engine.raise_event(instance_id, name, body.decode("utf-8") if body else None)
        except InstanceNotFoundError as exc:
            return _error(404, str(exc))
        except InstanceGoneError as exc:
            return _error(410, str(exc))
        return 202, {}, b""

    def _restart(self, instance_id: str, query: dict[str, str], origin: str) -> Response:
        try:
            new_id = self.engine.restart(instance_id, _flag(query, "restartWithNewInstanceId", True))
        except InstanceNotFoundError as exc:
            return _error(404, str(exc))
        except OrchestrationAlreadyExistsError as exc:
            return _error(500, str(exc), _ALREADY_EXISTS)
        location = self.urls.management_urls(new_id, origin)["statusQueryGetUri"]
        return _json(202, new_id, {"Location": location})

    def _terminate(self, instance_id: str, reason: str) -> Response:
        return self._steer(self.engine.terminate, instance_id, reason)

    def _steer(self, action: Callable[[str, str], None], instance_id: str, reason: str) -> Response:
        try:
            action(instance_id, reason)
        except InstanceNotFoundError as exc:
            return _error(404, str(exc))
        except InstanceGoneError as exc:
            return _error(410, str(exc))
        return 202, {}, b""
