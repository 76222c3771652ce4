"""Recovery point selection: latest, by id, at-or-before, store preference, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_restore.errors import NoRecoveryPointError
from pgflex_restore.models import RecoveryPointChoice
from pgflex_restore.parsing import DataStoreDetails, RecoveryPoint
from pgflex_restore.selection import choose_source_store, select_recovery_point

T0 = datetime(2026, 10, 1, 2, tzinfo=UTC)
VAULT = (DataStoreDetails("VaultStore", "COMMITTED", True),)
ARCHIVE = (DataStoreDetails("ArchiveStore", "COMMITTED", True),)
BOTH = VAULT + ARCHIVE


def point(pid: str, days: int, stores: tuple[DataStoreDetails, ...] = VAULT) -> RecoveryPoint:
    return RecoveryPoint(id=pid, arm_id=None, time=T0 + timedelta(days=days), stores=stores)


POINTS = [point("a", 0), point("b", 7), point("c", 14, ARCHIVE), point("d", 21, (DataStoreDetails("VaultStore",
                                                                                                      visible=False),))]


def test_latest_prefers_usable_vault_or_archive() -> None:
    """Latest skips unusable points; an archive-only point qualifies when it is newest usable."""
    assert select_recovery_point(POINTS, RecoveryPointChoice.latest()).id == "c"
    assert select_recovery_point(POINTS, RecoveryPointChoice.latest(), data_store="VaultStore").id == "b"
    assert select_recovery_point(POINTS, RecoveryPointChoice.latest(), data_store="ArchiveStore").id == "c"


def test_at_or_before() -> None:
    """Newest at or before the instant (inclusive)."""
    choice = RecoveryPointChoice.latest(T0 + timedelta(days=7))
    assert select_recovery_point(POINTS, choice).id == "b"
    assert select_recovery_point(POINTS, RecoveryPointChoice.latest(T0 + timedelta(days=10))).id == "b"


def test_nothing_before_says_what_to_do() -> None:
    """The error names the instant and what to try instead (nothing after it was listed, so it names no point)."""
    with pytest.raises(NoRecoveryPointError) as info:
        select_recovery_point(POINTS, RecoveryPointChoice.latest(datetime(2026, 9, 1, tzinfo=UTC)))
    assert str(info.value) == ("no usable recovery point at or before 2026-09-01T00:00:00Z (0 listed at or "
                               'before it); choose a later time or "latest"')


def test_by_id() -> None:
    """By id, case-insensitively; unknown ids and unusable copies give clear errors."""
    assert select_recovery_point(POINTS, RecoveryPointChoice.by_id("B")).id == "b"
    with pytest.raises(NoRecoveryPointError, match="no recovery point with id zz among the 4"):
        select_recovery_point(POINTS, RecoveryPointChoice.by_id("zz"))
    with pytest.raises(NoRecoveryPointError, match="no usable ArchiveStore"):
        select_recovery_point(POINTS, RecoveryPointChoice.by_id("a"), data_store="ArchiveStore")
    with pytest.raises(NoRecoveryPointError, match="no usable VaultStore or ArchiveStore"):
        select_recovery_point(POINTS, RecoveryPointChoice.by_id("d"))


def test_empty_and_unusable() -> None:
    """No points at all, or none usable, is a NoRecoveryPointError."""
    with pytest.raises(NoRecoveryPointError, match="0 listed"):
        select_recovery_point([], RecoveryPointChoice.latest())
    with pytest.raises(NoRecoveryPointError, match="in VaultStore"):
        select_recovery_point([point("x", 0, ARCHIVE)], RecoveryPointChoice.latest(), data_store="VaultStore")


def test_tie_prefers_vault_store() -> None:
    """Two points at the same instant: the one with a VaultStore copy wins."""
    tie = [point("arch", 5, ARCHIVE), point("vault", 5, VAULT)]
    assert select_recovery_point(tie, RecoveryPointChoice.latest()).id == "vault"


def test_choose_source_store() -> None:
    """VaultStore preferred, ArchiveStore when asked or only copy, errors otherwise."""
    assert choose_source_store(point("x", 0, BOTH), None) == "VaultStore"
    assert choose_source_store(point("x", 0, BOTH), "ArchiveStore") == "ArchiveStore"
    assert choose_source_store(point("x", 0, ARCHIVE), None) == "ArchiveStore"
    assert choose_source_store(point("x", 0, ()), None) == "VaultStore"
    with pytest.raises(NoRecoveryPointError):
        choose_source_store(point("x", 0, ARCHIVE), "VaultStore")
    with pytest.raises(ValueError):
        choose_source_store(point("x", 0), "SnapshotStore")


_store = st.sampled_from([VAULT, ARCHIVE, BOTH, (DataStoreDetails("VaultStore", visible=False),),
                          (DataStoreDetails("VaultStore", state="Deleted"),)])
_points = st.lists(st.tuples(st.integers(0, 60), _store), min_size=1, max_size=12).map(
    lambda items: [point(f"p{i}", d, s) for i, (d, s) in enumerate(items)])


@given(_points, st.none() | st.integers(-5, 70), st.sampled_from([None, "VaultStore", "ArchiveStore"]))
def test_selection_invariants(points: list[RecoveryPoint], before_days: int | None, store: str | None) -> None:
    """The choice is usable in the asked store, not after the limit, and no usable point is newer."""
    limit = T0 + timedelta(days=before_days) if before_days is not None else None
    choice = RecoveryPointChoice.latest(limit)
    try:
        chosen = select_recovery_point(points, choice, data_store=store)
    except NoRecoveryPointError:
        usable = [p for p in points if (limit is None or p.time <= limit)
                  and _usable_in(p, store)]
        assert not usable
        return
    assert _usable_in(chosen, store)
    assert limit is None or chosen.time <= limit
    assert all(not (_usable_in(p, store) and (limit is None or p.time <= limit) and p.time > chosen.time)
               for p in points)
    assert choose_source_store(chosen, store) in ("VaultStore", "ArchiveStore")


def _usable_in(p: RecoveryPoint, store: str | None) -> bool:
    if store == "VaultStore":
        return p.in_vault_store
    if store == "ArchiveStore":
        return p.in_archive_store
    return p.in_vault_store or p.in_archive_store


@given(_points)
def test_order_does_not_matter(points: list[RecoveryPoint]) -> None:
    """Selection is deterministic whatever order the service lists points in."""
    try:
        forward = select_recovery_point(points, RecoveryPointChoice.latest())
    except NoRecoveryPointError:
        return
    assert select_recovery_point(list(reversed(points)), RecoveryPointChoice.latest()) == forward
