"""SHA-256 of a restored file, computed while the loader downloads or reads it (no second read of the file).

A blob is downloaded with parallel ranged GETs that write their chunks to the file out of order (seek, write).
`HashingWriter` stands between the download and the file: it writes every chunk where it belongs at once and feeds
the hash in file order, holding a chunk that arrives early until the bytes before it are in (at most the
download's concurrency times its chunk size). Pure but for the file it writes to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import BinaryIO

CHUNK = 1 << 20


class HashingWriter:
    """A seekable, writable stream over ``handle`` that hashes what is written, in file order."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self._hash = hashlib.sha256()
        self._position = 0
        self._hashed = 0
        self._early: dict[int, bytes] = {}

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
        if start == self._hashed:
            self._feed(chunk)
        elif start > self._hashed:
            self._early[start] = chunk
        else:  # a rewrite of bytes already hashed: the digest can no longer be trusted
            raise ValueError(f"bytes at {start} were written twice; the file's hash cannot be computed")
        return len(chunk)

    def flush(self) -> None:
        self.handle.flush()

    def _feed(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._hashed += len(chunk)
        while self._hashed in self._early:
            following = self._early.pop(self._hashed)
            self._hash.update(following)
            self._hashed += len(following)

    def hexdigest(self, size: int) -> str | None:
        """The file's SHA-256 once all ``size`` bytes arrived in one piece; None when a range never came
        (the caller then says it does not know)."""
        if self._hashed != size or self._early:
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
