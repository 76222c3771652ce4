"""Loading one database: replace (when allowed), create it like the dumped one, extensions, pg_restore, ANALYZE,
then the checks. Every step's failure is recorded in the database's report entry and the load's error.

Ownership is kept when every owner role exists and the loader can act as it (it grants itself a membership it
lacks until the checks are done, then revokes it); otherwise the restore runs with ``--no-owner`` and the report
says why.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from . import database as db
from .auth import Target
from .checks import empty_tables_with_data, object_check, table_rows
from .datablocks import tables_with_rows
from .dbscript import database_script, owner_statement, quote_ident
from .messages import classify_restore_output, has_loss
from .pgrestore import SECTIONS, PgRestoreError, RestoreRun, entries_script, restore
from .prepare import Prepared
from .proofs import failed_names
from .report import Report, step_error_code
from .safety import REPLACE, Decision
from .toc import TocEntry, list_file
from .verify import Proofs, run_proofs

_WITH_SCHEMA = re.compile(r'WITH SCHEMA ((?:"(?:[^"]|"")+")|[^\s;]+)\s*;')


class DatabaseStepFailed(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


@dataclass
class Context:
    target: Target
    program: str
    jobs: int
    report: Report
    progress: Callable[[str, str], None] = lambda database, phase: None
    proofs: Proofs = field(default_factory=Proofs)
    # Called with the report each time a database has been created: the report so far goes next to the files, so
    # a loader that dies later (killed at a deadline, out of memory) still tells what it created.
    created: Callable[[Report], None] = lambda report: None


@dataclass
class _Memberships:
    """Roles the loader made itself a member of, to give them ownership; revoked when the database is done."""

    granted: list[str] = field(default_factory=list)

    def ensure(self, connection: psycopg.Connection[Any], role: str) -> bool:
        if db.is_member(connection, role):
            return True
        try:
            connection.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
        except psycopg.Error:
            return False
        self.granted.append(role)
        return True

    def revoke(self, connection: psycopg.Connection[Any]) -> None:
        for role in reversed(self.granted):
            connection.execute(sql.SQL("REVOKE {} FROM CURRENT_USER").format(sql.Identifier(role)))
        self.granted.clear()


def classified(run: RestoreRun) -> list[dict[str, Any]]:
    """Every pg_restore message, classified; a failure the classifier did not name is still a loss."""
    items = list(classify_restore_output(run.stderr))
    fatal = any(code not in (0, 1) for code in run.returncodes) or (
        any(code == 1 for code in run.returncodes) and not run.errors_ignored)
    if fatal and not has_loss(items):
        last = next((line for line in reversed(run.stderr.splitlines()) if line.strip()), "no message")
        items.append({"class": "loss", "object": None, "message": last, "command": None,
                      "reason": f"pg_restore stopped (exit {max(run.returncodes)}): not everything was restored"})
    elif not run.ok and not items:
        items.append({"class": "loss", "object": None, "message": "pg_restore reported errors and no message",
                      "command": None, "reason": "errors the loader cannot attribute: treated as a loss"})
    return items


def load_database(ctx: Context, prepared: Prepared, decision: Decision) -> None:
    """Load one database; its report entry and the load's error say how it went.

    A loss (a grant, a setting, an object that did not load) does not stop the database: the rest still loads,
    ANALYZE and the checks still run so the report shows what is there, and the first loss's step fails it. The
    memberships taken to keep owners last until the checks have counted the rows (the owners' tables are
    readable through them)."""
    entry = prepared.report
    memberships = _Memberships()
    deferred: list[DatabaseStepFailed] = []
    try:
        with db.connect(ctx.target, ctx.target.maintenance_db) as admin:
            try:
                _timed(entry.durations, "create",
                       lambda: _keep(deferred, lambda: _create(ctx, prepared, decision, admin, memberships)))
                no_owner = _owners(prepared, admin, memberships)
                _timed(entry.durations, "restore", lambda: _keep(deferred, lambda: _restore(ctx, prepared, no_owner)))
                ctx.progress(entry.target, "analyze")
                _timed(entry.durations, "analyze",
                       lambda: _step("analyze", lambda: db.analyze(ctx.target, entry.target)))
                ctx.progress(entry.target, "checks")
                _timed(entry.durations, "checks", lambda: _keep(deferred, lambda: _checks(ctx, prepared)))
            finally:
                memberships.revoke(admin)
        if deferred:
            raise deferred[0]
        entry.status = "loaded"
    except DatabaseStepFailed as exc:
        entry.status = "failed"
        ctx.report.fail(exc.step, step_error_code(exc.step), f"{entry.target}: {exc}")
    except (psycopg.Error, PgRestoreError) as exc:
        entry.status = "failed"
        ctx.report.fail("restore", step_error_code("restore"), f"{entry.target}: {exc}")


class _Lost(DatabaseStepFailed):
    """A loss after which the database still goes on loading (its failure is raised at the end)."""


def _keep(deferred: list[DatabaseStepFailed], action: Callable[[], None]) -> None:
    """Run a step; a loss it reports is kept for the end, any other failure stops the database."""
    try:
        action()
    except _Lost as exc:
        deferred.append(exc)


def _timed(durations: dict[str, float], name: str, action: Callable[[], None]) -> None:
    started = time.monotonic()
    try:
        action()
    finally:
        durations[name] = durations.get(name, 0.0) + time.monotonic() - started


def _step(step: str, action: Callable[[], None]) -> None:
    try:
        action()
    except (psycopg.Error, PgRestoreError, db.OidChanged) as exc:
        raise DatabaseStepFailed(step, str(exc).strip()) from exc


def _create(ctx: Context, prepared: Prepared, decision: Decision, admin: psycopg.Connection[Any],
            memberships: _Memberships) -> None:
    """Drop the replaceable database, create the target with the dump's settings, comment and privileges."""
    entry, toc = prepared.report, prepared.toc
    ctx.progress(entry.target, "create")
    if decision.action == REPLACE and decision.oid is not None:
        owner = db.database_owner(admin, entry.target)
        if owner:
            memberships.ensure(admin, owner)  # the load gave it to the dumped owner; dropping takes its rights
        _step("create", lambda: db.drop_if_oid(admin, entry.target, decision.oid or 0))
    script = database_script("", entry.source, entry.target)
    if any(e.desc == "DATABASE" for e in toc.entries):
        text = entries_script(ctx.program, prepared.archive, list_file(toc.database_entries), create=True)
        script = database_script(text, toc.database or entry.source, entry.target)
    create = script.create or f"CREATE DATABASE {quote_ident(entry.target)};"
    try:
        admin.execute(create.encode())
    except psycopg.Error as exc:
        entry.messages.extend(classify_restore_output(db.as_restore_error(create, exc)))
        raise DatabaseStepFailed("create", f"CREATE DATABASE failed: {str(exc).strip()}") from exc
    oid = db.database_oid(admin, entry.target)
    ctx.report.created.append({"database": entry.target, "oid": oid})
    ctx.created(ctx.report)
    statements = list(script.rest)
    if script.owner and script.owner in db.roles(admin) and memberships.ensure(admin, script.owner):
        statements.insert(0, owner_statement(entry.target, script.owner))
    _, failures = db.execute_each(admin, statements)
    items = list(classify_restore_output("".join(failures)))
    entry.messages.extend(items)
    if has_loss(items):
        raise _Lost("create", "the database's settings, comment or privileges did not all apply")


def _owners(prepared: Prepared, admin: psycopg.Connection[Any], memberships: _Memberships) -> bool:
    """Whether the restore must run with --no-owner (and the report says why)."""
    entry = prepared.report
    owners = prepared.toc.owners
    missing = sorted(owners - db.roles(admin))
    if missing:
        entry.owners = f"not kept (--no-owner): role(s) {', '.join(missing)} do not exist on the target"
        return True
    refused = [role for role in sorted(owners) if not memberships.ensure(admin, role)]
    if refused:
        entry.owners = f"not kept (--no-owner): the loader cannot act as {', '.join(refused)}"
        return True
    entry.owners = "kept"
    return False


def _extension_entries(ctx: Context, prepared: Prepared) -> list[TocEntry]:
    """EXTENSION entries (and their comments), with the SCHEMA entries they are created in."""
    toc = prepared.toc
    extensions = toc.extension_entries()
    if not extensions:
        return []
    script = entries_script(ctx.program, prepared.archive, list_file(toc.of("EXTENSION")), create=False)
    schemas = {_unquote(name) for name in _WITH_SCHEMA.findall(script)}
    wanted = {e.dump_id for e in extensions} | {e.dump_id for e in toc.of("SCHEMA") if e.tag in schemas}
    return [e for e in toc.entries if e.dump_id in wanted]


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _run(ctx: Context, prepared: Prepared, entries: Iterable[TocEntry], *, step: str, no_owner: bool,
         sections: tuple[str, ...] | None, jobs: int) -> None:
    entry = prepared.report
    run = restore(ctx.program, prepared.archive, ctx.target, entry.target, list_file(entries), jobs=jobs,
                  no_owner=no_owner, sections=sections)
    items = classified(run)
    entry.messages.extend(items)
    if has_loss(items):
        losses = [i for i in items if i.get("class") == "loss"]
        failure = _Lost if step == "restore" else DatabaseStepFailed
        raise failure(step, f"{len(losses)} loss(es), e.g. {losses[0].get('message')}")


def _restore(ctx: Context, prepared: Prepared, no_owner: bool) -> None:
    """Extensions first (their own step), then every other entry but the database's own."""
    entry = prepared.report
    ctx.progress(entry.target, "extensions")
    try:
        first = _extension_entries(ctx, prepared)
    except PgRestoreError as exc:
        raise DatabaseStepFailed("extensions", str(exc)) from exc
    if first:
        _run(ctx, prepared, first, step="extensions", no_owner=no_owner, sections=None, jobs=1)
    done = {e.dump_id for e in first}
    rest = [e for e in prepared.toc.entries if e.dump_id not in done and not e.is_database_entry]
    ctx.progress(entry.target, "restore")
    sections = SECTIONS if ctx.target.token else None
    _run(ctx, prepared, rest, step="restore", no_owner=no_owner, sections=sections, jobs=ctx.jobs)


def _checks(ctx: Context, prepared: Prepared) -> None:
    entry, toc = prepared.report, prepared.toc
    tables = toc.of("TABLE")
    try:
        with db.connect(ctx.target, entry.target) as connection:
            entry.objects = object_check(toc.checked_objects(), db.catalog_objects(connection))
            rows = db.row_counts(connection, [(e.schema or "", e.tag) for e in tables])
    except psycopg.Error as exc:
        raise DatabaseStepFailed("checks", str(exc).strip()) from exc
    blocks = tables_with_rows(prepared.archive)
    has_data: dict[tuple[str, str], bool | None] = {}
    for data in toc.of("TABLE DATA"):
        has_data[(data.schema or "", data.tag)] = blocks.get(data.dump_id)
    for table in tables:
        has_data.setdefault((table.schema or "", table.tag), False)
    entry.tables = table_rows(tables, rows, has_data)
    problems = []
    if entry.objects["missing"]:
        problems.append(f"{len(entry.objects['missing'])} object(s) of the dump are missing")
    empty = empty_tables_with_data(entry.tables)
    if empty:
        names = ", ".join(f"{t['schema']}.{t['name']}" for t in empty[:5])
        problems.append(f"{len(empty)} table(s) whose dump holds rows have none: {names}")
    if ctx.proofs.wanted(entry.source):
        entry.checks = run_proofs(ctx.target, entry, ctx.proofs)
        failed = failed_names(entry.checks)
        if failed:
            problems.append(f"check(s) {', '.join(failed)} failed (see the database's checks)")
    if problems:
        raise _Lost("checks", "; ".join(problems))
