"""Backup instances with years of recovery points: a restore or a drill lists only the window it needs, a point
named by id is read alone, and a throttled page is retried from where the listing had got to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from devhost.azurite import Azurite
from tests.e2e.stack import START, backup_instance, points, running_stack

YEARS = points(1000, newest=START - timedelta(hours=2))  # daily, about 2.7 years
PAGED = {"pageSize": 10}


def point_requests(stack: Any) -> list[dict[str, Any]]:
    return [r for r in stack.arm_requests("GET", "/recoveryPoints")]


def test_latest_lists_one_window_not_the_whole_history(azurite: Azurite) -> None:
    with running_stack(azurite, {"pg1": backup_instance(recoveryPoints=YEARS)}, scenario_top=PAGED) as stack:
        result = stack.run(stack.request_body())
        assert result["status"] == "succeeded", result
        assert result["recoveryPoint"]["id"] == "rp-0"
        listed = point_requests(stack)
        assert len(listed) == 1 + stack.reruns("resolve_recovery_point")
        assert "startDate eq '2026-" in listed[0]["query"]["$filter"]  # a week back from the orchestration's time


def test_before_lists_back_from_that_instant(azurite: Azurite) -> None:
    with running_stack(azurite, {"pg1": backup_instance(recoveryPoints=YEARS)}, scenario_top=PAGED) as stack:
        before = "2025-06-01T12:00:00Z"
        result = stack.run(stack.request_body(before=before))
        assert result["status"] == "succeeded", result
        assert result["recoveryPoint"]["time"].startswith("2025-06-01T04:00")  # the daily point of that morning
        listed = point_requests(stack)
        assert len(listed) == 1 + stack.reruns("resolve_recovery_point")
        assert listed[0]["query"]["$filter"].endswith("endDate eq '2025-06-01T12:00:00.0000000Z'")


def test_a_point_named_by_id_is_read_alone(azurite: Azurite) -> None:
    with running_stack(azurite, {"pg1": backup_instance(recoveryPoints=YEARS)}, scenario_top=PAGED) as stack:
        result = stack.run(stack.request_body(recoveryPoint="rp-777"))
        assert result["status"] == "succeeded", result
        assert result["recoveryPoint"]["id"] == "rp-777"
        assert [r["path"].rsplit("/", 1)[-1] for r in point_requests(stack)] == \
            ["rp-777"] * (1 + stack.reruns("resolve_recovery_point"))

        missing = stack.run(stack.request_body(requestId="missing", recoveryPoint="rp-9999"))
        assert missing["status"] == "failed"
        assert missing["error"]["code"] == "NoRecoveryPoint"
        assert "no recovery point with id rp-9999" in missing["error"]["message"]
        assert missing["retries"] == 0


def test_a_throttled_page_resumes_from_its_next_link(azurite: Azurite) -> None:
    """A point at or before a time 60 days ago, with nothing usable for a month before it: the scan pages
    through two windows; a 429 on a later page is waited out and the next attempt asks for that same page."""
    gap = [p for p in YEARS if not 30 <= int(p["id"].split("-")[1]) < 90]
    with running_stack(azurite, {"pg1": backup_instance(recoveryPoints=gap)}, scenario_top=PAGED) as stack:
        stack.emulator.inject_fault("status", count=1, status=429, retry_after=7, path="/recoveryPoints$",
                                    query="skipToken")
        result = stack.run(stack.request_body(before="2026-09-15T00:00:00Z"))
        assert result["status"] == "succeeded", result
        assert result["recoveryPoint"]["id"] == "rp-90"
        listed = [r for r in point_requests(stack)]
        throttled = [n for n, r in enumerate(listed) if r["status"] == 429]
        assert len(throttled) == 1
        at = throttled[0]
        assert "$skipToken" in listed[at]["query"]
        assert listed[at]["query"] in [r["query"] for r in listed[at + 1:]]
        # The listing never starts over because of the 429. A re-delivered attempt (its outcome lost, as after a
        # host recycle) runs again from its own input, so only re-deliveries may repeat the first page.
        reruns = stack.reruns("resolve_recovery_point")
        assert sum(r["query"] == listed[0]["query"] for r in listed) <= 1 + reruns
        if reruns == 0:
            assert listed[at + 1]["query"] == listed[at]["query"]  # the same page again, at once
            assert result["retries"] >= 1  # a lost failure is never seen by the orchestration, so not counted
