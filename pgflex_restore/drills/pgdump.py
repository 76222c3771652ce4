"""A small reader of PostgreSQL custom-format archives (``pg_dump -Fc``): the header and the table of contents.

A drill must prove a restored database file is a real, complete dump without downloading it (files can be
hundreds of GB). The custom format puts everything needed up front: a header, then the TOC with the offset of
every data block. So this reader works from a ``read(offset, length) -> bytes`` callable (a ranged Blob GET),
pulls the header and TOC through a small read-ahead buffer, and checks the end of the file by one more range:
every data offset must lie inside the file, and a dump with data ends with the zero-length block terminator.

Layout (PostgreSQL ``pg_backup_archiver.c``): ``PGDMP``, version major/minor/rev, int size, offset size, format,
compression, creation time (7 ints), database name, server version, pg_dump version; then the TOC count and
the entries. An int is a sign byte plus ``int size`` little-endian bytes; a string is an int length (-1 = NULL)
and the bytes; an offset is a flag byte plus ``offset size`` little-endian bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ReadRange = Callable[[int, int], bytes]

MAGIC = b"PGDMP"
ARCH_CUSTOM = 1
MIN_VERSION = (1, 10, 0)
MAX_VERSION = (1, 16, 0)
OFFSET_NOT_SET, OFFSET_SET, OFFSET_NO_DATA = 1, 2, 3
COMPRESSION_NAMES = {0: "none", 1: "gzip", 2: "lz4", 3: "zstd"}
DATA_DESCS = frozenset({"TABLE DATA", "BLOBS", "LARGE OBJECTS", "SEQUENCE SET", "MATERIALIZED VIEW DATA"})
READ_AHEAD = 64 * 1024
MAX_TOC_BYTES = 256 * 1024 * 1024
MAX_TOC_ENTRIES = 50_000_000


class DumpFormatError(ValueError):
    """The file is not a well-formed custom-format archive; ``reason`` is a short code for reports."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ArchiveHeader:
    """What pg_dump wrote before the TOC."""

    version: tuple[int, int, int]
    int_size: int
    offset_size: int
    format: int
    compression: str
    created: datetime | None
    database: str | None
    server_version: str | None
    dump_version: str | None


@dataclass(frozen=True)
class TocEntry:
    """One TOC entry: what it is and, for data entries, where its data block starts."""

    dump_id: int
    desc: str
    tag: str
    namespace: str | None
    section: int | None
    had_dumper: bool
    data_state: int
    data_offset: int


@dataclass(frozen=True)
class CustomArchive:
    """A parsed archive: header, TOC, where the TOC ends, and how many ranged reads it took."""

    header: ArchiveHeader
    entries: tuple[TocEntry, ...]
    toc_end: int
    size: int
    reads: int = 0
    warnings: tuple[str, ...] = field(default=())

    @property
    def tables(self) -> int:
        return sum(1 for e in self.entries if e.desc == "TABLE")

    @property
    def data_entries(self) -> int:
        return sum(1 for e in self.entries if e.desc in DATA_DESCS)

    def summary(self) -> dict[str, Any]:
        """JSON form for drill reports."""
        h = self.header
        return {
            "format": "custom", "archiveVersion": ".".join(map(str, h.version)), "database": h.database,
            "serverVersion": h.server_version, "dumpVersion": h.dump_version, "compression": h.compression,
            "tocEntries": len(self.entries), "tables": self.tables, "dataEntries": self.data_entries,
        }


class RangedReader:
    """Sequential reads over ranged GETs, with read-ahead so small fields do not each cost a request."""

    def __init__(self, read: ReadRange, size: int, *, chunk: int = READ_AHEAD, budget: int = MAX_TOC_BYTES) -> None:
        self._read = read
        self.size = size
        self.chunk = chunk
        self.budget = budget
        self.position = 0
        self.reads = 0
        self._buffer = b""
        self._buffer_start = 0

    def take(self, length: int) -> bytes:
        """The next ``length`` bytes; DumpFormatError('truncated') when the file ends first."""
        if length < 0:
            raise DumpFormatError("malformed", f"negative length {length} at offset {self.position}")
        end = self.position + length
        if end > self.size:
            raise DumpFormatError("truncated", f"the file ends at {self.size} bytes, inside the archive's "
                                               f"header or table of contents (needed {end})")
        if end > self.budget:
            raise DumpFormatError("malformed", f"the table of contents runs past {self.budget} bytes")
        buffer_end = self._buffer_start + len(self._buffer)
        if not (self._buffer_start <= self.position and end <= buffer_end):
            want = min(max(length, self.chunk), self.size - self.position)
            self._buffer = self.fetch(self.position, want)
            self._buffer_start = self.position
            if len(self._buffer) < length:
                raise DumpFormatError("truncated", f"got {len(self._buffer)} of {length} bytes at {self.position}")
        start = self.position - self._buffer_start
        self.position = end
        return self._buffer[start:start + length]

    def fetch(self, offset: int, length: int) -> bytes:
        """One ranged read, counted."""
        self.reads += 1
        return self._read(offset, length)


class _Fields:
    """Decodes ints, strings and offsets with the archive's sizes."""

    def __init__(self, reader: RangedReader) -> None:
        self.r = reader
        self.int_size = 4
        self.offset_size = 8

    def read_byte(self) -> int:
        return self.r.take(1)[0]

    def read_int(self) -> int:
        raw = self.r.take(1 + self.int_size)
        if raw[0] not in (0, 1):
            raise DumpFormatError("malformed", f"bad integer sign byte {raw[0]} at {self.r.position - len(raw)}")
        value = int.from_bytes(raw[1:], "little")
        return -value if raw[0] else value

    def read_str(self) -> str | None:
        length = self.read_int()
        if length == -1:
            return None
        if length < -1:
            raise DumpFormatError("malformed", f"bad string length {length} at {self.r.position}")
        return self.r.take(length).decode("utf-8", errors="replace")

    def read_offset(self) -> tuple[int, int]:
        flag = self.read_byte()
        if flag not in (OFFSET_NOT_SET, OFFSET_SET, OFFSET_NO_DATA):
            raise DumpFormatError("malformed", f"unexpected data offset flag {flag} at {self.r.position - 1}")
        return flag, int.from_bytes(self.r.take(self.offset_size), "little")


def read_header(fields: _Fields) -> ArchiveHeader:
    """Parse the header; the reader must be at offset 0."""
    magic = fields.r.take(len(MAGIC))
    if magic != MAGIC:
        raise DumpFormatError("bad-magic", f"the file starts with {magic!r}, not the custom-format magic 'PGDMP'")
    version = (fields.read_byte(), fields.read_byte(), fields.read_byte())
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise DumpFormatError("unsupported-version", f"archive version {'.'.join(map(str, version))} is outside "
                                                     f"the supported 1.10 to 1.16 (PostgreSQL 9.0 to 17)")
    fields.int_size, fields.offset_size = fields.read_byte(), fields.read_byte()
    if fields.int_size not in (4, 8) or fields.offset_size not in (4, 8):
        raise DumpFormatError("malformed", f"implausible int/offset sizes {fields.int_size}/{fields.offset_size}")
    archive_format = fields.read_byte()
    if archive_format != ARCH_CUSTOM:
        raise DumpFormatError("malformed", f"archive format {archive_format} is not custom (-Fc)")
    if version >= (1, 15, 0):
        algorithm = fields.read_byte()
        compression = COMPRESSION_NAMES.get(algorithm, f"unknown({algorithm})")
    else:
        level = fields.read_int()
        compression = "none" if level == 0 else "gzip"
    sec, minute, hour, day, month, year, _dst = (fields.read_int() for _ in range(7))
    try:
        created: datetime | None = datetime(year + 1900, month + 1, day, hour, minute, sec)  # noqa: DTZ001
    except ValueError:
        created = None
    database = fields.read_str()
    server_version, dump_version = fields.read_str(), fields.read_str()
    return ArchiveHeader(version, fields.int_size, fields.offset_size, archive_format, compression, created,
                         database, server_version, dump_version)


def _read_entry(fields: _Fields, version: tuple[int, int, int]) -> TocEntry:
    dump_id = fields.read_int()
    if dump_id <= 0:
        raise DumpFormatError("malformed", f"TOC entry id {dump_id} out of range: a corrupt table of contents")
    had_dumper = fields.read_int() != 0
    fields.read_str()  # table oid
    fields.read_str()  # oid
    tag, desc = fields.read_str(), fields.read_str()
    section = fields.read_int() if version >= (1, 11, 0) else None
    fields.read_str()  # definition
    fields.read_str()  # drop statement
    fields.read_str()  # copy statement
    namespace = fields.read_str()
    fields.read_str()  # tablespace
    if version >= (1, 14, 0):
        fields.read_str()  # table access method
    if version >= (1, 16, 0):
        fields.read_int()  # relkind
    fields.read_str()  # owner
    fields.read_str()  # "with oids": always "false" since 1.9
    while fields.read_str() is not None:  # dependencies, NULL-terminated
        pass
    state, offset = fields.read_offset()
    return TocEntry(dump_id, desc or "", tag or "", namespace, section, had_dumper, state, offset)


def read_custom_archive(read: ReadRange, size: int, *, chunk: int = READ_AHEAD) -> CustomArchive:
    """Parse header and TOC through ranged reads, then check the data blocks' offsets and the file's end.

    :raises DumpFormatError: with reason ``empty``, ``bad-magic``, ``truncated``, ``unsupported-version``
        or ``malformed``.
    """
    if size <= 0:
        raise DumpFormatError("empty", "the file is empty (0 bytes)")
    reader = RangedReader(read, size, chunk=chunk)
    fields = _Fields(reader)
    header = read_header(fields)
    count = fields.read_int()
    if not 0 <= count <= MAX_TOC_ENTRIES:
        raise DumpFormatError("malformed", f"implausible TOC entry count {count}")
    entries = tuple(_read_entry(fields, header.version) for _ in range(count))
    toc_end = reader.position
    _check_data_layout(reader, header, entries, toc_end)
    return CustomArchive(header, entries, toc_end, size, reader.reads)


def _check_data_layout(reader: RangedReader, header: ArchiveHeader, entries: tuple[TocEntry, ...],
                       toc_end: int) -> None:
    """Offsets inside the file, and the last data block's zero-length terminator at the very end."""
    size = reader.size
    offsets = [e.data_offset for e in entries if e.data_state == OFFSET_SET]
    beyond = [o for o in offsets if not toc_end <= o < size]
    if beyond:
        raise DumpFormatError("truncated", f"{len(beyond)} data block(s) start beyond the end of the file "
                                           f"({size} bytes), e.g. at {max(beyond)}")
    has_data = any(e.data_state != OFFSET_NO_DATA for e in entries)
    if not has_data:
        if size != toc_end:
            raise DumpFormatError("malformed", f"{size - toc_end} unexpected bytes after a TOC with no data")
        return
    terminator = bytes(1 + header.int_size)
    if size - toc_end < len(terminator):
        raise DumpFormatError("truncated", "the data section is missing: the file ends right after the TOC")
    tail = reader.fetch(size - len(terminator), len(terminator))
    if tail != terminator:
        raise DumpFormatError("truncated", "the file does not end with the last data block's terminator: "
                                           "it was cut off while being written")
