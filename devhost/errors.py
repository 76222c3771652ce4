"""Exceptions devhost raises, named for what the real host or extension would refuse."""

from __future__ import annotations

import json
from typing import Any


class DevHostError(Exception):
    """Base class of devhost errors."""


class IndexingError(DevHostError):
    """The app would not index on the real host (duplicate names, unknown trigger, unresolvable setting)."""


class UnknownFunctionError(DevHostError):
    """A start or call names a function that is not registered (or has the wrong trigger)."""


class OrchestrationAlreadyExistsError(DevHostError):
    """Starting an instance id that is Pending/Running/ContinuedAsNew (overridableExistingInstanceStates)."""


class NonDeterminismError(DevHostError):
    """Replaying an orchestrator from its history produced different actions."""

    @staticmethod
    def describe(name: str, expected: list[Any], actual: list[Any]) -> str:
        index = next((i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
                     min(len(expected), len(actual)))
        want = json.dumps(expected[index]) if index < len(expected) else "nothing"
        got = json.dumps(actual[index]) if index < len(actual) else "nothing"
        return (f"Non-Deterministic workflow detected: orchestrator '{name}' replayed to a different action at "
                f"position {index}: history has {want}, replay produced {got}")


class InstanceNotFoundError(DevHostError):
    """No instance with that id (404 on the management API)."""


class InstanceGoneError(DevHostError):
    """The instance already completed, failed or was terminated (410 on the management API)."""
