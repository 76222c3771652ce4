"""One load, start to end: find, version, download, the safety decision, roles, then each database. Returns the
report; never raises for a failed load (the report says what failed and what was created).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from . import database as db
from .auth import Target
from .files import FoundFiles
from .load_db import Context, load_database
from .prepare import StepFailed, check_versions, download, find
from .report import STEPS, Report
from .roles import clean_roles_script
from .safety import UnsafeTarget, decide
from .sources import Source
from .verify import Proofs


@dataclass(frozen=True)
class LoadOptions:
    """What to load: docs/loading.md's request, source and server aside."""

    run_id: str
    prefix: str
    databases: Mapping[str, str] | None = None
    on_exists: str = "fail"
    roles: str = "apply"
    jobs: int = 4
    replaceable: Sequence[Mapping[str, Any]] = field(default_factory=list)
    proofs: Proofs = field(default_factory=Proofs)  # invariants, amcheck, compareWithSource


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def load(options: LoadOptions, source: Source, target: Target, *, program: str, workdir: Path | None = None,
         progress: Callable[[str, str], None] | None = None, server_name: str | None = None,
         created: Callable[[Report], None] | None = None) -> Report:
    """Run the load; the returned report is finished (status, timings). ``created`` is called with the report so
    far each time a database has been created."""
    started = time.monotonic()
    report = Report(options.run_id, server_name or target.host, _now())
    step = ["find"]
    found: list[FoundFiles] = []

    def say(database: str, phase: str) -> None:
        step[0] = phase if phase in STEPS else step[0]
        if progress is not None:
            progress(database, phase)

    try:
        with tempfile.TemporaryDirectory(prefix="loader-", dir=workdir) as folder:
            _load(options, source, target, program=program, folder=Path(folder), report=report, say=say,
                  found=found, created=created or (lambda _: None))
    except StepFailed:
        pass
    except psycopg.Error as exc:
        report.fail(step[0], "ServerUnreachable", f"{target.host}: {str(exc).strip()}")
    except Exception as exc:  # a bug or the unforeseen: still a report, with what was created so far
        report.fail(step[0], "LoaderError", f"{type(exc).__name__}: {exc}")
    if found:
        report.files = file_digests(source, found[0])
    report.finish(_now(), time.monotonic() - started)
    return report


def file_digests(source: Source, found: FoundFiles) -> list[dict[str, Any]]:
    """The report's ``files``: each restored file's size and SHA-256, from the read that downloaded or read it;
    a file the load did not need is read once here to hash it (sha256 null when it cannot be read)."""
    out = []
    for file in found.every:
        digest = source.digests.get(file.name)
        if digest is None:
            try:
                digest = source.digest(file.name)
            except Exception:  # a file that vanished or cannot be read: the drill says it has no hash
                digest = None
        out.append({"name": file.name, "bytes": file.size, "sha256": digest})
    return out


def _load(options: LoadOptions, source: Source, target: Target, *, program: str, folder: Path, report: Report,
          say: Callable[[str, str], None], found: list[FoundFiles], created: Callable[[Report], None]) -> None:
    say("", "find")
    files = find(source, options.prefix, options.databases, report)
    found.append(files)
    say("", "version")
    check_versions(source, files, program, report)
    for entry in report.databases:
        say(entry.target, "download")
    prepared = download(source, files, folder, program=program, jobs=options.jobs, report=report)
    say("", "create")
    with db.connect(target, target.maintenance_db) as admin:
        try:
            decisions = decide([p.report.target for p in prepared], db.databases(admin),
                               on_exists=options.on_exists, replaceable=options.replaceable)
        except UnsafeTarget as exc:
            for entry in report.databases:
                if entry.target in exc.problems:
                    entry.status = "failed"
            report.fail("create", "TargetDatabaseExists", str(exc))
            raise StepFailed from exc
        if options.roles == "apply" and "roles" in files.scripts:
            say("", "roles")
            _apply_roles(admin, source.read_text(files.scripts["roles"].name), report)
    context = Context(target, program, options.jobs, report, say, options.proofs, created)
    for item, decision in zip(prepared, decisions, strict=True):
        load_database(context, item, decision)


def _apply_roles(admin: psycopg.Connection[Any], text: str, report: Report) -> None:
    """Run the cleaned roles script statement by statement; then no role may have gained SUPERUSER,
    REPLICATION or BYPASSRLS."""
    started = time.monotonic()
    before = db.role_flags(admin)
    cleaned = clean_roles_script(text, existing_roles=set(before), admin_role=db.current_user(admin))
    applied, failures = db.execute_each(admin, cleaned.statements)
    report.roles = {"applied": applied, "skipped": list(cleaned.skipped),
                    "errors": [{"error": text.strip()} for text in failures]}
    after = db.role_flags(admin)
    report.add_duration("roles", time.monotonic() - started)
    gained = sorted(name for name, flags in after.items()
                    if any(now and not was for now, was in zip(flags, before.get(name, (False,) * 3), strict=True)))
    if gained:
        report.fail("roles", "RolePrivilegeGained", f"role(s) {', '.join(gained)} came out of the roles file with "
                                                    "SUPERUSER, REPLICATION or BYPASSRLS; nothing else was loaded")
        raise StepFailed
