"""The steps before anything is created: find the files, check every archive's version, download the dumps and
read their tables of contents. A failure here leaves the server untouched.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .files import FoundFiles, classify, collect
from .pgrestore import PgRestoreError, list_archive, major_version
from .report import DatabaseReport, Report
from .sources import Source
from .toc import Toc, parse_toc
from .versions import HEAD_BYTES, VersionError, archive_version, check_readable


class StepFailed(Exception):
    """A step failed; the report already says which and why."""


@dataclass
class Prepared:
    """A database ready to load: where its archive is on disk, and its table of contents."""

    report: DatabaseReport
    archive: Path
    toc: Toc


def find(source: Source, prefix: str, databases: Mapping[str, str] | None, report: Report) -> FoundFiles:
    """Classify the files under the prefix; the report gains one entry per database to load."""
    started = time.monotonic()
    try:
        listed = source.list(prefix)
        classified = [c for name, size in listed
                      if (c := classify(name, size, source.head(name, HEAD_BYTES) if size else b"", prefix))]
    except Exception as exc:  # any storage failure is this step's failure
        report.fail("find", "SourceUnreadable", f"cannot list or read {source.describe()}: {exc}")
        raise StepFailed from exc
    finally:
        report.add_duration("find", time.monotonic() - started)
    found = collect(classified)
    if not found.databases:
        report.fail("find", "NoDumpFound", f"no pg_dump archive under prefix {prefix!r} in {source.describe()}")
        raise StepFailed
    wanted = dict(databases) if databases is not None else {name: name for name in sorted(found.databases)}
    missing = sorted(set(wanted) - set(found.databases))
    if missing:
        report.fail("find", "DumpMissing", f"no archive for database(s) {', '.join(missing)} under prefix "
                                           f"{prefix!r}; found {', '.join(sorted(found.databases))}")
        raise StepFailed
    report.databases = [DatabaseReport(source_name, target) for source_name, target in wanted.items()]
    return found


def check_versions(source: Source, found: FoundFiles, program: str, report: Report) -> None:
    """Every archive must be readable by this pg_restore, checked from its first bytes before any download."""
    try:
        major = major_version(program)
    except (PgRestoreError, VersionError) as exc:
        report.fail("version", "PgRestoreUnavailable", str(exc))
        raise StepFailed from exc
    problems = []
    for entry in report.databases:
        file = found.databases[entry.source]
        try:
            version = archive_version(source.head(file.name, HEAD_BYTES))
            entry.archive = {"version": str(version), "bytes": file.size, "file": file.name}
            check_readable(version, major, name=file.name)
        except VersionError as exc:
            entry.status = "failed"
            problems.append(str(exc))
    if problems:
        report.fail("version", "ArchiveTooNew", "; ".join(problems))
        raise StepFailed


def download(source: Source, found: FoundFiles, workdir: Path, *, program: str, jobs: int,
             report: Report) -> list[Prepared]:
    """Each archive as a local file (pg_restore -j needs one), and its table of contents."""
    prepared = []
    for entry in report.databases:
        file = found.databases[entry.source]
        started = time.monotonic()
        try:
            path = source.fetch(file.name, workdir, jobs)
            toc = parse_toc(list_archive(program, path))
        except PgRestoreError as exc:
            entry.status = "failed"
            report.fail("download", "ArchiveUnreadable", str(exc))
            raise StepFailed from exc
        except Exception as exc:  # storage or disk failures, with their text
            entry.status = "failed"
            report.fail("download", "DownloadFailed", f"{file.name}: {exc}")
            raise StepFailed from exc
        finally:
            elapsed = time.monotonic() - started
            entry.durations["download"] = elapsed
            report.add_duration("download", elapsed)
        entry.archive.update({"dumpedFrom": toc.dumped_from, "dumpedBy": toc.dumped_by})
        prepared.append(Prepared(entry, path, toc))
    return prepared
