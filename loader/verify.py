"""Running the checks that prove a loaded database's data (docs/loading.md, "Checks that prove the data"):
user invariants, amcheck, and the comparison with the live source server. Each returns the report's item for it;
an item's outcome says how the check went, and a check that could not run says why (never an exception).

User SQL runs read-only three ways at once: a ``READ ONLY`` transaction that is always rolled back, with
``default_transaction_read_only`` on and a statement timeout set inside it, and one statement only (psycopg's
extended protocol, which refuses a second statement). ``:recovery_point_time`` is a bound parameter.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from .auth import Target, default_sslmode
from .proofs import (
    ERROR,
    FAILED,
    PASSED,
    RECOVERY_POINT_PARAMETER,
    SKIPPED,
    Invariant,
    SourceComparison,
    as_value,
    bind_recovery_point,
    compare_rows,
    invariant_item,
    judge,
    source_estimate,
)
from .report import DatabaseReport

MAX_FAILURES = 100
# Objects with oids below 16384 (FirstNormalObjectId) are the system's own: only the loaded ones are checked.
_INDEXES = """
select c.oid, n.nspname, c.relname from pg_index i join pg_class c on c.oid = i.indexrelid
  join pg_namespace n on n.oid = c.relnamespace join pg_am a on a.oid = c.relam
 where a.amname = 'btree' and c.relkind = 'i' and c.relpersistence <> 't' and i.indisvalid and i.indisready
   and c.oid >= 16384 order by n.nspname, c.relname
"""
_TABLES = """
select c.oid, n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
  join pg_am a on a.oid = c.relam
 where a.amname = 'heap' and c.relkind in ('r', 'm') and c.relpersistence <> 't' and c.relispopulated
   and c.oid >= 16384 order by n.nspname, c.relname
"""
_SOURCE_ROWS = """
select n.nspname, c.relname, c.reltuples, s.n_live_tup from pg_class c
  join pg_namespace n on n.oid = c.relnamespace left join pg_stat_user_tables s on s.relid = c.oid
 where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'
"""


@dataclass(frozen=True)
class Proofs:
    """What to check after a database loaded (the request's ``checks``, ``amcheck``, ``compareWithSource``)."""

    checks: list[Invariant] = field(default_factory=list)
    amcheck: bool = False
    compare_with_source: SourceComparison | None = None
    recovery_point_time: datetime | None = None
    timeout_seconds: float = 60.0

    def wanted(self, source_database: str) -> bool:
        return self.amcheck or self.compare_with_source is not None or any(
            c.database == source_database for c in self.checks)


def run_proofs(target: Target, entry: DatabaseReport, proofs: Proofs) -> list[dict[str, Any]]:
    """Every check asked for this database, in order: its invariants, amcheck, the source comparison."""
    items = [run_invariant(target, entry.target, check, proofs.recovery_point_time, proofs.timeout_seconds)
             for check in proofs.checks if check.database == entry.source]
    if proofs.amcheck:
        items.append(run_amcheck(target, entry.target))
    if proofs.compare_with_source is not None:
        loaded = {(str(t["schema"] or ""), str(t["name"])): t.get("rows") for t in entry.tables}
        items.append(compare_with_source(target, entry.source, loaded, proofs.compare_with_source,
                                         proofs.timeout_seconds))
    return items


@contextmanager
def read_only(target: Target, database: str, timeout_seconds: float) -> Iterator[psycopg.Connection[Any]]:
    """A connection inside a READ ONLY transaction with a statement timeout, rolled back whatever happens."""
    with psycopg.connect(**target.connect_kwargs(database)) as connection:
        connection.read_only = True
        with connection.transaction(force_rollback=True):
            connection.execute("select set_config('default_transaction_read_only', 'on', true), "
                               "set_config('statement_timeout', %s, true)", (f"{int(timeout_seconds * 1000)}ms",))
            yield connection


def _sql_error(exc: psycopg.Error, timeout_seconds: float) -> str:
    state = getattr(exc.diag, "sqlstate", None)
    text = (exc.diag.message_primary if getattr(exc, "diag", None) else None) or str(exc).strip()
    if state == "25006":
        return f"the check tried to write, and checks run read-only ({text}); make it a query"
    if state == "57014":
        return f"the check ran longer than {timeout_seconds:g}s and was cancelled; make it cheaper"
    return f"SQL error{f' {state}' if state else ''}: {text}"


def run_invariant(target: Target, database: str, check: Invariant, recovery_point_time: datetime | None,
                  timeout_seconds: float) -> dict[str, Any]:
    """One user invariant: one row of one column, compared with its expectation."""
    query, uses_time = bind_recovery_point(check.sql)
    if uses_time and recovery_point_time is None:
        return invariant_item(check, ERROR, None, "the check uses :recovery_point_time but the request has no "
                                                  "recoveryPointTime; give it, or drop the parameter")
    params = {RECOVERY_POINT_PARAMETER: recovery_point_time} if uses_time else {}
    try:
        with read_only(target, database, timeout_seconds) as connection, connection.cursor() as cursor:
            rows = []
            for row in cursor.stream(query.encode(), params):  # extended protocol: one statement only
                rows.append(row)
                if len(rows) > 1:
                    break
            columns = len(cursor.description or ())
    except psycopg.Error as exc:
        return invariant_item(check, ERROR, None, _sql_error(exc, timeout_seconds))
    if columns != 1 or len(rows) != 1:
        shape = f"{'more than one' if len(rows) > 1 else len(rows)} row(s) of {columns} column(s)"
        return invariant_item(check, ERROR, None, f"the check returned {shape}; it must return one row of one "
                                                  "column")
    value = as_value(rows[0][0])
    outcome, message = judge(value, check.expected)
    return invariant_item(check, outcome, value, message)


def _amcheck_item(outcome: str, indexes: int, relations: int, failures: list[dict[str, str]],
                  message: str) -> dict[str, Any]:
    return {"name": "amcheck", "outcome": outcome, "indexes": indexes, "relations": relations,
            "failures": failures, "message": message}


def run_amcheck(target: Target, database: str) -> dict[str, Any]:
    """``bt_index_check`` on every B-tree index and ``verify_heapam`` on every table (where amcheck has it).
    The extension is created if the server allows it, and dropped again afterwards when the loader made it."""
    try:
        with psycopg.connect(**target.connect_kwargs(database), autocommit=True) as connection:
            schema = _extension_schema(connection)
            created = False
            if schema is None:
                try:
                    connection.execute("CREATE EXTENSION amcheck")
                except psycopg.Error as exc:
                    return _amcheck_item(SKIPPED, 0, 0, [], f"the amcheck extension could not be created "
                                         f"({str(exc).strip()}); allow amcheck in the server's azure.extensions "
                                         "parameter to check indexes and tables")
                created, schema = True, _extension_schema(connection)
            try:
                return _amcheck(connection, str(schema))
            finally:
                if created:
                    connection.execute("DROP EXTENSION IF EXISTS amcheck")
    except psycopg.Error as exc:
        return _amcheck_item(ERROR, 0, 0, [], f"amcheck could not run: {str(exc).strip()}")


def _extension_schema(connection: psycopg.Connection[Any]) -> str | None:
    row = connection.execute("select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
                             "where e.extname = 'amcheck'").fetchone()
    return str(row[0]) if row else None


class _NotAllowed(Exception):
    """The loader's role may not run amcheck's functions."""


def _amcheck(connection: psycopg.Connection[Any], schema: str) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    index_check = sql.SQL("select {}.bt_index_check(%s::oid::regclass)").format(sql.Identifier(schema))
    heap_check = sql.SQL("select blkno, offnum, attnum, msg from {}.verify_heapam(%s::oid::regclass) limit 20"
                         ).format(sql.Identifier(schema))
    row = connection.execute("select exists (select 1 from pg_proc p join pg_namespace n on n.oid = "
                             "p.pronamespace where p.proname = 'verify_heapam' and n.nspname = %s)",
                             (schema,)).fetchone()
    has_heap = bool(row and row[0])
    indexes = connection.execute(_INDEXES).fetchall()
    tables = connection.execute(_TABLES).fetchall() if has_heap else []
    try:
        for oid, namespace, name in indexes:
            _each(connection, index_check, oid, f"index {namespace}.{name}", failures)
        for oid, namespace, name in tables:
            _each(connection, heap_check, oid, f"table {namespace}.{name}", failures)
    except _NotAllowed as exc:
        return _amcheck_item(SKIPPED, 0, 0, [], f"the loader's role may not run amcheck ({exc}); grant it EXECUTE "
                                                "on bt_index_check and verify_heapam to check indexes and tables")
    outcome = FAILED if failures else PASSED
    what = f"{len(indexes)} B-tree index(es) and {len(tables)} table(s) checked"
    if failures:
        message = (f"{what}: {len(failures)} problem(s), e.g. {failures[0]['object']}: {failures[0]['message']}; "
                   "the backup or the load is corrupt: restore another recovery point and report it")
    else:
        message = f"{what}: no corruption found" + ("" if has_heap else " (this amcheck has no verify_heapam)")
    return _amcheck_item(outcome, len(indexes), len(tables), failures[:MAX_FAILURES], message)


def _each(connection: psycopg.Connection[Any], statement: sql.Composed, oid: int, label: str,
          failures: list[dict[str, str]]) -> None:
    try:
        rows = connection.execute(statement, (oid,)).fetchall()
    except psycopg.errors.InsufficientPrivilege as exc:
        raise _NotAllowed(str(exc).strip()) from exc
    except psycopg.errors.UndefinedTable:
        return  # dropped meanwhile: nothing to check
    except psycopg.Error as exc:
        failures.append({"object": label, "message": str(exc).strip()})
        return
    for row in rows:
        if len(row) == 4:  # verify_heapam: one row per problem
            failures.append({"object": label, "message": f"block {row[0]}, offset {row[1]}, attribute {row[2]}: "
                                                         f"{row[3]}"})


def source_target(target: Target, comparison: SourceComparison, env: Mapping[str, str] | None = None) -> Target:
    """The source server, signed in to as the loader signs in to the target (same user, same token)."""
    host = comparison.host
    return target.with_params(host=host, port=str(comparison.port or target.port),
                              sslmode=default_sslmode(host, os.environ if env is None else env))


def compare_with_source(target: Target, database: str, loaded: Mapping[tuple[str, str], int | None],
                        comparison: SourceComparison, timeout_seconds: float) -> dict[str, Any]:
    """The loaded rows against the live source's estimates (``pg_class.reltuples``, else
    ``pg_stat_user_tables.n_live_tup``), read-only. Only the dump's tables are compared."""
    try:
        with read_only(source_target(target, comparison), database, timeout_seconds) as connection:
            found = connection.execute(_SOURCE_ROWS).fetchall()
    except psycopg.Error as exc:
        return {"name": "sourceComparison", "outcome": ERROR, "minRowRatio": comparison.min_row_ratio,
                "tables": [], "failed": [],
                "message": f"could not read database {database!r} on the source server {comparison.host}: "
                           f"{str(exc).strip()}; check that the loader's identity may sign in to it"}
    estimates = {(str(s), str(n)): source_estimate(None if t is None else float(t), None if live is None
                                                   else int(live)) for s, n, t, live in found}
    return compare_rows(loaded, {k: v for k, v in estimates.items() if k in loaded}, comparison.min_row_ratio)
