"""Activities run at least once on the real host: a re-delivered trigger_restore never posts a second restore.

The worker can be recycled while trigger_restore is delivered (before the POST), after the POST reached ARM but
before its answer came back, or after the 202 with the result not yet recorded. Each time the host runs the
activity again; the activity finds this request's own job and returns it instead of posting.
"""

from __future__ import annotations

import pytest

from devhost import Redelivery
from devhost.azurite import Azurite
from tests.e2e.stack import backup_instance, running_stack

TRIGGER = frozenset({"trigger_restore"})


@pytest.mark.parametrize(("point", "drop_answer"), [("before", False), ("after", True), ("after", False)],
                         ids=["before-the-post", "after-the-post", "after-the-202"])
def test_a_redelivered_trigger_posts_one_restore(azurite: Azurite, point: str, drop_answer: bool) -> None:
    options = {"redelivery": Redelivery(point=point, activities=TRIGGER)}
    with running_stack(azurite, host_options=options) as stack:
        if drop_answer:  # ARM processed the POST; the connection died before the answer reached the worker
            stack.emulator.inject_fault("drop-after-processing", count=1, method="POST", path="/restore$")
        result = stack.run(stack.request_body(requestId=f"redelivered-{point}-{drop_answer}"))
        assert result["status"] == "succeeded", result
        assert [r[0] for r in stack.host.engine.redelivered] == ["trigger_restore"]
        assert len([c for c in stack.host.activity_calls if c.name == "trigger_restore"]) == (1 if point == "before"
                                                                                                 else 2)
        assert len(stack.arm_requests("POST", "/restore")) == 1
        jobs = stack.arm_requests("GET", "/backupJobs/")
        assert {r["path"].rsplit("/", 1)[-1] for r in jobs} == {result["jobId"].rsplit("/", 1)[-1]}


def test_a_rerun_trigger_finds_its_own_job_among_recent_backups_and_other_restores(azurite: Azurite) -> None:
    """The vault's job list also holds scheduled backups and another restore of the same server, with the same file
    prefix into another container, a minute earlier (inside the lookup's clock-skew window): only this request's
    job, matched by target container and prefix, is taken for its own."""
    others = [{"operation": "Backup", "start": "now-PT30S"}, {"operation": "Backup", "start": "now-P1D"},
              {"operation": "Restore", "start": "now-PT1M", "durationSeconds": 30, "filePrefix": "restored",
               "targetContainerUrl": "https://elsewhere.blob.core.windows.net/restores"}]
    options = {"redelivery": Redelivery(point="after", activities=TRIGGER)}
    with running_stack(azurite, {"pg1": backup_instance(pastJobs=others)}, host_options=options) as stack:
        result = stack.run(stack.request_body(requestId="mine"))
        assert result["status"] == "succeeded", result
        assert len(stack.arm_requests("POST", "/restore")) == 1  # the re-run found this job, not the other one
        own = result["jobId"].rsplit("/", 1)[-1]
        assert {r["path"].rsplit("/", 1)[-1] for r in stack.arm_requests("GET", "/backupJobs/")} == {own}
        assert len(stack.arm_requests("GET", "/backupJobs")) >= 1  # the lookup read the mixed list
