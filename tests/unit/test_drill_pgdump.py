"""The ranged custom-format reader agrees with pgdumplib on real dumps and fails cleanly on damaged ones."""

from __future__ import annotations

from pathlib import Path

import pgdumplib
import pytest

from pgflex_restore.drills.pgdump import DumpFormatError, read_custom_archive
from tests.unit.drill_archives import SparseFile, archive_head, reader

DUMPS = Path(__file__).resolve().parents[2] / "emulator" / "fixtures" / "dumps"


# pgdumplib.load keeps the archive open and a temporary folder alive and offers no close(); Python reports both
# when the Dump is collected. That is the library's, not this project's, so only that report is allowed here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("name", ["appdb", "reporting"])
def test_real_dumps_match_pgdumplib(name: str) -> None:
    """Header and TOC of real pg_dump -Fc archives read the same as pgdumplib reads them."""
    data = (DUMPS / f"{name}.dump").read_bytes()
    archive = read_custom_archive(reader(data), len(data))
    independent = pgdumplib.load(DUMPS / f"{name}.dump")
    assert archive.header.database == independent.dbname == name
    assert archive.header.server_version == independent.server_version
    assert len(archive.entries) == len(independent.entries)
    assert [e.desc for e in archive.entries] == [e.desc for e in independent.entries]
    assert [e.tag for e in archive.entries] == [e.tag for e in independent.entries]
    assert archive.tables == sum(1 for e in independent.entries if e.desc == "TABLE")
    assert archive.summary()["format"] == "custom"


def test_every_truncation_is_reported_as_such() -> None:
    """Cutting a real dump anywhere gives a DumpFormatError (mostly 'truncated'), never another exception."""
    data = (DUMPS / "reporting.dump").read_bytes()
    reasons = set()
    for cut in range(1, len(data)):
        with pytest.raises(DumpFormatError) as failure:
            read_custom_archive(reader(data[:cut]), cut)
        reasons.add(failure.value.reason)
    assert "truncated" in reasons
    assert reasons <= {"truncated", "malformed", "bad-magic"}


def test_empty_and_wrong_magic() -> None:
    """An empty file and a file without the PGDMP magic are named as such."""
    with pytest.raises(DumpFormatError) as empty:
        read_custom_archive(reader(b""), 0)
    assert empty.value.reason == "empty"
    data = b"XXXXX" + (DUMPS / "appdb.dump").read_bytes()[5:]
    with pytest.raises(DumpFormatError) as magic:
        read_custom_archive(reader(data), len(data))
    assert magic.value.reason == "bad-magic"


@pytest.mark.parametrize("version", [(1, 12, 0), (1, 13, 0), (1, 14, 0), (1, 15, 0), (1, 16, 0)])
def test_every_supported_archive_version(version: tuple[int, int, int]) -> None:
    """Versions 1.12 (PostgreSQL 9.x) to 1.16 (PostgreSQL 17) parse, including the 1.15 compression byte
    and the 1.16 relkind."""
    head_len = len(archive_head(version, [(1, "TABLE", "t", 3, 0), (2, "TABLE DATA", "t", 2, 0)]))
    head = archive_head(version, [(1, "TABLE", "t", 3, 0), (2, "TABLE DATA", "t", 2, head_len)])
    data = head + b"\x01" + bytes(5) + bytes(5)  # one data block header, then the zero-length terminator
    archive = read_custom_archive(reader(data), len(data))
    assert archive.header.version == version
    assert archive.header.compression == "gzip"
    assert (archive.tables, archive.data_entries, archive.toc_end) == (1, 1, head_len)
    assert archive.header.created is not None and archive.header.created.year == 2026


def test_unsupported_version_is_refused() -> None:
    data = archive_head((1, 17, 0), [])
    with pytest.raises(DumpFormatError) as failure:
        read_custom_archive(reader(data), len(data))
    assert failure.value.reason == "unsupported-version"


def test_a_huge_archive_costs_a_few_small_reads() -> None:
    """A 200 GB dump is checked by reading its header/TOC and its last bytes only."""
    size = 200 * 1024**3
    head = archive_head((1, 16, 0), [(1, "TABLE", "big", 3, 0), (2, "TABLE DATA", "big", 2, 4096),
                                     (3, "TABLE DATA", "big2", 2, size // 2)])
    file = SparseFile(head, size, bytes(5))
    archive = read_custom_archive(file.read, size)
    assert archive.data_entries == 2
    assert len(file.reads) <= 3
    assert sum(length for _, length in file.reads) <= 70 * 1024


def test_data_offsets_beyond_the_end_mean_truncated() -> None:
    """A TOC that points past the file's end proves the file was cut after the TOC was written."""
    head = archive_head((1, 14, 0), [(1, "TABLE DATA", "t", 2, 10_000)])
    data = head + bytes(5)
    with pytest.raises(DumpFormatError) as failure:
        read_custom_archive(reader(data), len(data))
    assert failure.value.reason == "truncated"


def test_missing_terminator_means_truncated_and_garbage_is_malformed() -> None:
    head = archive_head((1, 14, 0), [(1, "TABLE DATA", "t", 2, 0)])
    with pytest.raises(DumpFormatError) as cut:
        read_custom_archive(reader(head + b"\x01abc"), len(head) + 4)
    assert cut.value.reason == "truncated"
    schema_only = archive_head((1, 14, 0), [(1, "TABLE", "t", 3, 0)])
    assert read_custom_archive(reader(schema_only), len(schema_only)).data_entries == 0
    with pytest.raises(DumpFormatError) as extra:
        read_custom_archive(reader(schema_only + b"junk"), len(schema_only) + 4)
    assert extra.value.reason == "malformed"
