"""What the loader asks of the server over SQL (psycopg): databases and their oids, roles, running statements
one by one with their errors kept, dropping only a database with the expected oid, ANALYZE, and the catalog and
row counts the checks compare with the dump.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from .auth import Target
from .checks import CatalogObject
from .dbscript import quote_ident

ROLE_FLAGS = ("rolsuper", "rolreplication", "rolbypassrls")
_CATALOG = """
select case c.relkind when 'v' then 'view' when 'm' then 'matview' when 'S' then 'sequence'
            when 'i' then 'index' when 'I' then 'index' else 'table' end, n.nspname, c.relname
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I')
union all
select 'constraint', n.nspname, c.relname || ' ' || con.conname
  from pg_constraint con join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = con.connamespace
"""


def connect(target: Target, database: str) -> psycopg.Connection[Any]:
    """An autocommit connection with a fresh password (CREATE/DROP DATABASE cannot run in a transaction)."""
    return psycopg.connect(**target.connect_kwargs(database), autocommit=True)


def databases(connection: psycopg.Connection[Any]) -> dict[str, int]:
    return {str(name): int(oid) for name, oid in connection.execute("select datname, oid from pg_database")}


def roles(connection: psycopg.Connection[Any]) -> set[str]:
    return {str(name) for (name,) in connection.execute("select rolname from pg_roles")}


def role_flags(connection: psycopg.Connection[Any]) -> dict[str, tuple[bool, bool, bool]]:
    """Each role's SUPERUSER, REPLICATION and BYPASSRLS attributes."""
    rows = connection.execute(f"select rolname, {', '.join(ROLE_FLAGS)} from pg_roles")  # noqa: S608 - constants
    return {str(r[0]): (bool(r[1]), bool(r[2]), bool(r[3])) for r in rows}


def current_user(connection: psycopg.Connection[Any]) -> str:
    row = connection.execute("select current_user").fetchone()
    return str(row[0]) if row else ""


def is_member(connection: psycopg.Connection[Any], role: str) -> bool:
    """Whether the loader can act as ``role`` (to give it ownership)."""
    row = connection.execute("select pg_has_role(current_user, %s, 'MEMBER')", (role,)).fetchone()
    return bool(row and row[0])


def as_restore_error(statement: str, error: psycopg.Error) -> str:
    """An error in pg_restore's wording, so the one classifier reads the loader's own statements' errors too."""
    diag = error.diag
    severity = diag.severity or "ERROR"
    primary = diag.message_primary or str(error).strip()
    return f"pg_restore: error: could not execute query: {severity}:  {primary}\nCommand was: {statement}\n"


def execute_each(connection: psycopg.Connection[Any], statements: Iterable[str]) -> tuple[int, list[str]]:
    """Run statements one by one (autocommit); how many succeeded and each failure in pg_restore's wording."""
    applied, failures = 0, []
    for statement in statements:
        try:
            connection.execute(statement.encode())
            applied += 1
        except psycopg.Error as exc:
            failures.append(as_restore_error(statement, exc))
    return applied, failures


class OidChanged(RuntimeError):
    """The database to replace has another oid than the ledger's: someone else made it again since."""


def drop_if_oid(connection: psycopg.Connection[Any], name: str, oid: int) -> None:
    """DROP DATABASE, only when the database still has ``oid`` (checked just before dropping)."""
    row = connection.execute("select oid from pg_database where datname = %s", (name,)).fetchone()
    if row is None:
        return
    if int(row[0]) != oid:
        raise OidChanged(f"database {name!r} now has oid {row[0]}, not {oid}: not dropped")
    connection.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))


def database_owner(connection: psycopg.Connection[Any], name: str) -> str | None:
    row = connection.execute("select pg_get_userbyid(datdba) from pg_database where datname = %s",
                             (name,)).fetchone()
    return str(row[0]) if row else None


def database_oid(connection: psycopg.Connection[Any], name: str) -> int | None:
    row = connection.execute("select oid from pg_database where datname = %s", (name,)).fetchone()
    return int(row[0]) if row else None


def analyze(target: Target, database: str) -> None:
    with connect(target, database) as connection:
        connection.execute("ANALYZE")


def catalog_objects(connection: psycopg.Connection[Any]) -> list[CatalogObject]:
    return [CatalogObject(str(k), str(s), str(n)) for k, s, n in connection.execute(_CATALOG)]


def row_counts(connection: psycopg.Connection[Any], tables: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Exact row counts (count(*)) of the tables that exist; missing tables are left out."""
    counts: dict[tuple[str, str], int] = {}
    for schema, name in tables:
        statement = f"select count(*) from {quote_ident(schema)}.{quote_ident(name)}"  # noqa: S608 - quoted
        try:
            row = connection.execute(statement.encode()).fetchone()
        except psycopg.Error:
            continue
        counts[(schema, name)] = int(row[0]) if row else 0
    return counts
