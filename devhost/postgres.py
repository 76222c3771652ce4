"""Start and stop a real, throwaway PostgreSQL server (Debian's `postgresql`) on a loopback port it picks.

Loads and drills need a real database: tests, the demo and the benchmarks start one cluster each, in a temporary
folder, and throw it away afterwards. The server is shaped like an Azure flexible server where that matters to a
loader: the role the loader signs in as is not a superuser (LOGIN, CREATEDB, CREATEROLE, member of
`azure_pg_admin`, no REPLICATION, no BYPASSRLS), and TCP logins need a password (scram-sha-256), so a token used as
the password behaves as on Azure. The superuser is reached only through the cluster's own Unix socket.

Two Azure behaviours are shimmed on request, as the superuser: the extension allowlist (`azure.extensions`; a
non-superuser's CREATE EXTENSION of anything else fails with Azure's message) and Microsoft Entra logins (a role
made as `pgaadauth_create_principal(..., isAdmin => true)` makes it, whose password a managed-identity token
becomes, valid until the token expires: new logins with an expired token fail, open sessions go on).

`initdb` refuses to run as root; when the tests run as root (CI), the cluster runs as the `postgres` system user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from psycopg.sql import SQL, Composed

ADMIN_ROLE = "pgadmin"  # the target server's administrator, as Azure creates it
ADMIN_PASSWORD = "admin-password-for-local-tests"  # noqa: S105 - a throwaway local cluster
SERVICE_ROLES = ("azure_pg_admin", "azuresu", "replication")  # present on every flexible server
ALLOWLIST_GUC = "azure.extensions"  # the server parameter naming the extensions non-superusers may create
NOT_ALLOWED = 'Extension "%s" is not allow-listed for "azure_pg_admin" users in Azure Database for PostgreSQL'
NOT_A_MEMBER = 'Only members of "azure_pg_admin" are allowed to use CREATE EXTENSION'
# The allowlist check. It reads the parameter from the server's configuration files (through a SECURITY DEFINER
# helper), never the session, so a non-superuser's own `SET azure.extensions` cannot widen it. The objects live
# in pg_catalog, where pg_dump does not look; the event trigger is an ordinary one, visible in pg_event_trigger.
_ALLOWLIST_SQL = """
CREATE OR REPLACE FUNCTION pg_catalog.azure_allowed_extensions() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT coalesce((SELECT setting FROM pg_catalog.pg_file_settings
                   WHERE name = 'azure.extensions' AND error IS NULL ORDER BY seqno DESC LIMIT 1), '')
$$;
CREATE OR REPLACE FUNCTION pg_catalog.azure_check_extension_allowlist() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  command record;
  name text;
BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user) THEN
    RETURN;
  END IF;
  FOR command IN SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() WHERE object_type = 'extension' LOOP
    IF NOT pg_catalog.pg_has_role(session_user, 'azure_pg_admin', 'MEMBER') THEN
      RAISE EXCEPTION 'Only members of "azure_pg_admin" are allowed to use CREATE EXTENSION'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT extname INTO name FROM pg_catalog.pg_extension WHERE oid = command.objid;
    IF NOT (pg_catalog.lower(name) = ANY (pg_catalog.string_to_array(
        pg_catalog.replace(pg_catalog.lower(pg_catalog.azure_allowed_extensions()), ' ', ''), ','))) THEN
      RAISE EXCEPTION 'Extension "%" is not allow-listed for "azure_pg_admin" users in Azure Database for PostgreSQL',
        name USING ERRCODE = 'insufficient_privilege';
    END IF;
  END LOOP;
END
$$;
DROP EVENT TRIGGER IF EXISTS azure_extension_allowlist;
CREATE EVENT TRIGGER azure_extension_allowlist ON ddl_command_end WHEN TAG IN ('CREATE EXTENSION')
  EXECUTE FUNCTION pg_catalog.azure_check_extension_allowlist();
"""


class PostgresError(RuntimeError):
    """PostgreSQL is not installed, or the cluster did not start."""


def find_bindir() -> Path:
    """The newest installed PostgreSQL's programs (Debian: /usr/lib/postgresql/<major>/bin)."""
    root = Path("/usr/lib/postgresql")
    majors = sorted((p for p in root.glob("*/bin") if (p / "initdb").exists()),
                    key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if majors:
        return majors[-1]
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresError("PostgreSQL is not installed: run `make setup` (it installs Debian's postgresql), "
                        "or `apt-get install postgresql postgresql-contrib`")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Postgres:
    """A running cluster: its port, its socket folder, and how to reach it as the admin or the superuser."""

    bindir: Path
    datadir: Path
    socketdir: Path
    port: int
    run_as: str | None
    log: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def uri(self, database: str = "postgres", *, user: str = ADMIN_ROLE, password: str | None = ADMIN_PASSWORD) -> str:
        """A postgresql:// URI over TCP (password login, as on Azure)."""
        secret = f":{quote(password, safe='')}" if password is not None else ""
        return f"postgresql://{quote(user, safe='')}{secret}@{self.host}:{self.port}/{quote(database, safe='')}"

    def superuser_dsn(self, database: str = "postgres") -> str:
        """The superuser, over the cluster's Unix socket only (stand-ins use it to shape the server)."""
        return f"host={self.socketdir} port={self.port} dbname={database} user=postgres"

    def sql(self, statement: str | Composed | SQL, database: str = "postgres",
            params: Sequence[object] | None = None) -> list[tuple[object, ...]]:
        """Run one statement as the superuser; the rows it returns (autocommit, so CREATE DATABASE works).
        ``statement`` may be composed with psycopg.sql (identifiers, literals) and take ``params``."""
        import psycopg

        with psycopg.connect(self.superuser_dsn(database), autocommit=True) as connection:
            query = statement.encode() if isinstance(statement, str) else statement
            cursor = connection.execute(query, params)
            return list(cursor.fetchall()) if cursor.description else []

    def enforce_extension_allowlist(self, allowed: Iterable[str] = ()) -> None:
        """Install Azure's extension allowlist (in template0, template1 and every database, so new databases
        carry it) and allow ``allowed``. Idempotent; superusers are not restricted, as on Azure."""
        databases = [str(row[0]) for row in self.sql("SELECT datname FROM pg_database WHERE datallowconn")]
        for database in databases:
            self.sql(_ALLOWLIST_SQL, database)
        self.sql("ALTER DATABASE template0 ALLOW_CONNECTIONS true")
        try:
            self.sql(_ALLOWLIST_SQL, "template0")
        finally:
            self.sql("ALTER DATABASE template0 ALLOW_CONNECTIONS false")
        self.set_allowed_extensions(allowed)

    def set_allowed_extensions(self, names: Iterable[str]) -> None:
        """Set ``azure.extensions`` (ALTER SYSTEM + reload), as saving the server parameter does on Azure."""
        import psycopg
        from psycopg import sql

        value = ",".join(n.strip() for n in names if n.strip())
        with psycopg.connect(self.superuser_dsn(), autocommit=True) as connection:
            # ALTER SYSTEM takes a custom parameter only once the session knows it (a placeholder).
            connection.execute("SELECT set_config(%s, coalesce(current_setting(%s, true), ''), false)",
                               (ALLOWLIST_GUC, ALLOWLIST_GUC))
            connection.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.SQL(ALLOWLIST_GUC), sql.Literal(value)))
            connection.execute("SELECT pg_reload_conf()")

    def allowed_extensions(self) -> list[str]:
        """The allowlist as the check reads it."""
        rows = self.sql("SELECT pg_catalog.azure_allowed_extensions()")
        return [n for n in str(rows[0][0]).split(",") if n] if rows else []

    def create_entra_principal(self, role: str, *, admin: bool = True) -> None:
        """The login role of a managed identity, as `pgaadauth_create_principal(role, isAdmin => true, false)`
        makes it: LOGIN, CREATEDB, CREATEROLE, member of azure_pg_admin, no REPLICATION/BYPASSRLS. It has no
        password until a token is issued for it (see set_token_password)."""
        from psycopg import sql

        attributes = "LOGIN CREATEDB CREATEROLE" if admin else "LOGIN"
        verb = "ALTER" if self.sql("SELECT 1 FROM pg_roles WHERE rolname = %s", params=(role,)) else "CREATE"
        self.sql(sql.SQL("{} ROLE {} {} NOREPLICATION NOBYPASSRLS").format(
            sql.SQL(verb), sql.Identifier(role), sql.SQL(attributes)))
        if admin:
            self.sql(sql.SQL("GRANT azure_pg_admin TO {}").format(sql.Identifier(role)))

    def set_token_password(self, role: str, token: str, expires_on: int | float) -> None:
        """The role signs in with ``token`` until ``expires_on`` (epoch seconds): PostgreSQL checks VALID UNTIL
        at login only, so open sessions outlive it, as Entra logins do on Azure."""
        from psycopg import sql

        until = datetime.fromtimestamp(expires_on, UTC).isoformat()
        self.sql(sql.SQL("ALTER ROLE {} PASSWORD {} VALID UNTIL {}").format(
            sql.Identifier(role), sql.Literal(token), sql.Literal(until)))

    def program(self, name: str) -> str:
        """The path of one of this PostgreSQL's programs (pg_restore, pg_dump, psql, ...)."""
        return str(self.bindir / name)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _run(self.run_as, [self.program("pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"],
                 timeout=30)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _run(run_as: str | None, argv: Sequence[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    command = ["runuser", "-u", run_as, "--", *argv] if run_as else list(argv)
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout)


def start_postgres(timeout: float = 60.0, settings: dict[str, str] | None = None,
                   extension_allowlist: Sequence[str] | None = None) -> Postgres:
    """initdb a new cluster in a temporary folder, start it on a free loopback port, create the admin role; with
    ``extension_allowlist`` (even empty), enforce Azure's extension allowlist with those names allowed."""
    bindir = find_bindir()
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresError("running as root needs the `postgres` system user (Debian's postgresql creates "
                                "it)") from exc
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="pgflex-pg-"))
    datadir, socketdir, log = root / "data", root / "socket", root / "server.log"
    socketdir.mkdir()
    if run_as:
        entry = pwd.getpwnam(run_as)
        for path in (root, socketdir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    try:
        _run(run_as, [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth-local=trust",
                      "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"], timeout=timeout)
        port = _free_port()
        options = {"listen_addresses": "'127.0.0.1'", "port": str(port), "unix_socket_directories": f"'{socketdir}'",
                   "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                   "max_connections": "100", **(settings or {})}
        _append_settings(datadir / "postgresql.auto.conf", options, run_as)
        _run(run_as, [str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-w", "-t", str(int(timeout)),
                      "start"], timeout=timeout + 10)
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresError(f"PostgreSQL did not start: {exc} {detail}".strip()) from exc
    server = Postgres(bindir, datadir, socketdir, port, run_as, log)
    _wait_ready(server, time.monotonic() + timeout)
    _shape_like_flexible_server(server)
    if extension_allowlist is not None:
        server.enforce_extension_allowlist(extension_allowlist)
    return server


def _append_settings(path: Path, options: dict[str, str], owner: str | None) -> None:
    """Settings for the new cluster; the file stays owned by the cluster's user when root writes it."""
    with path.open("a") as handle:
        handle.write("".join(f"{key} = {value}\n" for key, value in options.items()))
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _wait_ready(server: Postgres, deadline: float) -> None:
    import psycopg

    while True:
        try:
            server.sql("select 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise PostgresError(f"PostgreSQL did not accept connections; see {server.log}") from None
            time.sleep(0.1)


def _shape_like_flexible_server(server: Postgres) -> None:
    """The roles every flexible server has, and an admin with the attributes Azure gives its administrator."""
    for role in SERVICE_ROLES:
        server.sql(f'CREATE ROLE "{role}" NOLOGIN')
    server.sql(f"CREATE ROLE {ADMIN_ROLE} LOGIN CREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS "
               f"PASSWORD '{ADMIN_PASSWORD}'")
    server.sql(f"GRANT azure_pg_admin TO {ADMIN_ROLE} WITH ADMIN OPTION")


@contextlib.contextmanager
def running_postgres(settings: dict[str, str] | None = None,
                     extension_allowlist: Sequence[str] | None = None) -> Iterator[Postgres]:
    """A cluster for the length of a `with` block."""
    server = start_postgres(settings=settings, extension_allowlist=extension_allowlist)
    try:
        yield server
    finally:
        server.stop()
