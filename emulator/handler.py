"""HTTP plumbing: one request in, one ARM-shaped answer out (or a deliberate fault), logged for tests."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .arm import Request, Response
from .auth import IDENTITY_PATH
from .clock import arm_time
from .errors import ArmError
from .faults import Fault
from .spec import api_versions_for

if TYPE_CHECKING:
    from .server import EmulatorServer

CONTROL_PREFIX = "/_emulator/"
_LOGGED_HEADERS = ("x-ms-client-request-id", "content-type", "x-ms-correlation-request-id")


class _Dropped(Exception):
    """The connection was closed on purpose without an answer."""


class EmulatorHandler(BaseHTTPRequestHandler):
    """Dispatches to the identity endpoint, the control API or the ARM routes."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; do not wait for delayed ACKs
    server_version = "pgflex-emulator"
    timeout = 300  # idle keep-alive connections are closed after five minutes
    emulator: EmulatorServer  # set on the subclass the server builds

    def setup(self) -> None:
        super().setup()
        self.emulator.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.emulator.track(self.connection, open_=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's per-request stderr line; the request log is the record."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path.startswith(CONTROL_PREFIX):
            status, body = self.emulator.control.handle(self.command, path[len(CONTROL_PREFIX):], raw)
            self._send(status, body, {})
            return
        entry: dict[str, Any] = {
            "method": self.command,
            "path": path,
            "query": query,
            "headers": self._logged_headers(),
            "body": _json_or_text(raw),
            "time": arm_time(self.emulator.state.now()),
        }
        if path.rstrip("/") == IDENTITY_PATH:
            status, token_body = self.emulator.tokens.identity_response(query, self.headers.get("X-IDENTITY-HEADER"))
            response = Response(status, token_body, {})
        else:
            try:
                response = self._arm(path, query, raw, entry)
            except _Dropped:
                entry["status"] = None
                self.emulator.record(entry)
                self._drop()
                return
        entry["status"] = response.status
        self.emulator.record(entry)  # before answering, so a client that has its answer finds it logged
        self._send(response.status, response.body, response.headers or {})

    def _arm(self, path: str, query: dict[str, str], raw: bytes, entry: dict[str, Any]) -> Response:
        emulator = self.emulator
        emulator.state.tick()
        fault = emulator.faults.take(self.command, path, unquote(urlsplit(self.path).query))
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind == "delay":
                time.sleep(fault.delay_seconds)
            elif fault.kind == "drop":
                raise _Dropped
            elif fault.kind == "status":
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                error = ArmError(fault.status, fault.error_code(),
                                 fault.message or "The service is temporarily unavailable; retry later.",
                                 headers=headers)
                return self._finish(self._error(error), None)
        decision = None
        try:
            emulator.tokens.check(self.headers.get("Authorization"))
            api_version = query.get("api-version")
            if not api_version:
                raise ArmError(400, "MissingApiVersionParameter",
                               "The api-version query parameter (?api-version=) is required for all requests.")
            supported = api_versions_for(path)
            if api_version not in supported:
                raise ArmError(400, "InvalidApiVersionParameter",
                               f"The api-version '{api_version}' is invalid. The supported versions are "
                               f"'{','.join(reversed(supported))}'.")
            subscription = _subscription(path)
            if subscription is not None:
                kind = "reads" if self.command == "GET" else "writes"
                decision = emulator.throttler.consume(subscription, kind, emulator.state.now())
                if not decision.allowed:
                    raise ArmError(429, "TooManyRequests",
                                   f"The request is being throttled as the limit has been reached for operation "
                                   f"type - '{'Read' if kind == 'reads' else 'Write'}'. Retry after "
                                   f"{decision.retry_after} second(s).",
                                   headers={"Retry-After": str(decision.retry_after), decision.header: "0"})
            handler, params = emulator.routes.match(self.command, path, api_version)
            host = self.headers.get("Host") or f"127.0.0.1:{emulator.port}"
            request = Request(self.command, path, query, raw, api_version, f"http://{host}", params,
                              caller=emulator.tokens.client_of(self.headers.get("Authorization")))
            with emulator.state.lock:
                response = handler(emulator.state, request)
        except ArmError as error:
            response = self._error(error)
        except Exception as exc:  # an emulator bug must still answer like ARM, not drop the socket
            response = self._error(ArmError(500, "InternalServerError", f"Emulator error: {type(exc).__name__}: {exc}"))
        if decision is not None and decision.allowed:
            response.headers = {**(response.headers or {}), decision.header: str(decision.remaining)}
        return self._finish(response, fault)

    def _finish(self, response: Response, fault: Fault | None) -> Response:
        if fault is not None and fault.kind == "drop-after-processing":
            raise _Dropped
        if fault is not None and fault.kind == "foreign-operation-url" and response.headers:
            response.headers = fault.moved(response.headers)
        return response

    @staticmethod
    def _error(error: ArmError) -> Response:
        return Response(error.status, error.body(), dict(error.headers))

    def _logged_headers(self) -> dict[str, Any]:
        headers: dict[str, Any] = {"authorization": "Authorization" in self.headers}
        for name in _LOGGED_HEADERS:
            if self.headers.get(name) is not None:
                headers[name] = self.headers[name]
        return headers

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        request_id = str(uuid.uuid4())
        correlation = self.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        standard = {
            "Cache-Control": "no-cache",
            "Pragma": "no-cache",
            "Expires": "-1",
            "x-ms-request-id": request_id,
            "x-ms-correlation-request-id": correlation,
            "x-ms-routing-request-id": f"WESTEUROPE:{stamp}:{request_id}",
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "X-Content-Type-Options": "nosniff",
        }
        if self.headers.get("x-ms-client-request-id"):
            standard["x-ms-client-request-id"] = self.headers["x-ms-client-request-id"]
        for name, value in {**standard, **headers}.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        try:
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout beat a slow answer)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _subscription(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) > 2 and parts[1].lower() == "subscriptions":
        return parts[2]
    return None


def _json_or_text(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace")
