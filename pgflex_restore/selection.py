"""Pick the recovery point a request means, and the data store to restore it from.

Pure and deterministic so the orchestrator can call it on replay. The rules: usable copies only (visible, not
deleted), VaultStore preferred because ArchiveStore needs hours of rehydration, ArchiveStore only when asked
or when it is the only copy, and a NoRecoveryPointError that tells the caller what does exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import NoRecoveryPointError
from .models import RecoveryPointChoice
from .parsing import RecoveryPoint
from .timeutil import format_datetime

VAULT_STORE = "VaultStore"
ARCHIVE_STORE = "ArchiveStore"


def _usable(point: RecoveryPoint, data_store: str | None) -> bool:
    if data_store == ARCHIVE_STORE:
        return point.in_archive_store
    if data_store == VAULT_STORE:
        return point.in_vault_store
    return point.in_vault_store or point.in_archive_store


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


def select_recovery_point(
    points: Sequence[RecoveryPoint], choice: RecoveryPointChoice, *, data_store: str | None = None
) -> RecoveryPoint:
    """The point ``choice`` names among ``points`` (any order). Ties on time prefer a VaultStore copy, then id.

    :raises NoRecoveryPointError: nothing qualifies; the message says what exists.
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
    candidates = [p for p in points if _usable(p, data_store)]
    if not candidates:
        where = f" in {data_store}" if data_store else ""
        raise NoRecoveryPointError(
            f"no usable recovery point{where} for this backup instance ({len(points)} listed, none restorable)"
        )
    if choice.mode == "before" and choice.before is not None:
        limit = choice.before
        eligible = [p for p in candidates if p.time <= limit]
        if not eligible:
            oldest = min(candidates, key=lambda p: p.time)
            raise NoRecoveryPointError(
                f"no recovery point at or before {format_datetime(limit)}; "
                f"the oldest is {format_datetime(oldest.time)}"
            )
        candidates = eligible
    return max(candidates, key=lambda p: (p.time, p.in_vault_store, p.id))
