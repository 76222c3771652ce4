"""Where the restored files are: a local folder (the CLI, tests) or a blob container (the job, the CLI).

A dump is needed as a local file, because ``pg_restore -j`` refuses pipes; blobs are downloaded with ranged,
parallel GETs (the storage SDK's ``max_concurrency``). The report is written back next to the files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


class Source(Protocol):
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
        return (self.folder / name).read_text(encoding="utf-8", errors="replace")

    def fetch(self, name: str, folder: Path, parallel: int) -> Path:
        return self.folder / name  # already a local file: nothing to copy

    def write(self, name: str, data: bytes) -> str:
        path = self.folder / name
        path.write_bytes(data)
        return str(path)


class BlobSource:
    """Blobs of one container, through an azure-storage-blob ContainerClient."""

    def __init__(self, container: Any) -> None:
        self.container = container

    def describe(self) -> str:
        return str(self.container.url)

    def list(self, prefix: str) -> list[tuple[str, int]]:
        return [(b.name, int(b.size)) for b in self.container.list_blobs(name_starts_with=prefix or None)]

    def head(self, name: str, length: int) -> bytes:
        data: bytes = self.container.download_blob(name, offset=0, length=length).readall()
        return data

    def read_text(self, name: str) -> str:
        data: bytes = self.container.download_blob(name, max_concurrency=2).readall()
        return data.decode("utf-8", errors="replace")

    def fetch(self, name: str, folder: Path, parallel: int) -> Path:
        path = folder / name.replace("/", "_")
        with path.open("wb") as handle:
            self.container.download_blob(name, max_concurrency=max(1, parallel)).readinto(handle)
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
