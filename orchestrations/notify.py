"""Notifications from inside an orchestration: one notice to every target that wants its event, in parallel,
each delivery an activity (one POST), failed ones tried again on a durable timer, at most MAX_ATTEMPTS times.

`Notifier.deliver` never raises and never changes what it reports on: a restore's ``ended`` notice is built from
its final result record, and what became of each delivery goes beside it (``notifications``). Targets come from
the orchestration's input (index, label, digest; never a URL), so every delivery and its history are secret-free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.notify import NOTIFY_DELIVER
from orchestrations._steps import StatusBoard, Steps
from pgflex_restore.notify.policy import MAX_ATTEMPTS, retry_delay


class Notifier:
    """Delivers notices to the targets an orchestration was started with."""

    def __init__(self, context: df.DurableOrchestrationContext, targets: Sequence[Mapping[str, Any]],
                 board: StatusBoard | None = None) -> None:
        self.context = context
        self.targets = [dict(t) for t in targets]
        self.board = board

    def wants(self, event: str) -> bool:
        return any(event in (t.get("events") or ()) for t in self.targets)

    def attach(self, output: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
        """The output with ``notifications`` when any target was configured (unchanged otherwise)."""
        if self.targets:
            output["notifications"] = records
        return output

    def deliver(self, notice: dict[str, Any]) -> Steps:
        """Send ``notice`` to each target wanting its event; one record per target, in the settings' order."""
        wanted = [t for t in self.targets if notice["event"] in (t.get("events") or ())]
        if not wanted:
            return []
        records = [{"target": t.get("label"), "event": notice["event"], "delivered": False, "attempts": 0,
                    "status": None, "error": None, "deliveryId": notice["deliveryId"]} for t in wanted]
        if self.board is not None:
            self.board.update(notifying=notice["event"])
        try:
            yield from self._rounds(wanted, records, notice)
        except Exception as exc:  # a bug here must not fail the restore it reports on
            for record in records:
                if not record["delivered"]:
                    record["error"] = record["error"] or f"notification not sent: {type(exc).__name__}"
        if self.board is not None:
            self.board.update(notifying=None)
        return records

    def _rounds(self, wanted: list[dict[str, Any]], records: list[dict[str, Any]], notice: dict[str, Any]) -> Steps:
        pending = list(range(len(wanted)))
        for attempt in range(1, MAX_ATTEMPTS + 1):
            tasks = [self.context.call_activity(NOTIFY_DELIVER, {
                "target": wanted[i]["index"], "digest": wanted[i].get("digest"), "label": wanted[i].get("label"),
                "attempt": attempt, "notice": notice}, expected_type=dict) for i in pending]
            try:
                answers = yield self.context.task_all(tasks)
            except Exception as exc:  # the activity never raises; a host failure is retried like a 5xx
                answers = [{"delivered": False, "retryable": True,
                            "error": f"the delivery activity failed ({type(exc).__name__})"} for _ in pending]
            retry: list[tuple[int, float | None]] = []
            for i, answer in zip(pending, answers, strict=True):
                records[i].update(attempts=attempt, delivered=bool(answer.get("delivered")),
                                  status=answer.get("status"), error=answer.get("error"))
                if not records[i]["delivered"] and answer.get("retryable"):
                    retry.append((i, answer.get("retryAfter")))
            if not retry or attempt == MAX_ATTEMPTS:
                return
            wait = max(retry_delay(attempt, after) for _, after in retry)
            yield self.context.create_timer(self.context.current_utc_datetime + timedelta(seconds=wait))
            pending = [i for i, _ in retry]
