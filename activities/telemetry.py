"""Activity: export a finished restore's spans and phase durations (the restore orchestrator calls it last, once).

An activity, not the orchestrator, because orchestrator code replays: anything it emitted would be emitted again
on every replay. The spans carry the times the record holds, so emitting them after the fact loses nothing.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.payload import Payload
from pgflex_restore import telemetry

RESTORE_TELEMETRY = "restore_telemetry"

bp = df.Blueprint()


def emit_restore(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: ``{"restore": telemetry_data.restore_summary(record)}``. ``emitted`` is False when telemetry is off
    or this restore was emitted already (a re-delivery)."""
    return {"ok": True, "emitted": telemetry.restore_finished(payload["restore"])}


@bp.activity_trigger(input_name="payload")
def restore_telemetry(payload: Payload) -> dict[str, Any]:
    return emit_restore(payload)
