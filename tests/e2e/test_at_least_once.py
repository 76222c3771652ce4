"""Activities run at least once on the real host: a re-delivered trigger_restore never posts a second restore.

The worker can be recycled while trigger_restore is delivered (before the POST), after the POST reached ARM but
before its answer came back, or after the 202 with the result not yet recorded. Each time the host runs the
activity again; the activity finds this request's own job and returns it instead of posting.
"""

from __future__ import annotations

import pytest

from devhost import Redelivery
from devhost.azurite import Azurite
from tests.e2e.stack import running_stack

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
