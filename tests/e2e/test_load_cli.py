"""The CLI's restore with a load: ``restore --load-into URI`` restores (emulator, Azurite) and then loads the files
into a real PostgreSQL with the loader in-process; the database is then checked with psycopg."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

import clients
from cli.restore import main
from devhost.azurite import Azurite
from devhost.postgres import Postgres, start_postgres
from emulator import EmulatorServer
from pgflex_restore.settings import reset_settings_cache
from tests.e2e.stack import backup_instance, instance_id, scenario

pytestmark = pytest.mark.one_mode

FAST = {"validateSeconds": 1, "validateRetryAfter": 1, "restoreSeconds": 1, "restoreRetryAfter": 1,
        "jobSeconds": 2}


@pytest.fixture
def target_pg() -> Iterator[Postgres]:
    """A server of its own: the CLI loads every restored database under its own name; it has the one role the
    fixture dump grants to that its roles file lacks."""
    server = start_postgres()
    server.sql("CREATE ROLE partner_sync NOLOGIN")
    try:
        yield server
    finally:
        server.stop()


servers: list[EmulatorServer] = []


@pytest.fixture
def container_url(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real-clock emulator writing the restored files into an Azurite container the CLI then reads."""
    name = "cliloads"
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    if not service.get_container_client(name).exists():
        service.create_container(name)
    url = f"{azurite.endpoints.blob_account_url}/{name}"
    with EmulatorServer(scenario({"pg1": backup_instance(timings=FAST)}, [url]),
                        storage_connection_string=azurite.connection_string) as server:
        servers.append(server)
        for key, value in {**server.env(), "RESTORE_TARGET_ALLOWLIST": url, "LOAD_TARGET_ALLOWLIST": "127.0.0.1",
                           "AzureWebJobsStorage":
                           azurite.connection_string, "POLL_MIN_SECONDS": "0.2",
                           "POLL_DEFAULT_SECONDS": "0.5"}.items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        clients.reset()
        yield url
        clients.reset()
        reset_settings_cache()


def test_restore_load_into_ends_in_a_checked_database(container_url: str, target_pg: Postgres,
                                                      tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["restore", "--backup-instance", instance_id("pg1"), "--target", container_url, "--file-prefix",
                 "cli-load", "--load-into", target_pg.uri(), "--output", "json"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()[-3000:] + out.getvalue()[-3000:]
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert report["status"] == "loaded"
    customers = target_pg.sql("SELECT count(*) FROM public.customers", "appdb")[0][0]
    assert isinstance(customers, int) and customers > 0


def test_restore_load_into_a_server_off_the_allowlist_exits_2_before_restoring(
        container_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAD_TARGET_ALLOWLIST", "pg-other.postgres.database.azure.com")
    out, err = io.StringIO(), io.StringIO()
    code = main(["restore", "--backup-instance", instance_id("pg1"), "--target", container_url, "--file-prefix",
                 "cli-off", "--load-into", "postgresql://loader@127.0.0.1:5432/postgres"], stdout=out, stderr=err)
    assert code == 2
    assert "not on LOAD_TARGET_ALLOWLIST" in err.getvalue()
    assert not [r for r in servers[-1].requests if r["method"] == "POST"]  # nothing validated or restored
