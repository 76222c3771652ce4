"""EmulatorServer: the DataProtection + managed-identity stand-in on 127.0.0.1, in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .arm import ArmRoutes
from .auth import IDENTITY_PATH, TokenStore
from .clock import Clock, RealClock, arm_time, utc_now
from .control import Control
from .faults import Fault, FaultPlan, Throttler
from .handler import EmulatorHandler
from .scenario import Scenario, Throttle
from .spec import spec_root
from .state import EmulatorState
from .storage import BlobTarget

_TICK_SECONDS = 0.1


class EmulatorServer:
    """A running emulator. ``start()`` binds a free port unless one is given; ``stop()`` ends it."""

    def __init__(
        self,
        scenario: Scenario | dict[str, Any],
        *,
        clock: Clock | None = None,
        storage_connection_string: str | None = None,
        token_lifetime_seconds: int = 3600,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        spec_root()  # fail now, with a clear message, if the official swagger cannot be found
        self.clock: Clock = clock or RealClock()
        if not isinstance(scenario, Scenario):
            scenario = Scenario.from_dict(scenario, utc_now(self.clock))
        blobs = BlobTarget(storage_connection_string) if storage_connection_string else None
        self.state = EmulatorState(scenario, self.clock, blobs)
        self.tokens = TokenStore(token_lifetime_seconds)
        self.tokens.lifetimes.update(scenario.token_lifetimes)
        self.state.load.tokens = self.tokens
        # A database token becomes the password of the role a mapped server gives that identity (loadstate).
        self.tokens.on_issue = lambda resource, client, token, expires: self.state.load.token_issued(
            self.state.scenario, resource, client, token, expires)
        self.faults = FaultPlan()
        self.throttler = Throttler(dict(scenario.throttle))
        self.routes = ArmRoutes()
        self.control = Control(self)
        self._requests: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._host, self._port = host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()

    # lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> EmulatorServer:
        handler = type("BoundEmulatorHandler", (EmulatorHandler,), {"emulator": self})
        self._httpd = ThreadingHTTPServer((self._host, self._port), handler)
        self._httpd.daemon_threads = True
        self._port = int(self._httpd.server_address[1])
        self.tokens.own_audiences = (self.url,)
        self.state.load.identity_endpoint = self.identity_endpoint
        self._threads = [
            threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="emulator-http", daemon=True),
            threading.Thread(target=self._tick_loop, name="emulator-ticker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.state.load.stop_all()  # no job execution outlives the emulator
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._log_lock:
            open_connections = list(self._connections)
        for connection in open_connections:  # keep-alive clients must not reach a stopped emulator
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        if self.state.blobs is not None:
            self.state.blobs.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _tick_loop(self) -> None:
        """Finish due jobs even when nobody polls (e.g. a test advances the clock and reads the blobs)."""
        while not self._stopping.wait(_TICK_SECONDS):
            try:
                self.state.tick()
            except Exception:  # noqa: S112 - a failed tick is retried on the next one
                continue

    # addresses -------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The ARM base URL (use as ARM_ENDPOINT / the SDK's base_url)."""
        return f"http://{self._host}:{self._port}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.url}{IDENTITY_PATH}"

    @property
    def identity_header(self) -> str:
        return self.tokens.identity_header

    def env(self) -> dict[str, str]:
        """Environment variables that point the app (and azure-identity) at this emulator."""
        return {
            "ARM_ENDPOINT": self.url,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
        }

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        """Remember open client connections so stop() can close them."""
        with self._log_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # request log -----------------------------------------------------------------------------------------
    def record(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self._requests.append(entry)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of the request log (oldest first)."""
        with self._log_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._requests.clear()

    # test helpers ----------------------------------------------------------------------------------------
    def jobs(self) -> list[dict[str, Any]]:
        """Every job with its status on the emulator clock, target and restored files."""
        self.state.tick()
        with self.state.lock:
            now = self.state.now()
            return [
                {
                    "id": job.id, "armId": job.arm_id, "status": job.status(now), "percent": job.percent(now),
                    "backupInstance": job.instance.name, "vault": job.vault.name,
                    "recoveryPointId": job.recovery_point.id, "targetUrl": job.target_url,
                    "filePrefix": job.file_prefix, "startTime": arm_time(job.start),
                    "files": [{"name": f.name, "size": f.size} for f in job.files],
                    "error": job.error if job.status(now) == "Failed" else None,
                }
                for job in self.state.jobs.values()
            ]

    def executions(self) -> list[dict[str, Any]]:
        """Every job execution: status, why it ended, exit codes and the tail of its containers' output."""
        with self.state.lock:
            histories = [list(h) for h in self.state.load.executions.values()]
        return [
            {"job": e.job.name, "name": e.name, "id": e.id, "status": e.process.phase, "reason": e.process.reason,
             "startTime": arm_time(e.start),
             "endTime": arm_time(e.process.ended_at) if e.process.ended_at else None,
             "containers": [{"name": c.name, "argv": c.argv, "exitCode": c.exit_code,
                             "env": sorted(c.env)} for c in (*e.process.init_containers, *e.process.containers)],
             "output": e.process.tail()}
            for history in histories for e in history
        ]

    def configuration_operations(self) -> list[dict[str, Any]]:
        """Every server parameter change and its outcome on the emulator clock."""
        self.state.tick()
        with self.state.lock:
            now = self.state.now()
            return [{"id": op.id, "server": op.server.name, "name": op.name, "value": op.value,
                     "status": op.status(now), "error": op.error}
                    for op in self.state.load.config_operations.values()]

    def token_passwords(self) -> list[dict[str, Any]]:
        """Database tokens set as role passwords (or why that failed)."""
        return self.state.load.token_events()

    def set_token_lifetime(self, resource: str, seconds: int | None) -> None:
        """Tokens issued from now on for ``resource`` live ``seconds`` (None: the default lifetime)."""
        self.tokens.set_lifetime(resource, seconds)

    def inject_fault(self, kind: str = "status", *, count: int = 1, status: int = 503,
                     retry_after: int | None = None, delay_seconds: float = 0.0, method: str | None = None,
                     path: str | None = None, code: str | None = None, message: str | None = None,
                     query: str | None = None, url: str | None = None,
                     headers: tuple[str, ...] | None = None) -> None:
        """Fault the next ``count`` matching requests (kinds: status, drop, drop-after-processing, delay, and
        foreign-operation-url: processed as usual, the 202's operation ``headers`` then point at ``url``)."""
        raw = {"kind": kind, "count": count, "status": status, "retryAfter": retry_after,
               "delaySeconds": delay_seconds, "method": method, "path": path, "code": code, "message": message,
               "query": query, "url": url, "headers": list(headers) if headers else None}
        self.faults.add(Fault.from_dict(raw))

    def set_throttle(self, subscription: str, throttle: Throttle | dict[str, float] | None) -> None:
        """Token-bucket limits for one subscription (None removes them)."""
        if isinstance(throttle, dict):
            throttle = Throttle(**throttle)
        self.throttler.configure(subscription, throttle)

    def revoke_tokens(self) -> int:
        return self.tokens.revoke_all()

    def replace_scenario(self, scenario: Scenario) -> None:
        self.state.replace_scenario(scenario)
        self.tokens.lifetimes.update(scenario.token_lifetimes)
        self.throttler = Throttler(dict(scenario.throttle))
