"""The restore orchestrator's last step: hand the finished restore to the telemetry activity, when it is on."""

from __future__ import annotations

import contextlib
from typing import Any

import azure.durable_functions as df

from activities.telemetry import RESTORE_TELEMETRY
from orchestrations._steps import Steps
from pgflex_restore.telemetry_data import restore_summary


def report_restore(context: df.DurableOrchestrationContext, enabled: bool, record: dict[str, Any]) -> Steps:
    """One activity call (none when the restore's plan says telemetry is off); its failure is ignored: telemetry
    never changes a restore's outcome, and a lost emission is not worth a retry."""
    if not enabled:
        return
    with contextlib.suppress(Exception):
        yield context.call_activity(RESTORE_TELEMETRY, {"restore": restore_summary(record)}, expected_type=dict)
