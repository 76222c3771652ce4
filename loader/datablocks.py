"""Which tables' dumps hold rows, read from the downloaded archive's data blocks.

pg_dump writes a TABLE DATA entry for every table, empty or not, so the TOC alone cannot say which tables must
have rows after a load. The data block can: a block is ``type byte, dump id`` then chunks (``length, bytes``)
ending in a zero length. pg_dump ends each table's COPY data with ``\\.``, so a block whose data starts with
that marker (or that has no chunk) holds no rows. lz4 and zstd blocks are not inflated here: their tables'
``hasData`` is None (unknown).
The archive's header and TOC come from the drills' reader (`pgflex_restore.drills.pgdump`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pgflex_restore.drills.pgdump import OFFSET_SET, read_custom_archive

BLK_DATA = 1
MAX_INFLATE_CHUNKS = 16  # the first line shows within a chunk or two
END_MARKER = b"\\.\n"  # COPY's end of data: a block holding only it has no rows


class _Ints:
    def __init__(self, handle: BinaryIO, int_size: int) -> None:
        self.handle = handle
        self.int_size = int_size

    def read_int(self) -> int:
        raw = self.handle.read(1 + self.int_size)
        if len(raw) < 1 + self.int_size:
            raise EOFError("the archive ends inside a data block")
        value = int.from_bytes(raw[1:], "little")
        return -value if raw[0] else value


def _block_has_rows(ints: _Ints, compression: str) -> bool | None:
    """Read one data block's first chunks (from after its header): rows, or only COPY's end marker ``\\.``?"""
    if compression not in ("none", "gzip"):
        return None
    inflater = zlib.decompressobj() if compression == "gzip" else None
    seen = b""
    for _ in range(MAX_INFLATE_CHUNKS):
        length = ints.read_int()
        if length == 0:
            break
        data = ints.handle.read(length)
        try:
            seen += inflater.decompress(data, len(END_MARKER) - len(seen)) if inflater else data
        except zlib.error:
            return None
        if len(seen) >= len(END_MARKER):
            break
    else:
        return None
    return not seen.startswith(END_MARKER) and seen != END_MARKER[:-1] and bool(seen)


def _skip_block(ints: _Ints) -> None:
    while True:
        length = ints.read_int()
        if length == 0:
            return
        ints.handle.seek(length, 1)


def tables_with_rows(path: Path) -> dict[int, bool | None]:
    """For each TABLE DATA entry (by dump id): whether its block holds rows (None: cannot tell)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        def read(offset: int, length: int) -> bytes:
            handle.seek(offset)
            return handle.read(length)

        archive = read_custom_archive(read, size)
        ints = _Ints(handle, archive.header.int_size)
        wanted = {e.dump_id for e in archive.entries if e.desc == "TABLE DATA"}
        compression = archive.header.compression
        result: dict[int, bool | None] = {}
        located = {e.dump_id: e.data_offset for e in archive.entries
                   if e.dump_id in wanted and e.data_state == OFFSET_SET}
        for dump_id, offset in located.items():
            result[dump_id] = _at(handle, ints, offset, dump_id, lambda: _block_has_rows(ints, compression))
        if len(located) < len(wanted):  # written to a pipe: no offsets, walk the blocks in order
            result.update(_scan(handle, ints, archive.toc_end, size, wanted=wanted - set(located),
                                compression=compression))
        return result


def _at(handle: BinaryIO, ints: _Ints, offset: int, dump_id: int, inspect: Callable[[], bool | None]) -> bool | None:
    handle.seek(offset)
    header = handle.read(1)
    if not header or header[0] != BLK_DATA or ints.read_int() != dump_id:
        return None
    try:
        return inspect()
    except EOFError:
        return None


def _scan(handle: BinaryIO, ints: _Ints, start: int, size: int, *, wanted: set[int],
          compression: str) -> dict[int, bool | None]:
    found: dict[int, bool | None] = {}
    handle.seek(start)
    try:
        while handle.tell() < size and wanted - set(found):
            kind = handle.read(1)
            if not kind:
                break
            dump_id = ints.read_int()
            if kind[0] == BLK_DATA and dump_id in wanted:
                position = handle.tell()
                found[dump_id] = _block_has_rows(ints, compression)
                handle.seek(position)
            _skip_block(ints) if kind[0] == BLK_DATA else _skip_blobs(ints)
    except EOFError:
        pass
    return found


def _skip_blobs(ints: _Ints) -> None:
    """A BLOBS block: (oid, chunks) pairs until an oid of 0."""
    while ints.read_int() != 0:
        _skip_block(ints)
