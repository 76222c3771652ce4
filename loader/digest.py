"""SHA-256 of a restored file, computed while the loader downloads or reads it (no second read of the file).

A blob is downloaded with parallel ranged GETs that write their chunks to the file out of order (seek, write).
`HashingWriter` stands between the download and the file: it writes every chunk where it belongs at once and feeds
the hash in file order, holding a chunk that arrives early until the bytes before it are in. The SDK queues every
chunk at once, so one stalled range lets the others run ahead: past ``max_early`` bytes held, the writer stops
holding and the caller hashes the finished local file instead (a read of the local copy, never a second
download). Pure but for the file it writes to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import BinaryIO

CHUNK = 1 << 20
MAX_EARLY = 256 << 20  # bytes held for the hash at most, before falling back to hashing the file


class HashingWriter:
    """A seekable, writable stream over ``handle`` that hashes what is written, in file order."""

    def __init__(self, handle: BinaryIO, max_early: int = MAX_EARLY) -> None:
        self.handle = handle
        self.max_early = max_early
        self._hash = hashlib.sha256()
        self._position = 0
        self._hashed = 0
        self._early: dict[int, bytes] = {}
        self._held = 0
        self._gave_up = False

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0:
            raise ValueError("HashingWriter seeks only from the start")
        self.handle.seek(offset)
        self._position = offset
        return offset

    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = bytes(data)
        self.handle.write(chunk)
        start = self._position
        self._position += len(chunk)
        if self._gave_up:
            return len(chunk)
        if start == self._hashed:
            self._feed(chunk)
        elif start > self._hashed and self._held + len(chunk) <= self.max_early:
            self._early[start] = chunk
            self._held += len(chunk)
        else:  # too much held, or bytes written twice: the caller hashes the finished file
            self._gave_up = True
            self._early.clear()
        return len(chunk)

    def flush(self) -> None:
        self.handle.flush()

    def _feed(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._hashed += len(chunk)
        while self._hashed in self._early:
            following = self._early.pop(self._hashed)
            self._held -= len(following)
            self._hash.update(following)
            self._hashed += len(following)

    def hexdigest(self, size: int) -> str | None:
        """The file's SHA-256 once all ``size`` bytes arrived in one piece; None when a range never came or the
        writer gave up holding (the caller then hashes the file)."""
        if self._gave_up or self._hashed != size or self._early:
            return None
        return self._hash.hexdigest()


def sha256_of(chunks: Iterable[bytes]) -> str:
    """The SHA-256 of a stream read once, chunk by chunk."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def read_chunks(handle: BinaryIO, size: int = CHUNK) -> Iterable[bytes]:
    while chunk := handle.read(size):
        yield chunk
