"""The app's telemetry captured in memory: the OpenTelemetry SDK's InMemorySpanExporter and InMemoryMetricReader
installed in Azure Monitor's place (pgflex_restore.telemetry.install), with readers for what tests assert."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pgflex_restore import telemetry


@dataclass
class Captured:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if name is None or s.name == name]

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """``(attributes, data point)`` of every series of one metric (cumulative since install)."""
        data = self.reader.get_metrics_data()
        found: list[tuple[dict[str, Any], Any]] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if item.name == metric:
                        found += [(dict(p.attributes or {}), p) for p in item.data.data_points]
        return found

    def total(self, metric: str, **match: Any) -> int:
        """A counter's sum over the series whose attributes include ``match``."""
        return sum(int(p.value) for attributes, p in self.points(metric)
                   if all(attributes.get(k) == v for k, v in match.items()))

    def histogram(self, metric: str, key: str) -> dict[str, tuple[int, float]]:
        """A histogram's (count, sum) per value of one attribute."""
        out: dict[str, tuple[int, float]] = {}
        for attributes, p in self.points(metric):
            count, total = out.get(str(attributes.get(key)), (0, 0.0))
            out[str(attributes.get(key))] = (count + int(p.count), total + float(p.sum))
        return out


@contextmanager
def in_memory_telemetry() -> Iterator[Captured]:
    """Telemetry on, into memory, whatever the settings say; off again afterwards."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry.install(tracer_provider, meter_provider)
    try:
        yield Captured(exporter, reader)
    finally:
        telemetry.uninstall()
        tracer_provider.shutdown()
        meter_provider.shutdown()
