"""One orchestrator invocation: the context JSON the host sends, the call through the trigger converter, and the
OrchestratorState that comes back (including the `$OutOfProcData$` failure form).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import OrchestrationTriggerConverter

from devhost.indexer import FunctionInfo
from devhost.model import Instance

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
CUSTOM_STATUS_LIMIT_KB = 16
COMPOUND_TYPES = (11, 12)
ID_CONSUMING_TYPES = (0, 1, 2, 3, 5, 8)


@dataclass
class EpisodeResult:
    """What the orchestrator returned: its state JSON, or the error text of an unhandled exception."""

    state: dict[str, Any]
    error: str | None = None

    @property
    def actions(self) -> list[dict[str, Any]]:
        raw = self.state.get("actions") or []
        if "schemaVersion" in self.state:
            return list(raw[0]) if raw else []
        return [a for group in raw for a in group]  # V1: one list per yield

    @property
    def is_done(self) -> bool:
        return bool(self.state.get("isDone"))


def build_context(inst: Instance) -> str:
    """The orchestration trigger payload, key for key as OrchestrationContextToString writes it."""
    execution = inst.execution
    return json.dumps({
        "history": execution.history,
        "input": execution.input_token,
        "instanceId": inst.instance_id,
        "isReplaying": False,
        "parentInstanceId": inst.parent_instance_id,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
        "longRunningTimerIntervalDuration": "3.00:00:00",
        "maximumShortTimerDuration": "6.00:00:00",
        "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
    })


def invoke(info: FunctionInfo, context_json: str) -> EpisodeResult:
    """Decode the trigger like the worker, call the registered handle, parse what it returns."""
    context = OrchestrationTriggerConverter.decode(meta.Datum(type="json", value=context_json),
                                                   trigger_metadata=None)
    try:
        returned = info.user_function(context)
    except Exception as exc:
        text = str(exc)
        message, marker, embedded = text.partition(OUT_OF_PROC_MARKER)
        state = json.loads(embedded) if marker else {"isDone": False, "actions": []}
        return EpisodeResult(state=state, error=message)
    encoded = OrchestrationTriggerConverter.encode(returned, expected_type=None).value
    state = json.loads(encoded) if isinstance(encoded, str | bytes) else encoded
    return EpisodeResult(state=dict(state))


def leaves(actions: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Depth-first, in list order: the order the SDK assigns sequence ids and the host schedules."""
    for action in actions:
        if action.get("actionType") in COMPOUND_TYPES:
            yield from leaves(action.get("compoundActions") or [])
        else:
            yield action


def normalized(actions: list[dict[str, Any]]) -> list[Any]:
    """Actions without the fields that may legitimately change between episodes (timer cancellation)."""
    def strip(action: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in action.items() if k != "isCanceled"}
        if "compoundActions" in out:
            out["compoundActions"] = [strip(a) for a in out["compoundActions"] or []]
        return out
    return [strip(a) for a in actions]


def custom_status_error(value: Any) -> str | None:
    """The host refuses custom status over 16 KB of UTF-16 JSON; None when within the limit."""
    text = json.dumps(value)
    size_kb = len(text.encode("utf-16-le")) // 1024
    if size_kb > CUSTOM_STATUS_LIMIT_KB:
        return (f"The UTF-16 size of the JSON-serialized payload must not exceed {CUSTOM_STATUS_LIMIT_KB} KB. "
                f"The current payload size is {size_kb} KB.")
    return None
