"""Reading `pg_restore --list` output: the archive's header facts and its table of contents.

The loader decides everything from the TOC: which entries create the database (restored first, with the name
rewritten), which are extensions (their own step, so an allow-list refusal fails clearly), which owners the
objects need, and what must exist afterwards. Pure text in, dataclasses out.

An entry line is ``<dumpId>; <tableoid> <oid> <DESC> <schema|-> <tag> <owner>`` (pg_backup_archiver.c
``PrintTOCSummary``); DESC and the tag may contain spaces, the owner may be empty (the line then ends in a space).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Every DESC pg_dump writes that has a space in it, longest first, so "MATERIALIZED VIEW DATA" wins over
# "MATERIALIZED VIEW". Single-word DESCs need no list.
MULTIWORD_DESCS = sorted((
    "ACCESS METHOD", "DATABASE PROPERTIES", "DEFAULT ACL", "EVENT TRIGGER", "FK CONSTRAINT", "FOREIGN DATA WRAPPER",
    "FOREIGN SERVER", "FOREIGN TABLE", "INDEX ATTACH", "LARGE OBJECT", "LARGE OBJECTS", "MATERIALIZED VIEW",
    "MATERIALIZED VIEW DATA", "OPERATOR CLASS", "OPERATOR FAMILY", "PROCEDURAL LANGUAGE", "PUBLICATION TABLE",
    "PUBLICATION TABLES IN SCHEMA", "ROW SECURITY", "SEQUENCE OWNED BY", "SEQUENCE SET", "SHELL TYPE",
    "TABLE ATTACH", "TABLE DATA", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER",
    "TEXT SEARCH TEMPLATE", "USER MAPPING", "BLOB METADATA",
), key=len, reverse=True)
# The objects a loaded database must contain, by TOC DESC (the checks' scope).
CHECKED_DESCS = ("TABLE", "FOREIGN TABLE", "VIEW", "MATERIALIZED VIEW", "SEQUENCE", "INDEX", "CONSTRAINT",
                 "FK CONSTRAINT")
DATABASE_DESCS = ("DATABASE", "DATABASE PROPERTIES")
_ENTRY = re.compile(r"^(\d+); (\d+) (\d+) (.*)$")
_HEADER = re.compile(r"^;\s+([A-Za-z_ ]+?):\s*(.*)$")


@dataclass(frozen=True)
class TocEntry:
    """One entry of the list; ``line`` is the original text, which a `pg_restore -L` list file repeats."""

    dump_id: int
    desc: str
    schema: str | None
    tag: str
    owner: str | None
    line: str

    @property
    def is_database_entry(self) -> bool:
        """The DATABASE entry, its properties, and the COMMENT and ACL that name the database itself."""
        if self.desc in DATABASE_DESCS:
            return True
        return self.desc in ("COMMENT", "ACL", "SECURITY LABEL") and self.schema is None and \
            self.tag.startswith("DATABASE ")


@dataclass(frozen=True)
class Toc:
    """The header facts and the entries, in list order."""

    database: str | None
    archive_version: str | None
    dumped_from: str | None
    dumped_by: str | None
    compression: str | None
    entries: tuple[TocEntry, ...] = field(default=())

    def of(self, *descs: str) -> list[TocEntry]:
        return [e for e in self.entries if e.desc in descs]

    @property
    def database_entries(self) -> list[TocEntry]:
        return [e for e in self.entries if e.is_database_entry]

    @property
    def owners(self) -> set[str]:
        """Every role that owns something in the dump (the database included)."""
        return {e.owner for e in self.entries if e.owner}

    def checked_objects(self) -> list[TocEntry]:
        """The entries the checks look for in the loaded database."""
        return self.of(*CHECKED_DESCS)

    def extension_entries(self) -> list[TocEntry]:
        """EXTENSION entries and the comments on them."""
        names = {e.tag for e in self.of("EXTENSION")}
        return [e for e in self.entries if e.desc == "EXTENSION" or (
            e.desc == "COMMENT" and e.schema is None and _comment_target(e.tag, "EXTENSION") in names)]


def _comment_target(tag: str, kind: str) -> str | None:
    """``EXTENSION "uuid-ossp"`` -> ``uuid-ossp`` (a comment's tag names its object, quoted like an identifier)."""
    prefix = kind + " "
    if not tag.startswith(prefix):
        return None
    name = tag[len(prefix):]
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].replace('""', '"')
    return name


def parse_entry(line: str) -> TocEntry | None:
    """One entry line; None for comments, blank lines and anything else."""
    match = _ENTRY.match(line.rstrip("\n"))
    if not match:
        return None
    dump_id, rest = int(match.group(1)), match.group(4)
    desc = next((d for d in MULTIWORD_DESCS if rest.startswith(d + " ")), rest.split(" ", 1)[0])
    rest = rest[len(desc) + 1:]
    schema, _, rest = rest.partition(" ")
    tag, _, owner = rest.rpartition(" ")
    if not tag and owner:  # no owner field at all: "tag" alone
        tag, owner = owner, ""
    return TocEntry(dump_id, desc, None if schema == "-" else schema, tag, owner or None, line.rstrip("\n"))


def parse_toc(text: str) -> Toc:
    """The whole `pg_restore --list` output."""
    header: dict[str, str] = {}
    entries: list[TocEntry] = []
    for line in text.splitlines():
        if line.startswith(";"):
            match = _HEADER.match(line)
            if match:
                header.setdefault(match.group(1).strip().lower(), match.group(2).strip())
            continue
        entry = parse_entry(line)
        if entry is not None:
            entries.append(entry)
    return Toc(
        database=header.get("dbname"),
        archive_version=header.get("dump version"),
        dumped_from=_version_word(header.get("dumped from database version")),
        dumped_by=_version_word(header.get("dumped by pg_dump version")),
        compression=header.get("compression"),
        entries=tuple(entries),
    )


def _version_word(value: str | None) -> str | None:
    """``15.18 (Debian 15.18-0+deb12u1)`` -> ``15.18``."""
    return value.split()[0] if value else None


def list_file(entries: Iterable[TocEntry]) -> str:
    """A `pg_restore -L` list holding exactly these entries."""
    return "".join(f"{e.line}\n" for e in entries)
