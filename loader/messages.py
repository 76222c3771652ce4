"""Read pg_restore's stderr into one classified item per error: harmless, or a loss that names what did not load.

pg_restore goes on after a failed statement and exits 1 whatever failed, so its exit code can't tell "the public
schema already exists" from "a table and its rows are missing". Each error becomes
``{"class", "object", "message", "command", "reason"}``: ``harmless`` only for messages known to leave the target
equivalent to the dump (something that already exists in the same form, a comment on an extension someone else
owns, an ownership the load deliberately does not keep); everything else, and anything unknown, is a ``loss``.

The text is read as pg_restore writes it: ``pg_restore: error: could not execute query: ERROR:  <message>`` (DETAIL,
HINT, LINE, CONTEXT lines) then ``Command was: <SQL>``; ``COPY failed for table "t": ...``; with ``-v``, ``from TOC
entry <id>; <oid> <oid> <desc> <tag> <owner>`` before an error; ``warning: errors ignored on restore: N`` at the
end of each run. With ``-j`` the workers' lines interleave: the ``pg_restore:``/``error:`` prefixes may land
anywhere, but each message body is written whole, so messages are found by their bodies, not by line starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

HARMLESS, LOSS = "harmless", "loss"
# pg_restore's own labels are lower case; the server's DETAIL:/HINT: lines inside a message are not labels.
_PREFIX = re.compile(r"^[ \t]*(?:(?:pg_restore|error|warning|detail|hint)[ \t]*:[ \t]*)+")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_SQL_ERROR = re.compile(r"could not execute query: (?:(?P<severity>[A-Z]+):  )?(?P<text>.*?)(?:^Command was: "
                        r"(?P<command>.*))?\Z", re.DOTALL | re.MULTILINE)
_COPY_FAILED = re.compile(r'COPY failed for table "(?P<table>(?:[^"]|"")*)": (?:(?P<severity>[A-Z]+):  )?'
                          r"(?P<text>.*)\Z", re.DOTALL)
_SUMMARY = re.compile(r"errors ignored on restore: (?P<count>\d+)\s*\Z")
_TOC = re.compile(r"from TOC entry (?P<id>\d+); \d+ \d+ (?P<rest>.*)")
# What -v prints between errors: progress, not problems.
_INFO = ("connecting to ", "creating ", "processing ", "executing ", "launching item", "finished item",
         "finished main parallel loop", "entering main parallel loop", "entering restore_toc_entries",
         "implied data-only restore", "dropping ", "disabling triggers", "enabling triggers", "setting owner",
         "skipping item", "reducing dependencies", "transferring dependency", "while PROCESSING TOC",
         "while INITIALIZING", "while FINALIZING", "restoring large object", "restored ", "processing missed item",
         "reconnecting to database", "connecting to new database")
_TOC_DESCS = ("MATERIALIZED VIEW DATA", "SEQUENCE OWNED BY", "DATABASE PROPERTIES", "MATERIALIZED VIEW",
              "FOREIGN TABLE", "FK CONSTRAINT", "EVENT TRIGGER", "TABLE ATTACH", "INDEX ATTACH", "SEQUENCE SET",
              "DEFAULT ACL", "LARGE OBJECT", "TABLE DATA", "CONSTRAINT", "EXTENSION", "SEQUENCE", "FUNCTION",
              "COMMENT", "DEFAULT", "SCHEMA", "TRIGGER", "INDEX", "TABLE", "VIEW", "ACL", "BLOBS", "BLOB",
              "TYPE", "DOMAIN", "DATABASE", "POLICY", "RULE", "AGGREGATE", "PROCEDURE")
_NAME = r'(?:"(?:[^"]|"")*"|[\w$]+)(?:\.(?:"(?:[^"]|"")*"|[\w$]+))*'
_KINDS = (r"LARGE OBJECT|MATERIALIZED VIEW|FOREIGN TABLE|FOREIGN DATA WRAPPER|FOREIGN SERVER|EVENT TRIGGER|"
          r"TEXT SEARCH \w+|ACCESS METHOD|USER MAPPING|PROCEDURAL LANGUAGE|[A-Z]+")
_OBJECTS: tuple[tuple[str, str], ...] = (
    (rf"(?:GRANT|REVOKE)\b.*?\bON (?P<kind>{_KINDS}) (?P<name>{_NAME}(?:\(.*?\))?)\s+(?:TO|FROM)\b",
     "ACL {kind} {name}"),
    (rf"ALTER DEFAULT PRIVILEGES\b.*?\bIN SCHEMA (?P<schema>{_NAME}) .*?\bON (?P<kind>\w+)",
     "DEFAULT ACL {kind} IN SCHEMA {schema}"),
    (r"ALTER DEFAULT PRIVILEGES\b.*?\bON (?P<kind>\w+)", "DEFAULT ACL {kind}"),
    (rf"COPY (?P<name>{_NAME})", "TABLE DATA {name}"),
    (r"SELECT pg_catalog\.setval\('(?P<name>(?:[^']|'')*)'", "SEQUENCE SET {name}"),
    (rf"REFRESH MATERIALIZED VIEW (?P<name>{_NAME})", "MATERIALIZED VIEW DATA {name}"),
    (r"SELECT pg_catalog\.lo_(?:create|open)\('?(?P<name>\d+)", "BLOB {name}"),
    (rf"COMMENT ON (?P<kind>{_KINDS}) (?P<name>{_NAME}(?:\(.*?\))?) IS\b", "COMMENT {kind} {name}"),
    (rf"ALTER (?P<kind>{_KINDS}) (?P<name>{_NAME}(?:\(.*?\))?) OWNER TO\b", "{kind} {name}"),
    (rf"ALTER TABLE (?:ONLY )?(?P<table>{_NAME})\s+ADD CONSTRAINT (?P<name>{_NAME})",
     "CONSTRAINT {name} ON {table}"),
    (rf"ALTER TABLE (?:ONLY )?(?P<table>{_NAME})\s+ALTER COLUMN (?P<name>{_NAME}) SET DEFAULT",
     "DEFAULT {table}.{name}"),
    (rf"ALTER (?P<kind>TABLE|INDEX) (?:ONLY )?{_NAME}\s+ATTACH PARTITION (?P<name>{_NAME})",
     "{kind} ATTACH {name}"),
    (rf"ALTER SEQUENCE (?P<name>{_NAME}) OWNED BY", "SEQUENCE OWNED BY {name}"),
    (rf"CREATE (?:UNIQUE )?INDEX (?P<name>{_NAME}) ON (?:ONLY )?(?P<table>{_NAME})", "INDEX {name} ON {table}"),
    (rf"CREATE (?:CONSTRAINT )?(?P<kind>TRIGGER|POLICY|RULE) (?P<name>{_NAME}) .*?\bON (?P<table>{_NAME})",
     "{kind} {name} ON {table}"),
    (rf"CREATE (?:OR REPLACE )?(?:UNLOGGED |TRUSTED |DEFAULT )*(?P<kind>{_KINDS}) (?:IF NOT EXISTS )?"
     rf"(?P<name>{_NAME}(?:\(.*?\))?)", "{kind} {name}"),
    (rf"ALTER (?P<kind>{_KINDS}) (?:ONLY )?(?P<name>{_NAME})", "{kind} {name}"),
)
_OBJECT_PATTERNS = tuple((re.compile(pattern, re.IGNORECASE | re.DOTALL), form) for pattern, form in _OBJECTS)


@dataclass(frozen=True)
class _Error:
    """One error pg_restore printed: its server message (or its own), the SQL it ran, the TOC entry if shown."""

    text: str
    severity: str | None
    command: str | None
    toc: str | None
    copy_table: str | None = None
    sql: bool = True


def classify_restore_output(stderr: str) -> list[dict[str, Any]]:
    """One item per error in pg_restore's stderr (several runs may be concatenated). If a run's "errors
    ignored on restore: N" disagrees with the errors read, one more loss says so: what was not read is unknown."""
    items: list[dict[str, Any]] = []
    counted = 0
    toc: str | None = None
    for piece, labelled_error in _pieces(stderr):
        if found := _TOC.match(piece):
            toc = found.group("rest").strip()
        elif summary := _SUMMARY.search(piece):
            expected = int(summary.group("count"))
            if not _plausible(expected, counted):
                items.append(_item(LOSS, None, piece.strip(), None, f"pg_restore counted {expected} errors here "
                                   f"but {counted} were read from its output; the others are unknown"))
            counted = 0
        elif (error := _parse(piece, toc, labelled_error)) is not None:
            items.append(_classify(error))
            counted, toc = counted + 1, None
        elif not piece.startswith(_INFO) and piece.strip():
            items.append(_item(LOSS, None, piece.strip(), None, "a pg_restore message this loader does not know: "
                               "treated as a loss"))
    return items


def _plausible(counted_by_pg_restore: int, read: int) -> bool:
    """Whether pg_restore's count fits the errors read. Without -j they are equal. With -j, each worker reports its
    running total of errors with every item that failed and the leader adds these up (parallel.c
    buildWorkerResponse/parseWorkerResponse), so the count can reach read*(read+1)/2, never less than read."""
    return counted_by_pg_restore == read or read <= counted_by_pg_restore <= read * (read + 1) // 2


def has_loss(items: list[dict[str, Any]]) -> bool:
    """Whether anything did not load (or might not have)."""
    return any(item.get("class") != HARMLESS for item in items)


def _pieces(stderr: str) -> list[tuple[str, bool]]:
    """Messages with their prefixes removed, and whether an `error:` label came with them. A line that starts with a
    prefix starts a message; other lines continue the one before (Command text, DETAIL, a multi-line statement)."""
    pieces: list[tuple[list[str], bool]] = []
    for line in _COLOUR.sub("", stderr).splitlines():
        prefix = _PREFIX.match(line)
        body = line[prefix.end():] if prefix else line
        starts = prefix is not None or body.startswith(("could not execute query:", "COPY failed for table"))
        if starts and body.strip():
            pieces.append(([body], bool(prefix and "error" in prefix.group().lower())))
        elif pieces and not starts:
            pieces[-1][0].append(line)
    return [("\n".join(lines).rstrip(), labelled) for lines, labelled in pieces]


def _parse(piece: str, toc: str | None, labelled_error: bool) -> _Error | None:
    if found := _SQL_ERROR.match(piece):
        command = found.group("command")
        return _Error(found.group("text").strip(), found.group("severity"), command.strip() if command else None, toc)
    if found := _COPY_FAILED.match(piece):
        return _Error(found.group("text").strip(), found.group("severity"), None, toc,
                      copy_table=found.group("table").replace('""', '"'))
    if labelled_error:  # pg_restore's own errors: unreadable archive, lost connection, ...
        return _Error(piece.strip(), None, None, toc, sql=False)
    return None


def _item(kind: str, obj: str | None, message: str, command: str | None, reason: str) -> dict[str, Any]:
    return {"class": kind, "object": obj, "message": message, "command": command, "reason": reason}


def _object(error: _Error) -> str | None:
    """What the error is about, schema-qualified from the SQL where it can be; else from the TOC entry."""
    if error.copy_table is not None:
        return f"TABLE DATA {error.copy_table}"
    statement = (error.command or "").lstrip()
    for pattern, form in _OBJECT_PATTERNS:
        if found := pattern.match(statement):
            parts = {key: " ".join(value.split()) for key, value in found.groupdict().items() if value}
            return form.format(**{**parts, "kind": parts.get("kind", "").upper()})
    if error.toc:
        desc = next((d for d in _TOC_DESCS if error.toc.startswith(d + " ")), None)
        if desc:
            return f"{desc} {error.toc[len(desc) + 1:].rsplit(' ', 1)[0]}".strip()
    return None


def _classify(error: _Error) -> dict[str, Any]:
    obj = _object(error)
    primary = error.text.splitlines()[0] if error.text else ""
    details = [" ".join(line.split()) for line in error.text.splitlines()[1:] if line.startswith(("DETAIL:", "HINT:"))]
    message = "; ".join([primary, *details])
    if not error.sql:
        return _item(LOSS, obj, message, None, f"pg_restore stopped or could not go on: {primary}")
    if error.severity not in (None, "ERROR"):
        return _item(LOSS, obj, message, error.command,
                     f"the server ended the statement with {error.severity}: the session may be lost")
    command = " ".join((error.command or ("COPY" if error.copy_table is not None else "")).split())
    owner = re.search(r"OWNER TO (.+?);?$", command)
    role = re.fullmatch(r'role "((?:[^"]|"")*)" does not exist', primary)
    grantees = dict.fromkeys(re.findall(r'\b(?:TO|FROM) ("(?:[^"]|"")*"|[\w$]+)', command))
    others = [g for g in grantees if role is None or g.strip('"') != role.group(1)]
    facts = {"obj": obj or "the object", "primary": primary, "owner": owner.group(1) if owner else "its owner",
             "role": role.group(1) if role else "", "also": f"; the entry's other grants ({', '.join(others)}) were "
             "not applied either" if others else ""}
    for rule in _RULES:
        found = re.search(rule.message, primary)
        if found and re.match(rule.command, command, re.IGNORECASE):
            return _item(rule.kind, obj, message, error.command, rule.reason.format(**facts, **found.groupdict()))
    return _item(LOSS, obj, message, error.command, f"not a known harmless message: {facts['obj']} may not have "
                 "loaded")


@dataclass(frozen=True)
class _Rule:
    """A message (searched in the server's primary message) and a command (matched at the start of the SQL)."""

    kind: str
    message: str
    reason: str
    command: str = ""


_OWNER_TO = r"ALTER .* OWNER TO "
# In order: the harmless cases are narrow; the rest say what was lost.
_RULES = (
    _Rule(HARMLESS, r'^schema "public" already exists$',
          "every database has a public schema; the target's stands in for the dumped one"),
    _Rule(HARMLESS, r'^extension "(?P<name>.+)" already exists$',
          "extension {name} is already installed in the target database"),
    _Rule(HARMLESS, r'^language "plpgsql" already exists$', "PL/pgSQL is installed in every database"),
    _Rule(HARMLESS, r"^must be owner of (?:extension|language) (?P<name>.+)$",
          "{name} is installed and owned by another role (built in, or installed by Azure); only its comment, which "
          "its own script sets, is not replaced", r"COMMENT ON (?:EXTENSION|LANGUAGE) "),
    _Rule(HARMLESS, r'^(?:role ".*" does not exist|must be (?:member of|able to SET) role .*)$',
          "ownership is not restored: {obj} stays owned by the role that loaded it, not {owner}", _OWNER_TO),
    _Rule(LOSS, r"", "ownership of {obj} could not be given to {owner}: {primary}", _OWNER_TO),
    _Rule(LOSS, r'^role ".*" does not exist$', "privileges lost: role \"{role}\" does not exist on the target, so "
          "{obj} was not restored{also}", r"(?:GRANT|REVOKE|ALTER DEFAULT PRIVILEGES)\b"),
    _Rule(LOSS, r"is not allow-listed|allowed to use CREATE EXTENSION",
          "the extension is not allowed on the target server: add it to azure.extensions (the loader must be a "
          "member of azure_pg_admin), then load again; objects using it fail too"),
    _Rule(LOSS, r"shared_preload_libraries", "the extension needs shared_preload_libraries on the target server "
          "(and a restart)"),
    _Rule(LOSS, r"", "rows not loaded: {obj} is missing or incomplete ({primary})", r"COPY\b"),
    _Rule(LOSS, r"permission denied|^must be ", "the loading admin may not do this on the target: {obj} did not "
          "apply"),
    _Rule(LOSS, r"\bdoes not exist\b", "{obj} did not load: it needs something that is missing, often because an "
          "earlier item failed"),
    _Rule(LOSS, r"\balready exists\b", "{obj} already existed in the target database, so the dumped definition "
          "was not applied (not known to be the same)"),
    _Rule(LOSS, r"", "{obj} was not created: {primary}", r"(?:CREATE|ALTER TABLE)\b"),
)
