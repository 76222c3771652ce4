"""Real dumps for the loader's tests: a source cluster of its own (so the target's roles differ), databases with
several schemas, extensions, views, a materialized view, sequences, a partitioned table, large objects,
comments, grants and roles, dumped with the real pg_dump / pg_dumpall as Azure Backup's files would be named.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devhost.postgres import Postgres, start_postgres
from loader.auth import target_from_uri
from loader.report import Report
from loader.sources import LocalSource

PREFIX = "r1"
EXTENSIONS = ("pg_trgm", "hstore", "uuid-ossp")
SOURCE_ROLES = """
CREATE ROLE app_owner LOGIN;
CREATE ROLE reader NOLOGIN;
CREATE ROLE writer NOLOGIN IN ROLE reader;
CREATE ROLE power_user LOGIN REPLICATION BYPASSRLS;
COMMENT ON ROLE reader IS 'reads reports';
"""
SHOP = """
SET ROLE app_owner;
CREATE SCHEMA s;
CREATE SCHEMA sales;
CREATE TABLE s.t (id int PRIMARY KEY, h hstore, u uuid DEFAULT uuid_generate_v4(), note text);
INSERT INTO s.t SELECT g, hstore('k', g::text), uuid_generate_v4(), 'row ' || g FROM generate_series(1, 500) g;
CREATE INDEX t_note_trgm ON s.t USING gin (note gin_trgm_ops);
CREATE TABLE s.empty (id int);
CREATE TABLE s.child (id serial PRIMARY KEY, t_id int REFERENCES s.t (id));
INSERT INTO s.child (t_id) SELECT g FROM generate_series(1, 50) g;
CREATE VIEW s.v AS SELECT id, note FROM s.t WHERE id < 10;
CREATE MATERIALIZED VIEW s.mv AS SELECT count(*) AS c FROM s.t;
CREATE SEQUENCE sales.invoice_no;
SELECT setval('sales.invoice_no', 42);
CREATE TABLE sales.orders (id int, at date NOT NULL, total numeric) PARTITION BY RANGE (at);
CREATE TABLE sales.orders_2025 PARTITION OF sales.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE sales.orders_2026 PARTITION OF sales.orders FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO sales.orders SELECT g, date '2025-06-01' + g, g * 1.5 FROM generate_series(1, 300) g;
CREATE UNIQUE INDEX orders_id ON sales.orders (id, at);
COMMENT ON TABLE s.t IS 'the main table';
COMMENT ON SCHEMA sales IS 'money';
GRANT USAGE ON SCHEMA s TO reader;
GRANT SELECT ON s.t, s.v TO reader;
GRANT INSERT, UPDATE ON s.t TO writer;
SELECT lo_from_bytea(0, 'large object one');
SELECT lo_from_bytea(0, 'large object two');
"""
CRM = """
CREATE TABLE public.contacts (id int PRIMARY KEY, name text);
INSERT INTO public.contacts SELECT g, 'c' || g FROM generate_series(1, 20) g;
CREATE TABLE public.notes (id int);
"""


@dataclass(frozen=True)
class Dumps:
    folder: Path  # r1_shop.sql, r1_crm.sql, r1_roles.sql, r1_tablespace.sql, r1_schema.sql
    source: Postgres

    def copy(self, destination: Path, prefix: str = PREFIX, only: tuple[str, ...] | None = None) -> Path:
        """The files under another prefix in a folder of the test's own."""
        destination.mkdir(parents=True, exist_ok=True)
        for path in self.folder.iterdir():
            kind = path.name.removeprefix(f"{PREFIX}_").removesuffix(".sql")
            if only is None or kind in only:
                shutil.copy(path, destination / f"{prefix}_{kind}.sql")
        return destination


def _script(server: Postgres, database: str, script: str) -> None:
    with psycopg.connect(server.superuser_dsn(database), autocommit=True) as connection:
        connection.execute(script.encode())


def _dump(server: Postgres, argv: list[str], out: Path) -> None:
    done = subprocess.run([*argv, "-f", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def source_pg() -> Iterator[Postgres]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dumps(source_pg: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Dumps:
    server = source_pg
    _script(server, "postgres", SOURCE_ROLES)
    server.sql("CREATE DATABASE shop OWNER app_owner CONNECTION LIMIT 7")
    server.sql("COMMENT ON DATABASE shop IS 'the shop''s data'")
    server.sql("ALTER DATABASE shop SET work_mem = '8MB'")
    server.sql("GRANT CONNECT ON DATABASE shop TO reader")
    _script(server, "shop", "".join(f'CREATE EXTENSION "{name}";\n' for name in EXTENSIONS) + SHOP)
    server.sql("CREATE DATABASE crm")
    _script(server, "crm", CRM)
    folder = tmp_path_factory.mktemp("dumps")
    for database in ("shop", "crm"):
        _dump(server, [server.program("pg_dump"), "-Fc", "-d", server.superuser_dsn(database)],
              folder / f"{PREFIX}_{database}.sql")
    dumpall = [server.program("pg_dumpall"), "-d", server.superuser_dsn()]
    _dump(server, [*dumpall, "--roles-only", "--no-role-passwords"], folder / f"{PREFIX}_roles.sql")
    _dump(server, [*dumpall, "--tablespaces-only"], folder / f"{PREFIX}_tablespace.sql")
    _dump(server, [*dumpall, "--schema-only", "--no-role-passwords"], folder / f"{PREFIX}_schema.sql")
    return Dumps(folder, server)


def allow_extensions(server: Postgres, names: tuple[str, ...] = EXTENSIONS) -> None:
    """Allow-list extensions like Azure does (``azure.extensions`` by ALTER SYSTEM and a reload, as a superuser),
    keeping what other tests allowed; enforced where the cluster enforces the allowlist."""
    current = server.sql("SELECT current_setting('azure.extensions', true)")[0][0]
    server.set_allowed_extensions(sorted({*filter(None, str(current or "").split(",")), *names}))


def unique(name: str) -> str:
    return f"{name}_{uuid.uuid4().hex[:8]}"


def run_load(server: Postgres, folder: Path, prefix: str = PREFIX, **options: Any) -> Report:
    """The loader in-process against the session's server, as its admin, from a local folder."""
    from loader.run import LoadOptions, load

    return load(LoadOptions(run_id=unique("test"), prefix=prefix, **options), LocalSource(folder),
                target_from_uri(server.uri()), program=server.program("pg_restore"))


def rows(server: Postgres, database: str, statement: str) -> list[tuple[Any, ...]]:
    return server.sql(statement, database)
