"""Start and stop a real, throwaway PostgreSQL server (Debian's `postgresql`) on a loopback port it picks.

Loads and drills need a real database: tests, the demo and the benchmarks start one cluster each, in a temporary
folder, and throw it away afterwards. The server is shaped like an Azure flexible server where that matters to a
loader: the role the loader signs in as is not a superuser (LOGIN, CREATEDB, CREATEROLE, member of
`azure_pg_admin`, no REPLICATION, no BYPASSRLS), and TCP logins need a password (scram-sha-256), so a token used as
the password behaves as on Azure. The superuser is reached only through the cluster's own Unix socket.

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ADMIN_ROLE = "pgadmin"  # the target server's administrator, as Azure creates it
ADMIN_PASSWORD = "admin-password-for-local-tests"  # noqa: S105 - a throwaway local cluster
SERVICE_ROLES = ("azure_pg_admin", "azuresu", "replication")  # present on every flexible server


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

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """Run one statement as the superuser; the rows it returns (autocommit, so CREATE DATABASE works)."""
        import psycopg

        with psycopg.connect(self.superuser_dsn(database), autocommit=True) as connection:
            cursor = connection.execute(statement.encode())
            return list(cursor.fetchall()) if cursor.description else []

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


def start_postgres(timeout: float = 60.0, settings: dict[str, str] | None = None) -> Postgres:
    """initdb a new cluster in a temporary folder, start it on a free loopback port, create the admin role."""
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
def running_postgres(settings: dict[str, str] | None = None) -> Iterator[Postgres]:
    """A cluster for the length of a `with` block."""
    server = start_postgres(settings=settings)
    try:
        yield server
    finally:
        server.stop()
