"""A drill whose storage dies (issue 17 item 6): the real Azurite process is killed as the drill starts reading
the restored files. The drill must still end, on time, with its failure: the instance drill within its deadline,
the run within BOOKKEEPING_DEADLINE after it, and, with the table and the queue both gone, an ERROR log line per
lost outcome naming the run and what could not be recorded. It used to stay Running for about ten real minutes,
each storage call sleeping through the SDK's own retries, with nothing recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from activities import drill_results
from devhost.azurite import Azurite, start_azurite
from orchestrations.drill import BOOKKEEPING_DEADLINE, DRILL_RUN_ORCHESTRATION, drill_deadline
from pgflex_restore.drills.plan import parse_plan
from pgflex_restore.drills.run import build_run_input, run_id_for
from pgflex_restore.settings import get_settings, reset_settings_cache
from tests.e2e.drill_stack import drill_stack
from tests.e2e.stack import backup_instance

QUICK = {"validateSeconds": 2, "validateRetryAfter": 5, "restoreSeconds": 2, "restoreRetryAfter": 5,
         "jobSeconds": 90}
REAL_SECONDS = 60  # what "ends" means on this machine: the virtual clock makes the hours of retries seconds


@pytest.fixture()
def doomed() -> Iterator[Azurite]:
    """An Azurite of this test's own (the session's must survive the test)."""
    server = start_azurite()
    try:
        yield server
    finally:
        server.stop()


def kill(azurite: Azurite) -> None:
    if azurite.process.poll() is None:
        azurite.process.kill()
        azurite.process.wait(timeout=10)


def test_a_drill_whose_storage_dies_ends_on_time_and_logs_what_was_lost(
        doomed: Azurite, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real_verify = drill_results.verify_files

    def storage_dies_then_verify(payload: dict[str, Any]) -> dict[str, Any]:
        kill(doomed)  # the restore is done and its files written; from here on no storage call can succeed
        return real_verify(payload)

    monkeypatch.setattr(drill_results, "verify_files", storage_dies_then_verify)
    caplog.set_level(logging.ERROR, logger="orchestrations.drill")
    # Retries that would outlast every deadline: the deadlines, not the retry count, must end the drill.
    with drill_stack(doomed, {"pg1": backup_instance(timings=QUICK)},
                     extra_env={"MAX_TRANSIENT_RETRIES": "50"}) as drills:
        host = drills.stack.host
        reset_settings_cache()
        now = drills.stack.clock.now()
        run_id = run_id_for(now)
        plan = parse_plan(drills.plan(restoreTimeout="PT30M"), allowlist=get_settings().restore_target_allowlist)
        started = time.monotonic()
        host.start_orchestration(DRILL_RUN_ORCHESTRATION, build_run_input(run_id, now, plan, get_settings()),
                                 instance_id=run_id)
        run = host.wait_for(run_id, timeout=REAL_SECONDS)
        assert time.monotonic() - started < REAL_SECONDS
        assert doomed.process.poll() is not None, "storage never died: the test proves nothing"

        # The instance drill: a failed verdict naming the storage error, ended by its deadline.
        drill = host.get(f"{run_id}:0000")
        record = drill.output
        assert drill.runtime_status == "Completed"
        assert (record["status"], record["reason"]) == ("failed", "drill-error"), record
        assert record["message"].startswith("DeadlineExceeded: still failing at the deadline: StorageUnavailable: "
                                            "reading the restored files")
        # Verify and record each retried for their own BOOKKEEPING_DEADLINE; the alert, due last, met the drill's.
        assert "StorageUnavailable: writing the drill's row" in record["recordError"]
        assert record["alertError"].startswith("DeadlineExceeded: still failing at the deadline: "
                                               "StorageUnavailable: putting the alert")
        # It ended at its deadline exactly: the alert's retries stopped there (their own window ran two hours on).
        deadline = drill_deadline(drill.created_time, drill.input)
        assert drill.last_updated_time == deadline, (drill.created_time, drill.last_updated_time, deadline)

        # The run: Completed with the failed verdict, within BOOKKEEPING_DEADLINE of its last drill.
        summary = run.output
        assert run.runtime_status == "Completed"
        assert (summary["status"], summary["failed"], summary["failures"][0]["reason"]) == ("failed", 1,
                                                                                             "drill-error")
        assert "StorageUnavailable" in summary["recordError"] and "StorageUnavailable" in summary["alertError"]
        assert run.last_updated_time <= drill.last_updated_time + BOOKKEEPING_DEADLINE
        assert run.custom_status["phase"] == "done"

        # With the table and the queue gone, the log is where the verdict goes: an ERROR line per lost outcome,
        # each naming the run, the drill and what could not be written. (devhost's determinism check runs each
        # last episode again with the same history, as a recycled worker would: a line may show twice.)
        lines = sorted({r.getMessage() for r in caplog.records if r.levelno == logging.ERROR
                        and r.name == "orchestrations.drill"})
        assert len(lines) == 2, lines
        instance_line = next(line for line in lines if "the drill of pg1" in line)
        run_line = next(line for line in lines if "the run summary" in line)
        for line in (instance_line, run_line):
            assert line.startswith(f"drill run {run_id}: not recorded: ")
            assert "could not be written to the results table" in line
            assert "could not be put on the alert queue" in line
        assert "failed, drill-error: DeadlineExceeded" in instance_line and "reading the restored" in instance_line
        assert "(failed: 0 passed, 1 failed, 0 skipped)" in run_line
