"""``python -m pgflex_restore start`` (``make start``): the app served locally the way ``func start`` serves it.

The HTTP routes listen on ``http://localhost:7071/api/...``, the queue trigger polls Azurite and the drill timer
runs, until Ctrl-C or SIGTERM. Settings come from the environment, then ``local.settings.json``'s ``Values`` (the
Functions convention; the environment wins), then local defaults. Without ``ARM_ENDPOINT`` the app talks to the
DataProtection emulator serving its example scenario (or ``--scenario``); without a storage connection it starts
Azurite. With both set, the same command drives a real subscription and storage account.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from cli.local_stack import STORAGE_GROUP, target_accounts

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SCENARIO = REPO / "emulator" / "example_scenario.yaml"
DEV_STORAGE = "usedevelopmentstorage=true"
LOCAL_CONTAINER = "restores"


def add_start_parser(commands: Any) -> None:
    start = commands.add_parser("start", help="serve the app locally like `func start`, until Ctrl-C")
    start.add_argument("--port", type=int, default=int(os.environ.get("FUNCTIONS_PORT", "7071")),
                       help="port of the HTTP routes (default 7071, or $FUNCTIONS_PORT)")
    start.add_argument("--scenario", type=Path, default=EXAMPLE_SCENARIO,
                       help="emulator scenario when ARM_ENDPOINT is not set (default: the example scenario)")
    start.add_argument("--settings", type=Path, default=Path("local.settings.json"),
                       help="local settings file (default: ./local.settings.json, if present)")


def local_settings(path: Path) -> dict[str, str]:
    """The ``Values`` of a local.settings.json (empty when the file does not exist)."""
    if not path.is_file():
        return {}
    document = json.loads(path.read_text(encoding="utf-8"))
    values = document.get("Values") if isinstance(document, Mapping) else None
    if not isinstance(values, Mapping):
        raise ValueError(f"{path}: expected an object with a \"Values\" object")
    return {str(key): str(value) for key, value in values.items()}


def scenario_for(path: Path, container_url: str) -> dict[str, Any]:
    """The scenario file, with the local container added to every vault's storage role assignments (so a
    restore into it validates, as it would with the role granted in Azure), and its storage account declared
    healthy in the first subscription (so the pre-flight finds it)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        data: dict[str, Any] = yaml.safe_load(text)
    else:
        data = json.loads(text)
    for subscription in (data.get("subscriptions") or {}).values():
        for group in (subscription.get("resourceGroups") or {}).values():
            for vault in (group.get("vaults") or {}).values():
                vault["storageRoleAssignments"] = [*(vault.get("storageRoleAssignments") or []), container_url]
    for subscription in list((data.get("subscriptions") or {}).values())[:1]:
        group = (subscription.setdefault("resourceGroups", {})).setdefault(STORAGE_GROUP, {})
        group["storageAccounts"] = {**target_accounts([container_url]), **(group.get("storageAccounts") or {})}
    return data


def first_instance(scenario: Mapping[str, Any]) -> str | None:
    """The ARM id of the scenario's first backup instance (for the ready curl line)."""
    for vault_id, vault in _vaults(scenario):
        for name in vault.get("backupInstances") or {}:
            return f"{vault_id}/backupInstances/{name}"
    return None


def _vaults(scenario: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for sub, subscription in (scenario.get("subscriptions") or {}).items():
        for rg, group in (subscription.get("resourceGroups") or {}).items():
            for name, vault in (group.get("vaults") or {}).items():
                yield (f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.DataProtection/"
                       f"backupVaults/{name}"), vault


def vault_ids(scenario: Mapping[str, Any]) -> list[str]:
    return [vault_id for vault_id, _ in _vaults(scenario)]


@contextmanager
def storage(settings: Mapping[str, str], say: Any) -> Iterator[tuple[str, str | None]]:
    """(connection string, local container URL): the configured account, or Azurite started for the session."""
    configured = settings.get("AzureWebJobsStorage", "")
    if configured and configured.strip().lower() != DEV_STORAGE:
        yield configured, None
        return
    from azure.storage.blob import BlobServiceClient

    from devhost.azurite import running_azurite

    say("starting Azurite (storage emulator)...")
    with running_azurite() as azurite:
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container(LOCAL_CONTAINER)
        yield azurite.connection_string, f"{azurite.endpoints.blob_account_url}/{LOCAL_CONTAINER}"


def run_start(args: argparse.Namespace, environ: Mapping[str, str], *, stdout: TextIO, stderr: TextIO) -> int:
    from cli.local_stack import reset_app_caches
    from devhost import DevHost, RealClock

    def say(text: str) -> None:
        print(text, file=stderr, flush=True)

    try:
        file_values = local_settings(args.settings)
    except ValueError as exc:
        say(f"error: {exc}")
        return 2
    settings = {**file_values, **environ}  # what the app will see: the environment wins over the file
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with ExitStack() as stack:
            connection, container_url = stack.enter_context(storage(settings, say))
            example: str | None = None
            defaults = {"TASKHUB_NAME": "pgflexlocal", "RESTORE_REQUESTS_QUEUE": "restore-requests"}
            if container_url:
                defaults.update(RESTORE_TARGET_ALLOWLIST=container_url, ALERT_RESTORE_TARGET=container_url)
            if not settings.get("ARM_ENDPOINT"):
                from emulator import EmulatorServer

                scenario = scenario_for(args.scenario, container_url or "")
                emulator = stack.enter_context(EmulatorServer(scenario, storage_connection_string=connection))
                say(f"emulator serving {args.scenario.name} at {emulator.url}")
                defaults.update(emulator.env())
                defaults["RESTORE_VAULTS"] = ",".join(vault_ids(scenario))
                example = first_instance(scenario)
            # Defaults, then the file, then the environment (which devhost leaves as it is); storage as resolved.
            app_env = {key: value for key, value in {**defaults, **file_values}.items() if key not in environ}
            app_env["AzureWebJobsStorage"] = connection
            reset_app_caches()
            stack.callback(reset_app_caches)
            try:
                host = stack.enter_context(DevHost.load("function_app", clock=RealClock(), env=app_env,
                                                        storage_connection_string=connection, http_port=args.port))
            except OSError as exc:
                say(f"error: cannot listen on port {args.port} ({exc.strerror}); choose another with --port")
                return 2
            print(ready_text(host, {**app_env, **environ}, args.port, example), file=stdout, flush=True)
            while not stop.wait(0.5):
                pass
            say("stopping...")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say("stopped")
    return 0


def ready_text(host: Any, env: Mapping[str, str], port: int, instance: str | None) -> str:
    base = f"http://localhost:{port}/api"
    routes = sorted({str(info.trigger.get("route") or name) for name, info in host.functions.items()
                     if info.trigger_type == "httpTrigger"})
    instance = instance or "<backup instance ARM id>"
    target = env.get("RESTORE_TARGET_ALLOWLIST", "<container URL>").split(",")[0]
    body = json.dumps({"backupInstance": instance, "target": {"containerUrl": target}, "requestId": "try-1"})
    lines = [
        f"pgflex-restore is running: {base}/  (Ctrl-C to stop)",
        "Functions:",
        *(f"  {base}/{route}" for route in routes),
        f"Function key: {host.function_key}   (header x-functions-key, or ?code=...)",
        f"ARM endpoint: {env.get('ARM_ENDPOINT', 'https://management.azure.com')}",
        "Try:",
        f"  curl -s -X POST '{base}/restores' -H 'x-functions-key: {host.function_key}' "
        f"-H 'Content-Type: application/json' -d '{body}'",
        f"READY {base}",
    ]
    return "\n".join(lines)
