"""``python -m pgflex_restore demo``: one restore end to end, on this machine, with nothing from Azure.

It starts Azurite (real Blob/Queue/Table storage), a real PostgreSQL server standing for the target flexible
server, the local emulator (DataProtection, managed identity, the loader's Container Apps job, the flexible
server's parameters) and the Functions app in devhost, then does what automation would: ``POST /api/restores``
with a function key and a ``load`` section, follows ``GET /api/restores/{id}`` until the restore is loaded, lists
the files the (emulated) vault wrote, and queries the loaded database.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import requests

from cli.local_stack import daily_points, local_app, vault_tree
from pgflex_restore.progress import FINISHED_STATUSES

SUBSCRIPTION = "00000000-0000-0000-0000-00000000d3e0"
RESOURCE_GROUP = "demo-rg"
VAULT = "demo-vault"
INSTANCE = "pgflex-demo-pg1"
SERVER = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
          "Microsoft.DBforPostgreSQL/flexibleServers/pg1")
CONTAINER = "restores"
LOAD_GROUP = "demo-load-rg"
TARGET_SERVER = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{LOAD_GROUP}/providers/"
                 "Microsoft.DBforPostgreSQL/flexibleServers/pg-restored")
LOADER_JOB = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{LOAD_GROUP}/providers/Microsoft.App/jobs/pgflex-loader"
LOADER_CLIENT_ID = "5c1e0a4d-0000-4000-8000-00000000de70"
LOADER_ROLE = "pgflex-loader"


def demo_scenario(target_container_url: str, now: datetime, *, postgres: Any, storage: str) -> dict[str, Any]:
    """A vault with one protected server, a week of daily points, and timings short enough to watch; beside it the
    target flexible server (the local PostgreSQL) and the loader's Container Apps job."""
    instance = {
        "serverId": SERVER,
        "databases": ["inventory", "billing"],
        "recoveryPoints": daily_points(7, now - timedelta(hours=1), width=2, stores=["VaultStore"]),
        "timings": {"validateSeconds": 3, "validateRetryAfter": 2, "restoreSeconds": 4,
                    "restoreRetryAfter": 2, "jobSeconds": 12},
    }
    tree = vault_tree({INSTANCE: instance}, [target_container_url], subscription=SUBSCRIPTION,
                      resource_group=RESOURCE_GROUP, vault=VAULT)
    tree["subscriptions"][SUBSCRIPTION]["resourceGroups"][LOAD_GROUP] = load_target(postgres, storage)
    return tree


def load_target(postgres: Any, storage: str) -> dict[str, Any]:
    """The flexible server, mapped to the local PostgreSQL, and the loader job whose executions run `python -m
    loader` here, with the environment a deployment gives it (docs/deploy.md) plus the local-only storage secret."""
    env = [{"name": "AZURE_CLIENT_ID", "value": LOADER_CLIENT_ID}, {"name": "LOADER_PG_USER", "value": LOADER_ROLE},
           {"name": "PGPORT", "value": str(postgres.port)}, {"name": "PGSSLMODE", "value": "disable"},
           {"name": "LOAD_STORAGE_CONNECTION_STRING", "secretRef": "storage"}]
    return {
        "flexibleServers": {"pg-restored": {
            "location": "westeurope",
            "postgres": {"superuserDsn": postgres.superuser_dsn()},
            "loaderRoles": {LOADER_CLIENT_ID: LOADER_ROLE},
            "timings": {"configurationSeconds": 2, "configurationRetryAfter": 1},
        }},
        "jobs": {"pgflex-loader": {
            "location": "westeurope",
            "replicaTimeout": 600,
            "identity": {"clientIds": [LOADER_CLIENT_ID]},
            "secrets": {"storage": storage},
            "template": {"containers": [{"name": "loader", "image": "pgflexrestore.azurecr.io/loader:demo",
                                         "resources": {"cpu": 1.0, "memory": "2Gi"}, "env": env}]},
        }},
    }


def run_demo(*, output: str, stdout: TextIO, stderr: TextIO) -> int:
    from devhost.azurite import running_azurite
    from devhost.postgres import running_postgres

    def say(text: str) -> None:
        print(text, file=stderr, flush=True)

    say("starting Azurite (storage emulator) and PostgreSQL (the target server)...")
    with running_azurite() as azurite, running_postgres(extension_allowlist=[]) as postgres:
        postgres.create_entra_principal(LOADER_ROLE)
        # A role the source's grants name that its roles file lacks (one managed outside the server): here it
        # exists on the target, so the grants load instead of being reported as lost.
        postgres.sql("CREATE ROLE partner_sync NOLOGIN")
        container_url = f"{azurite.endpoints.blob_account_url}/{CONTAINER}"
        from azure.storage.blob import BlobServiceClient

        blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
        blobs.create_container(CONTAINER)
        scenario = demo_scenario(container_url, datetime.now(UTC), postgres=postgres,
                                 storage=azurite.connection_string)
        say("starting the emulator (DataProtection, identity, Container Apps job, flexible server) and the "
            "Functions app in devhost...")
        env = {
            "TASKHUB_NAME": "pgflexdemo",
            "RESTORE_TARGET_ALLOWLIST": container_url,
            "RESTORE_REQUESTS_QUEUE": "restore-requests",
            "LOAD_TARGET_ALLOWLIST": TARGET_SERVER,
            "LOAD_JOB": LOADER_JOB,
            "POLL_MIN_SECONDS": "1",
            "POLL_DEFAULT_SECONDS": "3",
            "RESTORE_TIMEOUT": "PT10M",
        }
        with local_app(scenario, env=env, storage=azurite.connection_string) as app:
            say(f"emulator at {app.emulator.url}; app at {app.host.http_base}")
            result = _drive(app.host, container_url, say)
        files = sorted((b.name, b.size) for b in blobs.get_container_client(CONTAINER).list_blobs())
        queried = query_loaded(postgres, result)
    if output == "json":
        print(json.dumps({"result": result, "files": [{"name": n, "size": s} for n, s in files],
                          "queried": queried}), file=stdout)
    else:
        from cli.restore import summary_text

        print(summary_text(result), file=stdout)
        print(f"  restored files  : {len(files)} in container '{CONTAINER}'", file=stdout)
        for name, size in files:
            print(f"    {name}  ({size} bytes)", file=stdout)
        print("  loaded into     : the local PostgreSQL standing for pg-restored", file=stdout)
        for row in queried:
            print(f"    {row['query']}  -> {row['count']}", file=stdout)
    loaded = result.get("status") == "loaded" and bool(queried)
    return 0 if loaded else 1


def query_loaded(postgres: Any, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Count the rows of each loaded database's largest table, in that database (proof the data is there)."""
    import psycopg
    from psycopg import sql

    rows = []
    for database in ((result.get("load") or {}).get("databases") or []):
        tables = sorted(database.get("tables") or [], key=lambda t: -(t.get("rows") or 0))
        if database.get("status") != "loaded" or not tables:
            continue
        table = tables[0]
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(table["schema"]),
                                                            sql.Identifier(table["name"]))
        # As the server's superuser: the loaded database keeps the source's privileges (CONNECT is not public).
        with psycopg.connect(postgres.superuser_dsn(database["target"])) as connection:
            count = connection.execute(query).fetchone()
        shown = query.as_string(None)  # for the reader only; the query ran composed, identifiers quoted
        rows.append({"database": database["target"], "query": f"{database['target']}: {shown}",
                     "count": count[0] if count else None})
    return rows


def _drive(host: Any, container_url: str, say: Any) -> dict[str, Any]:
    instance = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
                f"Microsoft.DataProtection/backupVaults/{VAULT}/backupInstances/{INSTANCE}")
    body = {"backupInstance": instance, "recoveryPoint": "latest",
            "target": {"containerUrl": container_url, "filePrefix": "demo"},
            "load": {"server": TARGET_SERVER, "jobs": 2}}
    api = f"{host.http_base}/api"
    headers = {"x-functions-key": host.function_key}
    say(f"POST {api}/restores")
    started = requests.post(f"{api}/restores", json=body, headers=headers, timeout=30)
    started.raise_for_status()
    restore_id = started.json()["restoreId"]
    say(f"  -> {started.status_code}, restore id {restore_id}; following GET {api}/restores/{restore_id}")
    last = ""
    t0 = time.monotonic()
    while True:
        reply = requests.get(f"{api}/restores/{restore_id}", headers=headers, timeout=30).json()
        status = reply.get("status") or {}
        line = f"  [{time.monotonic() - t0:5.1f}s] {status.get('phase', 'starting')}"
        if status.get("jobStatus"):
            line += f", job {status['jobStatus']}"
        if status.get("progress") is not None:
            line += f" {float(status['progress']):.0f}%"
        if line.split("] ", 1)[1] != last:
            say(line)
            last = line.split("] ", 1)[1]
        if reply.get("runtimeStatus") in FINISHED_STATUSES:
            result: dict[str, Any] = reply.get("result") or {"status": "failed", "error": reply.get("output")}
            return result
        time.sleep(0.5)
