"""A job execution's replica as real local processes: its init containers one after another, then its containers
together, each with the execution's environment; killed on stop or when the replica timeout runs out.

The replica lives on the real clock (a process cannot run on a virtual one). The tail of every container's output
is kept, so a test (and the request log) can see why an execution failed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

TAIL_LINES = 200
_GRACE_SECONDS = 2.0  # SIGTERM, then SIGKILL, as the platform stops a replica (with a shorter grace)


@dataclass
class ContainerSpec:
    """One container as a local program."""

    name: str
    argv: list[str]
    env: dict[str, str]
    exit_code: int | None = None
    status: str = "Waiting"  # Waiting | Running | Terminated


@dataclass
class ExecutionProcess:
    """Runs one replica in a thread; ``phase`` is Processing, Running, Succeeded, Failed or Stopped."""

    containers: list[ContainerSpec]
    init_containers: list[ContainerSpec]
    workdir: str
    timeout_seconds: float
    processing_seconds: float
    now: Callable[[], datetime]
    on_end: Callable[[], None] | None = None
    phase: str = "Processing"
    reason: str | None = None
    ended_at: datetime | None = None
    output: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    _stop: threading.Event = field(default_factory=threading.Event)
    _done: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        threading.Thread(target=self._run, name="emulator-job-execution", daemon=True).start()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def stop(self, wait_seconds: float = 10.0) -> None:
        """Stop the replica (its processes get SIGTERM, then SIGKILL) and wait (up to ``wait_seconds``, 0: not at
        all) for it to end as Stopped."""
        self._stop.set()
        if wait_seconds > 0:
            self._done.wait(wait_seconds)

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def tail(self) -> list[str]:
        with self._lock:
            return list(self.output)

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout_seconds
        try:
            if self.processing_seconds > 0 and self._stop.wait(self.processing_seconds):
                self._end("Stopped", "The execution was stopped before it started.")
                return
            self.phase = "Running"
            for init in self.init_containers:
                if not self._run_group([init], deadline):
                    return
            if self._run_group(self.containers, deadline):
                self._end("Succeeded", None)
        except Exception as exc:  # the replica must always end, whatever broke in the runner
            self._end("Failed", f"The emulator could not run the replica: {type(exc).__name__}: {exc}")

    def _run_group(self, specs: list[ContainerSpec], deadline: float) -> bool:
        """Run these containers together until all exit; False (and the execution ended) unless all exit 0."""
        running: list[tuple[ContainerSpec, subprocess.Popen[str], threading.Thread]] = []
        for spec in specs:
            try:
                process = subprocess.Popen(spec.argv, env=spec.env, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                           errors="replace", start_new_session=True)
            except OSError as exc:
                self._kill([p for _, p, _ in running])
                spec.status, spec.exit_code = "Terminated", 127
                self._end("Failed", f"Container '{spec.name}' could not start: {exc}")
                return False
            spec.status = "Running"
            reader = threading.Thread(target=self._read, args=(spec.name, process), daemon=True)
            reader.start()
            running.append((spec, process, reader))
        processes = [p for _, p, _ in running]
        while any(p.poll() is None for p in processes):
            if self._stop.is_set():
                self._kill(processes)
                self._collect(running)
                self._end("Stopped", "The execution was stopped.")
                return False
            if time.monotonic() >= deadline:
                self._kill(processes)
                self._collect(running)
                self._end("Failed", f"The replica exceeded the job's replicaTimeout of {int(self.timeout_seconds)} "
                                    "seconds and was stopped.")
                return False
            time.sleep(0.05)
        self._collect(running)
        failed = [s for s, _, _ in running if s.exit_code != 0]
        if failed:
            self._end("Failed", f"Container '{failed[0].name}' exited with code {failed[0].exit_code}.")
            return False
        return True

    def _collect(self, running: list[tuple[ContainerSpec, subprocess.Popen[str], threading.Thread]]) -> None:
        for spec, process, reader in running:
            spec.exit_code = process.wait()
            spec.status = "Terminated"
            reader.join(timeout=5)

    def _read(self, name: str, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                with self._lock:
                    self.output.append(f"[{name}] {line.rstrip()}")

    @staticmethod
    def _kill(processes: list[subprocess.Popen[str]]) -> None:
        """The whole process group of each container (a loader's pg_restore children go too)."""
        for sig, grace in ((signal.SIGTERM, _GRACE_SECONDS), (signal.SIGKILL, 5.0)):
            alive = [p for p in processes if p.poll() is None]
            for process in alive:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)
            end = time.monotonic() + grace
            while any(p.poll() is None for p in alive) and time.monotonic() < end:
                time.sleep(0.05)

    def _end(self, phase: str, reason: str | None) -> None:
        self.phase, self.reason, self.ended_at = phase, reason, self.now()
        self._done.set()
        if self.on_end is not None:
            with contextlib.suppress(Exception):
                self.on_end()
