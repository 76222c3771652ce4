"""Check what a drill restore wrote: the expected files exist, none is empty, every dump is well formed.

Pure: the caller lists the blobs under the drill's prefix and supplies a ranged ``read(name, offset, length)``.
Database files are custom-format archives (read by ``pgdump``) or plain SQL dumps (head comment and the
``-- PostgreSQL database dump complete`` trailer, each read by one range); the server-level files (roles,
tablespace, schema) are plain SQL. Nothing is downloaded whole, so a 500 GB dump costs a few small GETs.

File names carry the restore's filePrefix; the service's exact naming is not documented, so a file is matched
to a database when its name (without extension) is the database name or ends with ``_<db>``/``-<db>``/``.<db>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .pgdump import MAGIC, DumpFormatError, read_custom_archive

ReadBlob = Callable[[str, int, int], bytes]

SERVER_FILES = ("roles", "tablespace", "schema")
REQUIRED_SERVER_FILES = ("roles",)
PLAIN_HEADS = ("-- PostgreSQL database dump", "-- PostgreSQL database cluster dump")
PLAIN_TRAILERS = ("-- PostgreSQL database dump complete", "-- PostgreSQL database cluster dump complete")
HEAD_BYTES = 4096
TAIL_BYTES = 4096
HEAD_CACHE = 64 * 1024
# Order of importance when one drill has several problems: the first decides the drill's reason.
PROBLEM_ORDER = ("no-files", "missing-database-file", "missing-roles-file", "empty-file", "dump-bad-magic",
                 "dump-truncated", "dump-malformed", "dump-unsupported-version")


@dataclass(frozen=True)
class BlobFile:
    """A restored file: its name relative to the drill's prefix, and its size."""

    name: str
    size: int


def stem(name: str) -> str:
    """The file's base name without extensions, lower-case (``drills/r/i/pg1_AppDB.sql`` -> ``pg1_appdb``)."""
    base = name.rsplit("/", 1)[-1].lower()
    for ext in (".gz", ".sql", ".dump", ".backup", ".pgdump"):
        base = base.removesuffix(ext)
    return base


def _ends_with_name(text: str, name: str) -> bool:
    name = name.lower()
    return text == name or any(text.endswith(sep + name) for sep in ("_", "-", "."))


def classify(file: BlobFile, leaf: str, databases: Sequence[str] | None) -> tuple[str, str | None]:
    """``(kind, database)``: kind is roles, tablespace, schema or database."""
    text = stem(file.name)
    matches = [d for d in databases or () if _ends_with_name(text, d)]
    if matches:
        return "database", max(matches, key=len)
    for kind in SERVER_FILES:
        if _ends_with_name(text, kind) or _ends_with_name(text, kind + "s"):
            return kind, None
    leaf = leaf.lower()
    for sep in ("_", "-", "."):
        if leaf and text.startswith(leaf + sep):
            return "database", text[len(leaf) + 1:]
    return "database", text


def check_plain_sql(read: ReadBlob, file: BlobFile) -> dict[str, Any]:
    """Header comment in the first 4 KiB, completion trailer in the last 4 KiB."""
    head = read(file.name, 0, min(HEAD_BYTES, file.size)).decode("utf-8", errors="replace")
    if not any(marker in head[:512] for marker in PLAIN_HEADS):
        raise DumpFormatError("bad-magic", "neither a custom-format archive (PGDMP) nor a plain SQL dump "
                                           "(no '-- PostgreSQL database dump' header)")
    start = max(0, file.size - TAIL_BYTES)
    tail = head[-TAIL_BYTES:] if start == 0 else read(file.name, start, file.size - start).decode(
        "utf-8", errors="replace")
    if not any(marker in tail for marker in PLAIN_TRAILERS):
        raise DumpFormatError("truncated", "the plain SQL dump has no '-- PostgreSQL database dump complete' "
                                           "trailer: it was cut off")
    return {"format": "plain", "cluster": "cluster dump" in head[:512]}


def head_cached(read: ReadBlob, file: BlobFile, head_bytes: int = HEAD_CACHE) -> ReadBlob:
    """``read`` for one file, with its first ``head_bytes`` fetched once: magic, header, TOC and (for small
    files) the tail then cost one request instead of several."""
    cache: dict[str, bytes] = {}

    def cached(name: str, offset: int, length: int) -> bytes:
        limit = min(head_bytes, file.size)
        if name != file.name or offset + length > limit:
            return read(name, offset, length)
        if "head" not in cache:
            cache["head"] = read(name, 0, limit)
        return cache["head"][offset:offset + length]

    return cached


def inspect_file(read: ReadBlob, file: BlobFile) -> dict[str, Any]:
    """Format facts of one non-empty file; DumpFormatError when it is not a well-formed dump."""
    read = head_cached(read, file)
    first = read(file.name, 0, min(len(MAGIC), file.size))
    if first == MAGIC:
        archive = read_custom_archive(lambda offset, length: read(file.name, offset, length), file.size)
        return {**archive.summary(), "reads": archive.reads}
    return check_plain_sql(read, file)


def check_file(file: BlobFile, read: ReadBlob, kind: str, database: str | None) -> dict[str, Any]:
    """One file's report entry; ``problem`` is set (with ``message``) when it is empty or not a valid dump."""
    entry: dict[str, Any] = {"name": file.name, "size": file.size, "kind": kind}
    if database is not None:
        entry["database"] = database
    if file.size == 0:
        return {**entry, "problem": "empty-file", "message": f"{file.name} is empty (0 bytes)"}
    try:
        entry.update(inspect_file(read, file))
    except DumpFormatError as exc:
        code = f"dump-{exc.reason}" if exc.reason != "empty" else "empty-file"
        entry.update(problem=code, message=f"{file.name}: {exc}")
    return entry


def _missing(kinds: set[str], databases: dict[str, Any], expected: Sequence[str] | None) -> list[dict[str, Any]]:
    problems = [{"code": "missing-database-file", "database": d, "message": f"no file for expected database {d!r}"}
                for d in expected or () if d not in databases]
    problems += [{"code": f"missing-{k}-file", "message": f"no {k} file was written"}
                 for k in REQUIRED_SERVER_FILES if k not in kinds]
    if "database" not in kinds and not expected:
        problems.append({"code": "missing-database-file", "message": "no database file was written"})
    return problems


def verify_restored_files(
    files: Sequence[BlobFile], read: ReadBlob, *, leaf: str, expected_databases: Sequence[str] | None
) -> dict[str, Any]:
    """The verification report: per file and per database facts, and every problem found."""
    if not files:
        problem = {"code": "no-files", "message": "the restore wrote no files under the drill's prefix"}
        return {"ok": False, "files": [], "databases": {}, "problems": [problem], "totalBytes": 0}
    problems: list[dict[str, Any]] = []
    report_files: list[dict[str, Any]] = []
    databases: dict[str, Any] = {}
    kinds: set[str] = set()
    for file in sorted(files, key=lambda f: f.name):
        kind, database = classify(file, leaf, expected_databases)
        kinds.add(kind)
        entry = check_file(file, read, kind, database)
        if "problem" in entry:
            problems.append({"code": entry["problem"], "file": file.name, "database": database,
                             "message": entry["message"]})
        if database is not None:
            databases[database] = {k: v for k, v in entry.items() if k not in ("kind", "database")}
        report_files.append(entry)
    problems += _missing(kinds, databases, expected_databases)
    problems.sort(key=lambda p: PROBLEM_ORDER.index(p["code"]) if p["code"] in PROBLEM_ORDER else 99)
    return {"ok": not problems, "files": report_files, "databases": databases, "problems": problems,
            "totalBytes": sum(f.size for f in files)}
