"""Instance and execution state the host keeps, and the read-only snapshot tests inspect."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TERMINAL = ("Completed", "Failed", "Terminated")


@dataclass
class RetryPlan:
    """Python RetryOptions: a fixed interval and a total attempt count (DTFx defaults for the rest)."""

    first_interval_ms: int
    max_attempts: int


@dataclass
class Work:
    """One scheduled task: an activity, a sub-orchestration or a durable timer, keyed by its sequence id."""

    task_id: int
    kind: str  # "activity" | "suborch" | "timer"
    name: str = ""
    input_json: str | None = None
    retry: RetryPlan | None = None
    attempt: int = 1
    fire_at: datetime | None = None
    canceled: bool = False
    retry_of: Work | None = None  # a retry timer: the task to attempt again when it fires
    child_instance_id: str | None = None
    explicit_child_id: str | None = None
    queued: bool = False  # a completion for it is already on the work queue
    deliveries: int = 0  # how often the host already lost this activity's delivery and sent it again


@dataclass
class Execution:
    """One generation of an instance (continue-as-new starts a new one)."""

    execution_id: str
    input_token: Any
    history: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 0
    seen_actions: int = 0
    leaf_ids: list[int | None] = field(default_factory=list)
    work: dict[int, Work] = field(default_factory=dict)
    actions: list[Any] = field(default_factory=list)  # the last episode's actions (determinism checks)
    last_context: str | None = None  # the last episode's context JSON, replayed by the determinism check
    frozen: list[dict[str, Any]] | None = None  # a copy made once the execution ended (snapshots share it)
    started: bool = False


@dataclass
class Instance:
    instance_id: str
    name: str
    created_time: datetime
    execution: Execution
    status: str = "Pending"
    last_updated_time: datetime | None = None
    custom_status: Any = None
    output: Any = None
    parent_instance_id: str | None = None
    parent_execution_id: str | None = None
    parent_task_id: int | None = None
    previous_executions: list[Execution] = field(default_factory=list)
    held: list[Any] = field(default_factory=list)  # episodes waiting for resume while Suspended
    determinism_error: str | None = None


@dataclass
class InstanceState:
    """A snapshot of one instance: status, input/output, the current history and every execution's history."""

    instance_id: str
    name: str
    runtime_status: str
    input: Any
    output: Any
    custom_status: Any
    created_time: datetime
    last_updated_time: datetime
    history: list[dict[str, Any]]
    executions: list[list[dict[str, Any]]]
    parent_instance_id: str | None
    execution_id: str
    determinism_error: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.runtime_status in TERMINAL

    def event_types(self) -> list[str]:
        """History as event type names, without the episode markers (handy for assertions)."""
        from devhost.history import EventType

        return [EventType(e["EventType"]).name for e in self.history
                if e["EventType"] not in (EventType.OrchestratorStarted, EventType.OrchestratorCompleted)]


def decode_input(token: Any) -> Any:
    """What context.get_input() yields for a stored input token (JSON text strings are parsed once)."""
    if isinstance(token, str):
        try:
            return json.loads(token)
        except ValueError:
            return token
    return token


def _ended_history(ex: Execution) -> list[dict[str, Any]]:
    """An ended execution never changes: copy its history once, not on every snapshot."""
    if ex.frozen is None:
        ex.frozen = copy.deepcopy(ex.history)
    return ex.frozen


def snapshot(inst: Instance) -> InstanceState:
    history = copy.deepcopy(inst.execution.history)
    return InstanceState(
        instance_id=inst.instance_id, name=inst.name, runtime_status=inst.status,
        input=decode_input(inst.execution.input_token), output=copy.deepcopy(inst.output),
        custom_status=copy.deepcopy(inst.custom_status), created_time=inst.created_time,
        last_updated_time=inst.last_updated_time or inst.created_time, history=history,
        executions=[*(_ended_history(e) for e in inst.previous_executions), history],
        parent_instance_id=inst.parent_instance_id,
        execution_id=inst.execution.execution_id, determinism_error=inst.determinism_error)
