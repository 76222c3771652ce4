"""Find the recovery point a restore or a drill needs without listing the whole backup instance.

A vault keeps years of points (daily, weekly, monthly, yearly), but a choice only needs the newest usable point
at or before some instant, and a drill also needs the points of its random window. So the scan asks the service
for one time window at a time, newest first (``$filter`` on ``startDate``/``endDate``, as the official CLI
builds it), and widens to the next, older window only when the windows so far hold no usable point.

The scan is a small fold: whatever the vault holds, its state is the newest usable point, the random pick and a
few counts, plus the ``nextLink`` reached. That state is JSON, so a listing interrupted by throttling resumes
from the page it had reached instead of page 1, and nothing that grows with the point count reaches an
orchestration's history. Pure: the caller fetches the pages (``PointScan.page_query`` says which).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .parsing import RecoveryPoint
from .timeutil import format_datetime, parse_datetime

VAULT_STORE = "VaultStore"
ARCHIVE_STORE = "ArchiveStore"

# How far back each window reaches from the choice's instant: a week holds the newest point of any daily or
# weekly policy in one page; the wider ones cover monthly and yearly points; the last one has no start at all.
LOOKBACKS: tuple[timedelta | None, ...] = (timedelta(days=7), timedelta(days=35), timedelta(days=400), None)
_TICK = timedelta(microseconds=1)  # windows are inclusive at both ends: the next one ends just before this one


def seeded_rank(seed: str, point_id: str) -> int:
    """A stable pseudo-random rank of a point for one drill: the lowest rank is the pick.

    A rank per point (rather than an index into the sorted list) lets the pick be made page by page, in any
    order, and it is the same on every machine and Python version.
    """
    digest = hashlib.sha256(f"{seed}|{point_id.lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def usable(point: RecoveryPoint, data_store: str | None) -> bool:
    """A copy the restore can use: in the asked store, or in either when none was asked."""
    if data_store == ARCHIVE_STORE:
        return point.in_archive_store
    if data_store == VAULT_STORE:
        return point.in_vault_store
    return point.in_vault_store or point.in_archive_store


def _newer(a: RecoveryPoint, b: RecoveryPoint | None) -> bool:
    """Newest first; on the same time a VaultStore copy wins (no rehydration), then the id, so ties are stable."""
    return b is None or (a.time, a.in_vault_store, a.id) > (b.time, b.in_vault_store, b.id)


@dataclass
class PointScan:
    """The state of one windowed scan.

    :param end: the newest instant a point may have (inclusive); None lists up to the newest point there is.
    :param anchor: the instant the windows reach back from (``end``, or "now" when there is no end).
    :param data_store: which copies count as usable (None: VaultStore or ArchiveStore).
    :param pick_since: with ``seed``, also pick a point at random among the usable ones in [pick_since, end].
    """

    anchor: datetime
    end: datetime | None = None
    data_store: str | None = None
    pick_since: datetime | None = None
    seed: str | None = None
    window: int = 0
    next_link: str | None = None
    pages: int = 0
    listed: int = 0
    archived_only: int = 0
    candidates: int = 0
    newest: RecoveryPoint | None = None
    pick: RecoveryPoint | None = None
    pick_rank: int | None = field(default=None, repr=False)
    finished: bool = False

    def __post_init__(self) -> None:
        if self.seed is not None and self.pick_since is None:
            raise ValueError("a random pick needs pick_since")

    # -- which page to read next -----------------------------------------------------------------------------

    def _starts(self) -> list[datetime | None]:
        """Each window's start, newest first: the pick's window (if any), then each lookback reaching further,
        then None (everything older)."""
        starts: list[datetime | None] = [self.pick_since] if self.pick_since is not None else []
        for lookback in LOOKBACKS:
            start = self.anchor - lookback if lookback is not None else None
            if start is None or not starts or (starts[-1] is not None and start < starts[-1]):
                starts.append(start)
        return starts

    def window_bounds(self) -> tuple[datetime | None, datetime | None]:
        """(start, end) of the current window for the ``$filter``; None means no clause. Inclusive both ends,
        so each older window ends just before the newer one starts."""
        starts = self._starts()
        if self.window == 0:
            return starts[0], self.end
        newer_start = starts[self.window - 1]
        assert newer_start is not None  # only the last window has no start, and nothing comes after it
        return starts[self.window], newer_start - _TICK

    @property
    def last_window(self) -> bool:
        return self.window >= len(self._starts()) - 1

    # -- folding pages in ------------------------------------------------------------------------------------

    def feed(self, points: Iterable[RecoveryPoint], next_link: str | None) -> None:
        """Fold one page in; ``next_link`` is the page's nextLink (None at the end of the window)."""
        if self.finished:
            raise ValueError("the scan is finished")
        self.pages += 1
        for point in points:
            self._fold(point)
        self.next_link = next_link or None
        if self.next_link is None:
            self._window_done()

    def fold_all(self, points: Iterable[RecoveryPoint]) -> PointScan:
        """Fold points already in hand (any order), as one last window: the same rules without paging."""
        self.pages += 1
        for point in points:
            self._fold(point)
        self.finished = True
        return self

    def _fold(self, point: RecoveryPoint) -> None:
        if self.end is not None and point.time > self.end:
            return  # a service that ignored the filter: never choose beyond the end asked for
        self.listed += 1
        if not usable(point, self.data_store):
            if point.in_archive_store:
                self.archived_only += 1
            return
        if _newer(point, self.newest):
            self.newest = point
        if self.seed is not None and self.pick_since is not None and point.time >= self.pick_since:
            self.candidates += 1
            rank = seeded_rank(self.seed, point.id)
            if self.pick_rank is None or (rank, point.id) < (self.pick_rank, self.pick.id if self.pick else ""):
                self.pick, self.pick_rank = point, rank

    def _window_done(self) -> None:
        if self.newest is not None or self.last_window:
            self.finished = True
            return
        self.window += 1

    # -- JSON, for resuming in a later activity call ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "anchor": format_datetime(self.anchor),
            "end": format_datetime(self.end) if self.end else None,
            "dataStore": self.data_store,
            "pickSince": format_datetime(self.pick_since) if self.pick_since else None,
            "seed": self.seed,
            "window": self.window,
            "nextLink": self.next_link,
            "pages": self.pages,
            "listed": self.listed,
            "archivedOnly": self.archived_only,
            "candidates": self.candidates,
            "newest": self.newest.to_dict() if self.newest else None,
            "pick": self.pick.to_dict() if self.pick else None,
            "pickRank": self.pick_rank,
            "finished": self.finished,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PointScan:
        def when(key: str) -> datetime | None:
            return parse_datetime(raw[key]) if raw.get(key) else None

        def point(key: str) -> RecoveryPoint | None:
            return RecoveryPoint.from_dict(raw[key]) if raw.get(key) else None

        anchor = when("anchor")
        if anchor is None:
            raise ValueError("a scan state needs its anchor")
        return cls(anchor=anchor, end=when("end"), data_store=raw.get("dataStore"), pick_since=when("pickSince"),
                   seed=raw.get("seed"), window=int(raw.get("window", 0)), next_link=raw.get("nextLink"),
                   pages=int(raw.get("pages", 0)), listed=int(raw.get("listed", 0)),
                   archived_only=int(raw.get("archivedOnly", 0)), candidates=int(raw.get("candidates", 0)),
                   newest=point("newest"), pick=point("pick"), pick_rank=raw.get("pickRank"),
                   finished=bool(raw.get("finished")))
