"""The orchestrators' shared moves: call an ARM activity, wait with a durable timer, keep custom status current.

Generators only: every helper is driven with ``yield from`` inside an orchestrator, so it yields durable tasks
and gets their results back on replay. Nothing here reads the clock or the environment except through the
orchestration context, which keeps replays deterministic.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from pgflex_restore.polling import PollPolicy
from pgflex_restore.timeutil import format_datetime

Steps = Generator[Any, Any, Any]

# Unexpected activity crashes (not ARM answers) are retried at most this often: they are usually bugs, but an
# identity endpoint or DNS blip also shows up this way.
MAX_CRASH_RETRIES = 2


class StepFailed(Exception):
    """An ARM call failed for good; ``error`` is the activity's error dict (code, message, advice, ids)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message") or error.get("code") or "ARM call failed")
        self.error = error


class DeadlineExceeded(Exception):
    """The overall restore deadline passed while waiting."""


class StatusBoard:
    """The orchestration's custom status: small, always current, re-published on every change.

    It also notes when each ``phase`` began (``entered``, on the orchestration's clock, so replays agree): the
    result record's phase times, and the telemetry spans built from them, come from here.
    """

    def __init__(self, context: df.DurableOrchestrationContext, **initial: Any) -> None:
        self._context = context
        self.values: dict[str, Any] = dict(initial)
        self.entered: list[tuple[str, datetime]] = []
        self._enter(initial.get("phase"))
        self.publish()

    def update(self, **changes: Any) -> None:
        self._enter(changes.get("phase"))
        self.values.update(changes)
        self.publish()

    def _enter(self, phase: str | None) -> None:
        if phase and (not self.entered or self.entered[-1][0] != phase):
            self.entered.append((phase, self._context.current_utc_datetime))

    def publish(self) -> None:
        self._context.set_custom_status({k: v for k, v in self.values.items() if v is not None})


class ArmSteps:
    """Activity calls with bounded, Retry-After-sized retries of transient failures, all on durable timers."""

    def __init__(
        self,
        context: df.DurableOrchestrationContext,
        policy: PollPolicy,
        deadline: datetime,
        max_retries: int,
        board: StatusBoard,
        *,
        arm_calls: int = 0,
        retries: int = 0,
    ) -> None:
        self.context = context
        self.policy = policy
        self.deadline = deadline
        self.max_retries = max_retries
        self.board = board
        self.arm_calls = arm_calls
        self.retries = retries

    @property
    def now(self) -> datetime:
        return self.context.current_utc_datetime

    def call_once(self, activity: str, payload: dict[str, Any]) -> Steps:
        """One activity call; a crash becomes an error dict so callers handle every failure the same way.

        The payload gets ``now``, the orchestration's time, unless it has its own: activities pace their ARM
        calls by it, so the token buckets run on the same clock as the durable timers that wait for them.
        """
        payload = {"now": format_datetime(self.now), **payload}
        try:
            result = yield self.context.call_activity(activity, payload, expected_type=dict)
        except Exception as exc:  # the host hands over only the text: "Activity function 'x' failed: ..."
            message = str(exc).split("\n")[0].strip()
            return {"ok": False, "error": {"code": "ActivityFailed", "message": message, "retryable": True,
                                           "crash": True}}
        self.arm_calls += int(result.get("armCalls", 0))
        return result

    def call(self, activity: str, payload: dict[str, Any]) -> Steps:
        """Call until it succeeds; transient errors wait (Retry-After or backoff), permanent ones raise StepFailed.

        Throttling (429) is waited out for as long as the deadline allows and never spends the retry budget: it
        says the subscription is busy, not that the call is failing, and a fleet drill meets it by design.
        """
        attempt = 0
        crashes = 0
        while True:
            result = yield from self.call_once(activity, payload)
            if result.get("ok"):
                return result
            error = result["error"]
            payload = carry_over(payload, error)
            crashes += 1 if error.get("crash") else 0
            if not error.get("retryable") or crashes > MAX_CRASH_RETRIES:
                raise StepFailed(error)
            if is_throttled(error):
                yield from self.back_off(1, error)
                continue
            if attempt >= self.max_retries:
                raise StepFailed(error)
            attempt += 1
            yield from self.back_off(attempt, error)

    def note_retry(self, error: dict[str, Any]) -> None:
        """Count a retry and show its cause in the custom status."""
        self.retries += 1
        self.board.update(retries=self.retries, lastError=_short_error(error))

    def back_off(self, attempt: int, error: dict[str, Any]) -> Steps:
        """Wait out a transient error: the service's Retry-After when it sent one, else exponential backoff.

        A call held back by the app's pacing waits exactly until the slot it reserved: no ARM request was sent,
        so the poll floor (POLL_MIN_SECONDS, which spares the service) would only leave the slot unused.
        """
        self.note_retry(error)
        if error.get("paced") and error.get("waitSeconds") is not None:
            yield from self.wait(max(float(error["waitSeconds"]), 0.0))
            return
        wait = self.policy.retry_wait(attempt, error.get("retryAfter"), now=self.now)
        yield from self.wait(wait)

    def wait(self, seconds: float) -> Steps:
        """A durable timer, never beyond the deadline; at the deadline, DeadlineExceeded."""
        if self.now >= self.deadline:
            raise DeadlineExceeded
        fire_at = min(self.now + timedelta(seconds=seconds), self.deadline)
        self.board.update(nextCheck=format_datetime(fire_at))
        yield self.context.create_timer(fire_at)
        if self.now >= self.deadline:
            raise DeadlineExceeded


def carry_over(payload: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    """The next attempt's payload: a listing's progress (``resume``) goes on from where it got to, and a call
    held back by pacing goes without asking again (``reserved``: it waited for the slot it reserved).

    ``resume`` is taken out of ``error``: it is the attempt's state, not part of an error a record reports.
    """
    carried = {k: v for k, v in payload.items() if k != "reserved"}
    if error.get("resume") is not None:
        carried["resume"] = error.pop("resume")
    if error.get("reserved"):
        carried["reserved"] = True
    return carried


def is_throttled(error: dict[str, Any]) -> bool:
    """A 429 from ARM or the provider, or a call the app's own pacing held back (the activity's error dict)."""
    return error.get("status") == 429 or bool(error.get("paced"))


def _short_error(error: dict[str, Any]) -> str:
    code = error.get("code") or "Error"
    message = str(error.get("message") or "")
    return f"{code}: {message[:200]}"
