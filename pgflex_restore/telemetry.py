"""OpenTelemetry export: each finished restore's spans and phase durations, ARM call counts, drill verdicts and
RTO, sent to Azure Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set, else nowhere.

Cold start: without the setting this module imports nothing beyond the standard library, and each hook returns
after one look at the cached settings; azure-monitor-opentelemetry (and the OpenTelemetry SDK it brings) is
imported and configured once per process, at the first thing emitted with the setting on. Telemetry never breaks
a restore: every hook swallows its own errors, and a connection string the exporter refuses turns telemetry off
with one error naming the setting.

Delivery is at least once, like the activities that emit: a restore's or drill's telemetry re-delivered to the
same process is emitted once (``Telemetry.first``, by restore id or run and instance); after a worker recycle it
may be emitted twice, so the workbook's span queries count distinct restore ids. ``install`` puts other providers
in Azure Monitor's place (tests use in-memory ones).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import ConfigurationError
from .settings import get_settings
from .telemetry_data import (
    ARM_CALLS,
    ARM_THROTTLED,
    DRILL_RTO,
    DRILL_VERDICTS,
    INSTRUMENTATION_NAME,
    PHASE_DURATION,
    SECONDS_BUCKETS,
    SpanData,
    arm_call_attributes,
    drill_telemetry,
    restore_telemetry,
)

log = logging.getLogger(__name__)

SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
# The Functions Python worker configures Azure Monitor itself when this is true: then only its providers are used.
WORKER_TELEMETRY = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
# Every restore's spans are kept (the distro's default samples 5 traces a second, and a fleet drill ends in
# bursts). Left off: live metrics and performance counters, which the Functions host sends itself, and the HTTP
# and Azure SDK instrumentations: the ARM counters stand for per-request dependencies (a 1,000-server drill would
# send tens of thousands).
AZURE_MONITOR_OPTIONS: dict[str, Any] = {
    "sampling_ratio": 1.0,
    "enable_live_metrics": False,
    "enable_performance_counters": False,
    "instrumentation_options": {name: {"enabled": False} for name in (
        "azure_sdk", "django", "fastapi", "flask", "psycopg2", "requests", "urllib", "urllib3")},
}
# Environment defaults for the distro (an operator's own values win): the Functions resource detector and no VM
# probe, as the Functions worker sets; no log export (the Functions host sends the worker's logs already; the
# distro reads only this variable for it, not its disable_logging argument).
AZURE_MONITOR_ENVIRONMENT = {"OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "azure_functions", "OTEL_LOGS_EXPORTER": "none"}
_REMEMBERED = 10_000  # keys of recently emitted restores and drills, for the re-delivery check


class Telemetry:
    """The app's tracer and instruments on one tracer provider and one meter provider."""

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        self.tracer = tracer_provider.get_tracer(INSTRUMENTATION_NAME)
        meter = meter_provider.get_meter(INSTRUMENTATION_NAME)
        self.phase_duration = meter.create_histogram(
            PHASE_DURATION, unit="s", description="Duration of each restore phase",
            explicit_bucket_boundaries_advisory=SECONDS_BUCKETS)
        self.arm_calls = meter.create_counter(ARM_CALLS, unit="{request}",
                                              description="ARM requests sent, by method, status class and operation")
        self.arm_throttled = meter.create_counter(ARM_THROTTLED, unit="{request}",
                                                  description="ARM requests answered 429 Too Many Requests")
        self.drill_verdicts = meter.create_counter(DRILL_VERDICTS, unit="{drill}",
                                                   description="Drilled instances, by verdict and server")
        self.drill_rto = meter.create_histogram(
            DRILL_RTO, unit="s", description="Drill recovery time: start to verified files, or to checked data",
            explicit_bucket_boundaries_advisory=SECONDS_BUCKETS)
        self._emitted: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        """True the first time ``key`` is seen (of the last few thousand): a re-delivered activity emits nothing."""
        with self._lock:
            if key in self._emitted:
                return False
            self._emitted[key] = None
            if len(self._emitted) > _REMEMBERED:
                self._emitted.popitem(last=False)
            return True

    def arm_call(self, method: str, url: str, status: int | None) -> None:
        attributes = arm_call_attributes(method, url, status)
        self.arm_calls.add(1, attributes)
        if status == 429:
            self.arm_throttled.add(1, {"method": attributes["method"], "operation": attributes["operation"]})

    def restore(self, summary: Mapping[str, Any]) -> bool:
        """A root span over the restore and a child per phase, with the times it had; a duration per phase."""
        from opentelemetry import context, trace

        data = restore_telemetry(summary)
        if not self.first(data.key):
            return False
        # A fresh context: the restore is a trace of its own, not part of the activity invocation's trace.
        root = self._start(data.root, context.Context(), trace.SpanKind.CONSUMER)
        parent = trace.set_span_in_context(root)
        for phase in data.phases:
            self._start(phase, parent, trace.SpanKind.INTERNAL).end(end_time=_nanos(phase.end))
        root.end(end_time=_nanos(data.root.end))
        for attributes, seconds in data.durations:
            self.phase_duration.record(seconds, attributes)
        return True

    def _start(self, span: SpanData, parent: Any, kind: Any) -> Any:
        from opentelemetry.trace import Status, StatusCode

        started = self.tracer.start_span(span.name, context=parent, kind=kind, attributes=span.attributes,
                                         start_time=_nanos(span.start))
        if span.error:
            started.set_status(Status(StatusCode.ERROR, span.error))
        return started

    def drill(self, record: Mapping[str, Any]) -> bool:
        data = drill_telemetry(record)
        if not self.first(data.key):
            return False
        self.drill_verdicts.add(1, data.attributes)
        if data.rto_seconds is not None:
            self.drill_rto.record(data.rto_seconds, data.attributes)
        return True


_lock = threading.Lock()
_installed: Telemetry | None = None
_azure_monitor: Telemetry | None = None
_azure_monitor_failed = False


def install(tracer_provider: Any, meter_provider: Any) -> Telemetry:
    """Emit to these providers instead of Azure Monitor's, whatever the settings say (tests, or an app host that
    set up OpenTelemetry itself)."""
    global _installed  # noqa: PLW0603 - one telemetry per process is the point
    _installed = Telemetry(tracer_provider, meter_provider)
    return _installed


def uninstall() -> None:
    """Forget installed providers: back to what the settings say."""
    global _installed  # noqa: PLW0603
    _installed = None


def current() -> Telemetry | None:
    """The process's telemetry: installed providers, else Azure Monitor's when the setting is on, else None."""
    if _installed is not None:
        return _installed
    try:
        connection_string = get_settings().applicationinsights_connection_string
    except ConfigurationError:
        return None
    if not connection_string:
        return None
    return _configure_azure_monitor(connection_string)


def _configure_azure_monitor(connection_string: str) -> Telemetry | None:
    """Configure the Azure Monitor distro once per process (the first caller pays its import), unless the
    Functions worker did already; None after it refused the connection string."""
    global _azure_monitor, _azure_monitor_failed  # noqa: PLW0603
    with _lock:
        if _azure_monitor is None and not _azure_monitor_failed:
            try:
                from opentelemetry import metrics, trace

                if os.environ.get(WORKER_TELEMETRY, "").lower() != "true":
                    from azure.monitor.opentelemetry import configure_azure_monitor

                    for name, value in AZURE_MONITOR_ENVIRONMENT.items():
                        os.environ.setdefault(name, value)
                    configure_azure_monitor(connection_string=connection_string, **AZURE_MONITOR_OPTIONS)
                _azure_monitor = Telemetry(trace.get_tracer_provider(), metrics.get_meter_provider())
            except Exception as exc:  # a bad connection string must not stop restores: telemetry is off
                _azure_monitor_failed = True
                log.error("%s: telemetry is off: %s: %s", SETTING, type(exc).__name__, exc)
        return _azure_monitor


def arm_call(method: str, url: str, status: int | None) -> None:
    """Count one ARM request the client sent (``status`` None: no answer came)."""
    telemetry = current()
    if telemetry is None:
        return
    try:
        telemetry.arm_call(method, url, status)
    except Exception as exc:
        log.debug("ARM call not counted: %s", exc)


def restore_finished(summary: Mapping[str, Any]) -> bool:
    """Emit a finished restore (telemetry_data.restore_summary of its record); False when nothing was emitted."""
    return _emit("restore", lambda telemetry: telemetry.restore(summary))


def drill_recorded(record: Mapping[str, Any]) -> bool:
    """Emit one drilled instance's verdict and RTO; False when nothing was emitted."""
    return _emit("drill", lambda telemetry: telemetry.drill(record))


def _emit(what: str, emit: Callable[[Telemetry], bool]) -> bool:
    telemetry = current()
    if telemetry is None:
        return False
    try:
        return bool(emit(telemetry))
    except Exception as exc:
        log.warning("%s telemetry not emitted: %s: %s", what, type(exc).__name__, exc)
        return False


def _nanos(moment: datetime) -> int:
    """Nanoseconds since the epoch, exactly (a float would round the microseconds)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
