"""Can this pg_restore read that archive? Decided from the archive's first bytes, before anything is created.

pg_restore reads archive versions up to its own (``K_VERS_MAX``); a newer archive fails only when pg_restore opens
it, which for a load would be after databases were created. So the loader reads the header itself (``PGDMP``,
then major, minor and revision bytes) and compares it with the highest version its pg_restore writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAGIC = b"PGDMP"
HEAD_BYTES = 8  # magic + major, minor, rev
# The newest archive version each pg_restore major reads (pg_backup_archiver.h K_VERS_1_x per release).
_MAX_BY_MAJOR = ((17, (1, 16, 0)), (16, (1, 15, 0)), (12, (1, 14, 0)), (11, (1, 13, 0)), (10, (1, 13, 0)),
                 (9, (1, 12, 0)))
# Which pg_dump major writes an archive version, for the advice in an error.
_DUMPED_BY = {(1, 16): "17 or 18", (1, 15): "16", (1, 14): "12 to 15", (1, 13): "10.3 to 11"}
_PG_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


class VersionError(ValueError):
    """The archive is newer than the loader's pg_restore, or its header is not a custom archive's."""


@dataclass(frozen=True)
class ArchiveVersion:
    major: int
    minor: int
    rev: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}-{self.rev}"

    @property
    def tuple(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.rev)


def archive_version(head: bytes) -> ArchiveVersion:
    """The version in an archive's first bytes; VersionError when they are not an archive's."""
    if not head.startswith(MAGIC) or len(head) < HEAD_BYTES:
        raise VersionError("not a pg_dump custom-format archive (no PGDMP header)")
    major, minor, rev = head[5], head[6], head[7]
    return ArchiveVersion(major, minor, rev)


def pg_restore_major(version_output: str) -> int:
    """The major from ``pg_restore --version`` (``pg_restore (PostgreSQL) 17.6 (Debian ...)``)."""
    match = _PG_VERSION.search(version_output)
    if not match:
        raise VersionError(f"cannot tell pg_restore's version from {version_output.strip()!r}")
    return int(match.group(1))


def max_readable(pg_restore_major_version: int) -> tuple[int, int, int]:
    """The newest archive version a pg_restore of this major reads; majors after the table read at least 1.16."""
    for major, version in _MAX_BY_MAJOR:
        if pg_restore_major_version >= major:
            return version
    return (1, 11, 0)


def check_readable(version: ArchiveVersion, pg_restore_major_version: int, *, name: str) -> None:
    """Raise VersionError with advice when pg_restore cannot read the archive."""
    newest = max_readable(pg_restore_major_version)
    if version.tuple[:2] <= newest[:2]:
        return
    by = _DUMPED_BY.get((version.major, version.minor), "a PostgreSQL newer than this loader knows")
    raise VersionError(
        f"{name}: archive version {version} (written by pg_dump {by}) is newer than this loader's pg_restore "
        f"{pg_restore_major_version} reads (up to {newest[0]}.{newest[1]}); use a loader image with a pg_restore "
        f"at least as new as the dump's pg_dump")
