"""A tiny real HTTP listener for the token-origin tests: it counts every TCP connection, before any parsing.

pytest-httpserver logs only requests it could parse; "no request at all" needs the connection count (a TLS
hello or a malformed request line must count too), and a listener on 127.0.0.2 needs its own bind address.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = tuple[int, dict[str, Any], dict[str, str]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.connections = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.routes: dict[str, Route] = {}

    def verify_request(self, request: Any, client_address: Any) -> bool:  # every accepted connection
        self.connections += 1
        return True


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        self.server.requests.append((self.command, self.path, dict(self.headers.items())))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        routes = self.server.routes
        status, body, headers = routes.get(self.path) or routes.get(self.path.split("?", 1)[0]) or (
            404, {"error": {"code": "NotFound", "message": "no route"}}, {})
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``requests``."""


class Listener:
    """A loopback HTTP listener: ``connections`` counts TCP connections, ``requests`` the parsed ones."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port))
        self.host, self.port = host, self._server.server_address[1]
        self.origin = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"listener-{host}", daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        return self._server.connections

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        return self._server.requests

    def route(self, path: str, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Answer ``path`` with this JSON: a path with a query matches only that query, one without any."""
        self._server.routes[path] = (status, body, headers or {})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def listening(host: str = "127.0.0.1", port: int = 0) -> Iterator[Listener]:
    """A Listener for the ``with`` block."""
    listener = Listener(host, port)
    try:
        yield listener
    finally:
        listener.close()
