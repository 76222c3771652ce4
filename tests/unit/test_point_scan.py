"""The windowed, resumable recovery point scan: which windows it asks for, when it stops, and that it finds what
a full listing would (checked against a model service that applies the filter and pages like the real one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pgflex_restore.drills.choice import choose_drill_point, decide, drill_scan
from pgflex_restore.drills.plan import PointSelection
from pgflex_restore.models import RecoveryPointChoice
from pgflex_restore.parsing import DataStoreDetails, RecoveryPoint
from pgflex_restore.point_scan import PointScan
from pgflex_restore.selection import restore_scan, scanned_point, select_recovery_point

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)
VAULT = (DataStoreDetails("VaultStore"),)
ARCHIVE = (DataStoreDetails("ArchiveStore"),)


def point(name: str, age: timedelta, stores: tuple[DataStoreDetails, ...] = VAULT) -> RecoveryPoint:
    return RecoveryPoint(name, None, NOW - age, stores=stores)


def run(scan: PointScan, points: list[RecoveryPoint], page_size: int = 3, stop_after: int | None = None
        ) -> tuple[PointScan, list[tuple[datetime | None, datetime | None]]]:
    """Drive the scan against a model service (inclusive $filter bounds, newest first, pages of page_size).
    ``stop_after`` pages, the state goes through JSON, as between two activity attempts."""
    asked: list[tuple[datetime | None, datetime | None]] = []
    newest_first = sorted(points, key=lambda p: p.time, reverse=True)
    while not scan.finished:
        if stop_after is not None and scan.pages == stop_after:
            scan = PointScan.from_dict(scan.to_dict())
            stop_after = None
        if scan.next_link is None:
            start, end = scan.window_bounds()
            asked.append((start, end))
            offset = 0
        else:
            offset = int(scan.next_link)
        window = [p for p in newest_first if (start is None or p.time >= start) and (end is None or p.time <= end)]
        page = window[offset:offset + page_size]
        more = offset + page_size < len(window)
        scan.feed(page, str(offset + page_size) if more else None)
    return scan, asked


def test_latest_reads_only_the_last_week_when_it_holds_a_point() -> None:
    points = [point(f"rp-{i}", i * DAY + timedelta(hours=2)) for i in range(365)]
    scan, asked = run(restore_scan(RecoveryPointChoice.latest(), None, NOW), points)
    assert asked == [(NOW - 7 * DAY, None)]
    assert scan.newest is not None and scan.newest.id == "rp-0" and scan.listed == 7 and scan.pages == 3


def test_widens_window_by_window_until_a_usable_point_and_never_rereads_one() -> None:
    points = [point("old", 200 * DAY), point("archived", 2 * DAY, ARCHIVE)]
    scan, asked = run(restore_scan(RecoveryPointChoice.latest(), "VaultStore", NOW), points)
    assert asked == [(NOW - 7 * DAY, None), (NOW - 35 * DAY, NOW - 7 * DAY - TICK),
                     (NOW - 400 * DAY, NOW - 35 * DAY - TICK)]
    assert scan.newest is not None and scan.newest.id == "old" and scan.listed == 2


def test_nothing_usable_lists_everything_once_then_says_so() -> None:
    scan, asked = run(restore_scan(RecoveryPointChoice.latest(), None, NOW), [])
    assert len(asked) == 4 and asked[-1] == (None, NOW - 400 * DAY - TICK)
    assert scan.finished and scan.newest is None


def test_before_anchors_the_windows_at_that_instant() -> None:
    before = NOW - 100 * DAY
    points = [point(f"rp-{i}", i * DAY) for i in range(0, 200, 30)]  # 0, 30, ..., 180 days old
    scan, asked = run(restore_scan(RecoveryPointChoice.latest(before), None, NOW), points)
    assert asked[0] == (before - 7 * DAY, before)
    assert scan.newest is not None and scan.newest.id == "rp-120"  # the newest at or before, never a later one


def test_a_drill_reads_its_random_window_first_then_older_ones_only_for_the_rpo_facts() -> None:
    fresh = [point(f"rp-{i}", i * DAY + timedelta(hours=3)) for i in range(60)]
    scan, asked = run(drill_scan(PointSelection("random", 10.0), now=NOW, seed="run|bi"), fresh)
    assert asked == [(NOW - 10 * DAY, NOW)]
    assert scan.candidates == 10 and scan.newest is not None and scan.newest.id == "rp-0"
    stale = [point("rp-old", 50 * DAY)]
    scan, asked = run(drill_scan(PointSelection("random", 10.0), now=NOW, seed="run|bi"), stale)
    assert asked == [(NOW - 10 * DAY, NOW), (NOW - 35 * DAY, NOW - 10 * DAY - TICK),
                     (NOW - 400 * DAY, NOW - 35 * DAY - TICK)]
    assert decide(scan, now=NOW, max_age=2 * DAY).failure == "stale-recovery-point"


def test_a_point_beyond_the_end_is_never_chosen_even_if_the_service_sends_it() -> None:
    scan = restore_scan(RecoveryPointChoice.latest(NOW - DAY), None, NOW)
    scan.feed([point("after", timedelta(hours=1)), point("before", 2 * DAY)], None)
    assert scan.newest is not None and scan.newest.id == "before" and scan.listed == 1


_ages = st.lists(st.tuples(st.integers(0, 3000), st.sampled_from([VAULT, ARCHIVE, VAULT + ARCHIVE, ()])),
                 max_size=40)


@settings(max_examples=150, deadline=None)
@given(_ages, st.integers(1, 7), st.none() | st.integers(0, 4000), st.sampled_from([None, "VaultStore",
                                                                                     "ArchiveStore"]),
       st.none() | st.integers(0, 12))
def test_the_windowed_scan_chooses_what_a_full_listing_would(
    ages: list[tuple[int, tuple[DataStoreDetails, ...]]], page_size: int, before_hours: int | None,
    store: str | None, stop_after: int | None,
) -> None:
    """Whatever the points, page size, limit and store, and wherever a throttled page interrupts it."""
    points = [point(f"p{i}", timedelta(hours=h), s) for i, (h, s) in enumerate(ages)]
    choice = RecoveryPointChoice.latest(NOW - timedelta(hours=before_hours) if before_hours is not None else None)
    scan, _ = run(restore_scan(choice, store, NOW), points, page_size, stop_after)
    try:
        expected = select_recovery_point(points, choice, data_store=store)
    except Exception:
        expected = None
    assert scan.newest == expected
    if expected is not None:
        assert scanned_point(scan, choice) == expected


@settings(max_examples=100, deadline=None)
@given(_ages, st.integers(1, 5), st.integers(1, 60), st.none() | st.integers(0, 8), st.text(min_size=1))
def test_a_drill_scan_picks_what_the_whole_list_would(
    ages: list[tuple[int, tuple[DataStoreDetails, ...]]], page_size: int, within_days: int,
    stop_after: int | None, seed: str,
) -> None:
    points = [point(f"p{i}", timedelta(hours=h), s) for i, (h, s) in enumerate(ages)]
    selection = PointSelection("random", float(within_days))
    scan, _ = run(drill_scan(selection, now=NOW, seed=seed), points, page_size, stop_after)
    whole = choose_drill_point(points, selection, now=NOW, max_age=30 * DAY, seed=seed)
    assert decide(scan, now=NOW, max_age=30 * DAY) == whole


def test_the_state_stays_small_whatever_the_point_count() -> None:
    """What a throttled attempt hands to the next one (and so to the history) does not grow with the vault."""
    import json

    sizes = []
    for count in (10, 1000):
        points = [point(f"rp-{i:05d}", timedelta(hours=6 * i)) for i in range(count)]
        scan, _ = run(drill_scan(PointSelection("random", 400.0), now=NOW, seed="s"), points, page_size=10,
                      stop_after=None)
        sizes.append(len(json.dumps(scan.to_dict())))
    assert sizes[1] - sizes[0] <= 8  # only the counters' digits (listed, pages, candidates) grow
