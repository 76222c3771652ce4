"""devhost: a local Durable Functions host that drives function_app.py through the real SDK replay code.

`DevHost` loads a v2-model app, serves its HTTP triggers and the durable management API on loopback, polls its
queues in Azurite, fires its timers, and runs orchestrations and activities in-process on a `VirtualClock` (tests)
or the `RealClock` (CLI). It is a development host only; production runs on Azure Functions.
"""

from devhost.clock import Clock, RealClock, VirtualClock
from devhost.errors import (
    DevHostError,
    IndexingError,
    InstanceGoneError,
    InstanceNotFoundError,
    NonDeterminismError,
    OrchestrationAlreadyExistsError,
    UnknownFunctionError,
)
from devhost.host import DevHost
from devhost.model import InstanceState
from devhost.redelivery import Redelivery
from devhost.runner import ActivityCall, Stats

__all__ = [
    "ActivityCall",
    "Clock",
    "DevHost",
    "DevHostError",
    "IndexingError",
    "InstanceGoneError",
    "InstanceNotFoundError",
    "InstanceState",
    "NonDeterminismError",
    "OrchestrationAlreadyExistsError",
    "RealClock",
    "Redelivery",
    "Stats",
    "UnknownFunctionError",
    "VirtualClock",
]
