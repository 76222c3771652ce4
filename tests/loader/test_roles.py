"""Cleaning a flexible server's roles.sql for a non-superuser admin: what is kept, what is skipped and why, and
that the result really runs as the admin (on the real PostgreSQL stand-in)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devhost.postgres import ADMIN_ROLE, Postgres, running_postgres
from loader.roles import CleanedRoles, clean_roles_script

ROLES_SQL = (Path(__file__).resolve().parents[2] / "emulator" / "fixtures" / "dumps" / "roles.sql").read_text()
TARGET_ROLES = {"azure_pg_admin", "azuresu", "replication", ADMIN_ROLE}


def clean(text: str, existing: set[str] | None = None) -> CleanedRoles:
    return clean_roles_script(text, existing_roles=TARGET_ROLES if existing is None else existing,
                              admin_role=ADMIN_ROLE)


def reasons(result: CleanedRoles) -> dict[str, str]:
    return {item["statement"]: item["reason"] for item in result.skipped}


@pytest.fixture(scope="module")
def target() -> Iterator[Postgres]:
    """A cluster of its own: roles are cluster-wide, and these tests create the fixture's roles."""
    with running_postgres() as server:
        yield server


def test_the_fixture_roles_file_keeps_what_the_documented_sed_loses_and_drops_what_it_misses() -> None:
    """Memberships GRANTED BY azuresu stay (without the clause); NOREPLICATION, \\restrict and the admin go."""
    result = clean(ROLES_SQL)
    assert "GRANT pg_read_all_stats TO analyst;" in result.statements
    assert "GRANT app_writer TO app_owner WITH ADMIN OPTION;" in result.statements
    assert 'CREATE ROLE "Data ""Team""";' in result.statements
    assert "ALTER ROLE analyst WITH INHERIT NOCREATEROLE NOCREATEDB LOGIN CONNECTION LIMIT 3 " \
           "VALID UNTIL '2030-01-01 00:00:00+00';" in result.statements
    assert "ALTER ROLE analyst SET search_path TO 'app', 'public';" in result.statements
    assert "COMMENT ON ROLE report_reader IS 'Read-only access to reports; granted to people, never to " \
           "services';" in result.statements
    text = "\n".join(result.statements)
    for gone in ("azuresu", "azure_pg_admin", "replication", "REPLICATION", "SUPERUSER", "BYPASSRLS", "GRANTED BY",
                 "\\restrict", f"CREATE ROLE {ADMIN_ROLE}"):
        assert gone not in text
    skipped = reasons(result)
    assert skipped["GRANT azure_pg_admin TO pgadmin WITH ADMIN OPTION GRANTED BY azuresu;"].startswith(
        'membership in "azure_pg_admin"')
    assert "already exists on the target" in skipped["CREATE ROLE pgadmin;"]
    assert "service role" in skipped["ALTER ROLE azuresu WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN "
                                     "REPLICATION BYPASSRLS;"]
    assert sum(1 for item in result.skipped if item["statement"].startswith("\\")) == 2
    assert all(item["reason"] for item in result.skipped)


def test_the_cleaned_fixture_runs_as_the_admin_and_grants_no_superuser_power(target: Postgres) -> None:
    """Every statement succeeds one by one through psycopg as the non-superuser admin; the roles come out right."""
    existing = {str(row[0]) for row in target.sql("select rolname from pg_roles")}
    result = clean_roles_script(ROLES_SQL, existing_roles=existing, admin_role=ADMIN_ROLE)
    with psycopg.connect(target.uri(), autocommit=True) as admin:
        for statement in result.statements:
            admin.execute(statement.encode())
    rows = target.sql("select rolname, rolsuper, rolreplication, rolbypassrls, rolcanlogin, rolconnlimit "
                      "from pg_roles where rolname in ('analyst', 'app_owner', 'Data \"Team\"', 'report_reader')")
    assert sorted(rows) == [("Data \"Team\"", False, False, False, False, -1),
                            ("analyst", False, False, False, True, 3), ("app_owner", False, False, False, True, -1),
                            ("report_reader", False, False, False, False, -1)]
    members = target.sql("select r.rolname, m.rolname, a.admin_option from pg_auth_members a "
                         "join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member "
                         "where m.rolname in ('analyst', 'app_owner', 'Data \"Team\"')")
    assert sorted(members) == [("app_writer", "Data \"Team\"", False), ("app_writer", "app_owner", True),
                               ("pg_read_all_stats", "analyst", False), ("report_reader", "Data \"Team\"", False),
                               ("report_reader", "analyst", False)]
    settings_rows = target.sql("select s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole "
                               "where r.rolname = 'analyst'")
    assert settings_rows == [(["statement_timeout=30s", "search_path=app, public"],)]
    assert target.sql("select shobj_description(oid, 'pg_authid') from pg_roles where rolname = 'report_reader'") \
        == [("Read-only access to reports; granted to people, never to services",)]


def test_quoted_names_multi_line_statements_and_comments() -> None:
    """Identifiers keep their quotes and case; comments and line breaks don't split or join statements."""
    text = ('CREATE ROLE "Weird ""name""" -- a comment; not a statement end\n  WITH\n  LOGIN /* ; */ NOINHERIT;\n'
            "CREATE ROLE Mixed;\nCOMMENT ON ROLE \"Weird \"\"name\"\"\" IS 'it''s; -- kept';\n"
            "GRANT Mixed TO \"Weird \"\"name\"\"\"\n  WITH ADMIN OPTION\n  GRANTED BY azuresu;")
    assert clean(text).statements == ['CREATE ROLE "Weird ""name""" WITH LOGIN NOINHERIT;', "CREATE ROLE mixed;",
                                      "COMMENT ON ROLE \"Weird \"\"name\"\"\" IS 'it''s; -- kept';",
                                      'GRANT mixed TO "Weird ""name""" WITH ADMIN OPTION;']


def test_strings_hide_what_looks_like_sql() -> None:
    """A semicolon or SUPERUSER inside an E'' or dollar-quoted string is text, as PostgreSQL reads it."""
    text = ("COMMENT ON ROLE a IS E'x\\' ; ALTER ROLE a SUPERUSER';\n"
            "COMMENT ON ROLE b IS $q$; ALTER ROLE b SUPERUSER$q$;")
    assert clean(text).statements == ["COMMENT ON ROLE a IS E'x\\' ; ALTER ROLE a SUPERUSER';",
                                      "COMMENT ON ROLE b IS $q$; ALTER ROLE b SUPERUSER$q$;"]


def test_superuser_only_attributes_are_removed_and_positive_ones_reported() -> None:
    """NO* attributes go silently (they are defaults); a SUPERUSER/REPLICATION/BYPASSRLS that was lost is a skip."""
    result = clean("CREATE ROLE ops WITH SUPERUSER LOGIN;\nALTER ROLE ops WITH NOSUPERUSER NOREPLICATION;\n"
                   "ALTER ROLE etl WITH REPLICATION BYPASSRLS NOLOGIN;\nCREATE ROLE old CREATEUSER;")
    assert result.statements == ["CREATE ROLE ops WITH LOGIN;", "ALTER ROLE etl WITH NOLOGIN;", "CREATE ROLE old;"]
    assert [item["reason"].split(":")[0] for item in result.skipped] == [
        "applied without SUPERUSER", "nothing left to set once superuser-only attributes are removed",
        "applied without REPLICATION, BYPASSRLS", "applied without SUPERUSER"]


def test_memberships_into_service_and_powerful_roles_are_skipped_with_reasons() -> None:
    """azure_pg_admin, the admin itself and the file-reaching predefined roles are never handed on; nothing is
    granted to service or predefined roles; other predefined roles are kept."""
    result = clean("GRANT azure_pg_admin, reader TO app GRANTED BY azuresu;\n"
                   "GRANT pg_execute_server_program TO app;\nGRANT pg_read_server_files TO app;\n"
                   "GRANT pgadmin TO app;\nGRANT reader TO azure_pg_admin, pg_monitor, app;\n"
                   "GRANT pg_monitor TO app;\nGRANT CURRENT_USER TO app;\nGRANT pg_database_owner TO app;")
    assert result.statements == ["GRANT reader TO app;", "GRANT reader TO app;", "GRANT pg_monitor TO app;"]
    skipped = [item["reason"] for item in result.skipped]
    assert len(skipped) == 8
    assert 'membership in "pg_execute_server_program" is not restored' in skipped[1]
    assert "would pass on azure_pg_admin" in skipped[3]
    assert '"pg_monitor" is a predefined role: nothing is granted to it' in skipped[5]


def test_membership_clauses_of_create_role_become_checked_grants() -> None:
    """CREATE ROLE ... IN ROLE azure_pg_admin must not smuggle the membership past the grant rules."""
    result = clean("CREATE ROLE x LOGIN IN ROLE azure_pg_admin, reader ROLE bob ADMIN carol;")
    assert result.statements == ["CREATE ROLE x WITH LOGIN;", "GRANT reader TO x;", "GRANT x TO bob;",
                                 "GRANT x TO carol WITH ADMIN OPTION;"]
    assert 'membership in "azure_pg_admin"' in result.skipped[0]["reason"]


def test_existing_roles_keep_their_attributes_but_get_settings_and_memberships() -> None:
    """The admin is not recreated or altered; per-role settings (also IN DATABASE) and its memberships apply."""
    result = clean(f"CREATE ROLE {ADMIN_ROLE};\nALTER ROLE {ADMIN_ROLE} WITH NOLOGIN;\n"
                   f"ALTER ROLE {ADMIN_ROLE} SET work_mem TO '64MB';\n"
                   "ALTER ROLE app IN DATABASE \"Sales DB\" SET search_path TO 'sales';\n"
                   f"GRANT reader TO {ADMIN_ROLE} GRANTED BY azuresu;\nCOMMENT ON ROLE {ADMIN_ROLE} IS 'x';")
    assert result.statements == [f"ALTER ROLE {ADMIN_ROLE} SET work_mem TO '64MB';",
                                 "ALTER ROLE app IN DATABASE \"Sales DB\" SET search_path TO 'sales';",
                                 f"GRANT reader TO {ADMIN_ROLE};"]
    assert len(result.skipped) == 3 and all("already exists" in item["reason"] for item in result.skipped)


def test_meta_commands_session_settings_and_other_statements() -> None:
    """psql meta-commands go; harmless preamble SETs stay; SET ROLE, string-syntax changes and non-role SQL go."""
    text = ("\\restrict abc123\nSET default_transaction_read_only = off;\nSET client_encoding = 'UTF8';\n"
            "SET standard_conforming_strings = on;\nSET standard_conforming_strings = off;\nSET ROLE azuresu;\n"
            "\\connect appdb\nCREATE DATABASE x;\nSELECT pg_catalog.set_config('search_path', '', false);\n"
            "GRANT SET ON PARAMETER log_statement TO app;\nGRANT SELECT ON t TO app;\n"
            "SECURITY LABEL FOR pgaadauth ON ROLE \"a@contoso.com\" IS 'aadauth,oid=1,type=user';\n"
            "\\unrestrict abc123\n")
    result = clean(text)
    assert result.statements == ["SET default_transaction_read_only = off;", "SET client_encoding = 'UTF8';",
                                 "SET standard_conforming_strings = on;"]
    skipped = reasons(result)
    assert set(skipped) == {"\\restrict abc123", "SET standard_conforming_strings = off;", "SET ROLE azuresu;",
                            "\\connect appdb", "CREATE DATABASE x;",
                            "SELECT pg_catalog.set_config('search_path', '', false);",
                            "GRANT SET ON PARAMETER log_statement TO app;", "GRANT SELECT ON t TO app;",
                            "SECURITY LABEL FOR pgaadauth ON ROLE \"a@contoso.com\" IS 'aadauth,oid=1,type=user';",
                            "\\unrestrict abc123"}
    assert "pgaadauth_create_principal" in skipped["SECURITY LABEL FOR pgaadauth ON ROLE \"a@contoso.com\" IS "
                                                   "'aadauth,oid=1,type=user';"]


def test_passwords_are_kept_in_statements_and_hidden_in_skips() -> None:
    verifier = "'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy'"
    result = clean(f"ALTER ROLE app WITH LOGIN PASSWORD {verifier};\nALTER ROLE azuresu WITH PASSWORD {verifier};")
    assert result.statements == [f"ALTER ROLE app WITH LOGIN PASSWORD {verifier};"]
    assert result.skipped[0]["statement"] == "ALTER ROLE azuresu WITH PASSWORD '***';"


def test_what_cannot_be_read_is_skipped() -> None:
    """Unterminated quotes, Unicode-escaped names and unknown options are skipped, never guessed at."""
    result = clean("CREATE ROLE x IN ROLE U&\"azure\\005fpg_admin\";\nALTER ROLE y WITH LOGIN FROBNICATE;\n"
                   "CREATE ROLE z PASSWORD 'open")
    assert result.statements == []
    assert [item["reason"].split(" ")[0] for item in result.skipped] == ["Unicode-escaped", "unrecognised", "an"]


# Property tests: statements built from the pieces a roles file (or a hostile one) can hold.
# Dangerous names alternate with ordinary ones: hypothesis favours the first entries of a list.
NAMES = ["azure_pg_admin", "app", "pg_execute_server_program", "reader", "azuresu", ADMIN_ROLE, "replication",
         'we"ird', "pg_write_server_files", "Mixed", "azure_superuser", "pg_monitor", "pg_read_server_files",
         "AZURE_PG_ADMIN", "current_user", "public"]
ATTRIBUTES = ["SUPERUSER", "nosuperuser", "Replication", "NOREPLICATION", "bypassrls", "NOBYPASSRLS", "CREATEUSER",
              "LOGIN", "nologin", "INHERIT", "CREATEDB", "CREATEROLE", "CONNECTION LIMIT 5", "CONNECTION LIMIT -1",
              "PASSWORD 'x;y'", "PASSWORD NULL", "VALID UNTIL 'infinity'", "SYSID 7", "IN ROLE {n}", "ROLE {n}, {n}",
              "ADMIN {n}", "IN GROUP {n}", "USER {n}", "FROBNICATE", "WITH"]
FORBIDDEN_WORDS = {"superuser", "nosuperuser", "replication", "noreplication", "bypassrls", "nobypassrls",
                   "createuser"}
OPTION_WORDS = {"with", "login", "nologin", "inherit", "noinherit", "createdb", "nocreatedb", "createrole",
                "nocreaterole", "connection", "limit", "password", "encrypted", "valid", "until", "null", "sysid"}
NEVER_GRANTED = {"azure_pg_admin", "azuresu", "azure_superuser", "replication", ADMIN_ROLE,
                 "pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"}
LEXEME = re.compile(r"""'(?:[^']|'')*'|\$\$.*?\$\$|"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*|\S""", re.DOTALL)


@st.composite
def names(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(NAMES))
    if name == name.lower() and '"' not in name and draw(st.booleans()):
        return draw(st.sampled_from([name, name.upper(), name.title()]))
    return '"' + name.replace('"', '""') + '"'


@st.composite
def statements(draw: st.DrawFn) -> str:
    name = draw(names())
    options = " ".join(draw(st.sampled_from(ATTRIBUTES)).replace("{n}", draw(names()))
                       for _ in range(draw(st.integers(0, 4))))
    kind = draw(st.sampled_from(["create", "alter", "set", "grant", "comment", "meta", "junk"]))
    remark = draw(st.sampled_from(["NULL", "'a; b -- c'", "$$ x $$"]))
    return {
        "create": f"CREATE {draw(st.sampled_from(['ROLE', 'USER', 'group']))} {name} {options}",
        "alter": f"ALTER ROLE {name} {options}",
        "set": f"ALTER ROLE {name} IN DATABASE appdb SET work_mem = '1MB'",
        "grant": f"GRANT {name}, {draw(names())} TO {draw(names())}"
                 + draw(st.sampled_from(["", " WITH ADMIN OPTION", " WITH INHERIT TRUE, SET FALSE"]))
                 + draw(st.sampled_from(["", " GRANTED BY azuresu", f" GRANTED BY {draw(names())}"])),
        "comment": f"COMMENT ON ROLE {name} IS {remark}",
        "meta": "\\restrict k3y\n\\connect appdb",
        "junk": draw(st.text(alphabet="abcSUPERUSER ;,()=-*/\n", max_size=30)),
    }[kind]


@st.composite
def scripts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(statements(), max_size=8))
    separators = st.sampled_from([";\n", ";", " ; -- note; SUPERUSER\n", ";\n/* ; */\n"])
    return "".join(part.replace(" ", draw(st.sampled_from([" ", "\n  "])), 1) + draw(separators) for part in parts)


def identifiers(lexemes: list[str]) -> list[str]:
    return [lexeme[1:-1].replace('""', '"') if lexeme.startswith('"') else lexeme.lower() for lexeme in lexemes
            if lexeme[0] == '"' or lexeme[0].isalpha() or lexeme[0] == "_"]


def assert_safe(statement: str) -> None:
    """An independent reading of one output statement: one statement, no superuser-only attribute, no service
    or file-reaching role handed on, nothing given to a service role."""
    lexemes = LEXEME.findall(statement)
    assert lexemes[-1] == ";" and ";" not in lexemes[:-1] and not statement.startswith("\\"), statement
    words = {lexeme.lower() for lexeme in lexemes if lexeme[0].isalpha()}
    assert not words & FORBIDDEN_WORDS, statement
    head = [lexeme.lower() for lexeme in lexemes[:2]]
    if head[0] == "grant":
        to = [lexeme.lower() for lexeme in lexemes].index("to")
        assert not set(identifiers(lexemes[1:to])) & NEVER_GRANTED, statement
        members = identifiers(lexemes[to + 1:])
        assert not any(m in NEVER_GRANTED - {ADMIN_ROLE} or m.startswith("pg_") for m in members), statement
    elif head in (["create", "role"], ["create", "user"], ["create", "group"], ["alter", "role"]):
        name = identifiers(lexemes[2:3])[0]
        assert name not in NEVER_GRANTED - {ADMIN_ROLE} and not name.startswith("pg_"), statement
        if "set" not in words:
            assert set(identifiers(lexemes[3:-1])) <= OPTION_WORDS, statement


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts())
def test_no_output_statement_grants_superuser_power_whatever_the_input(script: str) -> None:
    for statement in clean(script).statements:
        assert_safe(statement)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts())
def test_cleaning_is_idempotent(script: str) -> None:
    """Cleaning the cleaned statements again changes nothing and skips nothing."""
    first = clean(script)
    again = clean("\n".join(first.statements))
    assert again.statements == first.statements
    assert again.skipped == []
