"""Drive an orchestrator generator directly, without a host: a fake context records what it schedules, and an
answer function plays the host, returning each task's result or an exception to throw into the generator (how a
failed activity or sub-orchestration arrives). Timers move the fake clock to their fire time.

The e2e tests replay the orchestrators through the real SDK in devhost; these drivers pin every branch down fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Task = tuple[Any, ...]


@dataclass
class FakeContext:
    """Just enough of DurableOrchestrationContext: every scheduling call returns a description of itself."""

    input: dict[str, Any]
    current_utc_datetime: datetime
    instance_id: str = "instance-1"
    continued: dict[str, Any] | None = None
    status: Any = None
    scheduled: list[Task] = field(default_factory=list)

    def get_input(self, expected_type: type | None = None) -> dict[str, Any]:
        return self.input

    def set_custom_status(self, status: Any) -> None:
        self.status = status

    def call_activity(self, name: str, payload: Any, expected_type: type | None = None) -> Task:
        return ("activity", name, payload)

    def call_sub_orchestrator(self, name: str, payload: Any, instance_id: str | None = None,
                              expected_type: type | None = None) -> Task:
        return ("sub", name, payload, instance_id)

    def task_all(self, tasks: list[Any]) -> Task:
        return ("all", tasks)

    def create_timer(self, when: datetime) -> Task:
        return ("timer", when)

    def continue_as_new(self, payload: dict[str, Any]) -> None:
        self.continued = payload


def drive(generator: Any, context: FakeContext, answer: Callable[[Task], Any]) -> Any:
    """Run the generator to the end; `answer` gives each task's result, or an exception to throw in."""
    try:
        task = next(generator)
        while True:
            context.scheduled.append(task)
            if task[0] == "timer":
                context.current_utc_datetime = max(context.current_utc_datetime, task[1])
            result = answer(task)
            task = generator.throw(result) if isinstance(result, BaseException) else generator.send(result)
    except StopIteration as stop:
        return stop.value


def activities(context: FakeContext) -> list[str]:
    """The names of the activities scheduled so far, in order."""
    return [t[1] for t in context.scheduled if t[0] == "activity"]
