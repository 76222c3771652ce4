"""Remake emulator/fixtures/dumps/: the files the emulator writes as a "restore as files" job's output.

Starts a throwaway PostgreSQL 15 cluster shaped like a flexible server (devhost/postgres.py), builds two
databases, and dumps them as the service's files: appdb.dump and reporting.dump (pg_dump -Fc), roles.sql
(pg_dumpall --roles-only --no-role-passwords), tablespace.sql and schema.sql (pg_dumpall). The databases are rich
enough to exercise a loader: several schemas, contrib extensions, views, a materialized view, sequences, a
partitioned table, large objects, comments, grants (one to a role roles.sql lacks), database-level settings, a
comment, a connection limit and privileges, rows in every table.

Edits after dumping, so the files look like a flexible server's and come out the same on every run:
- roles.sql: the local bootstrap superuser `postgres` stands in for the service's `azuresu`, which a flexible
  server's file names instead (`GRANT azure_pg_admin TO pgadmin ... GRANTED BY azuresu`); the role
  `partner_sync` is left out, standing for a role the dump's grants name but the target lacks.
- every `\\restrict` key (random per run) becomes a fixed one; the archives' creation time becomes 2026-01-01.

Run `.venv/bin/python scripts/make_fixture_dumps.py` and commit the output (it needs Debian's postgresql and
postgresql-contrib, as `make setup` installs them).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devhost.postgres import ADMIN_ROLE, Postgres, start_postgres  # noqa: E402

OUT = ROOT / "emulator" / "fixtures" / "dumps"
FIXED_TIME = (0, 0, 0, 1, 0, 126, 0)  # struct tm: 2026-01-01 00:00:00, no DST
MISSING_ROLE = "partner_sync"  # granted to in appdb, left out of roles.sql

# Roles as the admin makes them on a flexible server: memberships come out `GRANTED BY pgadmin`.
ROLES_AS_ADMIN = '''
CREATE ROLE app_owner LOGIN;
CREATE ROLE app_writer NOLOGIN;
CREATE ROLE report_reader NOLOGIN;
CREATE ROLE analyst LOGIN CONNECTION LIMIT 3 VALID UNTIL '2030-01-01 00:00:00+00' IN ROLE report_reader;
CREATE ROLE "Data ""Team""" NOLOGIN;
CREATE ROLE partner_sync LOGIN;
GRANT app_writer TO app_owner WITH ADMIN OPTION;
GRANT report_reader TO "Data ""Team""";
GRANT app_writer TO "Data ""Team""";
COMMENT ON ROLE report_reader IS 'Read-only access to reports; granted to people, never to services';
ALTER ROLE analyst SET statement_timeout = '30s';
ALTER ROLE analyst SET search_path = app, public;
ALTER ROLE app_owner SET work_mem = '16MB';
'''

# The service's own roles as a flexible server has them (the stand-in's are plain NOLOGIN roles).
SERVICE_SHAPE = """
ALTER ROLE azuresu WITH SUPERUSER CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
ALTER ROLE replication WITH LOGIN REPLICATION;
GRANT pg_read_all_stats TO analyst;
"""

DATABASES = """
CREATE DATABASE appdb OWNER app_owner CONNECTION LIMIT 50;
CREATE DATABASE reporting OWNER app_owner;
COMMENT ON DATABASE appdb IS 'Orders and customers of the example app';
ALTER DATABASE appdb SET search_path = app, public;
ALTER DATABASE appdb SET default_text_search_config = 'pg_catalog.simple';
ALTER ROLE analyst IN DATABASE appdb SET work_mem = '8MB';
REVOKE ALL ON DATABASE appdb FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE appdb TO app_writer, report_reader, partner_sync;
GRANT CREATE ON DATABASE appdb TO app_writer;
"""

APPDB_EXTENSIONS = """
CREATE SCHEMA ext AUTHORIZATION app_owner;
CREATE EXTENSION pg_trgm SCHEMA ext;
CREATE EXTENSION hstore SCHEMA ext;
CREATE EXTENSION "uuid-ossp" SCHEMA ext;
"""

APPDB = """
SET ROLE app_owner;
SET search_path = public, ext;
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, created date NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers(id), amount numeric(10,2));
INSERT INTO customers (name, created) SELECT 'customer ' || g, DATE '2026-01-01' + g FROM generate_series(1, 20) g;
INSERT INTO orders (customer_id, amount) SELECT 1 + g % 20, g * 1.25 FROM generate_series(1, 50) g;
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX customers_name_trgm ON customers USING gin (name ext.gin_trgm_ops);
COMMENT ON TABLE customers IS 'Every customer, one row each';
COMMENT ON COLUMN customers.created IS 'The day the customer signed up';

CREATE SCHEMA app;
CREATE TYPE app.order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE DOMAIN app.sku AS text CHECK (VALUE ~ '^[A-Z]{3}-[0-9]{4}$');
CREATE SEQUENCE app.invoice_number START 1000 INCREMENT 10;
CREATE TABLE app.products (
    id uuid PRIMARY KEY DEFAULT ext.uuid_generate_v4(), sku app.sku UNIQUE NOT NULL, name text NOT NULL,
    attributes ext.hstore NOT NULL DEFAULT '', price numeric(10,2) NOT NULL CHECK (price >= 0),
    updated_at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00');
INSERT INTO app.products (id, sku, name, attributes, price)
SELECT ext.uuid_generate_v5(ext.uuid_ns_url(), 'https://example.com/p/' || g), 'SKU-' || lpad(g::text, 4, '0'),
       'product ' || g, ext.hstore(ARRAY['colour', 'size'], ARRAY[(ARRAY['red', 'blue', 'green'])[1 + g % 3], g::text]),
       g * 2.5
FROM generate_series(1, 15) g;
CREATE TABLE app.invoices (
    number bigint PRIMARY KEY DEFAULT nextval('app.invoice_number'), order_id int NOT NULL REFERENCES orders(id),
    status app.order_status NOT NULL DEFAULT 'new', issued date NOT NULL);
ALTER SEQUENCE app.invoice_number OWNED BY app.invoices.number;
INSERT INTO app.invoices (order_id, status, issued)
SELECT g, (ARRAY['new', 'paid', 'shipped', 'cancelled']::app.order_status[])[1 + g % 4], DATE '2026-02-01' + g
FROM generate_series(1, 12) g;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER products_touch BEFORE UPDATE ON app.products FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE VIEW app.customer_summary AS
    SELECT c.id, c.name, count(o.id) AS orders, coalesce(sum(o.amount), 0) AS total
    FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name;
COMMENT ON VIEW app.customer_summary IS 'Orders and spend per customer';
CREATE TABLE app.attachments (id int PRIMARY KEY, invoice bigint REFERENCES app.invoices(number), content oid);
SELECT lo_from_bytea(70001, convert_to('invoice 1000 as a PDF stand-in', 'UTF8'));
SELECT lo_from_bytea(70002, convert_to('invoice 1010 as a PDF stand-in', 'UTF8'));
COMMENT ON LARGE OBJECT 70001 IS 'scanned invoice 1000';
INSERT INTO app.attachments VALUES (1, 1000, 70001), (2, 1010, 70002);

CREATE SCHEMA sales;
CREATE TABLE sales.events (id bigint GENERATED ALWAYS AS IDENTITY, at date NOT NULL, kind text NOT NULL,
                           payload jsonb NOT NULL DEFAULT '{}') PARTITION BY RANGE (at);
CREATE TABLE sales.events_2026_01 PARTITION OF sales.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE sales.events_2026_02 PARTITION OF sales.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
CREATE TABLE sales.events_other PARTITION OF sales.events DEFAULT;
CREATE INDEX events_at ON sales.events (at);
INSERT INTO sales.events (at, kind, payload)
SELECT DATE '2026-01-10' + g * 3, (ARRAY['view', 'cart', 'buy'])[1 + g % 3], jsonb_build_object('n', g)
FROM generate_series(0, 29) g;
CREATE MATERIALIZED VIEW sales.monthly_totals AS
    SELECT date_trunc('month', at)::date AS month, kind, count(*) AS events FROM sales.events GROUP BY 1, 2;
CREATE UNIQUE INDEX monthly_totals_key ON sales.monthly_totals (month, kind);
COMMENT ON SCHEMA sales IS 'Shop events, partitioned by month';

GRANT USAGE ON SCHEMA app, sales, ext TO report_reader, app_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA app, sales TO report_reader;
GRANT SELECT ON customers, orders TO report_reader;
GRANT SELECT, INSERT, UPDATE ON app.invoices, sales.events, orders TO app_writer;
GRANT USAGE ON SEQUENCE app.invoice_number, orders_id_seq TO app_writer;
GRANT SELECT ON app.customer_summary, sales.monthly_totals TO partner_sync;
GRANT USAGE ON SCHEMA app, sales TO partner_sync;
GRANT SELECT ON LARGE OBJECT 70001 TO report_reader;
REVOKE EXECUTE ON FUNCTION app.touch() FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO report_reader;
"""

REPORTING = """
SET ROLE app_owner;
CREATE SCHEMA reports;
CREATE TABLE reports.daily_totals (day date PRIMARY KEY, total numeric(12,2) NOT NULL);
INSERT INTO reports.daily_totals SELECT DATE '2026-01-01' + g, g * 10 FROM generate_series(0, 13) g;
CREATE VIEW reports.weekly_totals AS
    SELECT date_trunc('week', day)::date AS week, sum(total) AS total FROM reports.daily_totals GROUP BY 1;
GRANT USAGE ON SCHEMA reports TO report_reader;
GRANT SELECT ON reports.daily_totals, reports.weekly_totals TO report_reader;
"""


def build(server: Postgres) -> None:
    """The roles and databases; owners and memberships as an admin and its app roles would leave them."""
    with psycopg.connect(server.uri(), autocommit=True) as admin:
        _execute(admin, ROLES_AS_ADMIN)
    for database, script in (("postgres", SERVICE_SHAPE + DATABASES), ("appdb", APPDB_EXTENSIONS + APPDB),
                             ("reporting", REPORTING)):
        with psycopg.connect(server.superuser_dsn(database), autocommit=True) as connection:
            _execute(connection, script)
    with psycopg.connect(server.superuser_dsn("appdb"), autocommit=True) as connection:
        _execute(connection, "REFRESH MATERIALIZED VIEW sales.monthly_totals;\nVACUUM ANALYZE;\n")


def _execute(connection: psycopg.Connection[tuple[object, ...]], script: str) -> None:
    """One statement at a time (each ends a line with `;`), so CREATE DATABASE and VACUUM run outside a
    transaction and SET ROLE carries on to the next."""
    for statement in script.split(";\n"):
        if statement.strip():
            connection.execute(statement.encode())


def dump(server: Postgres, out: Path) -> None:
    """Write the five files, then make them deterministic and flexible-server shaped."""
    out.mkdir(parents=True, exist_ok=True)
    for database in ("appdb", "reporting"):
        path = out / f"{database}.dump"
        _run([server.program("pg_dump"), "-Fc", "-Z", "6", "-d", server.superuser_dsn(database), "-f", str(path)])
        path.write_bytes(fix_archive_time(path.read_bytes()))
    pg_dumpall = [server.program("pg_dumpall"), "-d", server.superuser_dsn()]
    files = {"roles.sql": ["--roles-only", "--no-role-passwords"], "tablespace.sql": ["--tablespaces-only"],
             "schema.sql": ["--schema-only", "--no-role-passwords"]}
    for name, options in files.items():
        text = _run([*pg_dumpall, *options])
        if name == "roles.sql":
            text = flexible_server_roles(text)
        elif name == "schema.sql":
            text = without_bootstrap_superuser(text)
        (out / name).write_text(fixed_restrict_keys(text, name))


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120).stdout


def fix_archive_time(data: bytes) -> bytes:
    """A 1.14 custom archive with its creation time (7 ints after the compression int) set to FIXED_TIME."""
    if data[:5] != b"PGDMP" or tuple(data[5:8]) != (1, 14, 0) or data[8] != 4:
        raise SystemExit(f"expected a PostgreSQL 15 custom archive (1.14, 4-byte ints), got {data[:11]!r}")
    start = 11 + 5  # magic, version, int size, offset size, format; then the compression int (sign + 4 bytes)
    fields = b"".join(b"\x00" + value.to_bytes(4, "little") for value in FIXED_TIME)
    return data[:start] + fields + data[start + len(fields):]


def without_bootstrap_superuser(text: str) -> str:
    """The local bootstrap superuser `postgres` out, `azuresu` (which it stands for) as the grantor."""
    kept = [line for line in text.splitlines(keepends=True) if not re.match(r"(CREATE|ALTER) ROLE postgres\b", line)]
    return "".join(kept).replace("GRANTED BY postgres", "GRANTED BY azuresu")


def flexible_server_roles(text: str) -> str:
    """As a flexible server's roles.sql: no bootstrap superuser, and without the role the target must lack."""
    pattern = re.compile(r"\b" + MISSING_ROLE + r"\b")
    return without_bootstrap_superuser("".join(line for line in text.splitlines(keepends=True)
                                               if not pattern.search(line)))


def fixed_restrict_keys(text: str, name: str) -> str:
    """pg_dump's `\\restrict` keys are random; the same file gets the same keys on every run."""
    keys: dict[str, str] = {}

    def fixed(match: re.Match[str]) -> str:
        key = keys.setdefault(match.group(2), hashlib.sha256(f"{name}:{len(keys)}".encode()).hexdigest()[:48])
        return f"\\{match.group(1) or ''}restrict {key}"

    return re.sub(r"\\(un)?restrict ([A-Za-z0-9]+)", fixed, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the files (default: {OUT})")
    out = parser.parse_args().out
    server = start_postgres()
    try:
        build(server)
        dump(server, out)
    finally:
        server.stop()
    for path in sorted(out.iterdir()):
        print(f"{path.stat().st_size:>8}  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"(the admin role these files expect on a target: {ADMIN_ROLE})")


if __name__ == "__main__":
    main()
