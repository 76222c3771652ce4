"""The app on this machine: the DataProtection + identity emulator, the Functions app in devhost on the same clock,
and (when given) Azurite's storage. One builder for the demo, the drill command, the e2e tests and the benchmarks.

Scenarios are the emulator's vault trees; `vault_tree` and `daily_points` build the common shapes, and
`local_app` starts the emulator and the app with the emulator's settings merged under the caller's, resetting the
app's process-wide caches (settings, clients) before and after, since each stack has a fresh emulator.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


def vault_id(subscription: str, resource_group: str, vault: str) -> str:
    return (f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.DataProtection/backupVaults/{vault}")


def server_id(subscription: str, resource_group: str, name: str) -> str:
    return (f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.DBforPostgreSQL/flexibleServers/{name}")


def daily_points(count: int, newest: datetime, *, every: timedelta = timedelta(days=1), width: int = 0,
                 stores: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """`count` recovery points, newest first, `every` apart; ids rp-0 (newest) .. (zero-padded to `width`)."""
    kept = list(stores) if stores is not None else None
    return [{"id": f"rp-{i:0{width}d}", "time": (newest - i * every).isoformat(),
             **({"stores": kept} if kept is not None else {})} for i in range(count)]


def vault_tree(instances: dict[str, dict[str, Any]], containers: list[str], *, subscription: str,
               resource_group: str, vault: str, location: str = "westeurope", **top: Any) -> dict[str, Any]:
    """An emulator scenario with one vault holding `instances`, whose identity may write to `containers`."""
    return {
        "subscriptions": {subscription: {"resourceGroups": {resource_group: {"vaults": {vault: {
            "location": location, "storageRoleAssignments": containers, "backupInstances": instances,
        }}}}}},
        **top,
    }


@dataclass
class LocalApp:
    """A running emulator and the Functions app pointed at it."""

    emulator: Any  # emulator.EmulatorServer
    host: Any  # devhost.DevHost
    env: dict[str, str]


def reset_app_caches() -> None:
    """Forget the app's cached settings and clients (a new emulator means new endpoints and tokens)."""
    import clients
    from pgflex_restore.settings import reset_settings_cache

    reset_settings_cache()
    clients.reset()


@contextmanager
def local_app(scenario: dict[str, Any], *, env: dict[str, str], clock: Any = None, storage: str | None = None,
              **host_options: Any) -> Iterator[LocalApp]:
    """The emulator serving `scenario` and the app in devhost, both on `clock` (None: the real clock).

    The app's settings are the emulator's (ARM_ENDPOINT, identity endpoint) with `env` over them, and
    AzureWebJobsStorage when `storage` (a connection string) is given; devhost then polls the app's queues too.
    """
    from devhost import DevHost
    from emulator import EmulatorServer

    with ExitStack() as stack:
        emulator = stack.enter_context(EmulatorServer(scenario, clock=clock, storage_connection_string=storage))
        app_env = {**emulator.env(), **({"AzureWebJobsStorage": storage} if storage else {}), **env}
        reset_app_caches()
        stack.callback(reset_app_caches)
        options = dict(host_options)
        if clock is not None:
            options["clock"] = clock
        host = stack.enter_context(DevHost.load("function_app", env=app_env, storage_connection_string=storage,
                                                **options))
        yield LocalApp(emulator, host, app_env)
