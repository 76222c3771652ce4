"""Verification of restored files: expected files, empty files, custom and plain dumps, by ranged reads."""

from __future__ import annotations

from pathlib import Path

from pgflex_restore.drills.verify import BlobFile, classify, verify_restored_files

DUMPS = Path(__file__).resolve().parents[2] / "emulator" / "fixtures" / "dumps"
APPDB = (DUMPS / "appdb.dump").read_bytes()
REPORTING = (DUMPS / "reporting.dump").read_bytes()
ROLES = (DUMPS / "roles.sql").read_bytes()
PLAIN_DB = b"--\n-- PostgreSQL database dump\n--\n\nSET x = 1;\n" + b"-- filler\n" * 20_000 + \
    b"\n--\n-- PostgreSQL database dump complete\n--\n\n"


class Files:
    """In-memory blobs with a read log."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.reads: list[tuple[str, int, int]] = []

    def listing(self) -> list[BlobFile]:
        return [BlobFile(name, len(data)) for name, data in self.files.items()]

    def read(self, name: str, offset: int, length: int) -> bytes:
        self.reads.append((name, offset, length))
        return self.files[name][offset:offset + length]


def verify(files: dict[str, bytes], expected: list[str] | None = None) -> dict[str, object]:
    store = Files(files)
    return verify_restored_files(store.listing(), store.read, leaf="pg1", expected_databases=expected)


def healthy() -> dict[str, bytes]:
    return {"pg1_appdb.sql": APPDB, "pg1_reporting.sql": REPORTING, "pg1_roles.sql": ROLES,
            "pg1_tablespace.sql": (DUMPS / "tablespace.sql").read_bytes(),
            "pg1_schema.sql": (DUMPS / "schema.sql").read_bytes()}


def test_a_healthy_restore_passes_with_facts_per_database() -> None:
    report = verify(healthy(), ["appdb", "reporting"])
    assert report["ok"] is True and report["problems"] == []
    databases = report["databases"]
    assert isinstance(databases, dict)
    # appdb: five tables plus a partitioned one with three partitions (scripts/make_fixture_dumps.py)
    assert databases["appdb"]["format"] == "custom" and databases["appdb"]["tables"] == 9
    assert databases["reporting"]["tocEntries"] == 12 and databases["reporting"]["size"] == len(REPORTING)


def test_unknown_databases_are_found_from_the_names() -> None:
    """Without an expected list every non-server file is a database, named from the file."""
    report = verify(healthy())
    assert report["ok"] is True
    assert set(report["databases"]) == {"appdb", "reporting"}  # type: ignore[arg-type]


def test_problems_are_named_and_ordered() -> None:
    """Missing database beats an empty file beats a damaged dump in deciding the reason; all are listed."""
    files = healthy()
    del files["pg1_reporting.sql"]
    files["pg1_appdb.sql"] = b""
    files["pg1_extra.sql"] = b"XXXXX" + APPDB[5:]
    report = verify(files, ["appdb", "reporting"])
    codes = [p["code"] for p in report["problems"]]  # type: ignore[attr-defined]
    assert codes == ["missing-database-file", "empty-file", "dump-bad-magic"]


def test_roles_file_is_required_and_nothing_written_is_a_failure() -> None:
    files = healthy()
    del files["pg1_roles.sql"]
    assert [p["code"] for p in verify(files)["problems"]] == ["missing-roles-file"]  # type: ignore[attr-defined]
    assert [p["code"] for p in verify({})["problems"]] == ["no-files"]  # type: ignore[attr-defined]


def test_plain_sql_dumps_by_head_and_tail() -> None:
    """A plain dump passes with header and trailer; cut off, it is 'truncated'; a head and a tail range only."""
    store = Files({"pg1_appdb.sql": PLAIN_DB, "pg1_roles.sql": ROLES})
    report = verify_restored_files(store.listing(), store.read, leaf="pg1", expected_databases=["appdb"])
    assert report["ok"] is True
    assert report["databases"]["appdb"]["format"] == "plain"  # type: ignore[index]
    plain_reads = [length for name, _, length in store.reads if name == "pg1_appdb.sql"]
    assert len(plain_reads) == 2 and sum(plain_reads) <= 64 * 1024 + 4096 < len(PLAIN_DB)
    cut = verify({"pg1_appdb.sql": PLAIN_DB[:-60], "pg1_roles.sql": ROLES}, ["appdb"])
    assert [p["code"] for p in cut["problems"]] == ["dump-truncated"]  # type: ignore[attr-defined]


def test_classify_matches_database_names_on_separators() -> None:
    """The longest expected name wins (my_app over app); server files are recognised by their suffix."""
    assert classify(BlobFile("pg1_my_app.sql", 1), "pg1", ["app", "my_app"]) == ("database", "my_app")
    assert classify(BlobFile("Roles.sql", 1), "pg1", None) == ("roles", None)
    assert classify(BlobFile("pg1-tablespaces.sql", 1), "pg1", None) == ("tablespace", None)
    assert classify(BlobFile("pg1_sales.sql", 1), "pg1", None) == ("database", "sales")
