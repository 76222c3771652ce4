"""Restored files: what a finished "restore as files" job leaves in the target container.

The target URL's container name is mapped onto the Blob account of the configured connection string (Azurite
locally), whatever account host the URL names. Content comes from emulator/fixtures/dumps: real pg_dump
custom-format archives, one fixture reused for every database name it does not know.

File names (the service documents "Database.sql per database, Roles.sql, Tablespace.sql, Schema.sql" carrying
the request's filePrefix): ``<prefix>_<database>.sql``, ``<prefix>_roles.sql``, ``<prefix>_tablespace.sql``,
``<prefix>_schema.sql``. Database files are custom-format archives despite the ``.sql`` name, as the service's
own instructions pipe them into ``pg_restore``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "dumps"
DEFAULT_DATABASE_FIXTURE = "appdb"
SERVER_FILES = {"roles": "roles.sql", "tablespace": "tablespace.sql", "schema": "schema.sql"}


@dataclass(frozen=True)
class RestoredFile:
    name: str
    size: int


def container_of(url: str) -> str:
    """The container name in a container URL (``https://acct.blob.core.windows.net/restores``)."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if not parts:
        raise ValueError(f"'{url}' names no container")
    # Azurite-style URLs put the account first: http://127.0.0.1:10000/devstoreaccount1/restores
    return parts[-1]


def account_of(url: str) -> str:
    """The storage account a container URL points at (first host label, or Azurite's path account)."""
    split = urlsplit(url)
    host = split.hostname or ""
    parts = [p for p in split.path.split("/") if p]
    if len(parts) > 1:  # Azurite style: the account is the first path segment
        return parts[0]
    return host.split(".")[0]


def database_dump(database: str) -> bytes:
    """A real pg_dump -Fc archive standing for ``database``."""
    path = FIXTURES / f"{database}.dump"
    if not path.is_file():
        path = FIXTURES / f"{DEFAULT_DATABASE_FIXTURE}.dump"
    return path.read_bytes()


def corrupt(data: bytes, mode: str) -> bytes:
    """Damage a dump the way drills need: cut inside the table of contents, wrong magic, or empty."""
    if mode == "empty":
        return b""
    if mode == "bad-magic":
        return b"XXXXX" + data[5:]
    if mode == "truncated":
        # The header is ~30 bytes and the TOC follows it; cutting at a third lands inside the TOC.
        return data[: max(len(data) // 3, 64)]
    raise ValueError(f"unknown corruption '{mode}'")


def restored_files(
    prefix: str, databases: tuple[str, ...], corruptions: dict[str, str], missing: tuple[str, ...]
) -> dict[str, bytes]:
    """Name -> content of every file one restore writes."""
    files: dict[str, bytes] = {}
    for database in databases:
        if database in missing:
            continue
        data = database_dump(database)
        mode = corruptions.get(database) or corruptions.get("*")
        files[f"{prefix}_{database}.sql"] = corrupt(data, mode) if mode else data
    for kind, fixture in SERVER_FILES.items():
        files[f"{prefix}_{kind}.sql"] = (FIXTURES / fixture).read_bytes()
    return files


class BlobTarget:
    """The Blob account behind the connection string, used for restore targets."""

    def __init__(self, connection_string: str) -> None:
        from azure.storage.blob import BlobServiceClient

        self._service = BlobServiceClient.from_connection_string(connection_string)

    def close(self) -> None:
        """Close pooled connections (Azurite waits for open ones when it shuts down)."""
        self._service.close()

    def container_exists(self, url: str) -> bool:
        return bool(self._service.get_container_client(container_of(url)).exists())

    def names_with_prefix(self, url: str, prefix: str) -> list[str]:
        container = self._service.get_container_client(container_of(url))
        return [blob.name for blob in container.list_blobs(name_starts_with=prefix)]

    def write(self, url: str, files: dict[str, bytes]) -> list[RestoredFile]:
        container = self._service.get_container_client(container_of(url))
        written = []
        for name, data in files.items():
            container.upload_blob(name, data, overwrite=False)
            written.append(RestoredFile(name, len(data)))
        return written
