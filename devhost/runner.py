"""Run activity functions in-process through the worker's converters, and record every call for tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devhost import invoke
from devhost.bindings import Bindings
from devhost.clock import Clock
from devhost.indexer import FunctionInfo


@dataclass
class ActivityCall:
    """One activity invocation: what went in, what came out (or the error), when (host clock), how long (wall)."""

    name: str
    input: Any
    output: Any
    error: str | None
    start_time: datetime
    duration_seconds: float
    instance_id: str
    task_id: int

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as (name, input, output or error, start_time, duration_seconds)."""
        return iter((self.name, self.input, self.output if self.error is None else self.error, self.start_time,
                     self.duration_seconds))


@dataclass
class Outcome:
    result_json: str | None = None
    error: str | None = None
    details: str | None = None


@dataclass
class Stats:
    """Busy-time figures for benchmarks: orchestrator episodes and CPU, activity CPU and wall time."""

    episodes: int = 0
    orchestrator_cpu_seconds: float = 0.0
    activities: int = 0
    activity_cpu_seconds: float = 0.0
    activity_wall_seconds: float = 0.0


class ActivityRunner:
    """Calls activities sequentially on the worker thread: reproducible order matters more than parallelism."""

    def __init__(self, clock: Clock, bindings: Bindings) -> None:
        self.clock = clock
        self.bindings = bindings
        self.calls: list[ActivityCall] = []
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0
        self._lock = threading.Lock()

    def run(self, info: FunctionInfo, input_json: str | None, instance_id: str, task_id: int) -> Outcome:
        started = self.clock.now()
        wall, cpu = time.perf_counter(), time.thread_time()
        value: Any = None
        try:
            value = invoke.decode_activity_input(info, input_json)
            returned = self.bindings.invoke(info, value)
            outcome = Outcome(result_json=invoke.encode_activity_output(info, returned))
            output, error = returned, None
        except Exception as exc:
            reason, details = invoke.task_failure(info.name, exc)
            outcome = Outcome(error=reason, details=details)
            output, error = None, str(exc)
        elapsed, used = time.perf_counter() - wall, time.thread_time() - cpu
        with self._lock:
            self.wall_seconds += elapsed
            self.cpu_seconds += used
            self.calls.append(ActivityCall(info.name, value, output, error, started, elapsed, instance_id, task_id))
        return outcome
