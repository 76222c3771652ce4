"""The local PostgreSQL stand-in is shaped like a flexible server where a loader can tell the difference."""

from __future__ import annotations

import psycopg
import pytest

from devhost.postgres import ADMIN_ROLE, Postgres


def test_the_admin_is_not_a_superuser_and_cannot_grant_replication(postgres: Postgres) -> None:
    with psycopg.connect(postgres.uri(), autocommit=True) as connection:
        row = connection.execute("select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
                                 "from pg_roles where rolname = current_user").fetchone()
        assert row == (False, True, True, False, False)
        connection.execute("create role replication_probe nologin")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="replication"):
            connection.execute("alter role replication_probe noreplication")
        connection.execute("drop role replication_probe")


def test_tcp_logins_need_the_password(postgres: Postgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.uri(password="wrong")).close()
    assert postgres.sql(f"select pg_has_role('{ADMIN_ROLE}', 'azure_pg_admin', 'member')") == [(True,)]
