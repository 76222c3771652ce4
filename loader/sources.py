"""Where the restored files are: a local folder (the CLI, tests) or a blob container (the job, the CLI).

A dump is needed as a local file, because ``pg_restore -j`` refuses pipes; blobs are downloaded with ranged,
parallel GETs (the storage SDK's ``max_concurrency``). The report is written back next to the files.

Every file the loader reads whole (a dump it downloads, a script it reads) gets its SHA-256 in ``digests`` as it
goes; `digest` reads a file the load itself does not need once, only to hash it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from .digest import HashingWriter, read_chunks, sha256_of


class Source(Protocol):
    digests: dict[str, str]  # name -> SHA-256 hex of every file read whole so far

    def digest(self, name: str) -> str: ...

    def describe(self) -> str: ...

    def list(self, prefix: str) -> list[tuple[str, int]]: ...

    def head(self, name: str, length: int) -> bytes: ...

    def read_text(self, name: str) -> str: ...

    def fetch(self, name: str, folder: Path, parallel: int) -> Path: ...

    def write(self, name: str, data: bytes) -> str: ...


class LocalSource:
    """Files in a folder (and below it); names are paths relative to the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.digests: dict[str, str] = {}

    def describe(self) -> str:
        return str(self.folder)

    def list(self, prefix: str) -> list[tuple[str, int]]:
        out = []
        for path in sorted(self.folder.rglob("*")):
            name = path.relative_to(self.folder).as_posix()
            if path.is_file() and name.startswith(prefix):
                out.append((name, path.stat().st_size))
        return out

    def head(self, name: str, length: int) -> bytes:
        with (self.folder / name).open("rb") as handle:
            return handle.read(length)

    def read_text(self, name: str) -> str:
        data = (self.folder / name).read_bytes()
        self.digests[name] = sha256_of([data])
        return data.decode("utf-8", errors="replace")

    def digest(self, name: str) -> str:
        if name not in self.digests:
            with (self.folder / name).open("rb") as handle:
                self.digests[name] = sha256_of(read_chunks(handle))
        return self.digests[name]

    def fetch(self, name: str, folder: Path, parallel: int) -> Path:
        self.digest(name)  # already a local file: nothing to copy, read once to hash it
        return self.folder / name

    def write(self, name: str, data: bytes) -> str:
        path = self.folder / name
        path.write_bytes(data)
        return str(path)


class BlobSource:
    """Blobs of one container, through an azure-storage-blob ContainerClient."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self.digests: dict[str, str] = {}

    def describe(self) -> str:
        return str(self.container.url)

    def list(self, prefix: str) -> list[tuple[str, int]]:
        return [(b.name, int(b.size)) for b in self.container.list_blobs(name_starts_with=prefix or None)]

    def head(self, name: str, length: int) -> bytes:
        data: bytes = self.container.download_blob(name, offset=0, length=length).readall()
        return data

    def read_text(self, name: str) -> str:
        data: bytes = self.container.download_blob(name, max_concurrency=2).readall()
        self.digests[name] = sha256_of([data])
        return data.decode("utf-8", errors="replace")

    def digest(self, name: str) -> str:
        if name not in self.digests:
            self.digests[name] = sha256_of(self.container.download_blob(name).chunks())
        return self.digests[name]

    def fetch(self, name: str, folder: Path, parallel: int) -> Path:
        path = folder / name.replace("/", "_")
        with path.open("wb") as handle:
            writer = HashingWriter(handle)
            self.container.download_blob(name, max_concurrency=max(1, parallel)).readinto(writer)
        digest = writer.hexdigest(path.stat().st_size)
        if digest is None:  # a range skipped (empty page-blob range) or too much held: hash the local copy
            with path.open("rb") as handle:
                digest = sha256_of(read_chunks(handle))
        self.digests[name] = digest
        return path

    def write(self, name: str, data: bytes) -> str:
        self.container.upload_blob(name, data, overwrite=True)
        return f"{self.container.url}/{name}"


def container_name(container_url: str) -> str:
    path = urlsplit(container_url).path.rstrip("/")
    return path.rsplit("/", 1)[-1]


def blob_source(container_url: str, env: Mapping[str, str] | None = None) -> BlobSource:
    """The job's container: ``LOAD_STORAGE_CONNECTION_STRING`` (Azurite) or the managed identity."""
    from azure.storage.blob import BlobServiceClient, ContainerClient

    env = os.environ if env is None else env
    connection = env.get("LOAD_STORAGE_CONNECTION_STRING")
    if connection:
        service = BlobServiceClient.from_connection_string(connection)
        return BlobSource(service.get_container_client(container_name(container_url)))
    from pgflex_restore.identity import managed_identity_credential

    credential = managed_identity_credential(env.get("AZURE_CLIENT_ID") or None, env)
    return BlobSource(ContainerClient.from_container_url(container_url.rstrip("/"), credential=credential))
