"""ArmSteps between attempts: a paced call waits exactly for its reserved slot and goes unasked next time; a
listing's progress is handed to the next attempt; neither leaks into later, unrelated retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrations._steps import ArmSteps, StatusBoard
from pgflex_restore.errors import PacedError
from pgflex_restore.polling import PollPolicy
from pgflex_restore.timeutil import format_datetime
from tests.orchestration_driver import FakeContext, Task, drive

NOW = datetime(2026, 12, 1, 3, tzinfo=UTC)


def run(answers: list[dict[str, Any]]) -> tuple[dict[str, Any], FakeContext]:
    context = FakeContext({}, NOW)
    steps = ArmSteps(context, PollPolicy(5, 600, 30), NOW + timedelta(hours=1), 3, StatusBoard(context))
    queue = list(answers)

    def answer(task: Task) -> Any:
        return None if task[0] == "timer" else queue.pop(0)

    return drive(steps.call("drill_choose_point", {"backupInstance": "bi"}), context, answer), context


def test_a_paced_call_waits_exactly_for_its_slot_then_goes_unasked() -> None:
    paced = {"ok": False, "error": PacedError("reads", "sub", 0.4).to_dict()}
    busy = {"ok": False, "error": {"code": "ServerBusy", "retryable": True, "status": 503}}
    result, context = run([paced, busy, {"ok": True, "choice": {}}])
    assert result["ok"]
    timers = [t[1] for t in context.scheduled if t[0] == "timer"]
    assert timers[0] == NOW + timedelta(seconds=0.4)  # not POLL_MIN_SECONDS: no request reached ARM
    assert timers[1] - timers[0] >= timedelta(seconds=5)  # a real 503 keeps the poll floor
    payloads = [t[2] for t in context.scheduled if t[0] == "activity"]
    assert "reserved" not in payloads[0] and payloads[1]["reserved"] is True
    assert "reserved" not in payloads[2]  # the slot was used by the attempt that got the 503
    assert [p["now"] for p in payloads] == [format_datetime(t) for t in (NOW, *timers)]  # the clock pacing uses


def test_a_listings_progress_goes_to_the_next_attempt() -> None:
    throttled = {"ok": False, "error": {"code": "TooManyRequests", "retryable": True, "status": 429,
                                        "retryAfter": "7", "resume": {"nextLink": "page-3"}}}
    result, context = run([throttled, {"ok": True, "choice": {}}])
    assert result["ok"]
    payloads = [t[2] for t in context.scheduled if t[0] == "activity"]
    assert "resume" not in payloads[0] and payloads[1]["resume"] == {"nextLink": "page-3"}
