"""What the app exports as OpenTelemetry, as plain data: the names, and the spans and measurements of a finished
restore, an ARM call and a recorded drill.

Kept apart from telemetry.py (which hands them to the OpenTelemetry SDK) so the shapes are unit-tested without an
SDK, and so the restore orchestrator can build the telemetry activity's input here, deterministically. Attribute
keys are camelCase like every JSON the app writes; every attribute value has few distinct values except the ids
on spans (metrics never carry an id, so their series stay few).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .progress import SUCCESS_STATUSES
from .timeutil import parse_datetime

INSTRUMENTATION_NAME = "pgflex_restore"

RESTORE_SPAN = "restore"
# The restore's working phases, in order (the custom status's ``phase``); a span each, named restore.<phase>.
RESTORE_PHASES = ("selecting", "validating", "restoring", "tracking", "loading")

PHASE_DURATION = "pgflex.restore.phase.duration"
ARM_CALLS = "pgflex.arm.calls"
ARM_THROTTLED = "pgflex.arm.throttled"
DRILL_VERDICTS = "pgflex.drill.verdicts"
DRILL_RTO = "pgflex.drill.rto"

# Histogram buckets for durations from seconds to a day (Azure Monitor keeps only count/sum/min/max; other
# backends get percentiles from these).
SECONDS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0,
                   28800.0, 86400.0)

Attributes = dict[str, str | bool | int | float]


@dataclass(frozen=True)
class SpanData:
    """One span to emit with explicit times; ``error`` is the error code when the span failed."""

    name: str
    start: datetime
    end: datetime
    attributes: Attributes
    error: str | None = None


@dataclass(frozen=True)
class RestoreTelemetry:
    """A finished restore: the root span, a child span per phase, and each phase's duration in seconds."""

    key: str
    root: SpanData
    phases: list[SpanData] = field(default_factory=list)
    durations: list[tuple[Attributes, float]] = field(default_factory=list)


@dataclass(frozen=True)
class DrillTelemetry:
    """A recorded drill verdict, and its RTO when the drill measured one."""

    key: str
    attributes: Attributes
    rto_seconds: float | None


def restore_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a result record the telemetry activity needs (the record itself can hold a whole load report)."""
    point = record.get("recoveryPoint") or {}
    error = record.get("error") or {}
    return {
        "restoreId": record.get("restoreId"),
        "backupInstance": record.get("backupInstance"),
        "recoveryPoint": point.get("id"),
        "status": record.get("status"),
        "errorCode": error.get("code"),
        "jobId": record.get("jobId"),
        "via": (record.get("origin") or {}).get("via"),
        "startedAt": record.get("startedAt"),
        "finishedAt": record.get("finishedAt"),
        "phases": record.get("phases") or {},
    }


def restore_telemetry(summary: Mapping[str, Any]) -> RestoreTelemetry:
    """Spans and durations of one finished restore (``restore_summary``); a failed one marks its root span and
    the phase it failed in with the error code."""
    status = str(summary.get("status") or "unknown")
    failed = status not in SUCCESS_STATUSES
    error = str(summary.get("errorCode") or "UnknownError") if failed else None
    common: Attributes = {"restoreId": str(summary.get("restoreId")), "status": status}
    for key in ("backupInstance", "recoveryPoint", "jobId", "via"):
        if summary.get(key):
            common[key] = str(summary[key])
    if error:
        common["errorCode"] = error
    started, finished = parse_datetime(str(summary["startedAt"])), parse_datetime(str(summary["finishedAt"]))
    times = summary.get("phases") or {}
    names = [name for name in RESTORE_PHASES if name in times]
    phases: list[SpanData] = []
    durations: list[tuple[Attributes, float]] = []
    for name in names:
        start, end = parse_datetime(times[name]["startedAt"]), parse_datetime(times[name]["finishedAt"])
        phases.append(SpanData(f"{RESTORE_SPAN}.{name}", start, end, {**common, "phase": name},
                               error if name == names[-1] else None))
        durations.append(({"phase": name, "status": status}, (end - start).total_seconds()))
    root = SpanData(RESTORE_SPAN, started, finished, common, error)
    return RestoreTelemetry(f"restore|{summary.get('restoreId')}", root, phases, durations)


def drill_telemetry(record: Mapping[str, Any]) -> DrillTelemetry:
    """The verdict of one drilled instance (by verdict, server and reason) and its RTO: the measured one of a
    proving drill, else drill start to verified files for a drill that passed (a failed drill recovered nothing)."""
    verdict = str(record.get("status") or "unknown")
    attributes: Attributes = {"verdict": verdict, "server": str(record.get("server") or record.get("instanceName")
                                                                or "(none)")}
    if record.get("reason"):
        attributes["reason"] = str(record["reason"])
    rto = (record.get("rto") or {}).get("seconds")
    if rto is None and verdict == "passed" and record.get("startedAt") and record.get("finishedAt"):
        rto = (parse_datetime(record["finishedAt"]) - parse_datetime(record["startedAt"])).total_seconds()
    key = f"drill|{record.get('runId')}|{record.get('backupInstance') or record.get('instanceName')}"
    return DrillTelemetry(key, attributes, float(rto) if isinstance(rto, int | float) else None)


def status_class(status: int | None) -> str:
    """``2xx`` .. ``5xx``, or ``none`` for a request that got no answer."""
    return f"{status // 100}xx" if status is not None and 100 <= status <= 599 else "none"


def operation_kind(url: str) -> str:
    """The ARM operation a URL names, by resource types only (never names or ids, so the values stay few): the
    namespace after the last ``/providers/`` and every other segment after it, e.g.
    ``Microsoft.DataProtection/backupVaults/backupInstances/restore`` or ``Microsoft.App/jobs/executions``."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return "other"
    at = len(lowered) - 1 - lowered[::-1].index("providers")
    rest = parts[at + 1:]
    if not rest:
        return "other"
    return "/".join([rest[0], *rest[1::2]])


def arm_call_attributes(method: str, url: str, status: int | None) -> Attributes:
    """The ARM call counter's attributes: method, status class and operation kind."""
    return {"method": method.upper(), "statusClass": status_class(status), "operation": operation_kind(url)}
