"""Which tables' dumps hold rows, read from real archives: compressed, uncompressed, and written to a pipe (no
data offsets in the TOC, so the blocks are walked in order)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devhost.postgres import Postgres
from loader.datablocks import tables_with_rows
from loader.pgrestore import list_archive
from loader.toc import parse_toc
from tests.loader.conftest import Dumps

pytestmark = pytest.mark.slow
EXPECTED = {("s", "t"): True, ("s", "empty"): False, ("s", "child"): True, ("sales", "orders_2025"): True,
            ("sales", "orders_2026"): True}


def _by_table(source: Postgres, archive: Path) -> dict[tuple[str, str], bool | None]:
    toc = parse_toc(list_archive(source.program("pg_restore"), archive))
    rows = tables_with_rows(archive)
    return {(e.schema or "", e.tag): rows.get(e.dump_id) for e in toc.of("TABLE DATA")}


@pytest.mark.parametrize("options", [[], ["-Z0"], ["-Z9"]], ids=["default", "uncompressed", "gzip-9"])
def test_tables_with_rows_in_a_seekable_archive(dumps: Dumps, tmp_path: Path, options: list[str]) -> None:
    source = dumps.source
    archive = tmp_path / "shop.dump"
    subprocess.run([source.program("pg_dump"), "-Fc", *options, "-d", source.superuser_dsn("shop"), "-f",
                    str(archive)], check=True, capture_output=True, timeout=60)
    assert _by_table(source, archive) == EXPECTED


def test_tables_with_rows_in_an_archive_written_to_a_pipe(dumps: Dumps, tmp_path: Path) -> None:
    source = dumps.source
    archive = tmp_path / "piped.dump"
    with archive.open("wb") as out, subprocess.Popen(
            [source.program("pg_dump"), "-Fc", "-d", source.superuser_dsn("shop")], stdout=subprocess.PIPE) as dump:
        assert dump.stdout is not None
        out.write(dump.stdout.read())
    assert dump.returncode == 0
    assert _by_table(source, archive) == EXPECTED
