"""The pre-flight through the running app (devhost + emulator + Azurite): each finding from what the emulator's
ARM answers, a blocking one ending the restore as preflight_failed before any POST, a warning recorded while the
restore goes on, ``"preflight": false`` skipping it, and a throttled read waited out."""

from __future__ import annotations

from typing import Any

import pytest

from devhost.azurite import Azurite
from pgflex_restore.timeutil import parse_datetime
from tests.e2e.stack import SUB, Stack, Target, backup_instance, points, running_stack, server_id

OTHER_SUB = "99999999-2222-3333-4444-555555555555"
LOAD_SERVER = server_id("pg-target")
HEALTHY_SERVER = {"state": "Ready", "publicNetworkAccess": "Enabled",
                  "authConfig": {"activeDirectoryAuth": "Enabled", "passwordAuth": "Enabled"}}


def posts(stack: Stack) -> list[dict[str, Any]]:
    """The validateRestore and restore POSTs the emulator received."""
    return [r for r in stack.arm_requests("POST") if r["path"].endswith(("/validateRestore", "/restore"))]


def codes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["code"], f["severity"]) for f in result["preflight"]["findings"]]


def load_stack(azurite: Azurite, server: dict[str, Any] | None, **kwargs: Any) -> Any:
    """A stack whose restore may name a load server (validate-only restores need no loader job)."""
    groups = {"rg-db": {"flexibleServers": {"pg-target": server}}} if server is not None else {}
    return running_stack(azurite, resource_groups=groups, extra_env={"LOAD_TARGET_ALLOWLIST": LOAD_SERVER},
                         **kwargs)


CROSS_SUBSCRIPTION = {"pg1": backup_instance(serverId=server_id("pg1").replace(SUB, OTHER_SUB))}

BLOCKING: dict[str, dict[str, Any]] = {
    "CrossTenantReplicationDisabled": {"target": Target(account={"allowCrossTenantReplication": False})},
    "PublicNetworkAccessDisabled": {"target": Target(account={"publicNetworkAccess": "Disabled"})},
    "StorageFirewallBlocksBackup": {"target": Target(account={"networkAcls": {"defaultAction": "Deny",
                                                                              "bypass": "Logging, Metrics"}})},
    "ContainerNotFound": {"target": Target(account={"containers": []})},
    "VaultRoleMissing": {"grant_role": False},
    "VaultIdentityMissing": {"target": Target(vault={"identity": "None"})},
    "BackupInstanceSoftDeleted": {"instances": {"pg1": backup_instance(protectionState="SoftDeleted")}},
    "CrossSubscriptionRestoreDisabled": {"instances": CROSS_SUBSCRIPTION, "target": Target(
        subscription_id=OTHER_SUB, vault={"crossSubscriptionRestore": "Disabled"})},
}


@pytest.mark.parametrize("code", sorted(BLOCKING))
def test_a_blocking_finding_ends_the_restore_before_anything_is_posted(azurite: Azurite, code: str) -> None:
    """preflight_failed, the finding first with its fix in the record and the error; no validateRestore, no
    restore; nothing started in Azure."""
    with running_stack(azurite, **BLOCKING[code]) as stack:
        result = stack.run(stack.request_body())
        assert result["status"] == "preflight_failed", result
        assert codes(result)[0] == (code, "blocking"), result["preflight"]
        assert result["preflight"]["findings"][0]["fix"], result["preflight"]
        assert result["error"]["code"] == "PreflightFailed" and code in result["error"]["message"]
        assert (result["validated"], result["jobMayBeRunning"], result["restorePost"]) == (False, False,
                                                                                          "notAccepted")
        assert posts(stack) == []
        assert stack.get_restore(result["restoreId"])["status"]["phase"] == "failed"


@pytest.mark.parametrize(("code", "server"), [
    ("LoadServerEntraAuthDisabled", {**HEALTHY_SERVER, "authConfig": {"activeDirectoryAuth": "Disabled",
                                                                      "passwordAuth": "Enabled"}}),
    ("LoadServerNotFound", None),
])
def test_a_load_server_that_cannot_be_loaded_blocks(azurite: Azurite, code: str, server: dict[str, Any] | None) -> None:
    with load_stack(azurite, server) as stack:
        result = stack.run(stack.request_body(validateOnly=True, load={"server": LOAD_SERVER}))
        assert result["status"] == "preflight_failed", result
        assert codes(result) == [(code, "blocking")]
        assert posts(stack) == []


WARNINGS: dict[str, dict[str, Any]] = {
    "CrossTenantReplicationUnknown": {"target": Target(account={"allowCrossTenantReplication": None})},
    "PublicNetworkAccessSecuredByPerimeter": {"target": Target(account={"publicNetworkAccess":
                                                                        "SecuredByPerimeter"})},
    "StorageFirewallRestricted": {"target": Target(account={"networkAcls": {"defaultAction": "Deny",
                                                                            "bypass": "AzureServices"}})},
    "StorageAccountNotFound": {"target": Target(declared=False)},
    "StorageAccountsNotReadable": {"target": Target(subscription={
        "denyActions": ["Microsoft.Storage/storageAccounts/read"]})},
    "ContainerNotReadable": {"target": Target(account={"denyActions": [
        "Microsoft.Storage/storageAccounts/blobServices/containers/read"]})},
    "RoleAssignmentsNotReadable": {"target": Target(account={"denyActions": [
        "Microsoft.Authorization/roleAssignments/read"]})},
    "ProtectionNotActive": {"instances": {"pg1": backup_instance(protectionState="ProtectionStopped")}},
    "ArchiveOnlyRecoveryPoint": {"instances": {"pg1": backup_instance(recoveryPoints=points(
        2, stores=("ArchiveStore",)))}},
    "CrossSubscriptionRestoreUnknown": {"instances": CROSS_SUBSCRIPTION, "api_version": "2021-07-01",
                                        "target": Target(subscription_id=OTHER_SUB)},
}


@pytest.mark.parametrize("code", sorted(WARNINGS))
def test_a_warning_is_recorded_and_the_restore_goes_on(azurite: Azurite, code: str) -> None:
    with running_stack(azurite, **WARNINGS[code]) as stack:
        result = stack.run(stack.request_body())
        assert result["status"] == "succeeded", result
        found = codes(result)
        assert (code, "warning") in found and all(severity == "warning" for _, severity in found), found
        assert result["preflight"]["blocking"] == 0 and result["error"] is None
        assert len(stack.arm_requests("POST", "/restore")) == 1


@pytest.mark.parametrize(("code", "server"), [
    ("LoadServerPublicAccessDisabled", {**HEALTHY_SERVER, "publicNetworkAccess": "Disabled"}),
    ("LoadServerNotReady", {**HEALTHY_SERVER, "state": "Stopped"}),
    ("LoadServerNotReadable", {**HEALTHY_SERVER, "denyActions": ["Microsoft.DBforPostgreSQL/flexibleServers/read"]}),
])
def test_a_load_server_warning_is_recorded(azurite: Azurite, code: str, server: dict[str, Any]) -> None:
    with load_stack(azurite, server) as stack:
        result = stack.run(stack.request_body(validateOnly=True, load={"server": LOAD_SERVER}))
        assert result["status"] == "validated", result
        assert codes(result) == [(code, "warning")]


def test_a_read_that_keeps_failing_is_a_warning(azurite: Azurite) -> None:
    """The vault read answers 400 (every delivery): PreflightCheckFailed names it, the restore goes on."""
    with running_stack(azurite) as stack:
        stack.emulator.inject_fault(status=400, code="BadRequest", message="no vault for you", count=50,
                                    method="GET", path="/backupVaults/vault1$")
        result = stack.run(stack.request_body())
        assert result["status"] == "succeeded", result
        [failed] = result["preflight"]["findings"]
        assert failed["code"] == "PreflightCheckFailed" and "BadRequest: no vault for you" in failed["problem"]


def test_a_throttled_read_waits_out_its_retry_after(azurite: Azurite) -> None:
    """A 429 on the storage account list (Retry-After 40) is waited out on a durable timer, then read again."""
    with running_stack(azurite) as stack:
        stack.emulator.inject_fault(status=429, retry_after=40, count=1, method="GET",
                                    path="/providers/Microsoft.Storage/storageAccounts$")
        result = stack.run(stack.request_body())
        assert result["status"] == "succeeded" and result["preflight"]["findings"] == [], result
        lists = stack.arm_requests("GET", "/providers/Microsoft.Storage/storageAccounts")
        assert [r["status"] for r in lists][:2] == [429, 200]
        if stack.reruns("preflight_find_storage_account"):
            return  # the 429's outcome was lost and the host re-ran the read at once: nothing to wait out
        assert result["retries"] == 1
        waited = parse_datetime(lists[1]["time"]) - parse_datetime(lists[0]["time"])
        assert waited.total_seconds() >= 40


def test_preflight_false_skips_it(azurite: Azurite) -> None:
    """Without the pre-flight nothing of it is read, and the same target fails at Azure Backup's validation."""
    with running_stack(azurite, target=Target(account={"allowCrossTenantReplication": False})) as stack:
        result = stack.run(stack.request_body(preflight=False))
        assert result["status"] == "failed" and result["preflight"] is None, result
        assert result["error"]["code"] == "UserErrorCrossTenantReplicationNotAllowed"
        assert not [r for r in stack.arm_requests() if "Microsoft.DataProtection" not in r["path"]]
        assert len(stack.arm_requests("POST", "/validateRestore")) >= 1
