"""The emulator's fixture files (what its "restore as files" jobs write) load into the flexible-server-shaped
PostgreSQL: every object and every row, and a grant to a role the roles file lacks is reported as a loss."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devhost.postgres import Postgres
from tests.loader.conftest import allow_extensions, run_load, unique

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).resolve().parents[2] / "emulator" / "fixtures" / "dumps"
MISSING_ROLE = b"partner_sync"  # the fixtures' stand-in for a role the dump's grants name but the target lacks


def test_the_fixture_files_load_and_every_object_and_row_is_there(postgres: Postgres, tmp_path: Path) -> None:
    for path in FIXTURES.iterdir():
        shutil.copy(path, tmp_path / f"fx_{path.stem}.sql")
    allow_extensions(postgres, ("pg_trgm", "hstore", "uuid-ossp", "pgcrypto", "citext"))
    targets = {"appdb": unique("appdb"), "reporting": unique("reporting")}
    report = run_load(postgres, tmp_path, prefix="fx", databases=targets, jobs=2).to_dict()
    assert [c["database"] for c in report["created"]] == list(targets.values())
    for entry in report["databases"]:
        assert entry["objects"]["missing"] == [], entry
        assert entry["tables"] and all(t["rows"] for t in entry["tables"] if t["hasData"]), entry["tables"]
        losses = [m for m in entry["messages"] if m["class"] == "loss"]
        if MISSING_ROLE in (FIXTURES / f"{entry['source']}.dump").read_bytes():
            assert entry["status"] == "failed" and losses
            named = [m for m in losses if m["object"]]
            assert named and all(MISSING_ROLE.decode() in m["message"] for m in named), losses
        else:
            assert entry["status"] == "loaded" and not losses, entry["messages"]
    failed = [e["source"] for e in report["databases"] if e["status"] == "failed"]
    assert report["status"] == ("failed" if failed else "loaded")
    if failed:
        # The database's own grant to the missing role is the first loss: its step is create.
        assert report["failedStep"] in ("create", "restore")
        assert report["error"]["code"] == f"Load{report['failedStep'].capitalize()}Failed"
