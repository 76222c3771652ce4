"""A tiny writer of custom-format archive headers and TOCs, so the reader is tested on every archive version
(1.12 to 1.16) and on huge files without making them. Independent of the reader: written from the layout."""

from __future__ import annotations

from collections.abc import Callable


def _int(value: int, size: int = 4) -> bytes:
    return bytes([1 if value < 0 else 0]) + abs(value).to_bytes(size, "little")


def _str(value: str | None) -> bytes:
    if value is None:
        return _int(-1)
    raw = value.encode()
    return _int(len(raw)) + raw


def archive_head(version: tuple[int, int, int], entries: list[tuple[int, str, str, int, int]],
                 *, database: str = "appdb") -> bytes:
    """Header + TOC. ``entries``: (dump id, desc, tag, offset flag, offset)."""
    out = b"PGDMP" + bytes(version) + bytes([4, 8, 1])
    out += bytes([1]) if version >= (1, 15, 0) else _int(-1)
    for part in (5, 4, 3, 25, 10, 126, 0):  # 2026-11-25 03:04:05
        out += _int(part)
    out += _str(database) + _str("17.2") + _str("17.2")
    out += _int(len(entries))
    for dump_id, desc, tag, flag, offset in entries:
        out += _int(dump_id) + _int(1 if flag != 3 else 0) + _str("1259") + _str(str(16000 + dump_id))
        out += _str(tag) + _str(desc)
        if version >= (1, 11, 0):
            out += _int(2)
        out += _str(f"CREATE {desc} {tag};") + _str(None) + _str(None) + _str("public") + _str(None)
        if version >= (1, 14, 0):
            out += _str("heap")
        if version >= (1, 16, 0):
            out += _int(114)
        out += _str("app_owner") + _str("false") + _str("1") + _str(None)
        out += bytes([flag]) + offset.to_bytes(8, "little")
    return out


class SparseFile:
    """A file of any size made of a head and a tail; records every ranged read."""

    def __init__(self, head: bytes, size: int, tail: bytes) -> None:
        self.head, self.size, self.tail = head, size, tail
        self.reads: list[tuple[int, int]] = []

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        out = bytearray()
        for pos in range(offset, min(offset + length, self.size)):
            if pos < len(self.head):
                out.append(self.head[pos])
            elif pos >= self.size - len(self.tail):
                out.append(self.tail[pos - (self.size - len(self.tail))])
            else:
                out.append(0x5A)
        return bytes(out)


def reader(data: bytes) -> Callable[[int, int], bytes]:
    return lambda offset, length: data[offset:offset + length]
