"""`python -m pgflex_restore load`: the loader from the command line, with the ledger that limits replace."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from cli.load import load_after_restore
from cli.restore import main
from devhost.azurite import Azurite
from devhost.postgres import Postgres
from loader.ledger import Ledger
from tests.loader.conftest import Dumps, unique

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def allowlisted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session's server is on LOAD_TARGET_ALLOWLIST, as a user's target must be."""
    monkeypatch.setenv("LOAD_TARGET_ALLOWLIST", "127.0.0.1")


def _load(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["load", *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_load_records_what_it_created_and_replaces_only_that(postgres: Postgres, dumps: Dumps,
                                                             tmp_path: Path) -> None:
    folder = dumps.copy(tmp_path / "files", prefix="cli", only=("crm", "roles"))
    ledger = tmp_path / "ledger.json"
    target = unique("crm_cli")
    common = ["--source", str(folder), "--prefix", "cli", "--server", postgres.uri(), "--ledger", str(ledger),
              "--database", f"crm={target}", "--jobs", "2"]
    code, out, err = _load(*common)
    assert code == 0, out + err
    assert f"crm -> {target}: loaded" in out and "LOADED" in out
    assert f"{target}: " in err  # the live progress line names the database and its step
    server = f"127.0.0.1:{postgres.port}"
    recorded = Ledger(ledger).replaceable(server)
    assert [r["database"] for r in recorded] == [target]
    report = json.loads((folder / "cli_load-report.json").read_text())
    assert report["status"] == "loaded" and report["created"] == recorded

    code, out, _ = _load(*common, "--output", "json")
    assert code == 1
    assert json.loads(out.strip().splitlines()[-1])["error"]["code"] == "TargetDatabaseExists"

    code, out, _ = _load(*common, "--on-exists", "replace", "--output", "json")
    assert code == 0, out
    replaced = json.loads(out.strip().splitlines()[-1])["created"][0]
    assert Ledger(ledger).replaceable(server) == [replaced]

    theirs = unique("theirs")
    postgres.sql(f"CREATE DATABASE {theirs}")
    code, out, _ = _load("--source", str(folder), "--prefix", "cli", "--server", postgres.uri(), "--ledger",
                         str(ledger), "--database", f"crm={theirs}", "--on-exists", "replace")
    assert code == 1 and "did not create it" in out


def test_a_server_off_the_allowlist_is_refused_before_anything_is_read(
        postgres: Postgres, dumps: Dumps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = dumps.copy(tmp_path / "files", prefix="off", only=("crm", "roles"))
    target = unique("crm_off")
    argv = ["--source", str(folder), "--prefix", "off", "--server", postgres.uri(), "--ledger",
            str(tmp_path / "l.json"), "--database", f"crm={target}"]
    monkeypatch.setenv("LOAD_TARGET_ALLOWLIST", "pg-other.postgres.database.azure.com")
    code, _, err = _load(*argv)
    assert code == 2
    assert "host 127.0.0.1 is not on LOAD_TARGET_ALLOWLIST" in err
    monkeypatch.delenv("LOAD_TARGET_ALLOWLIST")
    assert _load(*argv)[0] == 2  # unset: every load refused
    assert not postgres.sql("select 1 from pg_database where datname = %s", params=(target,))
    assert not (folder / "off_load-report.json").exists()


def test_bad_arguments_exit_2(tmp_path: Path, postgres: Postgres) -> None:
    base = ["--prefix", "p", "--ledger", str(tmp_path / "l.json")]
    assert _load("--source", str(tmp_path / "nowhere"), "--server", postgres.uri(), *base)[0] == 2
    assert _load("--source", str(tmp_path), "--server", "postgresql://h/x?no_such_option=1", *base)[0] == 2
    assert _load("--source", str(tmp_path), "--server", postgres.uri(), "--jobs", "0", *base)[0] == 2
    assert _load("--source", str(tmp_path), "--server", postgres.uri(), "--database", "=x", *base)[0] == 2
    code, out, _ = _load("--source", str(tmp_path), "--server", postgres.uri(), *base)
    assert code == 1 and "NoDumpFound" in out


@pytest.mark.azurite
def test_restore_load_into_loads_from_the_restores_container_and_prefix(
        postgres: Postgres, dumps: Dumps, azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)  # the CLI's storage access
    name = unique("restored").replace("_", "-")
    container = BlobServiceClient.from_connection_string(azurite.connection_string).create_container(name)
    for path in dumps.folder.iterdir():
        if path.name.startswith("r1_crm") or path.name.startswith("r1_roles"):
            container.upload_blob(f"incident-7_{path.name.removeprefix('r1_')}", path.read_bytes())
    crm = "crm"
    if postgres.sql("select 1 from pg_database where datname = 'crm'"):
        pytest.skip("a database named crm exists on the session's server")
    result = {"status": "succeeded", "target": {"containerUrl": f"{azurite.endpoints.blob_account_url}/{name}",
                                                "filePrefix": "incident-7"}}
    args = argparse.Namespace(load_into=postgres.uri(), output="json")
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setenv("HOME", str(tmp_path))  # the default ledger goes under this test's folder
    code = load_after_restore(result, args, {"HOME": str(tmp_path), "LOAD_TARGET_ALLOWLIST": "127.0.0.1"},
                              stdout=out, stderr=err)
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert code == 0, out.getvalue() + err.getvalue()
    assert report["status"] == "loaded" and report["created"][0]["database"] == crm
    assert json.loads(container.download_blob("incident-7_load-report.json").readall()) == report
    assert (tmp_path / ".local/state/pgflex-restore/ledger.json").exists()
    postgres.sql("DROP DATABASE crm")
