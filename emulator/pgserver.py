"""The real local PostgreSQL behind an emulated flexible server: what ARM changes there, done as its superuser.

Only two things cross from the control plane into the database, as on Azure: the ``azure.extensions`` allowlist
(a server parameter saved through ARM) and the Entra token a managed identity signs in with (set as its role's
password, valid until the token expires, so an expired token fails new logins while open sessions go on).
"""

from __future__ import annotations

from datetime import UTC, datetime

ALLOWLIST_GUC = "azure.extensions"


def _run(dsn: str, statements: list[object]) -> list[tuple[object, ...]]:
    import psycopg

    rows: list[tuple[object, ...]] = []
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as connection:
        for statement in statements:
            cursor = connection.execute(statement)  # type: ignore[call-overload]
            rows = list(cursor.fetchall()) if cursor.description else []
    return rows


def apply_allowlist(dsn: str, value: str) -> None:
    """ALTER SYSTEM SET azure.extensions, then reload: new CREATE EXTENSIONs see it at once."""
    from psycopg import sql

    # ALTER SYSTEM takes a custom parameter only once the session knows it (a placeholder).
    known = sql.SQL("SELECT set_config({0}, coalesce(current_setting({0}, true), ''), false)").format(
        sql.Literal(ALLOWLIST_GUC))
    _run(dsn, [known, sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.SQL(ALLOWLIST_GUC), sql.Literal(value)),
               sql.SQL("SELECT pg_reload_conf()")])


def set_token_password(dsn: str, role: str, token: str, expires_on: int) -> None:
    """The role's password becomes the token, VALID UNTIL its expiry (PostgreSQL checks it only at login)."""
    from psycopg import sql

    until = datetime.fromtimestamp(expires_on, UTC).isoformat()
    _run(dsn, [sql.SQL("ALTER ROLE {} PASSWORD {} VALID UNTIL {}").format(
        sql.Identifier(role), sql.Literal(token), sql.Literal(until))])


def server_version(dsn: str) -> tuple[str, str]:
    """(major, minor) of the real server, as a flexible server's ``version`` and ``minorVersion`` read."""
    rows = _run(dsn, ["SHOW server_version"])
    full = str(rows[0][0]).split()[0]
    return full.split(".")[0], full
