"""The local PostgreSQL stand-in is shaped like a flexible server where a loader can tell the difference."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from devhost.postgres import ADMIN_ROLE, Postgres, start_postgres


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


NOT_ALLOWED = 'Extension "{}" is not allow-listed for "azure_pg_admin" users in Azure Database for PostgreSQL'


@pytest.fixture(scope="module")
def allowlisted() -> Iterator[Postgres]:
    """A cluster of its own with Azure's extension allowlist enforced (pg_trgm allowed)."""
    server = start_postgres(extension_allowlist=["pg_trgm"])
    try:
        yield server
    finally:
        server.stop()


def _admin_database(server: Postgres, name: str, template: str = "template1") -> None:
    with psycopg.connect(server.uri(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE {template}')


@pytest.mark.parametrize("template", ["template1", "template0"])
def test_the_extension_allowlist_holds_in_databases_made_from_either_template(allowlisted: Postgres,
                                                                              template: str) -> None:
    database = f"allow_{template}"
    _admin_database(allowlisted, database, template)
    with psycopg.connect(allowlisted.uri(database), autocommit=True) as connection:
        connection.execute("CREATE EXTENSION pg_trgm")
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            connection.execute("CREATE EXTENSION hstore")
        assert refused.value.diag.message_primary == NOT_ALLOWED.format("hstore")
        connection.execute("SET azure.extensions = 'hstore'")  # a session cannot widen the server's list
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not allow-listed"):
            connection.execute("CREATE EXTENSION hstore")
    allowlisted.sql("CREATE EXTENSION hstore", database)  # the superuser is not restricted, as on Azure


def test_allowing_an_extension_takes_effect_without_a_restart(allowlisted: Postgres) -> None:
    _admin_database(allowlisted, "allow_later")
    allowlisted.set_allowed_extensions(["pg_trgm", "citext"])
    try:
        assert allowlisted.allowed_extensions() == ["pg_trgm", "citext"]
        with psycopg.connect(allowlisted.uri("allow_later"), autocommit=True) as connection:
            connection.execute("CREATE EXTENSION citext")
    finally:
        allowlisted.set_allowed_extensions(["pg_trgm"])


def test_only_azure_pg_admin_members_may_create_extensions(allowlisted: Postgres) -> None:
    allowlisted.sql("CREATE ROLE plain_user LOGIN PASSWORD 'plain-password'")
    allowlisted.sql("CREATE DATABASE allow_plain OWNER plain_user")
    with psycopg.connect(allowlisted.uri("allow_plain", user="plain_user", password="plain-password"),
                         autocommit=True) as connection, \
            pytest.raises(psycopg.errors.InsufficientPrivilege,
                          match='Only members of "azure_pg_admin" are allowed to use CREATE EXTENSION'):
        connection.execute("CREATE EXTENSION pg_trgm")


def test_an_entra_principal_signs_in_with_its_token_until_it_expires(postgres: Postgres) -> None:
    postgres.create_entra_principal("entra-probe")
    attributes = postgres.sql("select rolcanlogin, rolcreatedb, rolcreaterole, rolreplication, rolsuper, "
                              "pg_has_role('entra-probe', 'azure_pg_admin', 'member') from pg_roles "
                              "where rolname = 'entra-probe'")
    assert attributes == [(True, True, True, False, False, True)]
    postgres.set_token_password("entra-probe", "eyJ.token.one", time.time() + 2)
    with psycopg.connect(postgres.uri(user="entra-probe", password="eyJ.token.one"), autocommit=True) as session:
        time.sleep(2.5)
        assert session.execute("select current_user").fetchone() == ("entra-probe",)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(postgres.uri(user="entra-probe", password="eyJ.token.one")).close()
