"""The pre-flight's findings as pure functions of what ARM said: each rule, its severity and its command."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pgflex_restore import findings as check
from pgflex_restore.findings import BLOCKING, WARNING, Finding
from pgflex_restore.ids import BackupInstanceId
from pgflex_restore.preflight_arm import (
    BLOB_DATA_CONTRIBUTOR,
    BLOB_DATA_OWNER,
    RoleAssignmentFacts,
    StorageAccountFacts,
    VaultFacts,
    account_and_container,
    covers,
    find_account,
    parse_role_assignment,
    parse_storage_account,
    parse_vault,
    writer_roles,
)

SUB = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-2222-3333-4444-555555555555"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/backupVaults/vault1"
INSTANCE = BackupInstanceId.parse(f"{VAULT}/backupInstances/pg1")
ACCOUNT_ID = f"/subscriptions/{SUB}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/acct"
ACCOUNT = StorageAccountFacts(ACCOUNT_ID, "acct", True, "Enabled", "Allow", ("AzureServices",))
PRINCIPAL = "0f0e0d0c-0000-4000-8000-0000000000aa"
VAULT_FACTS = VaultFacts(VAULT, PRINCIPAL, "SystemAssigned", "Enabled")
SERVER = f"/subscriptions/{SUB}/resourceGroups/rg-db/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-t"


def codes(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in found]


def test_a_healthy_account_has_no_finding() -> None:
    assert check.storage_account(ACCOUNT) == []


@pytest.mark.parametrize(("change", "code", "severity", "flag"), [
    ({"allow_cross_tenant_replication": False}, "CrossTenantReplicationDisabled", BLOCKING,
     "--allow-cross-tenant-replication true"),
    ({"allow_cross_tenant_replication": None}, "CrossTenantReplicationUnknown", WARNING,
     "--allow-cross-tenant-replication true"),
    ({"public_network_access": "Disabled"}, "PublicNetworkAccessDisabled", BLOCKING, "--public-network-access Enabled"),
    ({"public_network_access": "SecuredByPerimeter"}, "PublicNetworkAccessSecuredByPerimeter", WARNING,
     "--public-network-access Enabled"),
    ({"default_action": "Deny", "bypass": ("Logging", "Metrics")}, "StorageFirewallBlocksBackup", BLOCKING,
     "--bypass Logging Metrics AzureServices"),
    ({"default_action": "Deny", "bypass": ("None",)}, "StorageFirewallBlocksBackup", BLOCKING,
     "--bypass AzureServices"),
    ({"default_action": "Deny", "bypass": ("AzureServices",)}, "StorageFirewallRestricted", WARNING,
     "--default-action Allow"),
])
def test_each_account_setting_is_a_finding_with_its_command(change: dict[str, object], code: str, severity: str,
                                                            flag: str) -> None:
    """Every storage finding names the account and gives the az command with its group and subscription."""
    [found] = check.storage_account(replace(ACCOUNT, **change))  # type: ignore[arg-type]
    assert (found.code, found.severity, found.resource) == (code, severity, ACCOUNT_ID)
    assert found.fix == (f"az storage account update --name acct --resource-group rg-storage --subscription {SUB} "
                         f"{flag}")


def test_a_disabled_public_endpoint_is_reported_once_not_with_its_firewall() -> None:
    found = check.storage_account(replace(ACCOUNT, public_network_access="Disabled", default_action="Deny",
                                          bypass=()))
    assert codes(found) == [("PublicNetworkAccessDisabled", BLOCKING)]


def test_a_missing_container_blocks_and_says_how_to_create_it() -> None:
    assert check.container(ACCOUNT, "restores", True) == []
    [found] = check.container(ACCOUNT, "restores", False)
    assert found.severity == BLOCKING and found.resource == f"{ACCOUNT_ID}/blobServices/default/containers/restores"
    assert found.fix == "az storage container create --name restores --account-name acct --auth-mode login"


def assignment(scope: str, role: str = BLOB_DATA_CONTRIBUTOR, principal: str = PRINCIPAL) -> RoleAssignmentFacts:
    return RoleAssignmentFacts(scope, role, principal)


@pytest.mark.parametrize("scope", [
    f"/subscriptions/{SUB}", f"/subscriptions/{SUB}/resourceGroups/rg-storage", ACCOUNT_ID,
    f"{ACCOUNT_ID}/blobServices/default/containers/restores", ACCOUNT_ID.upper(),
    "/providers/Microsoft.Management/managementGroups/root",
])
def test_a_writer_role_at_or_above_the_container_is_enough(scope: str) -> None:
    assert check.vault_role(ACCOUNT, "restores", VAULT_FACTS, [assignment(scope)]) == []
    assert check.vault_role(ACCOUNT, "restores", VAULT_FACTS, [assignment(scope, BLOB_DATA_OWNER)]) == []


@pytest.mark.parametrize("assignments", [
    [],
    [assignment(f"{ACCOUNT_ID}/blobServices/default/containers/other")],  # another container
    [assignment(f"{ACCOUNT_ID}x")],  # a prefix that is not a parent
    [assignment(ACCOUNT_ID, "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1")],  # Storage Blob Data Reader
    [assignment(ACCOUNT_ID, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635")],  # Owner: no data actions
    [assignment(ACCOUNT_ID, principal="someone-else")],
])
def test_without_a_writer_role_on_the_container_the_restore_is_blocked(assignments: list[RoleAssignmentFacts]) -> None:
    [found] = check.vault_role(ACCOUNT, "restores", VAULT_FACTS, assignments)
    assert (found.code, found.severity) == ("VaultRoleMissing", BLOCKING)
    assert found.fix == (f"az role assignment create --assignee-object-id {PRINCIPAL} --assignee-principal-type "
                         f"ServicePrincipal --role \"Storage Blob Data Contributor\" --scope {ACCOUNT_ID}")


def test_a_vault_without_a_system_identity_blocks() -> None:
    assert check.vault_identity(VAULT_FACTS, INSTANCE) == []
    [found] = check.vault_identity(replace(VAULT_FACTS, principal_id=None, identity_type="None"), INSTANCE)
    assert (found.code, found.severity) == ("VaultIdentityMissing", BLOCKING)
    assert found.fix == (f"az dataprotection backup-vault update --resource-group rg-backup --vault-name vault1 "
                         f"--subscription {SUB} --type SystemAssigned")


@pytest.mark.parametrize(("state", "code", "severity"), [
    ("Enabled", None, None), ("Disabled", "CrossSubscriptionRestoreDisabled", BLOCKING),
    ("PermanentlyDisabled", "CrossSubscriptionRestoreDisabled", BLOCKING),
    (None, "CrossSubscriptionRestoreUnknown", WARNING),
])
def test_a_target_in_another_subscription_needs_cross_subscription_restore(state: str | None, code: str | None,
                                                                           severity: str | None) -> None:
    elsewhere = replace(ACCOUNT, id=ACCOUNT_ID.replace(SUB, OTHER))
    vault = replace(VAULT_FACTS, cross_subscription_restore=state)
    assert check.cross_subscription(vault, ACCOUNT, INSTANCE) == []  # the same subscription: nothing to check
    found = check.cross_subscription(vault, elsewhere, INSTANCE)
    assert codes(found) == ([(code, severity)] if code else [])
    if state == "Disabled":
        assert found[0].fix is not None and found[0].fix.endswith("--cross-subscription-restore-state Enabled")


@pytest.mark.parametrize(("state", "status", "code", "severity"), [
    ("ProtectionConfigured", "ProtectionConfigured", None, None),
    ("ProtectionStopped", "ProtectionStopped", "ProtectionNotActive", WARNING),
    ("BackupSchedulesSuspended", None, "ProtectionNotActive", WARNING),
    (None, "SoftDeleted", "BackupInstanceSoftDeleted", BLOCKING),
    ("SoftDeleting", None, "BackupInstanceSoftDeleted", BLOCKING),
])
def test_protection_state(state: str | None, status: str | None, code: str | None, severity: str | None) -> None:
    found = check.protection(INSTANCE, state, status)
    assert codes(found) == ([(code, severity)] if code else [])


def test_an_archive_point_is_a_warning_about_rehydration() -> None:
    assert check.recovery_point(INSTANCE, {"id": "rp-0", "time": "t", "store": "VaultStore"}) == []
    [found] = check.recovery_point(INSTANCE, {"id": "rp-0", "time": "t", "store": "ArchiveStore"})
    assert (found.code, found.severity) == ("ArchiveOnlyRecoveryPoint", WARNING)
    assert "rehydrated" in found.problem and found.fix is not None and "recovery-point list" in found.fix


@pytest.mark.parametrize(("server", "expected"), [
    ({"state": "Ready", "publicNetworkAccess": "Enabled", "activeDirectoryAuth": "Enabled"}, []),
    (None, [("LoadServerNotFound", BLOCKING)]),
    ({"state": "Ready", "activeDirectoryAuth": "Disabled"}, [("LoadServerEntraAuthDisabled", BLOCKING)]),
    ({"state": "Ready", "publicNetworkAccess": "Disabled"}, [("LoadServerPublicAccessDisabled", WARNING)]),
    ({"state": "Stopped"}, [("LoadServerNotReady", WARNING)]),
])
def test_the_load_server(server: dict[str, str] | None, expected: list[tuple[str, str]]) -> None:
    found = check.load_server(SERVER, server)
    assert codes(found) == expected
    for finding in found:
        assert finding.fix is not None and finding.fix.startswith("az postgres flexible-server")
    if expected == [("LoadServerEntraAuthDisabled", BLOCKING)]:
        assert found[0].fix == (f"az postgres flexible-server update --resource-group rg-db --name pg-t "
                                f"--subscription {SUB} --microsoft-entra-auth Enabled")


def test_an_account_not_found_or_not_listable_is_a_warning_naming_reader() -> None:
    url = "https://acct.blob.core.windows.net/restores"
    found = check.account_lookup("acct", url, [SUB], {OTHER: {"code": "AuthorizationFailed"}})
    assert codes(found) == [("StorageAccountsNotReadable", WARNING), ("StorageAccountNotFound", WARNING)]
    assert found[0].fix == f"az role assignment create --assignee <the app's principal id> --role Reader --scope " \
                           f"/subscriptions/{OTHER}"
    assert SUB in found[1].problem and "Reader" in (found[1].fix or "")


def test_findings_round_trip() -> None:
    finding = check.container(ACCOUNT, "restores", False)[0]
    assert Finding.from_dict(finding.to_dict()) == finding


def test_account_and_container_from_the_url() -> None:
    assert account_and_container("https://acct.blob.core.windows.net/restores") == ("acct", "restores")
    assert account_and_container("https://ACCT.z12.blob.storage.azure.net/restores") == ("acct", "restores")
    assert account_and_container("http://127.0.0.1:10000/devstoreaccount1/restores") == ("devstoreaccount1",
                                                                                        "restores")
    assert account_and_container("http://127.0.0.1:10000/restores") == (None, "restores")


def test_arm_answers_parse() -> None:
    body = {"id": ACCOUNT_ID, "name": "acct", "properties": {
        "allowCrossTenantReplication": False, "publicNetworkAccess": "Enabled",
        "networkAcls": {"defaultAction": "Deny", "bypass": "Logging, Metrics"},
        "primaryEndpoints": {"blob": "https://acct.blob.core.windows.net/"}}}
    account = parse_storage_account(body)
    assert (account.allow_cross_tenant_replication, account.default_action, account.bypass) == (
        False, "Deny", ("Logging", "Metrics"))
    assert (account.subscription, account.resource_group) == (SUB, "rg-storage")
    assert StorageAccountFacts.from_dict(account.to_dict()) == account
    assert parse_storage_account({"id": ACCOUNT_ID}).allow_cross_tenant_replication is None
    assert find_account([{"name": "other"}, body], "ACCT") == account and find_account([body], "x") is None
    features = {"featureSettings": {"crossSubscriptionRestoreSettings": {"state": "Disabled"}}}
    vault = parse_vault({"identity": {"type": "SystemAssigned,UserAssigned", "principalId": PRINCIPAL},
                         "properties": features}, VAULT)
    assert (vault.principal_id, vault.cross_subscription_restore, vault.id) == (PRINCIPAL, "Disabled", VAULT)
    assert parse_vault({"identity": {"type": "UserAssigned", "principalId": "x"}}, VAULT).principal_id is None
    assert parse_vault({}, VAULT).principal_id is None
    role = parse_role_assignment({"properties": {
        "scope": ACCOUNT_ID, "principalId": PRINCIPAL,
        "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
                            f"{BLOB_DATA_CONTRIBUTOR.upper()}"}})
    assert role == RoleAssignmentFacts(ACCOUNT_ID, BLOB_DATA_CONTRIBUTOR, PRINCIPAL)
    assert parse_role_assignment({"properties": {"scope": ACCOUNT_ID}}) is None
    assert writer_roles([role], PRINCIPAL.upper(), f"{ACCOUNT_ID}/blobServices/default/containers/c") == [
        "Storage Blob Data Contributor"]
    assert covers("/", ACCOUNT_ID) and not covers(f"/subscriptions/{OTHER}", ACCOUNT_ID)
