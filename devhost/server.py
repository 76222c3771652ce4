"""Loopback HTTP servers: the public one (HTTP triggers, management webhooks) and the worker RPC listener."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger("devhost")
Response = tuple[int, dict[str, str], bytes]


@dataclass
class Request:
    """One request as the dispatchers see it; `url` is absolute (the SDK rewrites management URLs from it)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    url: str

    @property
    def origin(self) -> str:
        return "{0.scheme}://{0.netloc}".format(urlsplit(self.url))


Dispatch = Callable[[Request], Response]


class _Listener(ThreadingHTTPServer):
    """A listen backlog like the host's (Kestrel queues 512 pending connections); the standard library's 5 resets
    connections as soon as a burst of callers arrives at once."""

    request_queue_size = 512


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 (a free port unless `port` is given), handing every request to
    `dispatch`."""

    def __init__(self, dispatch: Dispatch, name: str, port: int = 0) -> None:
        self._dispatch = dispatch

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                body = self._body()
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                url = f"http://{self.headers.get('Host') or '127.0.0.1'}{self.path}"
                request = Request(self.command, parts.path, query, dict(self.headers.items()), body, url)
                try:
                    status, headers, payload = dispatch(request)
                except Exception:
                    log.exception("devhost request failed: %s %s", self.command, self.path)
                    status, headers, payload = 500, {}, b""
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: object) -> None:
                log.debug("%s " + format, name, *args)

        self._server = _Listener(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=f"devhost-{name}",
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port; safe on a server whose thread never started (a failed start)."""
        if self._thread.is_alive():
            self._server.shutdown()  # (blocks for ever unless serve_forever is running)
            self._thread.join(timeout=5)
        self._server.server_close()
