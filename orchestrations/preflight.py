"""The restore's pre-flight as durable steps: each read of pgflex_restore/preflight.py is one activity call.

A generator helper, driven with ``yield from`` inside the restore orchestrator: ArmSteps gives every read its
Retry-After waits and bounded retries, and a read that still fails is handed back to the checks as a failed
answer (a warning), never as the restore's failure. The deadline still ends the restore (DeadlineExceeded).
"""

from __future__ import annotations

from activities.preflight import READS
from orchestrations._steps import ArmSteps, StepFailed, Steps
from pgflex_restore.preflight import PreflightTarget, checks


def run_preflight(steps: ArmSteps, target: PreflightTarget) -> Steps:
    """The findings of ``target`` (a list of Finding, blocking ones first)."""
    sequence = checks(target)
    try:
        kind, payload = next(sequence)
        while True:
            try:
                answer = yield from steps.call(READS[kind][0], payload)
            except StepFailed as failed:
                answer = {"ok": False, "error": failed.error}
            kind, payload = sequence.send(answer)
    except StopIteration as stop:
        return list(stop.value)
