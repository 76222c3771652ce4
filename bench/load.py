"""Loading a restored dump: the loader against bare `pg_restore -j N` and against the documented pipe.

The benchmark makes its own dump: a database of several tables (so `-j` has work to share) filled with
generate_series rows until an uncompressed custom-format archive (`pg_dump -Fc -Z0`) reaches the asked size
(1 GiB by default), on a throwaway PostgreSQL server (devhost/postgres.py). The dump is uploaded to a blob
container in Azurite, as the vault leaves it. Then, each into a fresh database of the same server:

- **loader**: `python -m pgflex_restore load --source <container URL> ...`, the whole loader: find, download
  (ranged, parallel), create, restore with `-j N`, ANALYZE, checks, report.
- **bare**: `pg_restore -j N --no-owner` on the same file, already on local disk (no download, no checks): the
  floor the loader's overhead is measured against (goal: within 10%). Figures compare the loader's whole run with
  bare alone and with download + bare, and its own pg_restore step with bare.
- **pipe**: the documented single stream, `download | pg_restore --no-owner` (no `-j`: a pipe cannot seek).

Figures: MB/s of dump for each, the loader's overhead over bare (with and without its download), time per step
from the loader's report, the loader process tree's peak RSS, and the peak disk its work folder used.

Usage: python bench/load.py [--quick] [--size-mb N] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _common import ROOT, machine, print_figures, tree_peak_rss_kib

from devhost.azurite import start_azurite
from devhost.postgres import Postgres, start_postgres

TABLES = 4
ROW_BYTES = 140  # about what one generated row costs in an uncompressed dump


def make_source(pg: Postgres, size_mb: int) -> None:
    """The source database: TABLES tables of generated rows, with a primary key and a secondary index each."""
    pg.sql("CREATE DATABASE benchsrc")
    rows = max(1000, size_mb * 1024 * 1024 // ROW_BYTES // TABLES)
    for n in range(TABLES):
        pg.sql(f"CREATE TABLE t{n} (id bigint PRIMARY KEY, a text, b text, at timestamptz, qty int)", "benchsrc")
        pg.sql(f"INSERT INTO t{n} SELECT g, md5(g::text), md5((g * {n + 7})::text) || md5(g::text), "  # noqa: S608 - integers
               f"timestamptz '2026-01-01' + g * interval '1 second', g % 1000 FROM generate_series(1, {rows}) g",
               "benchsrc")
        pg.sql(f"CREATE INDEX t{n}_b ON t{n} (b)", "benchsrc")


def dump(pg: Postgres, path: Path) -> None:
    subprocess.run([pg.program("pg_dump"), "-Fc", "-Z0", "-f", str(path), "-d", pg.superuser_dsn("benchsrc")],
                   check=True)


def upload(connection_string: str, container: str, name: str, path: Path) -> str:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    client = service.create_container(container)
    with path.open("rb") as data:
        client.upload_blob(name, data, max_concurrency=4)
    return str(client.url)


def folder_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue
    return total


class Watch:
    """Samples a process tree's peak RSS and a folder's size while a command runs."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.peak_rss_kib, self.peak_disk = folder, 0, 0
        self._stop = threading.Event()

    def run(self, argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        sampler = threading.Thread(target=self._sample, args=(process.pid,), daemon=True)
        sampler.start()
        out, err = process.communicate()
        elapsed = time.perf_counter() - started
        self._stop.set()
        sampler.join()
        return subprocess.CompletedProcess(argv, process.returncode, out, err), elapsed

    def _sample(self, pid: int) -> None:
        while not self._stop.wait(0.05):
            rss = tree_peak_rss_kib(pid)
            self.peak_rss_kib = max(self.peak_rss_kib, rss or 0)
            self.peak_disk = max(self.peak_disk, folder_bytes(self.folder))


def run_loader(pg: Postgres, container_url: str, prefix: str, *, connection: str, jobs: int,
               work: Path) -> tuple[dict[str, Any], float, Watch]:
    env = {**os.environ, "TMPDIR": str(work), "LOAD_STORAGE_CONNECTION_STRING": connection,
           "AzureWebJobsStorage": connection, "LOAD_TARGET_ALLOWLIST": "127.0.0.1"}
    watch = Watch(work)
    ledger = work.parent / "ledger.json"
    done, elapsed = watch.run([sys.executable, "-m", "pgflex_restore", "load", "--source", container_url,
                               "--prefix", prefix, "--server", pg.uri(), "--database", "benchsrc=viloader",
                               "--jobs", str(jobs), "--roles", "skip", "--ledger", str(ledger),
                               "--output", "json"], env)
    if done.returncode != 0:
        raise SystemExit(f"the loader failed (exit {done.returncode}):\n{done.stderr[-3000:]}\n{done.stdout[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report, elapsed, watch


def create_as_admin(pg: Postgres, database: str) -> None:
    """As the admin, as on Azure: the admin owns the database, so it may create in its public schema."""
    import psycopg

    with psycopg.connect(pg.uri(), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {database}".encode())


def run_bare(pg: Postgres, path: Path, jobs: int) -> float:
    create_as_admin(pg, "vibare")
    started = time.perf_counter()
    subprocess.run([pg.program("pg_restore"), "-j", str(jobs), "--no-owner", "-d", pg.uri("vibare"), str(path)],
                   check=True)
    return time.perf_counter() - started


def run_pipe(pg: Postgres, connection: str, container: str, name: str) -> float:
    """download | pg_restore: the blob streamed into pg_restore's stdin, one stream end to end."""
    from azure.storage.blob import BlobServiceClient

    create_as_admin(pg, "vipipe")
    blob = BlobServiceClient.from_connection_string(connection).get_blob_client(container, name)
    started = time.perf_counter()
    restore = subprocess.Popen([pg.program("pg_restore"), "--no-owner", "-d", pg.uri("vipipe")],
                               stdin=subprocess.PIPE)
    assert restore.stdin is not None
    for chunk in blob.download_blob().chunks():
        restore.stdin.write(chunk)
    restore.stdin.close()
    if restore.wait() != 0:
        raise SystemExit("the piped pg_restore failed")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 16 MB dump (the smoke test's size)")
    parser.add_argument("--size-mb", type=int, default=1024, help="dump size to make (default 1024)")
    parser.add_argument("--jobs", type=int, default=4, help="parallel pg_restore jobs (default 4)")
    args = parser.parse_args()
    size_mb = 16 if args.quick else args.size_mb
    print(json.dumps(machine()))
    scratch = Path(tempfile.mkdtemp(prefix="bench-load-"))
    work = scratch / "work"
    work.mkdir()
    pg = start_postgres(settings={"max_wal_size": "'4GB'", "checkpoint_timeout": "'30min'"})
    azurite = start_azurite()
    try:
        started = time.perf_counter()
        make_source(pg, size_mb)
        path = scratch / "benchsrc.dump"
        dump(pg, path)
        made = time.perf_counter() - started
        megabytes = path.stat().st_size / 1e6
        prefix, container = "bench", f"load{uuid.uuid4().hex[:8]}"
        name = f"{prefix}_benchsrc.sql"
        connection = azurite.connection_string
        container_url = upload(connection, container, name, path)
        print(f"dump: {megabytes:.0f} MB made in {made:.1f} s", flush=True)

        # Each run starts after a checkpoint, so none pays for the writes of the one before (the source's
        # generation included); bare runs first, so the loader is not favoured by a warmer server.
        pg.sql("CHECKPOINT")
        bare_s = run_bare(pg, path, args.jobs)
        pg.sql("CHECKPOINT")
        report, loader_s, watch = run_loader(pg, container_url, prefix, connection=connection, jobs=args.jobs,
                                              work=work)
        pg.sql("CHECKPOINT")
        pipe_s = run_pipe(pg, connection, container, name)
        steps = report.get("durations") or {}
        database = (report.get("databases") or [{}])[0]
        download_s = float(steps.get("download") or 0.0)
        figures: dict[str, Any] = {
            "dump_mb": round(megabytes, 1),
            "jobs": args.jobs,
            "loader_mb_per_s": megabytes / loader_s,
            "bare_pg_restore_mb_per_s": megabytes / bare_s,
            "pipe_mb_per_s": megabytes / pipe_s,
            "loader_s": loader_s,
            "bare_s": bare_s,
            "pipe_s": pipe_s,
            "loader_overhead_vs_download_plus_bare": loader_s / (bare_s + download_s) - 1.0,
            "loader_overhead_vs_bare": loader_s / bare_s - 1.0,
            # The loader's own pg_restore step against bare pg_restore: what its restore costs beyond the tool.
            "loader_restore_step_vs_bare": float((database.get("durations") or {}).get("restore") or 0.0) / bare_s
            - 1.0,
            "loader_speedup_vs_pipe": pipe_s / loader_s,
            "loader_peak_rss_mib": watch.peak_rss_kib / 1024,
            "loader_peak_disk_mb": watch.peak_disk / 1e6,
        }
        for step, seconds in sorted({**steps, **{f"db_{k}": v for k, v in
                                                 (database.get("durations") or {}).items()}}.items()):
            if isinstance(seconds, (int, float)):
                figures[f"step_{step}_s"] = float(seconds)
        print_figures(figures)
    finally:
        azurite.stop()
        pg.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
