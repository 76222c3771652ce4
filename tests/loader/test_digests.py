"""SHA-256 of restored files as the loader reads them from Blob Storage (Azurite): a dump downloaded in small
parallel ranges (written out of order), a script read whole, and a file the load does not need, each hashed
once and equal to hashlib's digest of the blob."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from devhost.azurite import Azurite
from loader.sources import BlobSource
from tests.loader.conftest import unique

pytestmark = [pytest.mark.azurite]


def test_blob_files_are_hashed_while_downloaded_or_read(azurite: Azurite, tmp_path: Path) -> None:
    from azure.storage.blob import ContainerClient

    container = ContainerClient.from_connection_string(
        azurite.connection_string, unique("digests").replace("_", "-"),
        max_single_get_size=4096, max_chunk_get_size=4096)  # many ranges, so parallel chunks land out of order
    container.create_container()
    blobs = {"p_sales.sql": b"PGDMP" + random.Random(1).randbytes(300_001), "p_roles.sql": b"CREATE ROLE r;\n",
             "p_schema.sql": random.Random(2).randbytes(50_000)}
    for name, data in blobs.items():
        container.upload_blob(name, data)
    source = BlobSource(container)
    path = source.fetch("p_sales.sql", tmp_path, parallel=8)
    assert path.read_bytes() == blobs["p_sales.sql"]
    assert source.read_text("p_roles.sql") == "CREATE ROLE r;\n"
    assert source.digests == {name: hashlib.sha256(blobs[name]).hexdigest() for name in ("p_sales.sql",
                                                                                          "p_roles.sql")}
    assert source.digest("p_schema.sql") == hashlib.sha256(blobs["p_schema.sql"]).hexdigest()
