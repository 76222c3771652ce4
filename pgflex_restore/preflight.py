"""The pre-flight of a restore: which ARM reads it makes, in which order, and what their answers mean.

Sans I/O: ``checks(target)`` is a generator that yields each read as ``(kind, payload)`` and is sent back the
answer in the activities' envelope (``{"ok": true, ...}`` or ``{"ok": false, "error": {...}}``); it returns the
findings (findings.py). The restore orchestration drives it with one durable activity per read, Retry-After and
retries included (orchestrations/preflight.py); the GET route and the CLI drive it with the same activities
called in place. So the three agree by construction, and the sequence is unit-tested by sending answers.

The reads: the vault (its identity, cross-subscription setting), the backup instance (protection state, the
server's subscription), the recovery point (the route and the CLI only: a restore has chosen it already), the
storage account of the container URL (listed in the vault's subscription, then the server's), the container, the
vault identity's role assignments on the account, and with a ``load`` the target server. A read the app may not
make (403) or that fails is a warning: the pre-flight never blocks a restore on what it could not see.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

from . import findings as check
from .findings import BLOCKING, Finding
from .ids import BackupInstanceId
from .preflight_arm import (
    RoleAssignmentFacts,
    StorageAccountFacts,
    VaultFacts,
    account_and_container,
    id_part,
)

READ_VAULT = "vault"
READ_INSTANCE = "instance"
READ_POINT = "point"
FIND_ACCOUNT = "account"
READ_CONTAINER = "container"
LIST_ROLES = "roles"
READ_SERVER = "server"
READS = (READ_VAULT, READ_INSTANCE, READ_POINT, FIND_ACCOUNT, READ_CONTAINER, LIST_ROLES, READ_SERVER)
PREFLIGHT_FAILED = "PreflightFailed"
# A failure record quotes at most this many blocking findings in its message and advice (all are in the record).
_QUOTED = 5

Answer = Mapping[str, Any]
Read = tuple[str, dict[str, Any]]
Checks = Generator[Read, Answer, list[Finding]]


@dataclass(frozen=True)
class PreflightTarget:
    """What is checked: the instance, the container URL, the recovery point (``point``: the restore's choice as
    ``{id, time, store}``; or ``point_request``: a wire request whose point is read first), the load's server."""

    backup_instance: str
    container_url: str
    point: dict[str, Any] | None = None
    point_request: dict[str, Any] | None = None
    load_server: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"backupInstance": self.backup_instance, "containerUrl": self.container_url, "point": self.point,
                "pointRequest": self.point_request, "loadServer": self.load_server}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreflightTarget:
        return cls(str(data["backupInstance"]), str(data["containerUrl"]),
                   dict(data["point"]) if data.get("point") else None,
                   dict(data["pointRequest"]) if data.get("pointRequest") else None,
                   str(data["loadServer"]) if data.get("loadServer") else None)


def checks(target: PreflightTarget) -> Checks:
    """Yield each read, receive its answer, return the findings (blocking ones first, each group in check order)."""
    instance = BackupInstanceId.parse(target.backup_instance)
    found: list[Finding] = []

    answer = yield READ_VAULT, {"vault": str(instance.vault)}
    vault = _vault(answer, instance, found)

    answer = yield READ_INSTANCE, {"backupInstance": str(instance)}
    server_subscription = None
    if _usable(answer, f"backup instance {instance.backup_instance_name}", str(instance), found):
        facts = answer.get("instance") or {}
        server_subscription = id_part(facts.get("datasourceResourceId"), "subscriptions")
        found += check.protection(instance, facts.get("currentProtectionState"), facts.get("protectionStatus"))

    point = target.point
    if point is None and target.point_request is not None:
        point = yield from _read_point(target, instance, found)
    if point is not None:
        found += check.recovery_point(instance, point)

    account_name, container = account_and_container(target.container_url)
    account = None
    if account_name is not None:
        account = yield from _find_account(target, account_name, [instance.subscription_id, server_subscription],
                                           found)
    if account is not None:
        found += check.storage_account(account)
        yield from _container_and_role(account, container, vault, found)
        if vault is not None:
            found += check.cross_subscription(vault, account, instance)

    if target.load_server:
        answer = yield READ_SERVER, {"server": target.load_server}
        if answer.get("ok") and answer.get("denied"):
            found.append(check.not_readable("LoadServerNotReadable", "the load's target server", target.load_server,
                                            answer["denied"]))
        elif _usable(answer, "the load's target server", target.load_server, found):
            found += check.load_server(target.load_server, answer.get("server"))
    return [f for f in found if f.severity == BLOCKING] + [f for f in found if f.severity != BLOCKING]


def _usable(answer: Answer, what: str, resource: str, found: list[Finding]) -> bool:
    """An answer the checks can read; a failed read (or a 403) becomes a warning naming it."""
    if not answer.get("ok"):
        found.append(check.check_failed(what, resource, answer.get("error") or {}))
        return False
    if answer.get("denied"):
        found.append(check.not_readable("PreflightReadDenied", what, resource, answer["denied"]))
        return False
    return True


def _vault(answer: Answer, instance: BackupInstanceId, found: list[Finding]) -> VaultFacts | None:
    if not _usable(answer, f"Backup vault {instance.vault_name}", str(instance.vault), found):
        return None
    vault = VaultFacts.from_dict(answer["vault"])
    found += check.vault_identity(vault, instance)
    return vault


def _read_point(target: PreflightTarget, instance: BackupInstanceId,
                found: list[Finding]) -> Generator[Read, Answer, dict[str, Any] | None]:
    """The point a request would restore (route and CLI): one that does not exist blocks, as the restore would."""
    answer = yield READ_POINT, {"request": target.point_request}
    error = answer.get("error") or {}
    if not answer.get("ok") and error.get("code") == "NoRecoveryPoint":
        found.append(Finding("RecoveryPointNotFound", BLOCKING, str(instance), str(error.get("message") or "")[:500],
                             f"az dataprotection recovery-point list --resource-group {instance.resource_group} "
                             f"--vault-name {instance.vault_name} --subscription {instance.subscription_id} "
                             f"--backup-instance-name {instance.backup_instance_name} --output table"))
        return None
    if not _usable(answer, "the recovery point", str(instance), found):
        return None
    chosen = answer.get("recoveryPoint") or {}
    return {"id": chosen.get("id"), "time": chosen.get("time"), "store": answer.get("store")}


def _find_account(target: PreflightTarget, name: str, subscriptions: list[str | None],
                  found: list[Finding]) -> Generator[Read, Answer, StorageAccountFacts | None]:
    """List the storage accounts of each subscription in turn until one is named ``name``."""
    searched: list[str] = []
    denied: dict[str, Mapping[str, Any]] = {}
    for subscription in dict.fromkeys(s.lower() for s in subscriptions if s):
        answer = yield FIND_ACCOUNT, {"subscription": subscription, "accountName": name}
        if not answer.get("ok"):
            found.append(check.check_failed(f"the storage accounts of subscription {subscription}",
                                            f"/subscriptions/{subscription}", answer.get("error") or {}))
            continue
        if answer.get("denied"):
            denied[subscription] = answer["denied"]
            continue
        searched.append(subscription)
        if answer.get("account"):
            return StorageAccountFacts.from_dict(answer["account"])
    found += check.account_lookup(name, target.container_url, searched, denied)
    return None


def _container_and_role(account: StorageAccountFacts, container: str, vault: VaultFacts | None,
                        found: list[Finding]) -> Generator[Read, Answer, None]:
    answer = yield READ_CONTAINER, {"account": account.id, "container": container}
    if answer.get("ok") and answer.get("denied"):
        found.append(check.not_readable("ContainerNotReadable", f"container {container}",
                                        account.container_id(container), answer["denied"], account.id))
    elif _usable(answer, f"container {container}", account.container_id(container), found):
        found += check.container(account, container, bool(answer.get("exists")))
    if vault is None or not vault.principal_id:
        return
    answer = yield LIST_ROLES, {"scope": account.id, "principalId": vault.principal_id}
    if answer.get("ok") and answer.get("denied"):
        found.append(check.not_readable("RoleAssignmentsNotReadable", "the role assignments of storage account "
                                        f"{account.name}", account.id, answer["denied"]))
    elif _usable(answer, f"the role assignments of storage account {account.name}", account.id, found):
        assignments = [RoleAssignmentFacts.from_dict(a) for a in answer.get("assignments") or []]
        found += check.vault_role(account, container, vault, assignments)


def record(findings: list[Finding]) -> dict[str, Any]:
    """The result record's ``preflight`` section."""
    blocked = sum(1 for f in findings if f.severity == BLOCKING)
    return {"findings": [f.to_dict() for f in findings], "blocking": blocked, "warnings": len(findings) - blocked}


def failure(findings: list[Finding]) -> dict[str, Any] | None:
    """The ``PreflightFailed`` error of a restore the pre-flight stopped (None: nothing blocks)."""
    blocked = [f for f in findings if f.severity == BLOCKING]
    if not blocked:
        return None
    shown = blocked[:_QUOTED]
    more = f" (and {len(blocked) - len(shown)} more)" if len(blocked) > len(shown) else ""
    return {
        "code": PREFLIGHT_FAILED, "retryable": False,
        "message": (f"the pre-flight found {len(blocked)} blocking problem(s); nothing was posted to Azure Backup: "
                    + "; ".join(f"{f.code}: {f.problem}" for f in shown) + more),
        "advice": ("fix them and restore again (preflight.findings has each one's command): "
                   + "; ".join(f.fix for f in shown if f.fix)),
    }
