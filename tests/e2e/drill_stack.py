"""The e2e stack (tests/e2e/stack.py) plus what drill tests need: a results table and an alert queue of their
own, a way to run one drill run to the end on the virtual clock, and readers for rows and alerts.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient

import clients
from devhost.azurite import Azurite
from orchestrations.drill import DRILL_RUN_ORCHESTRATION
from pgflex_restore.drills.plan import parse_plan
from pgflex_restore.drills.records import record_from_entity
from pgflex_restore.drills.run import build_run_input, run_id_for
from pgflex_restore.settings import get_settings, reset_settings_cache
from tests.e2e.stack import Stack, running_stack, vault_id

_unique = itertools.count(1)


@dataclass
class DrillStack:
    stack: Stack
    table: str
    alerts_queue: str

    def plan(self, **overrides: Any) -> dict[str, Any]:
        """A plan drilling every instance of the stack's vault into the stack's container."""
        return {"container": self.stack.container_url, "vaults": [vault_id()], "concurrency": 5,
                "maxPointAge": "P2D", "retention": "P7D", **overrides}

    def run(self, plan: dict[str, Any], *, run_id: str | None = None, timeout: float = 40.0,
            **input_extra: Any) -> dict[str, Any]:
        """Start one drill run directly (as the timer would) and wait for its summary."""
        reset_settings_cache()
        settings = get_settings()
        now = self.stack.clock.now()
        run_id = run_id or run_id_for(now)
        run_input = build_run_input(run_id, now, parse_plan(plan, allowlist=settings.restore_target_allowlist),
                                    settings, origin={"via": "test"})
        run_input.update(input_extra)
        self.stack.host.start_orchestration(DRILL_RUN_ORCHESTRATION, run_input, instance_id=run_id)
        state = self.stack.host.wait_for(run_id, timeout=timeout)
        assert state.runtime_status == "Completed", state.output
        summary: dict[str, Any] = state.output
        return summary

    def rows(self, run_id: str) -> dict[str, dict[str, Any]]:
        """RowKey -> record of every row of one run."""
        service = TableServiceClient.from_connection_string(self.stack.azurite.connection_string)
        table = service.get_table_client(self.table)
        return {e["RowKey"]: record_from_entity(e) for e in table.query_entities(f"PartitionKey eq '{run_id}'")}

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert message on the queue (peeked, so they stay)."""
        queue = QueueClient.from_connection_string(self.stack.azurite.connection_string, self.alerts_queue)
        try:
            return [json.loads(m.content) for m in queue.peek_messages(max_messages=32)]
        except Exception:  # never created: no alerts
            return []


@contextmanager
def drill_stack(azurite: Azurite, instances: dict[str, dict[str, Any]], **kwargs: Any) -> Iterator[DrillStack]:
    """A running stack whose drills write to a fresh table and queue."""
    n = next(_unique)
    tag = uuid.uuid4().hex[:8]
    table, queue = f"drills{n}t{tag}", f"drill-alerts-{n}-{tag}"
    extra_env = {"DRILL_RESULTS_TABLE": table, "DRILL_ALERTS_QUEUE": queue, **kwargs.pop("extra_env", {})}
    clients.reset()
    try:
        with running_stack(azurite, instances, extra_env=extra_env, **kwargs) as stack:
            yield DrillStack(stack, table, queue)
    finally:
        clients.reset()
