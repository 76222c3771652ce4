"""Pick the recovery point a request means, and the data store to restore it from.

Pure and deterministic so the orchestrator can call it on replay. The rules: usable copies only (visible, not
deleted), VaultStore preferred because ArchiveStore needs hours of rehydration, ArchiveStore only when asked
or when it is the only copy, and a NoRecoveryPointError that tells the caller what does exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from .errors import NoRecoveryPointError
from .models import RecoveryPointChoice
from .parsing import RecoveryPoint
from .point_scan import ARCHIVE_STORE, VAULT_STORE, PointScan
from .timeutil import format_datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

__all__ = ["ARCHIVE_STORE", "VAULT_STORE", "choose_source_store", "restore_scan", "scanned_point",
           "select_recovery_point"]


def choose_source_store(point: RecoveryPoint, data_store: str | None = None) -> str:
    """``sourceDataStoreType`` for a restore of ``point``: the asked store, else VaultStore, else ArchiveStore.

    Raises NoRecoveryPointError when the asked store has no usable copy.
    """
    if data_store not in (None, VAULT_STORE, ARCHIVE_STORE):
        raise ValueError(f"unknown data store {data_store!r}")
    if data_store == ARCHIVE_STORE:
        if point.in_archive_store:
            return ARCHIVE_STORE
        raise NoRecoveryPointError(f"recovery point {point.id} has no usable ArchiveStore copy")
    if point.in_vault_store:
        return VAULT_STORE
    if data_store is None and point.in_archive_store:
        return ARCHIVE_STORE
    wanted = data_store or "VaultStore or ArchiveStore"
    raise NoRecoveryPointError(f"recovery point {point.id} has no usable {wanted} copy")


def restore_scan(choice: RecoveryPointChoice, data_store: str | None, now: datetime) -> PointScan:
    """The scan for "latest" (windows reaching back from ``now``, no end) or "before" (ending at that instant)."""
    if choice.mode == "id":
        raise ValueError("a point chosen by id is read alone, not scanned for")
    if choice.mode == "before" and choice.before is not None:
        return PointScan(anchor=choice.before, end=choice.before, data_store=data_store)
    return PointScan(anchor=now, data_store=data_store)


def scanned_point(scan: PointScan, choice: RecoveryPointChoice) -> RecoveryPoint:
    """The newest usable point the finished scan found. Ties on time prefer a VaultStore copy, then the id.

    :raises NoRecoveryPointError: nothing qualifies; the message says what was listed.
    """
    if scan.newest is not None:
        return scan.newest
    where = f" in {scan.data_store}" if scan.data_store else ""
    if choice.mode == "before" and choice.before is not None:
        raise NoRecoveryPointError(
            f"no usable recovery point{where} at or before {format_datetime(choice.before)} "
            f"({scan.listed} listed at or before it); choose a later time or \"latest\""
        )
    raise NoRecoveryPointError(
        f"no usable recovery point{where} for this backup instance ({scan.listed} listed, none restorable)"
    )


def select_recovery_point(
    points: Sequence[RecoveryPoint], choice: RecoveryPointChoice, *, data_store: str | None = None
) -> RecoveryPoint:
    """The point ``choice`` names among points already listed (any order), by the same rules as the scan.

    :raises NoRecoveryPointError: nothing qualifies.
    """
    if choice.mode == "id":
        wanted = (choice.recovery_point_id or "").lower()
        matches = [p for p in points if p.id.lower() == wanted]
        if not matches:
            raise NoRecoveryPointError(
                f"no recovery point with id {choice.recovery_point_id} among the {len(points)} listed "
                "for this backup instance; list the points or use \"latest\""
            )
        point = matches[0]
        choose_source_store(point, data_store)  # raises with a clear message when the copy is unusable
        return point
    anchor = choice.before or max((p.time for p in points), default=_EPOCH)  # no windows in hand
    return scanned_point(restore_scan(choice, data_store, anchor).fold_all(points), choice)
