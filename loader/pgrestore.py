"""Running pg_restore: its version, an archive's list, a script of chosen entries, and the restore itself.

Passwords go in the child's PGPASSWORD, never on its command line. With a token password the restore runs once
per section (pre-data, data, post-data), each with a password fetched just before it starts (see auth.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .auth import Target
from .versions import pg_restore_major

SECTIONS = ("pre-data", "data", "post-data")


class PgRestoreError(RuntimeError):
    """pg_restore could not run or could not read the archive at all."""


@dataclass(frozen=True)
class RestoreRun:
    """What one or more pg_restore invocations left: exit codes (one per run) and their stderr, joined."""

    returncodes: tuple[int, ...]
    stderr: str

    @property
    def ok(self) -> bool:
        return all(code == 0 for code in self.returncodes)

    @property
    def errors_ignored(self) -> bool:
        """Exit 1 with ``errors ignored on restore``: SQL errors, the restore went on."""
        return "errors ignored on restore" in self.stderr


def find_program(env: Mapping[str, str] | None = None) -> str:
    """pg_restore: ``LOADER_PG_BINDIR``'s when set, else the PATH's."""
    env = os.environ if env is None else env
    bindir = env.get("LOADER_PG_BINDIR")
    if bindir:
        return str(Path(bindir) / "pg_restore")
    found = shutil.which("pg_restore")
    if not found:
        raise PgRestoreError("pg_restore is not installed (PostgreSQL's client programs), or set LOADER_PG_BINDIR")
    return found


def _run(argv: list[str], *, env: Mapping[str, str] | None = None, timeout: float | None = None
         ) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=dict(env) if env is not None else None,
                              timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise PgRestoreError(f"{argv[0]} could not run: {exc}") from exc


def major_version(program: str) -> int:
    """The major version of this pg_restore."""
    done = _run([program, "--version"], timeout=30)
    return pg_restore_major(done.stdout)


def list_archive(program: str, archive: Path) -> str:
    """``pg_restore --list --create``: the TOC with the database's own entries."""
    done = _run([program, "--list", "--create", str(archive)], timeout=600)
    if done.returncode != 0:
        raise PgRestoreError(f"pg_restore --list {archive.name}: {done.stderr.strip()}")
    return done.stdout


def _list_path(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def entries_script(program: str, archive: Path, list_text: str, *, create: bool) -> str:
    """The SQL pg_restore would run for the listed entries (``-f -``), without touching a server."""
    with tempfile.TemporaryDirectory(prefix="loader-list-") as folder:
        list_path = _list_path(Path(folder), "entries.list", list_text)
        argv = [program, "--schema-only", "-L", str(list_path), "-f", "-", str(archive)]
        if create:
            argv.insert(1, "--create")
        done = _run(argv, timeout=600)
    if done.returncode != 0:
        raise PgRestoreError(f"pg_restore (script of {archive.name}): {done.stderr.strip()}")
    return done.stdout


def restore(program: str, archive: Path, target: Target, database: str, list_text: str, *, jobs: int,
            no_owner: bool, sections: Iterable[str] | None = None, timeout: float | None = None) -> RestoreRun:
    """Restore the listed entries into ``database``; one run, or one run per section (each with a fresh
    password). Never raises for SQL errors: the caller classifies stderr."""
    codes: list[int] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="loader-list-") as folder:
        list_path = _list_path(Path(folder), "restore.list", list_text)
        for section in (list(sections) if sections is not None else [None]):
            argv = [program, "--no-tablespaces", "-L", str(list_path), "-d", target.conninfo(database)]
            if jobs > 1 and section != "pre-data":
                argv += ["-j", str(jobs)]
            if no_owner:
                argv.append("--no-owner")
            if section:
                argv.append(f"--section={section}")
            argv.append(str(archive))
            done = _run(argv, env=target.program_env(), timeout=timeout)
            codes.append(done.returncode)
            if done.stderr:
                errors.append(done.stderr)
    return RestoreRun(tuple(codes), "".join(errors))
