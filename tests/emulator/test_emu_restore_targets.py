"""Restore targets in the emulator: storage accounts, containers and the vaults' role assignments as ARM answers
them (api-version required, 404/403 in ARM's shape and order, answers that fit the derived descriptions), and the
validation rules a declared account's settings add."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from emulator import EmulatorServer, VirtualClock
from emulator.resources import vault_identity_principal
from emulator.scenario import Scenario
from emulator.storagescenario import BLOB_DATA_CONTRIBUTOR, ROLE_IDS
from tests.emulator.emusupport import BASE_SCENARIO, BV_PATH, RG, START, SUB, VAULT, Arm, restore_body

OTHER = "99999999-2222-3333-4444-555555555555"
ACCOUNT = f"/subscriptions/{SUB}/resourceGroups/storage-rg/providers/Microsoft.Storage/storageAccounts/restoresacct"
CONTAINER = f"{ACCOUNT}/blobServices/default/containers/restores"
STORAGE = "2025-06-01"
AUTH = "2022-04-01"


def target_scenario(account: dict[str, Any] | None = None, *, grants: list[Any] | None = None,
                    vault: dict[str, Any] | None = None, subscription: dict[str, Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(BASE_SCENARIO)
    groups = data["subscriptions"][SUB]["resourceGroups"]
    groups["storage-rg"] = {"storageAccounts": {"restoresacct": {"containers": ["restores"], **(account or {})}}}
    if grants is not None:
        groups[RG]["vaults"][VAULT]["storageRoleAssignments"] = grants
    groups[RG]["vaults"][VAULT].update(vault or {})
    data["subscriptions"][SUB].update(subscription or {})
    data["subscriptions"][OTHER] = {"resourceGroups": {"other-rg": {"storageAccounts": {"elsewhere": {}}}}}
    return data


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    with EmulatorServer(target_scenario(**getattr(request, "param", {})), clock=VirtualClock(START)) as server:
        yield server


@pytest.fixture
def arm(emulator: EmulatorServer) -> Arm:
    return Arm(emulator, api_version=STORAGE)


def principal(emulator: EmulatorServer) -> str:
    return vault_identity_principal(emulator.state.scenario.vaults[0])


def test_accounts_are_listed_per_subscription_with_their_settings(arm: Arm) -> None:
    listed = arm.get(f"/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts")
    assert listed.status_code == 200
    [account] = listed.json()["value"]
    assert account["id"] == ACCOUNT and account["properties"]["allowCrossTenantReplication"] is True
    assert account["properties"]["publicNetworkAccess"] == "Enabled"
    assert account["properties"]["networkAcls"] == {"bypass": "AzureServices", "virtualNetworkRules": [],
                                                    "ipRules": [], "defaultAction": "Allow"}
    assert account["properties"]["primaryEndpoints"]["blob"] == "https://restoresacct.blob.core.windows.net/"
    assert [a["name"] for a in arm.get(f"/subscriptions/{OTHER}/providers/Microsoft.Storage/storageAccounts")
            .json()["value"]] == ["elsewhere"]
    assert arm.get(ACCOUNT).json() == account


def test_arm_strictness_api_version_and_missing_resources(arm: Arm) -> None:
    missing_version = arm.get(f"{ACCOUNT}?x=1", api_version=None, params={"api-version": ""})
    assert missing_version.status_code == 400
    assert arm.get(ACCOUNT, api_version="2021-07-01").json()["error"]["code"] == "InvalidApiVersionParameter"
    unknown_sub = arm.get("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Storage/"
                          "storageAccounts")
    assert (unknown_sub.status_code, unknown_sub.json()["error"]["code"]) == (404, "SubscriptionNotFound")
    assert arm.get(ACCOUNT.replace("restoresacct", "nosuchacct")).json()["error"]["code"] == "ResourceNotFound"
    assert arm.get(ACCOUNT.replace("storage-rg", "nope-rg")).json()["error"]["code"] == "ResourceGroupNotFound"
    missing = arm.get(f"{ACCOUNT}/blobServices/default/containers/nope")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "ContainerNotFound")
    found = arm.get(CONTAINER)
    assert found.status_code == 200 and found.json()["id"] == CONTAINER


def roles(arm: Arm, scope: str, flt: str | None) -> Any:
    params = {"api-version": AUTH, **({"$filter": flt} if flt else {})}
    return arm.get(f"{scope}/providers/Microsoft.Authorization/roleAssignments", params=params)


def test_role_assignments_at_above_and_below_a_scope(emulator: EmulatorServer, arm: Arm) -> None:
    """The base scenario grants the vault Storage Blob Data Contributor on the container URL: listed at the
    container's ARM id, found at, above (principalId eq) and not above (atScope()) the account."""
    who = principal(emulator)
    below = roles(arm, ACCOUNT, f"principalId eq '{who}'")
    assert below.status_code == 200
    [assignment] = below.json()["value"]
    assert assignment["properties"]["scope"] == CONTAINER and assignment["properties"]["principalId"] == who
    assert assignment["properties"]["roleDefinitionId"].endswith(f"/roleDefinitions/{BLOB_DATA_CONTRIBUTOR}")
    assert roles(arm, ACCOUNT, "atScope()").json()["value"] == []
    assert len(roles(arm, CONTAINER, f"atScope() and assignedTo('{who}')").json()["value"]) == 1
    assert roles(arm, ACCOUNT, "principalId eq 'someone-else'").json()["value"] == []
    bad = roles(arm, ACCOUNT, "roleName eq 'x'")
    assert (bad.status_code, bad.json()["error"]["target"]) == (400, "$filter")
    assert roles(arm, ACCOUNT.replace("restoresacct", "nosuchacct"), None).status_code == 404


@pytest.mark.parametrize("emulator", [{"grants": [
    {"scope": f"/subscriptions/{SUB}/resourceGroups/storage-rg", "role": "Storage Blob Data Owner"},
    {"scope": "https://restoresacct.blob.core.windows.net", "role": "Storage Blob Data Reader"}]}], indirect=True)
def test_grants_by_arm_id_and_role_name(emulator: EmulatorServer, arm: Arm) -> None:
    listed = roles(arm, ACCOUNT, f"principalId eq '{principal(emulator)}'").json()["value"]
    assert sorted((a["properties"]["scope"], a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1])
                  for a in listed) == sorted([
                      (f"/subscriptions/{SUB}/resourceGroups/storage-rg", ROLE_IDS["storage blob data owner"]),
                      (ACCOUNT, ROLE_IDS["storage blob data reader"])])


@pytest.mark.parametrize("emulator", [{"account": {"denyActions": [
    "Microsoft.Storage/storageAccounts/blobServices/containers/read", "Microsoft.Authorization/roleAssignments/read"]},
    "subscription": {"denyActions": ["Microsoft.Storage/storageAccounts/read"]}}], indirect=True)
def test_denied_reads_are_403_before_404(arm: Arm) -> None:
    for answer in (arm.get(f"/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts"),
                   arm.get(f"{ACCOUNT}/blobServices/default/containers/nope"), roles(arm, ACCOUNT, None)):
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "AuthorizationFailed")


@pytest.mark.parametrize("emulator", [{"vault": {"identity": "None", "crossSubscriptionRestore": "Disabled"}}],
                         indirect=True)
def test_the_vault_without_identity_and_with_its_cross_subscription_setting(emulator: EmulatorServer) -> None:
    vault = Arm(emulator).get(BV_PATH).json()
    assert vault["identity"] == {"type": "None"}
    assert vault["properties"]["featureSettings"]["crossSubscriptionRestoreSettings"]["state"] == "Disabled"
    assert "featureSettings" not in Arm(emulator, "2021-07-01").get(BV_PATH).json()["properties"]


def validation_error(emulator: EmulatorServer, url: str) -> dict[str, Any] | None:
    state = emulator.state
    vault = state.scenario.vaults[0]
    instance = vault.backup_instances["pg-prod"]
    from emulator.rules import check_restore_request

    return check_restore_request(state.scenario, vault, instance,
                                 restore_body(instance.recovery_points[0].id, url=url), None)


@pytest.mark.parametrize(("account", "vault", "code"), [
    ({}, {}, None),
    ({"allowCrossTenantReplication": False}, {}, "UserErrorCrossTenantReplicationNotAllowed"),
    ({"allowCrossTenantReplication": None}, {}, None),  # absent from answers: an older account, which allows
    ({"publicNetworkAccess": "Disabled"}, {}, "UserErrorRestoreTargetNotReachable"),
    ({"networkAcls": {"defaultAction": "Deny", "bypass": "None"}}, {}, "UserErrorRestoreTargetNotReachable"),
    ({"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}, {}, None),
    ({"containers": []}, {}, "UserErrorRestoreTargetContainerNotFound"),
    ({}, {"identity": "None"}, "UserErrorMissingRequiredPermissions"),
])
def test_a_declared_accounts_settings_fail_validation(account: dict[str, Any], vault: dict[str, Any],
                                                      code: str | None) -> None:
    with EmulatorServer(target_scenario(account, vault=vault), clock=VirtualClock(START)) as server:
        error = validation_error(server, "https://restoresacct.blob.core.windows.net/restores")
        assert (error or {}).get("code") == code


def test_cross_subscription_targets_need_the_vaults_setting() -> None:
    grants = ["https://elsewhere.blob.core.windows.net/restores"]
    data = target_scenario(grants=grants, vault={"crossSubscriptionRestore": "Disabled"})
    data["subscriptions"][OTHER]["resourceGroups"]["other-rg"]["storageAccounts"]["elsewhere"] = {
        "containers": ["restores"]}
    with EmulatorServer(data, clock=VirtualClock(START)) as server:
        error = validation_error(server, "https://elsewhere.blob.core.windows.net/restores")
        assert error is not None and error["code"] == "UserErrorCrossSubscriptionRestoreNotEnabled"


def test_scenario_keys_are_checked() -> None:
    from emulator.errors import ScenarioError

    for bad in ({"allowCrossTenantReplication": "yes"}, {"publicNetworkAccess": "Open"}, {"colour": "blue"},
                {"networkAcls": {"defaultAction": "Maybe"}}):
        with pytest.raises(ScenarioError):
            Scenario.from_dict(target_scenario(bad), START)
    with pytest.raises(ScenarioError, match="protectionState"):
        data = target_scenario()
        data["subscriptions"][SUB]["resourceGroups"][RG]["vaults"][VAULT]["backupInstances"]["pg-prod"][
            "protectionState"] = "Sleeping"
        Scenario.from_dict(data, START)
