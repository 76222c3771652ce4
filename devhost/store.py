"""Instances and the work queue: starting, steering and finding instances, under one lock."""

from __future__ import annotations

import threading
import uuid
from collections import deque
from datetime import datetime
from typing import Any

from devhost.clock import Clock
from devhost.errors import (
    InstanceGoneError,
    InstanceNotFoundError,
    OrchestrationAlreadyExistsError,
    UnknownFunctionError,
)
from devhost.history import EventType, event
from devhost.model import TERMINAL, Execution, Instance

Item = tuple[str, str, str, Any]  # (kind, instance id, execution id, payload)
_BAD_ID_CHARS = set("/\\#?")


def new_execution_id() -> str:
    return uuid.uuid4().hex


def validate_instance_id(instance_id: str) -> None:
    """The extension's instance id rules (DurableClient.cs)."""
    if not instance_id or len(instance_id) > 256 or instance_id.startswith("@") \
            or any(c in _BAD_ID_CHARS or ord(c) < 32 for c in instance_id):
        raise ValueError(f"Orchestration instance ids must not contain /, \\, #, ? or control characters, "
                         f"must not start with @ and are at most 256 characters: {instance_id!r}")


class InstanceStore:
    """All durable state of one host; every method that touches it holds `lock`."""

    def __init__(self, clock: Clock, orchestrators: set[str]) -> None:
        self.clock = clock
        self.orchestrator_names = orchestrators
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # the worker sleeps on it; pushes wake it
        # waiters for terminal states use their own condition, so they do not contend for `lock` on every step
        self.finished = threading.Condition()
        self.finished_count = 0
        self.instances: dict[str, Instance] = {}
        self.queue: deque[Item] = deque()
        self.busy = False
        self.errors: list[BaseException] = []

    # ----- starting and steering instances (management API, CLI, sub-orchestrations) -----

    def start(self, name: str, input_token: Any, instance_id: str | None = None,
              parent: tuple[str, str, int] | None = None) -> str:
        """Create (or replace a finished) instance and queue its first episode."""
        with self.lock:
            if name not in self.orchestrator_names:
                raise UnknownFunctionError(f"The function '{name}' doesn't exist, is disabled, or is not an "
                                           f"orchestrator function. Orchestrators: {sorted(self.orchestrator_names)}")
            instance_id = instance_id or uuid.uuid4().hex
            validate_instance_id(instance_id)
            existing = self.instances.get(instance_id)
            if existing is not None and existing.status not in TERMINAL:
                raise OrchestrationAlreadyExistsError(
                    f"An Orchestration instance with the status {existing.status} already exists.")
            now = self.clock.now()
            inst = Instance(instance_id=instance_id, name=name, created_time=now, last_updated_time=now,
                            execution=Execution(execution_id=new_execution_id(), input_token=input_token))
            if parent is not None:
                inst.parent_instance_id, inst.parent_execution_id, inst.parent_task_id = parent
            self.instances[instance_id] = inst
            self._push(("episode", instance_id, inst.execution.execution_id, None))
            return instance_id

    def raise_event(self, instance_id: str, name: str, input_text: str | None) -> None:
        with self.lock:
            inst = self._require(instance_id)
            self._require_running(inst)
            ev = event(EventType.EventRaised, self.clock.now(), Name=name, Input=input_text)
            self._push(("episode", instance_id, inst.execution.execution_id, ev))

    def purge(self, instance_id: str) -> int:
        with self.lock:
            inst = self.instances.get(instance_id)
            if inst is None or inst.status not in TERMINAL:
                return 0
            del self.instances[instance_id]
            return 1

    def purge_by(self, created_from: datetime | None, created_to: datetime | None,
                 statuses: list[str] | None) -> int:
        with self.lock:
            ids = [i.instance_id for i in self.select(created_from, created_to, statuses)]
            return sum(self.purge(i) for i in ids)

    def select(self, created_from: datetime | None, created_to: datetime | None,
               statuses: list[str] | None) -> list[Instance]:
        with self.lock:
            return [i for i in self.instances.values()
                    if (created_from is None or i.created_time >= created_from)
                    and (created_to is None or i.created_time <= created_to)
                    and (not statuses or i.status.lower() in {s.lower() for s in statuses})]

    def next_wakeup(self) -> datetime | None:
        """The earliest pending durable timer of a live instance (what auto-advance jumps to)."""
        with self.lock:
            due = [w.fire_at for i in self.instances.values() if i.status not in TERMINAL
                   for w in i.execution.work.values()
                   if w.kind == "timer" and not w.canceled and not w.queued and w.fire_at is not None]
            return min(due) if due else None

    def runnable(self) -> bool:
        with self.lock:
            return self.busy or bool(self.queue)

    # ----- internals -----

    def _push(self, item: Item) -> None:
        self.queue.append(item)
        self.changed.notify_all()

    def _require(self, instance_id: str) -> Instance:
        inst = self.instances.get(instance_id)
        if inst is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' found.")
        return inst

    @staticmethod
    def _require_running(inst: Instance) -> None:
        if inst.status in TERMINAL:
            raise InstanceGoneError(f"Instance with ID {inst.instance_id} is gone: it is {inst.status}")

    def _live(self, instance_id: str, execution_id: str) -> Instance | None:
        inst = self.instances.get(instance_id)
        if inst is None or inst.execution.execution_id != execution_id or inst.status in TERMINAL:
            return None
        return inst
