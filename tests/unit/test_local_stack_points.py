"""retention_points: the recovery points a realistic vault lists, for the benches' points-per-server dimension.

Checked by the ages (days before the newest point) each count gives: exactly `count` of them, newest first, a
daily run, then weekly, then monthly points no older than five years (unless the count needs more days than
that), the same points for the same count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from cli.local_stack import daily_points, retention_points

NEWEST = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
FIVE_YEARS = 5 * 365


def ages(points: list[dict[str, object]]) -> list[int]:
    """Each point's age in whole days before NEWEST (the generator only ever steps whole days)."""
    out = []
    for point in points:
        delta = NEWEST - datetime.fromisoformat(str(point["time"]))
        assert delta % timedelta(days=1) == timedelta(0), point
        out.append(delta.days)
    return out


def check_policy(found: list[int]) -> None:
    """A daily run from the newest point, then multiples of 7 younger than a year, then multiples of 30."""
    daily = next((i for i, age in enumerate(found) if age != i), len(found))
    rest = found[daily:]
    assert all(age % 7 == 0 for age in rest if age < 365), rest
    assert all(age % 30 == 0 for age in rest if age >= 365), rest
    assert all(age < FIVE_YEARS for age in rest), rest
    # a tier only starts where the one before it ends: no weekly point between two monthly ones
    weekly_last = max((i for i, age in enumerate(rest) if age < 365), default=-1)
    assert all(age >= 365 for age in rest[weekly_last + 1:])


@pytest.mark.parametrize("count", [5, 100, 365, 1000])
def test_the_issue_counts_are_exact_newest_first_and_follow_the_policy(count: int) -> None:
    points = retention_points(count, NEWEST)
    found = ages(points)
    assert len(points) == count
    assert found[0] == 0 and points[0]["time"] == NEWEST.isoformat()
    assert all(a < b for a, b in pairwise(found)), "times strictly decreasing"
    assert [p["id"] for p in points] == [f"rp-{i}" for i in range(count)]
    check_policy(found)


def test_five_points_are_the_last_five_days() -> None:
    assert ages(retention_points(5, NEWEST)) == [0, 1, 2, 3, 4]
    assert retention_points(5, NEWEST) == daily_points(5, NEWEST)


def test_the_full_policy_is_30_daily_48_weekly_48_monthly_back_to_five_years() -> None:
    found = ages(retention_points(126, NEWEST))
    assert found[:30] == list(range(30))
    assert found[30:78] == list(range(35, 365, 7))
    assert found[78:] == list(range(390, FIVE_YEARS, 30))


def test_fewer_points_than_the_policy_holds_are_its_newest() -> None:
    full = retention_points(126, NEWEST)
    assert retention_points(100, NEWEST) == full[:100]
    found = ages(full[:100])
    assert found[77] == 364 and found[78] == 390 and found[-1] == 390 + 21 * 30


def test_more_points_than_the_policy_holds_reach_further_back_daily() -> None:
    found = ages(retention_points(365, NEWEST))
    daily = next(i for i, age in enumerate(found) if age != i)
    assert daily > 30  # the daily tier grew
    assert len(found) == 365 and max(found) < FIVE_YEARS
    # a thousand points: daily beyond a year, then only monthly points, still within five years
    found = ages(retention_points(1000, NEWEST))
    daily = next(i for i, age in enumerate(found) if age != i)
    assert daily > 365 and all(age % 30 == 0 for age in found[daily:]) and max(found) < FIVE_YEARS


def test_beyond_five_years_of_days_every_point_is_daily() -> None:
    assert ages(retention_points(2000, NEWEST)) == list(range(2000))


def test_every_count_is_exact_and_follows_the_policy() -> None:
    for count in range(400):
        found = ages(retention_points(count, NEWEST))
        assert len(found) == count and len(set(found)) == count, count
        check_policy(found)


def test_same_count_same_points_and_options_as_daily_points() -> None:
    assert retention_points(365, NEWEST) == retention_points(365, NEWEST)
    assert retention_points(365, NEWEST)[:30] == retention_points(1000, NEWEST)[:30]
    padded = retention_points(12, NEWEST, width=3, stores=["VaultStore", "ArchiveStore"])
    assert padded[0] == {"id": "rp-000", "time": NEWEST.isoformat(), "stores": ["VaultStore", "ArchiveStore"]}
    assert padded[11]["id"] == "rp-011"


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="count"):
        retention_points(-1, NEWEST)
