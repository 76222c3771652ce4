"""``python -m pgflex_restore demo``: one restore end to end, on this machine, with nothing from Azure.

It starts Azurite (real Blob/Queue/Table storage), the local DataProtection + managed-identity emulator and the
Functions app in devhost, then does what automation would: ``POST /api/restores`` with a function key, follows
``GET /api/restores/{id}`` until the restore finishes, and lists the files the (emulated) vault wrote.
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


def demo_scenario(target_container_url: str, now: datetime) -> dict[str, Any]:
    """A vault with one protected server, a week of daily points, and timings short enough to watch."""
    instance = {
        "serverId": SERVER,
        "databases": ["inventory", "billing"],
        "recoveryPoints": daily_points(7, now - timedelta(hours=1), width=2, stores=["VaultStore"]),
        "timings": {"validateSeconds": 3, "validateRetryAfter": 2, "restoreSeconds": 4,
                    "restoreRetryAfter": 2, "jobSeconds": 12},
    }
    return vault_tree({INSTANCE: instance}, [target_container_url], subscription=SUBSCRIPTION,
                      resource_group=RESOURCE_GROUP, vault=VAULT)


def run_demo(*, output: str, stdout: TextIO, stderr: TextIO) -> int:
    from devhost.azurite import running_azurite

    def say(text: str) -> None:
        print(text, file=stderr, flush=True)

    say("starting Azurite (storage emulator)...")
    with running_azurite() as azurite:
        container_url = f"{azurite.endpoints.blob_account_url}/{CONTAINER}"
        from azure.storage.blob import BlobServiceClient

        blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
        blobs.create_container(CONTAINER)
        scenario = demo_scenario(container_url, datetime.now(UTC))
        say("starting the DataProtection + managed identity emulator and the Functions app in devhost...")
        env = {
            "TASKHUB_NAME": "pgflexdemo",
            "RESTORE_TARGET_ALLOWLIST": container_url,
            "RESTORE_REQUESTS_QUEUE": "restore-requests",
            "POLL_MIN_SECONDS": "1",
            "POLL_DEFAULT_SECONDS": "3",
            "RESTORE_TIMEOUT": "PT10M",
        }
        with local_app(scenario, env=env, storage=azurite.connection_string) as app:
            say(f"emulator at {app.emulator.url}; app at {app.host.http_base}")
            result = _drive(app.host, container_url, say)
        files = sorted((b.name, b.size) for b in blobs.get_container_client(CONTAINER).list_blobs())
    if output == "json":
        print(json.dumps({"result": result, "files": [{"name": n, "size": s} for n, s in files]}), file=stdout)
    else:
        from cli.restore import summary_text

        print(summary_text(result), file=stdout)
        print(f"  restored files  : {len(files)} in container '{CONTAINER}'", file=stdout)
        for name, size in files:
            print(f"    {name}  ({size} bytes)", file=stdout)
    return 0 if result.get("status") == "succeeded" else 1


def _drive(host: Any, container_url: str, say: Any) -> dict[str, Any]:
    instance = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
                f"Microsoft.DataProtection/backupVaults/{VAULT}/backupInstances/{INSTANCE}")
    body = {"backupInstance": instance, "recoveryPoint": "latest",
            "target": {"containerUrl": container_url, "filePrefix": "demo"}}
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
