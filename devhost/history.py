"""History events exactly as the Durable Task host serializes them (PascalCase keys, int EventType, Z stamps)."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any

from devhost.clock import dotnet_timestamp


class EventType(IntEnum):
    ExecutionStarted = 0
    ExecutionCompleted = 1
    ExecutionFailed = 2
    ExecutionTerminated = 3
    TaskScheduled = 4
    TaskCompleted = 5
    TaskFailed = 6
    SubOrchestrationInstanceCreated = 7
    SubOrchestrationInstanceCompleted = 8
    SubOrchestrationInstanceFailed = 9
    TimerCreated = 10
    TimerFired = 11
    OrchestratorStarted = 12
    OrchestratorCompleted = 13
    EventSent = 14
    EventRaised = 15
    ContinueAsNew = 16
    GenericEvent = 17
    HistoryState = 18
    ExecutionSuspended = 19
    ExecutionResumed = 20


class OrchestrationStatus(IntEnum):
    """DTFx OrchestrationStatus values, as ExecutionCompleted.OrchestrationStatus carries them."""

    Running = 0
    Completed = 1
    ContinuedAsNew = 2
    Failed = 3
    Canceled = 4
    Terminated = 5
    Pending = 6


def event(kind: EventType, when: datetime, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    """One history event with the four fields every event carries, then the kind's own fields."""
    return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False, "Timestamp": dotnet_timestamp(when),
            **fields}


def execution_started(when: datetime, name: str, *, instance_id: str, execution_id: str, input_json: str | None,
                      parent: dict[str, Any] | None, generation: int) -> dict[str, Any]:
    return event(EventType.ExecutionStarted, when, OrchestrationInstance={"InstanceId": instance_id,
                 "ExecutionId": execution_id}, ParentInstance=parent, Name=name, Version="", Input=input_json,
                 Tags=None, Correlation=None, ScheduledStartTime=None, Generation=generation)


def type_name(kind: int) -> str:
    return EventType(kind).name


def summarize(history: list[dict[str, Any]], show_output: bool) -> list[dict[str, Any]]:
    """The management API's `historyEvents` view: scheduling folded into completions, names as strings."""
    scheduled: dict[int, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for ev in history:
        kind = ev["EventType"]
        if kind in (EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated, EventType.TimerCreated):
            scheduled[ev["EventId"]] = ev
        if kind not in _HIDDEN:
            out.append(_summary(ev, scheduled.get(ev.get("TaskScheduledId", -2)), show_output))
    return out


_HIDDEN = (EventType.OrchestratorStarted, EventType.OrchestratorCompleted, EventType.TaskScheduled,
           EventType.SubOrchestrationInstanceCreated)


def _summary(ev: dict[str, Any], source: dict[str, Any] | None, show_output: bool) -> dict[str, Any]:
    kind = ev["EventType"]
    item: dict[str, Any] = {"EventType": type_name(kind), "Timestamp": ev["Timestamp"]}
    if kind == EventType.ExecutionStarted:
        item["FunctionName"] = ev["Name"]
        if show_output:
            item["Input"] = ev.get("Input")
    elif source is not None:
        item["FunctionName"] = source.get("Name")
        item["ScheduledTime"] = source["Timestamp"]
        if "InstanceId" in source:
            item["InstanceId"] = source["InstanceId"]
    for key in ("FireAt", "Name", "Reason", "Details", "OrchestrationStatus"):
        if key in ev and ev[key] is not None and not (kind == EventType.ExecutionStarted and key == "Name"):
            item[key] = ev[key]
    if "OrchestrationStatus" in item:
        item["OrchestrationStatus"] = OrchestrationStatus(item["OrchestrationStatus"]).name
    if show_output and ev.get("Result") is not None:
        item["Result"] = ev["Result"]
    if kind == EventType.EventRaised and show_output:
        item["Input"] = ev.get("Input")
    return item
