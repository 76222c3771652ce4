"""Sub-orchestration: poll a backup job until it finishes, continuing-as-new so history stays bounded.

A restore job can run for a day. Polling it every 30 s in one execution would replay thousands of events on
every wake-up; continue-as-new every ``pollsPerGeneration`` polls keeps each execution near 200 events and
replay cost linear in the job's length.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from activities.jobs import GET_JOB
from orchestrations._steps import ArmSteps, DeadlineExceeded, StatusBoard, StepFailed, Steps
from pgflex_restore.polling import PollPolicy

TRACK_JOB = "track_job_orchestrator"

bp = df.Blueprint()


def tracking_input(
    vault: str, job_id: str, *, deadline: datetime, poll: PollPolicy, max_retries: int, polls_per_generation: int
) -> dict[str, Any]:
    return {
        "vault": vault,
        "jobId": job_id,
        "deadline": deadline.isoformat(),
        "poll": poll.to_dict(),
        "maxTransientRetries": max_retries,
        "pollsPerGeneration": polls_per_generation,
        "polls": 0,
        "armCalls": 0,
        "retries": 0,
        "generation": 0,
    }


def track_job(context: df.DurableOrchestrationContext) -> Steps:
    state: dict[str, Any] = dict(context.get_input(expected_type=dict) or {})
    poll = PollPolicy.from_dict(state["poll"])
    board = StatusBoard(
        context, phase="tracking", jobId=state["jobId"], polls=state["polls"], generation=state["generation"]
    )
    steps = ArmSteps(
        context, poll, datetime.fromisoformat(state["deadline"]), int(state["maxTransientRetries"]), board,
        arm_calls=int(state["armCalls"]), retries=int(state["retries"]),
    )
    polls = int(state["polls"])
    job: dict[str, Any] | None = state.get("lastJob")

    def summary(outcome: str, **extra: Any) -> dict[str, Any]:
        return {"outcome": outcome, "job": job, "polls": polls, "armCalls": steps.arm_calls,
                "retries": steps.retries, **extra}

    try:
        for _ in range(int(state["pollsPerGeneration"])):
            result = yield from steps.call(GET_JOB, {"vault": state["vault"], "jobId": state["jobId"]})
            job = result["job"]
            polls += 1
            board.update(polls=polls, jobStatus=job.get("status"), progress=job.get("progressPercent"))
            if job.get("outcome") != "running":
                return summary("finished")
            yield from steps.wait(steps.policy.next_wait(None, now=steps.now))
    except StepFailed as failed:
        return summary("error", error=failed.error)
    except DeadlineExceeded:
        return summary("deadline")
    context.continue_as_new({
        **state, "polls": polls, "armCalls": steps.arm_calls, "retries": steps.retries,
        "generation": int(state["generation"]) + 1, "lastJob": job,
    })
    return None


@bp.orchestration_trigger(context_name="context")
def track_job_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    return (yield from track_job(context))
