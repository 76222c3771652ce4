"""Which restored file is what: database archives and the server-level SQL scripts, by content and name.

Azure Backup names the files ``<prefix>_<database>.sql`` (archives despite the ``.sql``), ``<prefix>_roles.sql``,
``<prefix>_tablespace.sql`` and ``<prefix>_schema.sql``; the exact naming is not documented, so content decides
what a file is (``PGDMP`` = archive) and the name only which database or script it is. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .versions import MAGIC

SCRIPTS = ("roles", "tablespace", "schema")
REPORT_SUFFIX = "_load-report.json"
REPORT_SUFFIXES = (REPORT_SUFFIX, "_drop-report.json")  # the loader's own reports, never restored files
_SEPARATORS = ("_", "-", ".", "/")
_EXTENSIONS = (".sql", ".dump", ".backup", ".pgdump")


@dataclass(frozen=True)
class RestoredFile:
    """A file found under the prefix: its full name in the source, size, kind and (for archives) database."""

    name: str
    size: int
    kind: str  # "database", "roles", "tablespace", "schema" or "other"
    database: str | None = None


@dataclass(frozen=True)
class FoundFiles:
    databases: dict[str, RestoredFile] = field(default_factory=dict)
    scripts: dict[str, RestoredFile] = field(default_factory=dict)
    other: list[RestoredFile] = field(default_factory=list)
    every: list[RestoredFile] = field(default_factory=list)  # every restored file under the prefix, by name


def stem(name: str, prefix: str) -> str | None:
    """The part of a file name after the prefix and its separator, without the extension; None when the file
    is not under the prefix."""
    base = name
    if prefix:
        if not base.startswith(prefix):
            return None
        base = base[len(prefix):]
        if base and base[0] in _SEPARATORS:
            base = base[1:]
        elif base:
            return None  # "restore-420_x" is not under "restore-42"
    for extension in _EXTENSIONS:
        if base.lower().endswith(extension):
            return base[: -len(extension)]
    return base


def classify(name: str, size: int, head: bytes, prefix: str) -> RestoredFile | None:
    """One file from its name, size and first bytes; None when it is not a restored file under the prefix (the
    loader's own report, other prefixes)."""
    if name.endswith(REPORT_SUFFIXES):
        return None
    key = stem(name, prefix)
    if key is None or not key:
        return None
    if head.startswith(MAGIC):
        return RestoredFile(name, size, "database", key)
    kind = key.lower()
    if kind in SCRIPTS:
        return RestoredFile(name, size, kind)
    return RestoredFile(name, size, "other", key)


def collect(files: list[RestoredFile]) -> FoundFiles:
    """Group classified files; a database or script that appears twice keeps the first name (sorted)."""
    found = FoundFiles(every=sorted(files, key=lambda f: f.name))
    for file in found.every:
        if file.kind == "database" and file.database is not None:
            found.databases.setdefault(file.database, file)
        elif file.kind in SCRIPTS:
            found.scripts.setdefault(file.kind, file)
        else:
            found.other.append(file)
    return found


def report_name(prefix: str) -> str:
    """Where the report goes, next to the files."""
    return f"{prefix}{REPORT_SUFFIX}"
