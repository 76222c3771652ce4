#!/usr/bin/env bash
# Regenerate emulator/fixtures/dumps/: real pg_dump output for the emulator's "restored files".
# Starts a throwaway PostgreSQL 15 cluster (as the postgres user when run as root), creates two small
# fixture databases, and writes one custom-format (-Fc) archive per database plus the roles, tablespace
# and schema-only plain dumps the Azure Backup "restore as files" feature produces. Run once; commit the output.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OUT="$(cd "$(dirname "$0")/.." && pwd)/emulator/fixtures/dumps"
WORK=$(mktemp -d)
PORT=${PGPORT_FIXTURE:-54329}
chmod 777 "$WORK"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() { as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

as_pg "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -o "-p $PORT -k $WORK -c listen_addresses=''" -w start >/dev/null
PSQL=("$PGBIN/psql" -h "$WORK" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -q)

as_pg "${PSQL[@]}" -d postgres <<'SQL'
CREATE ROLE app_owner LOGIN;
CREATE ROLE report_reader NOLOGIN;
CREATE DATABASE appdb OWNER app_owner;
CREATE DATABASE reporting OWNER app_owner;
SQL
as_pg "${PSQL[@]}" -d appdb <<'SQL'
SET ROLE app_owner;
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, created date NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers(id), amount numeric(10,2));
INSERT INTO customers (name, created) SELECT 'customer ' || g, DATE '2026-01-01' + g FROM generate_series(1, 20) g;
INSERT INTO orders (customer_id, amount) SELECT 1 + g % 20, g * 1.25 FROM generate_series(1, 50) g;
CREATE INDEX orders_customer ON orders (customer_id);
SQL
as_pg "${PSQL[@]}" -d reporting <<'SQL'
SET ROLE app_owner;
CREATE TABLE daily_totals (day date PRIMARY KEY, total numeric(12,2) NOT NULL);
INSERT INTO daily_totals SELECT DATE '2026-01-01' + g, g * 10 FROM generate_series(0, 13) g;
GRANT SELECT ON daily_totals TO report_reader;
SQL

mkdir -p "$OUT"
for db in appdb reporting; do
  as_pg "$PGBIN/pg_dump" -h "$WORK" -p "$PORT" -U postgres -Fc -Z 6 -d "$db" -f "$WORK/$db.dump"
  cp "$WORK/$db.dump" "$OUT/$db.dump"
done
as_pg "$PGBIN/pg_dumpall" -h "$WORK" -p "$PORT" -U postgres --roles-only -f "$WORK/roles.sql"
as_pg "$PGBIN/pg_dumpall" -h "$WORK" -p "$PORT" -U postgres --tablespaces-only -f "$WORK/tablespace.sql"
as_pg "$PGBIN/pg_dumpall" -h "$WORK" -p "$PORT" -U postgres --schema-only -f "$WORK/schema.sql"
cp "$WORK/roles.sql" "$WORK/tablespace.sql" "$WORK/schema.sql" "$OUT/"
ls -l "$OUT"
