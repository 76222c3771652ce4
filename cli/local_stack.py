"""The app on this machine: the DataProtection + identity emulator, the Functions app in devhost on the same clock,
and (when given) Azurite's storage. One builder for the demo, the drill command, the e2e tests and the benchmarks.

Scenarios are the emulator's vault trees; `vault_tree`, `daily_points` and `retention_points` build the common
shapes, and `local_app` starts the emulator and the app with the emulator's settings merged under the caller's,
resetting the app's process-wide caches (settings, clients) before and after, since each stack has a fresh emulator.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit


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


# A realistic retention policy's tiers, as (spacing, how far back) in days: daily for 30 days, weekly to one
# year, monthly (30 days) to five years. Weekly and monthly points sit on multiples of their spacing, the way a
# policy keeps one backup a week or a month, so the tiers never crowd each other: 30 + 48 + 48 = 126 points.
RETENTION_TIERS: tuple[tuple[int, int], ...] = ((1, 30), (7, 365), (30, 5 * 365))


def _retention_ages(daily_days: int) -> list[int]:
    """Ages in days, youngest first: every day for `daily_days`, then each later tier's multiples past that."""
    ages = list(range(daily_days))
    for step, horizon in RETENTION_TIERS[1:]:
        after = ages[-1] + 1 if ages else 0
        ages.extend(range(math.ceil(after / step) * step, horizon, step))
    return ages


@lru_cache(maxsize=16)
def _retention_ages_for(count: int) -> tuple[int, ...]:
    """The ages of `count` points: the policy's newest `count`, or, past what it holds, the daily tier reaching
    back until the total is `count`. Each extra day adds a daily point and drops at most the one weekly or
    monthly point it overtakes, so the total grows by 0 or 1 a day and some reach gives exactly `count`; the
    smallest is found by bisection (beyond five years every point is daily, so `count` days always suffice)."""
    low, high = RETENTION_TIERS[0][1], max(count, RETENTION_TIERS[0][1])
    while low < high:
        middle = (low + high) // 2
        if len(_retention_ages(middle)) >= count:
            high = middle
        else:
            low = middle + 1
    return tuple(_retention_ages(low)[:count])


def retention_points(count: int, newest: datetime, *, width: int = 0,
                     stores: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """`count` recovery points, newest first, spread like a real vault's retention (RETENTION_TIERS): a vault
    with years of backups lists hundreds of points, not the handful `daily_points` makes. Ids rp-0 (newest) ..
    (zero-padded to `width`), as in `daily_points`, so the same count always gives the same points."""
    if count < 0:
        raise ValueError(f"count must be 0 or more, not {count}")
    kept = list(stores) if stores is not None else None
    return [{"id": f"rp-{i:0{width}d}", "time": (newest - timedelta(days=age)).isoformat(),
             **({"stores": kept} if kept is not None else {})} for i, age in enumerate(_retention_ages_for(count))]


STORAGE_GROUP = "rg-storage"


def target_accounts(container_urls: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The scenario's ``storageAccounts`` for restore targets: one healthy account per account the URLs name (a
    public endpoint, cross-tenant replication allowed, the containers listed), so the pre-flight finds nothing.
    Azurite URLs (``http://127.0.0.1:10000/<account>/<container>``) name the account in their path."""
    accounts: dict[str, dict[str, Any]] = {}
    for url in container_urls:
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) == 2:
            name, endpoint = segments[0], f"{parts.scheme}://{parts.netloc}/{segments[0]}/"
        elif len(segments) == 1 and "." in (parts.hostname or ""):
            name, endpoint = (parts.hostname or "").split(".")[0], f"{parts.scheme}://{parts.netloc}/"
        else:
            continue
        account = accounts.setdefault(name, {"blobEndpoint": endpoint, "containers": []})
        account["containers"] = sorted({*account["containers"], segments[-1]})
    return accounts


def vault_tree(instances: dict[str, dict[str, Any]], containers: list[str], *, subscription: str,
               resource_group: str, vault: str, location: str = "westeurope", targets: list[str] | None = None,
               **top: Any) -> dict[str, Any]:
    """An emulator scenario with one vault holding `instances`, whose identity may write to `containers`; the
    storage accounts of `targets` (default: `containers`) are declared healthy in the group ``rg-storage``."""
    groups: dict[str, Any] = {resource_group: {"vaults": {vault: {
        "location": location, "storageRoleAssignments": containers, "backupInstances": instances,
    }}}}
    accounts = target_accounts(containers if targets is None else targets)
    if accounts:
        groups[STORAGE_GROUP] = {"storageAccounts": accounts}
    return {"subscriptions": {subscription: {"resourceGroups": groups}}, **top}


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
