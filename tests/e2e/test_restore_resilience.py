"""The restore survives what real ARM does to it, triggers at most once, and keeps history bounded."""

from __future__ import annotations

import pytest
import requests

from devhost.azurite import Azurite
from pgflex_restore.restore_plan import POLLS_PER_GENERATION
from tests.e2e.stack import backup_instance, running_stack


def test_throttling_server_errors_and_expired_tokens_are_waited_out(azurite: Azurite) -> None:
    """429 with Retry-After, a 503 burst and revoked tokens: the restore still succeeds, with retries counted."""
    with running_stack(azurite) as stack:
        warm_up = stack.run(stack.request_body(requestId="warm-up", validateOnly=True))
        assert warm_up["status"] == "validated"  # the app now holds a cached token ...
        assert stack.emulator.revoke_tokens() >= 1  # ... which the service stops accepting
        stack.emulator.clear_requests()
        stack.emulator.inject_fault("status", count=2, status=429, retry_after=7, path="/recoveryPoints")
        stack.emulator.inject_fault("status", count=3, status=503, path="/backupJobs/")
        result = stack.run(stack.request_body(requestId="faulty"))
        assert result["status"] == "succeeded", result
        assert result["retries"] + stack.reruns() >= 5  # a fault met by a lost delivery is retried by the host
        throttled = [r for r in stack.arm_requests() if r["status"] == 429]
        assert len(throttled) == 2
        unauthorized = [r for r in stack.arm_requests() if r["status"] == 401]
        assert len(unauthorized) == 1  # the client fetched a fresh token and went on


def test_permanent_error_fails_fast_with_the_arm_code(azurite: Azurite) -> None:
    """A 404 for the backup instance ends the restore at once: no retries, the ARM code in the result."""
    with running_stack(azurite) as stack:
        result = stack.run(stack.request_body(instance="no-such-instance"))
        assert result["status"] == "failed"
        assert result["retries"] == 0
        assert result["error"]["status"] == 404
        assert result["error"]["code"]
        assert len(stack.arm_requests()) == 1 + stack.reruns()  # one request per delivery, never a retry


def test_same_request_id_twice_starts_one_restore(azurite: Azurite) -> None:
    """The second POST with a request id answers with the first restore and starts nothing."""
    with running_stack(azurite) as stack:
        body = stack.request_body(requestId="ticket-4711")
        first = stack.post_restore(body)
        second = stack.post_restore(body)
        assert first.status_code == 202 and second.status_code == 202
        assert first.json()["restoreId"] == second.json()["restoreId"] == "restore-ticket-4711"
        assert first.json()["created"] is True and second.json()["created"] is False
        assert second.headers["Location"] == first.headers["Location"]
        stack.host.wait_for("restore-ticket-4711", timeout=60)
        third = stack.post_restore(body)  # also after it finished
        assert third.json()["created"] is False
        assert len(stack.arm_requests("POST", "/restore")) == 1


def test_ambiguous_trigger_failure_finds_the_job_instead_of_posting_again(azurite: Azurite) -> None:
    """The connection drops after the service accepted the restore: the app finds that job; one job in Azure."""
    with running_stack(azurite) as stack:
        stack.emulator.inject_fault("drop-after-processing", count=1, method="POST", path="/restore$")
        result = stack.run(stack.request_body())
        assert result["status"] == "succeeded", result
        assert len(stack.emulator.jobs()) == 1
        assert result["jobId"] == stack.emulator.jobs()[0]["armId"]
        assert len(stack.arm_requests("POST", "/restore")) == 1


def test_deadline_fails_and_says_the_azure_job_may_still_run(azurite: Azurite) -> None:
    """Past RESTORE_TIMEOUT the restore fails with a message naming the still-running job and where to look."""
    slow = backup_instance(timings={"validateSeconds": 5, "validateRetryAfter": 5, "restoreSeconds": 5,
                                    "restoreRetryAfter": 5, "jobSeconds": 7200})
    with running_stack(azurite, {"pg1": slow}, extra_env={"RESTORE_TIMEOUT": "PT30M"}) as stack:
        result = stack.run(stack.request_body())
        assert result["status"] == "deadline_exceeded"
        assert result["jobId"] in result["error"]["message"]
        assert "may still be running" in result["error"]["message"]


def test_cancel_stops_the_orchestration_and_says_the_azure_job_continues(azurite: Azurite) -> None:
    """Cancel terminates the restore (and its tracker) and says plainly that the Azure job is not cancelled."""
    slow = backup_instance(timings={"validateSeconds": 5, "validateRetryAfter": 5, "restoreSeconds": 5,
                                    "restoreRetryAfter": 5, "jobSeconds": 86400})
    with running_stack(azurite, {"pg1": slow}) as stack:
        restore_id = stack.post_restore(stack.request_body(requestId="c1")).json()["restoreId"]
        stack.wait_until(lambda: stack.get_restore(restore_id)["status"].get("phase") == "tracking",
                              timeout=30)
        reply = requests.post(f"{stack.api}/restores/{restore_id}/cancel", headers=stack.key, timeout=30)
        assert reply.status_code == 202
        assert "NOT cancelled" in reply.json()["message"]
        assert stack.host.wait_for(restore_id, timeout=30).runtime_status == "Terminated"
        assert stack.host.wait_for(f"{restore_id}:job", timeout=30).runtime_status == "Terminated"
        again = requests.post(f"{stack.api}/restores/{restore_id}/cancel", headers=stack.key, timeout=30)
        assert again.status_code == 409
        missing = requests.get(f"{stack.api}/restores/nope", headers=stack.key, timeout=30)
        assert missing.status_code == 404


@pytest.mark.one_mode  # a minute of replays; how activities are delivered does not change the bound
def test_day_long_job_keeps_every_history_under_300_events(azurite: Azurite) -> None:
    """A 24-hour job polled every 30 s: tracking continues-as-new, so no execution exceeds 300 events."""
    day = backup_instance(timings={"validateSeconds": 25, "validateRetryAfter": 10, "restoreSeconds": 70,
                                   "restoreRetryAfter": 30, "jobSeconds": 86400})
    with running_stack(azurite, {"pg1": day}, extra_env={"RESTORE_TIMEOUT": "PT26H"}) as stack:
        result = stack.run(stack.request_body(requestId="long"), timeout=300)
        assert result["status"] == "succeeded", result
        job_gets = len(stack.arm_requests("GET", "/backupJobs/")) - stack.reruns("get_job")
        assert 2880 <= job_gets <= 2890
        largest = max(len(h) for inst in stack.host.instances() for h in inst.executions)
        assert largest <= 300, largest
        tracker = stack.host.get("restore-long:job")
        assert len(tracker.executions) >= job_gets // POLLS_PER_GENERATION  # one execution per 10 polls
