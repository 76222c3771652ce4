"""Which point a drill restores: the RPO check, latest, and random-within-N-days seeded by the run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pgflex_restore.drills.choice import NO_POINT, STALE, PointChoice, choose_drill_point
from pgflex_restore.drills.plan import PointSelection
from pgflex_restore.parsing import DataStoreDetails, RecoveryPoint
from pgflex_restore.point_scan import seeded_rank

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
RANDOM = PointSelection("random", 7.0)


def daily(count: int, newest_age: timedelta = timedelta(hours=5), store: str = "VaultStore") -> list[RecoveryPoint]:
    return [RecoveryPoint(f"rp-{i}", None, NOW - newest_age - timedelta(days=i), stores=(DataStoreDetails(store),))
            for i in range(count)]


def test_latest_point_within_rpo() -> None:
    choice = choose_drill_point(daily(5), PointSelection(), now=NOW, max_age=timedelta(days=1), seed="r|i")
    assert choice.point is not None and choice.point.id == "rp-0" and choice.failure is None
    assert choice.point_age_seconds == choice.newest_age_seconds == 5 * 3600


def test_stale_newest_point_fails_with_its_age() -> None:
    """The RPO applies to the newest point, whatever the selection mode."""
    choice = choose_drill_point(daily(3, timedelta(days=9)), RANDOM, now=NOW, max_age=timedelta(days=8), seed="s")
    assert choice.failure == STALE
    assert "9.0 days old" in (choice.message or "")


def test_no_vault_store_point() -> None:
    """Archive-only points are not drilled (rehydration takes hours); no points at all is a failure too."""
    archived = choose_drill_point(daily(2, store="ArchiveStore"), PointSelection(), now=NOW,
                                  max_age=timedelta(days=8), seed="s")
    assert archived.failure == NO_POINT and "ArchiveStore" in (archived.message or "")
    assert choose_drill_point([], PointSelection(), now=NOW, max_age=timedelta(days=8), seed="s").failure == NO_POINT


def test_random_is_deterministic_per_seed_and_stays_in_the_window() -> None:
    """Same run + instance: same point (replays); different runs: spread over the last N days only."""
    points = daily(30)
    picks = {choose_drill_point(points, RANDOM, now=NOW, max_age=timedelta(days=8), seed=f"drill-{n}|bi")
             .point.id for n in range(60)}  # type: ignore[union-attr]
    assert picks <= {f"rp-{i}" for i in range(7)}
    assert len(picks) >= 4
    first = choose_drill_point(points, RANDOM, now=NOW, max_age=timedelta(days=8), seed="drill-1|bi")
    again = choose_drill_point(list(reversed(points)), RANDOM, now=NOW, max_age=timedelta(days=8), seed="drill-1|bi")
    assert first.point == again.point and first.candidates == 7


def test_seeded_rank_is_stable() -> None:
    """The same seed and point give the same rank on every machine (sha256, not hash()); case does not count."""
    # pinned: a change of the rank would move every drill's pick
    assert seeded_rank("drill-20261125T030000Z|bi", "rp-1") == 0x877dbe0e2c3a5d40
    assert seeded_rank("drill-1|bi", "RP-1") == seeded_rank("drill-1|bi", "rp-1")
    assert seeded_rank("drill-1|bi", "rp-1") != seeded_rank("drill-2|bi", "rp-1")


def test_random_with_an_empty_window_takes_the_newest() -> None:
    """No point in the last N days but the newest is within the RPO: the newest is drilled."""
    choice = choose_drill_point(daily(3, timedelta(days=7, hours=1)), RANDOM, now=NOW, max_age=timedelta(days=8),
                                seed="s")
    assert choice.point is not None and choice.point.id == "rp-0" and choice.candidates == 1


def test_choice_round_trips_through_json() -> None:
    """The activity hands the choice to the orchestrator as JSON: nothing is lost on the way."""
    choice = choose_drill_point(daily(30), RANDOM, now=NOW, max_age=timedelta(days=8), seed="drill-1|bi")
    again = PointChoice.from_dict(choice.to_dict())
    assert again == choice and again.summary() == choice.summary()
