"""DevHost: the Functions host's part for one app, in-process, on loopback, on a virtual or real clock."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from azure.functions._durable_functions import df_dumps

from devhost import invoke, speedups
from devhost.bindings import Bindings
from devhost.clock import Clock, RealClock, VirtualClock, is_virtual
from devhost.engine import Engine
from devhost.errors import DevHostError, InstanceNotFoundError, NonDeterminismError
from devhost.http_triggers import HttpTriggers
from devhost.indexer import FunctionInfo, HostSettings, import_app, index_app, load_host_settings
from devhost.management import RPC_PREFIX, WEBHOOK_PREFIX, ManagementApi, Urls
from devhost.model import TERMINAL, InstanceState, snapshot
from devhost.queues import QueuePoller, resolve_connection
from devhost.redelivery import Redelivery
from devhost.runner import ActivityCall, ActivityRunner, Stats
from devhost.server import LoopbackServer, Request, Response
from devhost.timers import TimerTriggers

log = logging.getLogger("devhost")
T = TypeVar("T")


@contextlib.contextmanager
def applied_env(env: dict[str, str]) -> Iterator[None]:
    """Set app settings in os.environ for the duration, then restore what was there."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class DevHost:
    """Runs one Functions app: HTTP/queue/timer triggers, orchestrations, activities, the management API.

    - `clock`: a VirtualClock (tests; `auto_advance` defaults to True: when nothing is runnable the clock jumps to
      the next durable timer) or the RealClock (default; timers wait in real time).
    - `env`: app settings, put into os.environ from start() until stop() (and during load()'s import), then
      restored; settings are process-wide, so run one host with `env` at a time. With a
      `storage_connection_string`, AzureWebJobsStorage is set to it unless `env` names one, and queue triggers
      are polled (without it they are indexed but never polled).
    - `determinism_checks`: replay checks after every episode and execution; default on under pytest or with
      DEVHOST_DEBUG=1. `run_timers`: timer-trigger occurrences count as auto-advance wake-ups.
    - `memoize_timestamps`: cache the SDK's timestamp parsing (speed only); default from
      DEVHOST_MEMOIZE_TIMESTAMPS=1.
    - `redelivery`: at-least-once activities (devhost.redelivery); default from DEVHOST_REDELIVERY.
    - `http_port`: the public listener's port (0: any free one; `func start` uses 7071).
    - `concurrent_activities`: run activities on a thread pool of host.json's maxConcurrentActivityFunctions, as
      the worker does, instead of one at a time; default from DEVHOST_CONCURRENT_ACTIVITIES=1.
    A host starts once; make a new one to start again.
    """

    def __init__(self, app: Any, *, clock: Clock | None = None, env: dict[str, str] | None = None,
                 storage_connection_string: str | None = None, auto_advance: bool | None = None,
                 function_key: str = "testkey", app_dir: str | Path | None = None,
                 determinism_checks: bool | None = None, run_timers: bool = False,
                 memoize_timestamps: bool | None = None, redelivery: Redelivery | None = None,
                 concurrent_activities: bool | None = None, http_port: int = 0) -> None:
        self.app = app
        self.clock: Clock = clock or RealClock()
        self.env = dict(env or {})
        self.storage_connection_string = storage_connection_string
        self.auto_advance = is_virtual(self.clock) if auto_advance is None else auto_advance
        self.function_key = function_key
        self.http_port = http_port
        self.master_key = f"{function_key}-master"
        self.system_key = f"{function_key}-durabletask"
        self.app_dir = Path(app_dir) if app_dir else None
        self.determinism_checks = ("pytest" in sys.modules or os.environ.get("DEVHOST_DEBUG") == "1") \
            if determinism_checks is None else determinism_checks
        self.run_timers = run_timers
        self.memoize_timestamps = os.environ.get("DEVHOST_MEMOIZE_TIMESTAMPS") == "1" \
            if memoize_timestamps is None else memoize_timestamps
        self.concurrent_activities = os.environ.get("DEVHOST_CONCURRENT_ACTIVITIES") == "1" \
            if concurrent_activities is None else concurrent_activities
        redelivery = Redelivery.from_env() if redelivery is None else redelivery
        self.functions: dict[str, FunctionInfo] = index_app(app)
        self.settings = HostSettings()
        self._inflight = 0
        self._stopping = threading.Event()
        self._started = False
        self._env_context: contextlib.AbstractContextManager[None] | None = None
        self._pollers: list[QueuePoller] = []
        self._servers: list[LoopbackServer] = []
        self.bindings = Bindings(self._client_binding, lambda: self.settings, storage_connection_string,
                                 str(self.app_dir or Path.cwd()))
        self.runner = ActivityRunner(self.clock, self.bindings)
        self.engine = Engine(self.functions, self.clock, self.runner, self.determinism_checks, redelivery)
        self.timers = TimerTriggers(self.functions, self.bindings)
        self._worker = threading.Thread(target=self._work, name="devhost-worker", daemon=True)

    @classmethod
    def load(cls, module_name: str, **kwargs: Any) -> DevHost:
        """Import a function_app-style module (with `env` applied, as app settings are at import) and index it."""
        with applied_env(dict(kwargs.get("env") or {})):
            app, app_dir = import_app(module_name)
        kwargs.setdefault("app_dir", app_dir)
        return cls(app, **kwargs)

    # ----- lifecycle -----

    def start(self) -> DevHost:
        env = dict(self.env)
        if self.storage_connection_string and "AzureWebJobsStorage" not in env:
            env["AzureWebJobsStorage"] = self.storage_connection_string
        self._env_context = applied_env(env)
        self._env_context.__enter__()
        try:
            self.settings = load_host_settings(self.app_dir)
            public = LoopbackServer(self._dispatch_public, "http", self.http_port)
            rpc = LoopbackServer(self._dispatch_rpc, "rpc")
            self._servers = [public, rpc]
            self.urls = Urls(public.base_url, rpc.base_url + RPC_PREFIX, self.settings.hub_name, self.system_key)
            self.management = ManagementApi(self.engine, self.urls)
            self.http = HttpTriggers(self.functions, self.function_key, self.master_key, self.bindings)
            self.timers.arm(self.clock.now())
            if self.concurrent_activities:
                self.engine.use_activity_pool(self.settings.max_concurrent_activities)
            if self.storage_connection_string:  # without storage, queue functions are indexed but not polled
                self._pollers = [QueuePoller(f, self.settings, resolve_connection(f, self.storage_connection_string),
                                             self.bindings)
                                 for f in self.functions.values() if f.trigger_type == "queueTrigger"]
            for server in self._servers:
                server.start()
            for poller in self._pollers:
                poller.start()
        except BaseException:
            # Release what was already opened (listening sockets, started pollers) before giving up.
            for poller in self._pollers:
                poller.stop()
            for server in self._servers:
                server.stop()
            self._pollers, self._servers = [], []
            self.engine.close_pool()
            self._env_context.__exit__(None, None, None)
            self._env_context = None
            raise
        if isinstance(self.clock, VirtualClock):
            self.clock.subscribe(self._wake)
        if self.memoize_timestamps:
            speedups.enable()
        self._started = True
        self._worker.start()
        return self

    def stop(self) -> None:
        if not self._started:
            return
        self._stopping.set()
        self._wake()
        self._worker.join(timeout=10)
        self.engine.close_pool()
        for poller in self._pollers:
            poller.stop()
        invoke.close_client_session()
        for server in self._servers:
            server.stop()
        if isinstance(self.clock, VirtualClock):
            self.clock.unsubscribe(self._wake)
        if self._env_context is not None:
            self._env_context.__exit__(None, None, None)
            self._env_context = None
        if self.memoize_timestamps:
            speedups.disable()
        self._started = False

    def __enter__(self) -> DevHost:
        return self.start() if not self._started else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def http_base(self) -> str:
        return self.urls.http_base

    @property
    def rpc_base_url(self) -> str:
        return self.urls.rpc_base

    # ----- what tests, benchmarks and the CLI call -----

    def start_orchestration(self, name: str, input: Any = None, instance_id: str | None = None) -> str:
        """Start directly, encoding the input as DurableOrchestrationClient.start_new does."""
        return self.engine.start(name, df_dumps(input) if input is not None else None, instance_id)

    def raise_event(self, instance_id: str, name: str, data: Any = None) -> None:
        """Deliver `data` as EventRaised.Input = json.dumps(data) (the orchestrator gets the parsed value)."""
        self.engine.raise_event(instance_id, name, json.dumps(data))

    def terminate(self, instance_id: str, reason: str = "") -> None:
        self.engine.terminate(instance_id, reason)

    def suspend(self, instance_id: str, reason: str = "") -> None:
        self.engine.suspend(instance_id, reason)

    def resume(self, instance_id: str, reason: str = "") -> None:
        self.engine.resume(instance_id, reason)

    def purge(self, instance_id: str) -> int:
        return self.engine.purge(instance_id)

    def get(self, instance_id: str) -> InstanceState:
        with self.engine.lock:
            inst = self.engine.instances.get(instance_id)
            if inst is None:
                raise InstanceNotFoundError(f"No instance with ID '{instance_id}' found.")
            return snapshot(inst)

    def instances(self) -> list[InstanceState]:
        with self.engine.lock:
            return [snapshot(i) for i in self.engine.instances.values()]

    @property
    def activity_calls(self) -> list[ActivityCall]:
        return list(self.runner.calls)

    @property
    def stats(self) -> Stats:
        return Stats(episodes=self.engine.episodes, orchestrator_cpu_seconds=self.engine.orchestrator_cpu_seconds,
                     activities=len(self.runner.calls), activity_cpu_seconds=self.runner.cpu_seconds,
                     activity_wall_seconds=self.runner.wall_seconds)

    @property
    def errors(self) -> list[BaseException]:
        """Internal devhost errors the worker caught (a non-empty list is a devhost bug)."""
        return list(self.engine.errors)

    def wait_for(self, instance_id: str, timeout: float = 30.0) -> InstanceState:
        """Block until the instance is Completed, Failed or Terminated; raise on timeout or non-determinism."""
        deadline = time.monotonic() + timeout
        while True:
            self._raise_worker_errors()
            seen = self.engine.finished_count
            with self.engine.lock:
                inst = self.engine.instances.get(instance_id)
                if inst is not None and inst.status in TERMINAL:
                    state = snapshot(inst)
                    break
            left = deadline - time.monotonic()
            if left <= 0:
                status = inst.status if inst else "not found"
                raise TimeoutError(f"instance {instance_id} is still {status} after {timeout} s")
            with self.engine.finished:
                if self.engine.finished_count == seen:
                    self.engine.finished.wait(min(left, 0.1))
        if self.determinism_checks and state.determinism_error:
            raise NonDeterminismError(state.determinism_error)
        return state

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until nothing is runnable, no trigger is in flight and (auto_advance) no durable timer pends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._raise_worker_errors()
            if self._idle():
                return
            time.sleep(0.005)  # polling keeps the waiting thread off the engine lock between checks
        raise TimeoutError(f"devhost still busy after {timeout} s")

    def check_determinism(self, instance_id: str) -> None:
        """Replay every execution of the instance from its history; raise NonDeterminismError on a mismatch."""
        with self.engine.lock:
            inst = self.engine.instances.get(instance_id)
            if inst is None:
                raise InstanceNotFoundError(f"No instance with ID '{instance_id}' found.")
            for execution in [*inst.previous_executions, inst.execution]:
                problem = self.engine.replay_mismatch(inst.name, execution)
                if problem:
                    raise NonDeterminismError(problem)

    def run_timer_function(self, name: str) -> None:
        """Invoke a timer-triggered function now (outside its schedule), as `func start` admin calls do."""
        if name not in self.timers.entries:
            raise DevHostError(f"no timer function named {name!r} (timers: {sorted(self.timers.entries)})")
        self._tracked(lambda: self.timers.fire(name, self.clock.now(), scheduled=False))

    def fire_timers_now(self) -> list[str]:
        """Invoke every timer function whose next occurrence is due on the host clock; returns their names."""
        now = self.clock.now()
        names = self.timers.due(now)
        for name in names:
            self._fire(name, now)
        return names

    def call_http(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                  key: bool = True) -> tuple[int, dict[str, str], bytes]:
        """One request to the public server; dict/list bodies are sent as JSON, the function key by default."""
        headers = dict(headers or {})
        if key:
            headers.setdefault("x-functions-key", self.function_key)
        data = body
        if isinstance(body, dict | list):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        target = urlsplit(path if path.startswith("http") else self.http_base + path)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
        try:
            conn.request(method, target.path + (f"?{target.query}" if target.query else ""), body=data,
                         headers=headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    # ----- internals -----

    def _client_binding(self) -> str:
        return self.urls.client_binding()

    def _wake(self) -> None:
        with self.engine.changed:
            self.engine.changed.notify_all()

    def _tracked(self, action: Callable[[], T]) -> T:
        with self.engine.lock:
            self._inflight += 1
        try:
            return action()
        finally:
            with self.engine.changed:
                self._inflight -= 1
                self.engine.changed.notify_all()

    def _fire(self, name: str, now: datetime, scheduled: bool = True) -> None:
        self._tracked(lambda: self.timers.fire(name, now, scheduled))

    def _dispatch_public(self, request: Request) -> Response:
        path = request.path
        if path.startswith(WEBHOOK_PREFIX):
            if request.query.get("code") not in (self.system_key, self.master_key):
                return 401, {}, b""
            return self._tracked(lambda: self.management.handle(request, path[len(WEBHOOK_PREFIX):],
                                                                request.origin))
        prefix = f"/{self.settings.route_prefix}" if self.settings.route_prefix else ""
        if path.lower().startswith(prefix.lower() + "/"):
            return self._tracked(lambda: self.http.handle(request, path[len(prefix):]))
        return 404, {}, b""

    def _dispatch_rpc(self, request: Request) -> Response:
        if not request.path.startswith(RPC_PREFIX):
            return 404, {}, b""
        return self._tracked(lambda: self.management.handle(request, request.path[len(RPC_PREFIX):],
                                                            self.http_base))

    def _raise_worker_errors(self) -> None:
        if self.engine.errors:
            raise DevHostError("devhost worker failed") from self.engine.errors[0]

    def _idle(self) -> bool:
        with self.engine.lock:
            if self.engine.runnable() or self._inflight:
                return False
            if self.timers.due(self.clock.now()):
                return False
            if self.auto_advance and is_virtual(self.clock) and self.engine.next_wakeup() is not None:
                return False
        return not any(p.pending() for p in self._pollers)

    def _work(self) -> None:
        for name in self.timers.startup_functions():
            self._fire(name, self.clock.now(), scheduled=False)
        while not self._stopping.is_set():
            if self.engine.step():
                continue
            now = self.clock.now()
            due = self.timers.due(now)
            if due:
                self._fire(due[0], now)
                continue
            if self._advance():
                continue
            with self.engine.changed:
                if not self.engine.queue and not self._stopping.is_set():
                    self.engine.changed.wait(self._sleep_seconds(now))

    def _advance(self) -> bool:
        """Auto-advance: jump the virtual clock to the next wake-up when nothing else can happen."""
        if not (self.auto_advance and isinstance(self.clock, VirtualClock)):
            return False
        with self.engine.lock:
            if self._inflight or self.engine.queue or self.engine.running_activities:
                return False
            candidates = [self.engine.next_wakeup()]
            if self.run_timers:
                candidates.append(self.timers.next_due())
            wake = min((c for c in candidates if c is not None), default=None)
        if wake is None or any(p.busy for p in self._pollers):
            return False
        self.clock.advance_to(wake)
        return True

    def _sleep_seconds(self, now: datetime) -> float:
        if is_virtual(self.clock):
            return 0.05
        upcoming = [t for t in (self.engine.next_wakeup(), self.timers.next_due()) if t is not None]
        if not upcoming:
            return 0.5
        return max(0.001, min(0.5, (min(upcoming) - now).total_seconds()))
