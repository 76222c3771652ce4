"""The whole app on this machine: Azurite + the DataProtection emulator + the Functions app in devhost.

Every e2e test builds one ``Stack`` from a scenario. Emulator and devhost share one virtual clock, so a day-long
job runs in seconds and every wait the app makes is a durable timer that the clock jumps to.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from azure.storage.blob import BlobServiceClient

from cli import local_stack
from devhost import DevHost, InstanceNotFoundError, InstanceState, VirtualClock
from devhost.azurite import Azurite
from emulator import EmulatorServer

SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-backup"
VAULT = "vault1"
START = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
_unique = itertools.count(1)


def instance_id(name: str, vault: str = VAULT) -> str:
    return f"{vault_id(vault)}/backupInstances/{name}"


def vault_id(vault: str = VAULT) -> str:
    return local_stack.vault_id(SUB, RG, vault)


def server_id(name: str) -> str:
    return local_stack.server_id(SUB, "rg-db", name)


def points(count: int = 5, *, newest: datetime = START - timedelta(hours=2), every: timedelta = timedelta(days=1),
           stores: tuple[str, ...] = ("VaultStore",)) -> list[dict[str, Any]]:
    """Daily recovery points, newest first, ids rp-0 (newest) .. rp-N."""
    return local_stack.daily_points(count, newest, every=every, stores=stores)


def backup_instance(name: str = "pg1", **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serverId": server_id(name),
        "databases": ["appdb", "reporting"],
        "recoveryPoints": points(),
        "timings": {"validateSeconds": 25, "validateRetryAfter": 10, "restoreSeconds": 70,
                    "restoreRetryAfter": 30, "jobSeconds": 600},
    }
    spec.update(overrides)
    return spec


def scenario(instances: dict[str, dict[str, Any]], containers: list[str], *, targets: list[str] | None = None,
             **top: Any) -> dict[str, Any]:
    """One vault granted `containers`; the storage accounts of `targets` (default `containers`) declared healthy
    in the group ``rg-storage``, so the pre-flight finds nothing to say unless a test changes them."""
    return local_stack.vault_tree(instances, containers, subscription=SUB, resource_group=RG, vault=VAULT,
                                  targets=targets, **top)


@dataclass
class Target:
    """Changes to a stack's healthy restore target (the pre-flight's subjects): the declared storage account's
    settings (``account``, merged), the vault's (``vault``), the subscription's (``subscription``: e.g.
    ``denyActions``), the account moved to another subscription (``subscription_id``), or not declared at all."""

    account: dict[str, Any] | None = None
    vault: dict[str, Any] | None = None
    subscription: dict[str, Any] | None = None
    subscription_id: str | None = None
    declared: bool = True

    def apply(self, spec: dict[str, Any]) -> None:
        groups = spec["subscriptions"][SUB]["resourceGroups"]
        groups[RG]["vaults"][VAULT].update(self.vault or {})
        spec["subscriptions"][SUB].update(self.subscription or {})
        storage = groups.get(local_stack.STORAGE_GROUP)
        if storage is None:
            return
        for account in storage["storageAccounts"].values():
            account.update(self.account or {})
        if self.subscription_id:
            spec["subscriptions"][self.subscription_id] = {"resourceGroups": {local_stack.STORAGE_GROUP: storage}}
            del groups[local_stack.STORAGE_GROUP]


@dataclass
class Stack:
    clock: VirtualClock
    emulator: EmulatorServer
    host: DevHost
    azurite: Azurite
    container: str
    container_url: str
    queue: str

    @property
    def api(self) -> str:
        return f"{self.host.http_base}/api"

    @property
    def key(self) -> dict[str, str]:
        return {"x-functions-key": self.host.function_key}

    def post_restore(self, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        return requests.post(f"{self.api}/restores", json=body, headers=self.key, timeout=30, **kwargs)

    def get_restore(self, restore_id: str) -> dict[str, Any]:
        reply = requests.get(f"{self.api}/restores/{restore_id}", headers=self.key, timeout=30)
        reply.raise_for_status()
        result: dict[str, Any] = reply.json()
        return result

    def request_body(self, instance: str = "pg1", **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"backupInstance": instance_id(instance),
                                "target": {"containerUrl": self.container_url, "filePrefix": "restored"}}
        body.update(extra)
        return body

    def run(self, body: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        """POST a restore and wait for its result record."""
        reply = self.post_restore(body)
        assert reply.status_code == 202, reply.text
        restore_id = reply.json()["restoreId"]
        state = self.host.wait_for(restore_id, timeout=timeout)
        assert state.runtime_status == "Completed", state.output
        output: dict[str, Any] = state.output
        return output

    def reruns(self, *activities: str) -> int:
        """How often the host re-ran these activities after their outcome was lost (DEVHOST_REDELIVERY): each re-run
        repeats the activity's ARM request, so exact request counts grow by this much under re-delivery."""
        return sum(1 for name, _, _, point in self.host.engine.redelivered
                   if point == "after" and (not activities or name in activities))

    def instance(self, instance_id: str) -> InstanceState | None:
        """The instance's state, or None before it exists."""
        try:
            return self.host.get(instance_id)
        except InstanceNotFoundError:
            return None

    def wait_until(self, predicate: Any, timeout: float = 30.0) -> None:
        """Poll a condition (the host runs in the background); fail with a clear message on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            time.sleep(0.05)

    def blobs(self) -> dict[str, int]:
        container = BlobServiceClient.from_connection_string(self.azurite.connection_string) \
            .get_container_client(self.container)
        return {b.name: b.size for b in container.list_blobs()}

    def arm_requests(self, method: str | None = None, contains: str = "") -> list[dict[str, Any]]:
        return [r for r in self.emulator.requests
                if (method is None or r["method"] == method) and contains in r["path"]
                and r["path"].startswith("/subscriptions/")]

    def send_queue_message(self, payload: dict[str, Any] | str) -> None:
        from azure.storage.queue import QueueClient

        queue = QueueClient.from_connection_string(self.azurite.connection_string, self.queue)
        queue.send_message(payload if isinstance(payload, str) else json.dumps(payload))

    def queue_drained(self, name: str | None = None) -> bool:
        """No message left, visible or in flight: the trigger finished with (and deleted) every message."""
        from azure.storage.queue import QueueClient

        queue = QueueClient.from_connection_string(self.azurite.connection_string, name or self.queue)
        return int(queue.get_queue_properties().approximate_message_count or 0) == 0

    def blob_text(self, container: str, name: str) -> str:
        """A blob of the Functions storage account (Azurite), as text."""
        service = BlobServiceClient.from_connection_string(self.azurite.connection_string)
        return service.get_blob_client(container, name).download_blob().readall().decode("utf-8")

    def queue_messages(self, name: str) -> list[dict[str, Any]]:
        from azure.storage.queue import QueueClient

        queue = QueueClient.from_connection_string(self.azurite.connection_string, name)
        try:
            return [json.loads(m.content) for m in queue.peek_messages(max_messages=32)]
        except Exception:  # the queue was never created: no messages
            return []


@contextmanager
def running_stack(azurite: Azurite, instances: dict[str, dict[str, Any]] | None = None, *,
                  api_version: str = "2026-06-01", extra_env: dict[str, str] | None = None,
                  scenario_top: dict[str, Any] | None = None, grant_role: bool = True,
                  host_options: dict[str, Any] | None = None,
                  resource_groups: dict[str, dict[str, Any]] | None = None,
                  target: Target | None = None) -> Iterator[Stack]:
    """``resource_groups``: more resource groups of the subscription (e.g. a loader job and a flexible server);
    ``target``: how the target container's storage account, the vault and the subscription differ from healthy."""
    n = next(_unique)
    container = f"restores{n}"
    container_url = f"{azurite.endpoints.blob_account_url}/{container}"
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(container)
    queue = f"restore-requests-{n}"
    clock = VirtualClock(START)
    target = target or Target()
    spec = scenario(instances or {"pg1": backup_instance()}, [container_url] if grant_role else [],
                    targets=[container_url] if target.declared else [], **(scenario_top or {}))
    spec["subscriptions"][SUB]["resourceGroups"].update(resource_groups or {})
    target.apply(spec)
    env = {
        "TASKHUB_NAME": f"hub{n}",
        "DATAPROTECTION_API_VERSION": api_version,
        "RESTORE_TARGET_ALLOWLIST": container_url,
        "RESTORE_REQUESTS_QUEUE": queue,
        "RESTORE_VAULTS": vault_id(),
        "ALERT_RESTORE_TARGET": container_url,
        "POLL_MIN_SECONDS": "5",
        "POLL_DEFAULT_SECONDS": "30",
        "RESTORE_TIMEOUT": "PT24H",
        **(extra_env or {}),
    }
    with local_stack.local_app(spec, env=env, clock=clock, storage=azurite.connection_string,
                               **(host_options or {})) as app:
        yield Stack(clock, app.emulator, app.host, azurite, container, container_url, queue)


@contextmanager
def paced_timers(stack: Stack, per_second: float = 20.0) -> Iterator[None]:
    """Fire due durable timers at most ``per_second`` times a real second (the host needs ``auto_advance`` off).

    Auto-advance jumps the virtual clock the moment nothing runs; while a loader job execution, a real process,
    works for real seconds, that would spend a whole RESTORE_TIMEOUT of polls in them. Paced, every poll interval
    of the restore still passes in virtual time, but the process gets real time between polls.
    """
    import threading

    stop = threading.Event()

    def drive() -> None:
        while not stop.wait(1.0 / per_second):
            wake = stack.host.engine.next_wakeup()
            if wake is not None and wake > stack.clock.now():
                stack.clock.advance_to(wake)

    worker = threading.Thread(target=drive, name="paced-timers", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=5)
