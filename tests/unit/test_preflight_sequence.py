"""The pre-flight's reads in order, driven by sending answers (no HTTP): which read comes when, what each answer
(or a 403, or a failure) becomes, and the record and error a restore gets from the findings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pgflex_restore.findings import Finding
from pgflex_restore.preflight import (
    FIND_ACCOUNT,
    LIST_ROLES,
    READ_CONTAINER,
    READ_INSTANCE,
    READ_POINT,
    READ_SERVER,
    READ_VAULT,
    PreflightTarget,
    checks,
    failure,
    record,
)
from pgflex_restore.preflight_arm import BLOB_DATA_CONTRIBUTOR

SUB = "11111111-2222-3333-4444-555555555555"
DB_SUB = "22222222-2222-3333-4444-555555555555"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/backupVaults/vault1"
BI = f"{VAULT}/backupInstances/pg1"
URL = "https://acct.blob.core.windows.net/restores"
ACCOUNT_ID = f"/subscriptions/{DB_SUB}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/acct"
PRINCIPAL = "0f0e0d0c-0000-4000-8000-0000000000aa"
SERVER = f"/subscriptions/{SUB}/resourceGroups/rg-db/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-t"
ACCOUNT = {"id": ACCOUNT_ID, "name": "acct", "allowCrossTenantReplication": True, "publicNetworkAccess": "Enabled",
           "defaultAction": "Allow", "bypass": ["AzureServices"]}
DENIED = {"code": "AuthorizationFailed", "message": "no", "status": 403}

Answers = dict[str, Callable[[dict[str, Any]], dict[str, Any]]]


def healthy() -> Answers:
    return {
        READ_VAULT: lambda p: {"ok": True, "vault": {"id": VAULT, "principalId": PRINCIPAL,
                                                     "identityType": "SystemAssigned",
                                                     "crossSubscriptionRestore": "Enabled"}},
        READ_INSTANCE: lambda p: {"ok": True, "instance": {
            "currentProtectionState": "ProtectionConfigured", "protectionStatus": "ProtectionConfigured",
            "datasourceResourceId": f"/subscriptions/{DB_SUB}/resourceGroups/rg-db/providers/"
                                    "Microsoft.DBforPostgreSQL/flexibleServers/pg1"}},
        READ_POINT: lambda p: {"ok": True, "recoveryPoint": {"id": "rp-0", "time": "t"}, "store": "VaultStore"},
        FIND_ACCOUNT: lambda p: {"ok": True, "account": ACCOUNT if p["subscription"] == DB_SUB else None},
        READ_CONTAINER: lambda p: {"ok": True, "exists": True},
        LIST_ROLES: lambda p: {"ok": True, "assignments": [
            {"scope": ACCOUNT_ID, "role": BLOB_DATA_CONTRIBUTOR, "principalId": PRINCIPAL}]},
        READ_SERVER: lambda p: {"ok": True, "server": {"state": "Ready", "activeDirectoryAuth": "Enabled",
                                                      "publicNetworkAccess": "Enabled"}},
    }


def run(target: PreflightTarget, answers: Answers) -> tuple[list[Finding], list[tuple[str, dict[str, Any]]]]:
    reads: list[tuple[str, dict[str, Any]]] = []
    sequence = checks(target)
    try:
        kind, payload = next(sequence)
        while True:
            reads.append((kind, payload))
            kind, payload = sequence.send(answers[kind](payload))
    except StopIteration as stop:
        return stop.value, reads


TARGET = PreflightTarget(BI, URL, point={"id": "rp-0", "time": "t", "store": "VaultStore"})


def test_a_healthy_target_reads_in_order_and_finds_nothing() -> None:
    """The vault's subscription is listed first, then the server's, where the account is; then its container and
    the vault identity's roles on the account."""
    found, reads = run(TARGET, healthy())
    assert found == []
    assert [k for k, _ in reads] == [READ_VAULT, READ_INSTANCE, FIND_ACCOUNT, FIND_ACCOUNT, READ_CONTAINER,
                                     LIST_ROLES]
    assert reads[2][1] == {"subscription": SUB, "accountName": "acct"}
    assert reads[3][1]["subscription"] == DB_SUB
    assert reads[4][1] == {"account": ACCOUNT_ID, "container": "restores"}
    assert reads[5][1] == {"scope": ACCOUNT_ID, "principalId": PRINCIPAL}


def test_the_point_is_read_when_not_given_and_the_server_with_a_load() -> None:
    target = PreflightTarget(BI, URL, point_request={"backupInstance": BI}, load_server=SERVER)
    answers = healthy()
    answers[READ_POINT] = lambda p: {"ok": True, "recoveryPoint": {"id": "rp-9", "time": "t"}, "store": "ArchiveStore"}
    found, reads = run(target, answers)
    assert [k for k, _ in reads] == [READ_VAULT, READ_INSTANCE, READ_POINT, FIND_ACCOUNT, FIND_ACCOUNT,
                                     READ_CONTAINER, LIST_ROLES, READ_SERVER]
    assert [f.code for f in found] == ["ArchiveOnlyRecoveryPoint"]


def test_a_missing_point_blocks_the_route_and_cli_as_the_restore_would() -> None:
    answers = healthy()
    answers[READ_POINT] = lambda p: {"ok": False, "error": {"code": "NoRecoveryPoint", "message": "none there"}}
    found, _ = run(PreflightTarget(BI, URL, point_request={}), answers)
    assert [(f.code, f.severity) for f in found] == [("RecoveryPointNotFound", "blocking")]


def test_blocking_findings_come_first_and_make_the_error() -> None:
    answers = healthy()
    answers[READ_INSTANCE] = lambda p: {"ok": True, "instance": {"currentProtectionState": "ProtectionStopped"}}
    answers[FIND_ACCOUNT] = lambda p: {"ok": True, "account": {**ACCOUNT, "allowCrossTenantReplication": False}}
    answers[READ_CONTAINER] = lambda p: {"ok": True, "exists": False}
    answers[LIST_ROLES] = lambda p: {"ok": True, "assignments": []}
    found, reads = run(TARGET, answers)
    assert [(f.code, f.severity) for f in found] == [
        ("CrossTenantReplicationDisabled", "blocking"), ("ContainerNotFound", "blocking"),
        ("VaultRoleMissing", "blocking"), ("ProtectionNotActive", "warning")]
    assert len([k for k, _ in reads if k == FIND_ACCOUNT]) == 1  # the vault's subscription had it
    summary = record(found)
    assert (summary["blocking"], summary["warnings"], len(summary["findings"])) == (3, 1, 4)
    error = failure(found)
    assert error is not None and error["code"] == "PreflightFailed" and error["retryable"] is False
    assert "CrossTenantReplicationDisabled" in error["message"] and "az storage container create" in error["advice"]
    assert failure(found[3:]) is None  # warnings alone never stop a restore


def test_what_the_app_may_not_read_is_a_warning_and_the_rest_is_checked() -> None:
    answers = healthy()
    answers[FIND_ACCOUNT] = lambda p: ({"ok": True, "denied": DENIED} if p["subscription"] == SUB
                                       else {"ok": True, "account": ACCOUNT})
    answers[READ_CONTAINER] = lambda p: {"ok": True, "denied": DENIED}
    answers[LIST_ROLES] = lambda p: {"ok": True, "denied": DENIED}
    found, _ = run(TARGET, answers)
    assert [(f.code, f.severity) for f in found] == [("ContainerNotReadable", "warning"),
                                                     ("RoleAssignmentsNotReadable", "warning")]
    answers[FIND_ACCOUNT] = lambda p: {"ok": True, "denied": DENIED}
    found, reads = run(TARGET, answers)
    assert [f.code for f in found] == ["StorageAccountsNotReadable", "StorageAccountsNotReadable",
                                       "StorageAccountNotFound"]
    assert READ_CONTAINER not in [k for k, _ in reads]  # no account: nothing more to read about it


def test_a_failed_read_is_a_warning_not_a_failure() -> None:
    answers = healthy()
    answers[READ_VAULT] = lambda p: {"ok": False, "error": {"code": "ServerError", "message": "boom"}}
    answers[READ_SERVER] = lambda p: {"ok": True, "server": None}
    found, reads = run(PreflightTarget(BI, URL, point=TARGET.point, load_server=SERVER), answers)
    assert [(f.code, f.severity) for f in found] == [("LoadServerNotFound", "blocking"),
                                                     ("PreflightCheckFailed", "warning")]
    assert "ServerError: boom" in found[1].problem and found[1].fix is None
    assert LIST_ROLES not in [k for k, _ in reads]  # without the vault, its identity is unknown


def test_a_vault_without_identity_blocks_and_its_roles_are_not_listed() -> None:
    answers = healthy()
    answers[READ_VAULT] = lambda p: {"ok": True, "vault": {"id": VAULT, "principalId": None, "identityType": None,
                                                           "crossSubscriptionRestore": "Disabled"}}
    found, reads = run(TARGET, answers)
    assert [f.code for f in found] == ["VaultIdentityMissing", "CrossSubscriptionRestoreDisabled"]
    assert LIST_ROLES not in [k for k, _ in reads]


def test_the_target_round_trips() -> None:
    target = PreflightTarget(BI, URL, point={"id": "x"}, point_request={"a": 1}, load_server=SERVER)
    assert PreflightTarget.from_dict(target.to_dict()) == target
