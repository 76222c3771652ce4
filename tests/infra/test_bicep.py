"""Offline checks of the deployment (infra/ + azure.yaml): no Azure, no Bicep CLI.

Every .bicep file is parsed with pycep-parser, and the parsed templates are walked to prove what a reviewer
would otherwise check by eye: which role is granted to which identity at which scope, that every setting of
the DESIGN.md settings table reaches the Function App, and that the storage and site hardening is in place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MODULES = INFRA / "modules"

BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# The settings table of DESIGN.md, copied here (the repository never reads ../shared): update it with DESIGN.md.
DESIGN_SETTINGS = {
    "ARM_ENDPOINT",
    "DATAPROTECTION_API_VERSION",
    "AZURE_CLIENT_ID",
    "RESTORE_TARGET_ALLOWLIST",
    "RESTORE_TIMEOUT",
    "POLL_MIN_SECONDS",
    "POLL_MAX_SECONDS",
    "POLL_DEFAULT_SECONDS",
    "RESTORE_REQUESTS_QUEUE",
    "RESTORE_VAULTS",
    "ALERT_RESTORE_TARGET",
    "DRILL_SCHEDULE",
    "DRILL_PLAN",
    "LOAD_TARGET_ALLOWLIST",
    "LOAD_JOB",
    "AzureWebJobsStorage",
}

# Built-in role definition ids (the same in every tenant).
BACKUP_OPERATOR = "00c29273-979b-4161-815c-10b084fb9324"
BACKUP_READER = "a795c7a0-d4a2-40c1-ae25-d81f01202912"
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
QUEUE_MESSAGE_SENDER = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"
TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
# Custom roles: "custom:<symbol of the roleDefinitions resource in the same file>".
JOB_OPERATOR = "custom:jobOperatorRole"
LOAD_TARGET = "custom:loadTargetRole"
REPORT_WRITER = "custom:reportWriterRole"

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"

# Every role assignment the templates may create: (file, symbol) -> (role id, scope symbol, scope type,
# principal expression). Anything else is a test failure (least privilege: no role slips in unreviewed).
EXPECTED_ROLES: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("app-roles.bicep", "blobOwner"): (
        BLOB_DATA_OWNER, "storage", "Microsoft.Storage/storageAccounts", "principalId"),
    ("app-roles.bicep", "queueContributor"): (
        QUEUE_DATA_CONTRIBUTOR, "storage", "Microsoft.Storage/storageAccounts", "principalId"),
    ("app-roles.bicep", "tableContributor"): (
        TABLE_DATA_CONTRIBUTOR, "storage", "Microsoft.Storage/storageAccounts", "principalId"),
    ("app-roles.bicep", "metricsPublisher"): (
        METRICS_PUBLISHER, "applicationInsights", "Microsoft.Insights/components", "principalId"),
    ("vault-roles.bicep", "restoreOperator"): (
        BACKUP_OPERATOR, "vault", "Microsoft.DataProtection/backupVaults", "principalId"),
    ("vault-roles.bicep", "jobReader"): (
        BACKUP_READER, "vault", "Microsoft.DataProtection/backupVaults", "principalId"),
    ("drill-container-roles.bicep", "drillContributor"): (
        BLOB_DATA_CONTRIBUTOR, "container", "Microsoft.Storage/storageAccounts/blobServices/containers",
        "principalId"),
    ("vault-target-roles.bicep", "vaultWriter"): (
        BLOB_DATA_CONTRIBUTOR, "storage", "Microsoft.Storage/storageAccounts", "vaults.identity.principalId"),
    ("alert-route.bicep", "forwarderSender"): (
        QUEUE_MESSAGE_SENDER, "queue", "Microsoft.Storage/storageAccounts/queueServices/queues",
        "forwarder.identity.principalId"),
    # Loading (docs/loading.md): the app on the loader job and on each load target server, the loader identity
    # on each restore-target container and on the image registry, the app on each restore-target container.
    ("loader-job-roles.bicep", "jobOperator"): (
        JOB_OPERATOR, "job", "Microsoft.App/jobs", "principalId"),
    ("load-target-roles.bicep", "loadTarget"): (
        LOAD_TARGET, "server", "Microsoft.DBforPostgreSQL/flexibleServers", "principalId"),
    ("loader-blob-roles.bicep", "loaderReader"): (
        BLOB_DATA_READER, "container", "Microsoft.Storage/storageAccounts/blobServices/containers",
        "loaderPrincipalId"),
    ("loader-blob-roles.bicep", "loaderReportWriter"): (
        REPORT_WRITER, "container", "Microsoft.Storage/storageAccounts/blobServices/containers",
        "loaderPrincipalId"),
    ("loader-blob-roles.bicep", "appReader"): (
        BLOB_DATA_READER, "container", "Microsoft.Storage/storageAccounts/blobServices/containers",
        "appPrincipalId"),
    ("acr-pull-role.bicep", "loaderPull"): (
        ACR_PULL, "registry", "Microsoft.ContainerRegistry/registries", "principalId"),
}

# Every custom role definition: (file, symbol) -> (actions, dataActions), exactly. Nothing else, no wildcard.
EXPECTED_CUSTOM_ROLES: dict[tuple[str, str], tuple[set[str], set[str]]] = {
    ("loader-job-roles.bicep", "jobOperatorRole"): ({
        "Microsoft.App/jobs/read",
        "Microsoft.App/jobs/start/action",
        "Microsoft.App/jobs/executions/read",
        "Microsoft.App/jobs/execution/read",
        "Microsoft.App/jobs/stop/action",
        "Microsoft.App/jobs/stop/execution/action",
    }, set()),
    ("load-target-roles.bicep", "loadTargetRole"): ({
        "Microsoft.DBforPostgreSQL/flexibleServers/read",
        "Microsoft.DBforPostgreSQL/flexibleServers/configurations/read",
        "Microsoft.DBforPostgreSQL/flexibleServers/configurations/write",
        "Microsoft.DBforPostgreSQL/locations/azureAsyncOperation/read",
        "Microsoft.DBforPostgreSQL/locations/operationResults/read",
    }, set()),
    ("loader-blob-roles.bicep", "reportWriterRole"): (set(), {
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
    }),
}

# Scopes in other resource groups are existing resources, never created by this deployment.
EXISTING_SCOPES = {
    ("vault-roles.bicep", "vault"),
    ("drill-container-roles.bicep", "container"),
    ("vault-target-roles.bicep", "storage"),
    ("vault-target-roles.bicep", "vaults"),
    ("load-target-roles.bicep", "server"),
    ("loader-blob-roles.bicep", "container"),
    ("acr-pull-role.bicep", "registry"),
    ("loader-job-roles.bicep", "job"),
}


@cache
def parsed(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def module(name: str) -> dict[str, Any]:
    return parsed(MODULES / name)


def main() -> dict[str, Any]:
    return parsed(INFRA / "main.bicep")


def body(element: dict[str, Any]) -> dict[str, Any]:
    """The object of a resource/module, through `= if (...) {...}` and `= [for ...: {...}]` wrappers."""
    config = element["config"]
    while isinstance(config, dict) and ("loop_type" in config or "condition" in config) and "config" in config:
        config = config["config"]
    return config


def expression(value: Any) -> str:
    """A compact text form of a parsed expression: property accessors as dotted names, functions as calls."""
    if isinstance(value, dict) and "operator" in value:
        op = value["operator"]
        operands = op["operands"]
        if op["type"] == "property_accessor":
            return f"{expression(operands['operand_1'])}.{expression(operands['operand_2'])}"
        if op["type"] == "index_accessor":
            return expression(operands["operand_1"])
        return f"{op['type']}({', '.join(expression(v) for v in operands.values())})"
    if isinstance(value, dict) and "function" in value:
        fn = value["function"]
        args = ", ".join(expression(v) for v in fn["parameters"].values() if v is not None)
        return f"{fn['type']}({args})"
    return str(value)


def names_in(value: Any) -> Iterator[str]:
    """Every plain string (symbol reference or literal) inside a parsed expression."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from names_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from names_in(item)


def variable(doc: dict[str, Any], name: str) -> Any:
    return doc["variables"][name]["value"]


def param_default(doc: dict[str, Any], name: str) -> Any:
    return doc["parameters"][name].get("default")


def role_id(doc: dict[str, Any], role_definition: Any) -> str:
    """Resolve subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.x) to the guid, and
    subscriptionResourceId(..., customRole.name) to "custom:customRole" (a definition in the same file)."""
    fn = role_definition["function"]
    assert fn["type"] == "subscription_resource_id", "role definitions must use subscriptionResourceId()"
    params = fn["parameters"]
    assert params["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    ref = expression(params["resource_name_1"])
    table, _, key = ref.partition(".")
    resource = doc.get("resources", {}).get(table)
    if resource is not None:
        assert resource["type"] == "Microsoft.Authorization/roleDefinitions" and key == "name", ref
        return f"custom:{table}"
    value = variable(doc, table)[key]
    assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", value), value
    return str(value)


def role_assignments() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for path in BICEP_FILES:
        doc = parsed(path)
        for symbol, resource in doc.get("resources", {}).items():
            if resource["type"] == ROLE_ASSIGNMENT:
                yield path.name, symbol, doc, resource


# --------------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------------


def test_infra_has_the_expected_files() -> None:
    names = {p.relative_to(INFRA).as_posix() for p in BICEP_FILES}
    assert "main.bicep" in names
    for required in ("functionapp.bicep", "storage.bicep", "monitoring.bicep", "app-roles.bicep",
                     "vault-roles.bicep", "vault-target-roles.bicep", "drill-container-roles.bicep",
                     "alert-route.bicep", "identity.bicep", "loader.bicep", "loader-job-roles.bicep",
                     "load-target-roles.bicep", "loader-blob-roles.bicep", "acr-pull-role.bicep"):
        assert f"modules/{required}" in names


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_parses(path: Path) -> None:
    doc = BicepParser().parse(file_path=path)
    assert doc.get("resources") or doc.get("modules"), f"{path.name} declares nothing"


def test_every_module_reference_points_at_a_file() -> None:
    for path in BICEP_FILES:
        for symbol, mod in parsed(path).get("modules", {}).items():
            target = path.parent / mod["detail"]["path"]
            assert target.is_file(), f"{path.name}: module {symbol} -> {target} is missing"


# --------------------------------------------------------------------------------------------------------
# Roles: id, scope, principal, name
# --------------------------------------------------------------------------------------------------------


def test_role_assignments_are_exactly_the_reviewed_ones() -> None:
    found = {(file, symbol) for file, symbol, _, _ in role_assignments()}
    assert found == set(EXPECTED_ROLES)


@pytest.mark.parametrize("key", sorted(EXPECTED_ROLES), ids=lambda k: f"{k[0]}:{k[1]}")
def test_role_assignment(key: tuple[str, str]) -> None:
    file, symbol = key
    want_role, want_scope, want_scope_type, want_principal = EXPECTED_ROLES[key]
    doc = module(file)
    config = body(doc["resources"][symbol])
    props = config["properties"]

    assert role_id(doc, props["roleDefinitionId"]) == want_role
    assert config["scope"] == want_scope
    scope_resource = doc["resources"][want_scope]
    assert scope_resource["type"] == want_scope_type
    if (file, want_scope) in EXISTING_SCOPES:
        assert scope_resource["existing"] is True, f"{want_scope} must be an existing resource"
    assert expression(props["principalId"]) == want_principal
    # Managed identities are service principals; saying so avoids the replication-delay failure on create.
    assert props["principalType"] == "ServicePrincipal"
    # A deterministic name per (scope, principal, role): guid(<scope>.id, <principal>, <role>).
    name = body(doc["resources"][symbol])["name"]
    assert name["function"]["type"] == "guid"
    guid_args = [expression(v) for v in name["function"]["parameters"].values() if v is not None]
    assert guid_args[0] == f"{want_scope}.id"
    role_key = expression(props["roleDefinitionId"]["function"]["parameters"]["resource_name_1"])
    assert role_key in guid_args


def test_role_ids_carry_a_comment_saying_why() -> None:
    for path in MODULES.glob("*.bicep"):
        text = path.read_text()
        for match in re.finditer(r"^\s*(\w+): '([0-9a-f-]{36})'", text, re.MULTILINE):
            preceding = text[: match.start()].rstrip().splitlines()[-1].strip()
            assert preceding.startswith("//"), f"{path.name}: role {match.group(1)} has no comment above it"


def test_vault_target_roles_go_to_each_vault_identity_on_each_target_account() -> None:
    doc = module("vault-target-roles.bicep")
    vaults = doc["resources"]["vaults"]
    assert vaults["existing"] is True
    assert vaults["config"]["loop_type"]["detail"]["array_name"] == "vaultIds"
    # The vaults may live in any resource group / subscription: resourceGroup(sub, rg) from the vault id.
    assert body(vaults)["scope"]["function"]["type"] == "resource_group"
    writer = doc["resources"]["vaultWriter"]
    assert writer["config"]["loop_type"]["detail"]["array_name"] == "vaultIds"


def test_main_wires_the_app_identity_into_every_app_role_module() -> None:
    doc = main()
    principal = expression(variable(doc, "appPrincipalId"))
    assert principal == ("conditional(isUserAssigned, identity.outputs.principalId, "
                         "functionApp.outputs.principalId)")
    for name in ("appRoles", "vaultRoles", "drillRoles"):
        assert body(doc["modules"][name])["params"]["principalId"] == "appPrincipalId", name


def test_main_grants_vault_roles_on_every_vault_in_its_own_resource_group() -> None:
    doc = main()
    vault_roles = doc["modules"]["vaultRoles"]
    assert vault_roles["config"]["loop_type"]["detail"]["array_name"] == "vaultIds"
    scope = body(vault_roles)["scope"]["function"]
    assert scope["type"] == "resource_group"
    assert expression(scope["parameters"]["subscription_id"]) == "split(vaultId, /)"
    assert expression(scope["parameters"]["resource_group_name"]) == "split(vaultId, /)"
    # RESTORE_VAULTS and the vaults that get roles are the same list.
    assert expression(variable(doc, "appSettings")["RESTORE_VAULTS"]) == "join(vaultIds, ,)"
    assert "backupVaultId" in set(names_in(variable(doc, "vaultIds")))


def test_main_grants_the_vault_identities_on_every_target_account() -> None:
    doc = main()
    targets = doc["modules"]["vaultTargetRoles"]
    assert targets["config"]["loop_type"]["detail"]["array_name"] == "allTargetIds"
    assert body(targets)["params"]["vaultIds"] == "vaultIds"
    assert body(targets)["scope"]["function"]["type"] == "resource_group"
    # The same containers form the allowlist: every target the app may name has the vault role behind it.
    urls = variable(doc, "allowlistUrls")
    assert urls["loop_type"]["detail"]["array_name"] == "allTargetIds"
    assert urls["config"].startswith("https://${split(c, '/')[8]}.blob.${blobSuffix}/")
    all_targets = set(names_in(variable(doc, "allTargetIds")))
    assert {"restoreTargetIds", "extraTargetIds"} <= all_targets
    extra = set(names_in(variable(doc, "extraTargetIds")))
    assert {"alertRestoreTargetContainerId", "drillContainerId"} <= extra


def test_drill_roles_are_scoped_to_the_drill_container() -> None:
    doc = main()
    drill = doc["modules"]["drillRoles"]
    assert "drillContainerId" in set(names_in(drill["config"]["condition"]))
    params = body(drill)["params"]
    assert expression(params["containerName"]) == "drillContainerParts"
    # The scope is split from a stand-in id when the setting is empty: ARM may evaluate a skipped module's scope.
    parts = doc["variables"]["drillContainerParts"]
    assert "drillContainerId" in set(names_in(parts))


# --------------------------------------------------------------------------------------------------------
# App settings
# --------------------------------------------------------------------------------------------------------


def design_settings() -> set[str]:
    """The settings DESIGN.md lists (the deployment sets each of them, defaults included)."""
    return set(DESIGN_SETTINGS)


def function_app_settings() -> dict[str, Any]:
    """Every key the appsettings resource can hold, merged from the objects in its union(...)."""
    fa = module("functionapp.bicep")
    config = body(fa["resources"]["appSettingsConfig"])
    assert config["name"] == "appsettings"
    merged: dict[str, Any] = {}
    for arg in config["properties"]["function"]["parameters"].values():
        for ref in names_in(arg):
            if ref in fa["variables"]:
                merged.update(variable(fa, ref))
            elif ref == "appSettings":
                merged.update(variable(main(), "appSettings"))
    return merged


def test_every_design_setting_reaches_the_function_app() -> None:
    settings = function_app_settings()
    for name in design_settings():
        if name == "AzureWebJobsStorage":
            # Identity-based connection instead of a connection string.
            assert "AzureWebJobsStorage__accountName" in settings
            assert name not in settings
        else:
            assert name in settings, name
    assert settings["TASKHUB_NAME"] == "taskHubName"
    assert settings["DRILL_RESULTS_TABLE"] == "drillResultsTable"
    assert variable(main(), "drillResultsTable") == "restoredrills"


def test_main_passes_its_settings_to_the_function_app() -> None:
    assert body(main()["modules"]["functionApp"])["params"]["appSettings"] == "appSettings"


def test_identity_based_storage_settings() -> None:
    fa = module("functionapp.bicep")
    storage = variable(fa, "storageConnection")
    assert expression(storage["AzureWebJobsStorage__accountName"]) == "storage.name"
    for service in ("blob", "queue", "table"):
        assert f"AzureWebJobsStorage__{service}ServiceUri" in storage
    user = variable(fa, "userAssignedSettings")
    assert user["AzureWebJobsStorage__credential"] == "managedidentity"
    assert user["AzureWebJobsStorage__clientId"] == "userAssignedIdentityClientId"
    assert user["AZURE_CLIENT_ID"] == "userAssignedIdentityClientId"
    telemetry = variable(fa, "telemetrySettings")
    assert "Authorization=AAD" in json.dumps(telemetry["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"])
    # Flex Consumption takes the runtime from functionAppConfig and rejects these settings.
    for forbidden in ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"):
        assert forbidden not in function_app_settings()


def test_setting_defaults_match_design() -> None:
    doc = main()
    assert param_default(doc, "dataProtectionApiVersion") == "2026-06-01"
    assert param_default(doc, "restoreTimeout") == "PT24H"
    assert param_default(doc, "pollMinSeconds") == "5"
    assert param_default(doc, "pollMaxSeconds") == "600"
    assert param_default(doc, "pollDefaultSeconds") == "30"
    assert param_default(doc, "restoreRequestsQueue") == "restore-requests"
    assert param_default(doc, "drillSchedule") == "0 0 3 * * *"
    assert param_default(doc, "identityType") == "SystemAssigned"
    assert param_default(doc, "planSkuName") == "FC1"
    settings = variable(doc, "appSettings")
    assert settings["RESTORE_TARGET_ALLOWLIST"] == "allowlist"
    assert expression(variable(doc, "allowlist")) == "join(allowlistUrls, ,)"


def test_queues_and_table_are_created() -> None:
    doc = main()
    assert variable(doc, "queueNames") == [
        "restoreRequestsQueue", "${restoreRequestsQueue}-rejected", "drillAlertsQueue"]
    assert variable(doc, "drillAlertsQueue") == "restore-drill-alerts"
    assert variable(doc, "appSettings")["DRILL_ALERTS_QUEUE"] == "drillAlertsQueue"
    params = body(doc["modules"]["storage"])["params"]
    assert params["queueNames"] == "queueNames"
    assert params["tableNames"] == ["drillResultsTable"]
    storage = module("storage.bicep")
    assert storage["resources"]["queues"]["config"]["loop_type"]["detail"]["array_name"] == "queueNames"
    assert storage["resources"]["tables"]["config"]["loop_type"]["detail"]["array_name"] == "tableNames"


# --------------------------------------------------------------------------------------------------------
# Hardening
# --------------------------------------------------------------------------------------------------------


def test_no_keys_anywhere() -> None:
    for path in [*BICEP_FILES, INFRA / "main.parameters.json", REPO / "azure.yaml"]:
        text = path.read_text()
        for needle in ("AccountKey", "listKeys", "SharedAccessSignature", "accountKey", "sasToken"):
            assert needle not in text, f"{path.name} mentions {needle}"


def test_storage_account_hardening() -> None:
    storage = module("storage.bicep")["resources"]["storage"]
    props = body(storage)["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["allowBlobPublicAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True


def test_function_app_hardening() -> None:
    fa = module("functionapp.bicep")
    site = body(fa["resources"]["site"])
    assert site["kind"] == "functionapp,linux"
    props = site["properties"]
    assert props["httpsOnly"] is True
    assert props["siteConfig"]["minTlsVersion"] == "1.2"
    assert props["siteConfig"]["ftpsState"] == "Disabled"
    assert props["functionAppConfig"]["runtime"] == {"name": "python", "version": "pythonVersion"}
    assert param_default(fa, "pythonVersion") == "3.11"
    deployment = props["functionAppConfig"]["deployment"]["storage"]
    assert deployment["type"] == "blobContainer"
    auth_refs = set(names_in(deployment["authentication"]))
    assert {"deploymentAuthUserAssigned", "deploymentAuthSystemAssigned"} <= auth_refs
    assert variable(fa, "deploymentAuthSystemAssigned") == {"type": "SystemAssignedIdentity"}
    assert variable(fa, "deploymentAuthUserAssigned")["type"] == "UserAssignedIdentity"
    assert site["identity"]["type"] == "identityType"
    policies = {
        body(r)["name"]: body(r)["properties"]["allow"]
        for r in fa["resources"].values()
        if r["type"] == "Microsoft.Web/sites/basicPublishingCredentialsPolicies"
    }
    assert policies == {"ftp": False, "scm": False}
    plan = body(fa["resources"]["plan"])
    assert plan["sku"] == {"name": "planSkuName", "tier": "planSkuTier"}
    assert param_default(fa, "planSkuTier") == "FlexConsumption"


def test_application_insights_uses_entra_id() -> None:
    insights = body(module("monitoring.bicep")["resources"]["applicationInsights"])
    assert insights["properties"]["DisableLocalAuth"] is True
    assert expression(insights["properties"]["WorkspaceResourceId"]) == "logAnalytics.id"


def test_alert_route_is_optional_and_reaches_the_queue_through_a_logic_app() -> None:
    doc = main()
    route = doc["modules"]["alertRoute"]
    assert "alertExampleEnabled" in set(names_in(route["config"]["condition"]))
    assert body(route)["params"]["queueName"] == "restoreRequestsQueue"
    alert = module("alert-route.bicep")
    group = body(alert["resources"]["actionGroup"])["properties"]
    receivers = group["logicAppReceivers"]
    assert len(receivers) == 1
    assert receivers[0]["useCommonAlertSchema"] is True
    workflow = body(alert["resources"]["forwarder"])
    action = workflow["properties"]["definition"]["actions"]["enqueue"]["inputs"]
    assert action["authentication"] == {"type": "ManagedServiceIdentity", "audience": "https://storage.azure.com/"}
    assert action["uri"].endswith("${queueName}/messages")
    rule = body(alert["resources"]["serverDown"])
    assert rule["properties"]["criteria"]["allOf"][0]["metricNamespace"] == "Microsoft.DBforPostgreSQL/flexibleServers"


# --------------------------------------------------------------------------------------------------------
# azd files
# --------------------------------------------------------------------------------------------------------


def test_parameters_file_matches_main_bicep() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = main()["parameters"]
    assert set(parameters) <= set(declared), set(parameters) - set(declared)
    required = {name for name, p in declared.items() if "default" not in p}
    assert required <= set(parameters)
    # azd substitutes environment values; defaults in the file agree with the Bicep defaults.
    for name, entry in parameters.items():
        match = re.fullmatch(r"\$\{([A-Z0-9_]+)(?:=(.*))?\}", entry["value"])
        assert match, f"{name}: {entry['value']}"
        default = match.group(2)
        if default is not None and default != "" and "default" in declared[name]:
            assert default == declared[name]["default"], name


def test_azure_yaml() -> None:
    manifest = yaml.safe_load((REPO / "azure.yaml").read_text())
    assert manifest["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    api = manifest["services"]["api"]
    assert api == {"project": ".", "language": "python", "host": "function"}
    # The site carries the tag azd deploys to.
    assert param_default(module("functionapp.bicep"), "azdServiceName") == "api"


def test_drill_plan_is_the_file_with_the_drill_container_filled_in() -> None:
    plan = json.loads((INFRA / "drill-plan.json").read_text())
    assert isinstance(plan, dict)
    # The container comes from DRILL_CONTAINER_ID, the same id that gets the drill roles.
    assert "container" not in plan
    doc = main()
    drill_plan = variable(doc, "drillPlan")["function"]
    assert drill_plan["type"] == "union"
    assert drill_plan["parameters"]["arg_1"]["function"]["parameters"]["file_path"] == "drill-plan.json"
    assert drill_plan["parameters"]["arg_2"] == {"container": "drillContainerUrl"}
    assert "drillContainerId" in set(names_in(variable(doc, "drillContainerUrl")))
    assert "drillPlan" in set(names_in(variable(doc, "appSettings")["DRILL_PLAN"]))


# --------------------------------------------------------------------------------------------------------
# Loading: the loader job, its identity, the app's rights on the job and the target servers
# --------------------------------------------------------------------------------------------------------


def role_definitions() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for path in BICEP_FILES:
        doc = parsed(path)
        for symbol, resource in doc.get("resources", {}).items():
            if resource["type"] == "Microsoft.Authorization/roleDefinitions":
                yield path.name, symbol, doc, resource


def listed(doc: dict[str, Any], value: Any) -> set[str]:
    """A permissions list, given inline or as the name of a variable holding it."""
    if isinstance(value, str):
        value = variable(doc, value)
    assert isinstance(value, list), value
    assert all(isinstance(v, str) for v in value), value
    return set(value)


def test_custom_roles_are_exactly_the_reviewed_ones() -> None:
    found = {(file, symbol) for file, symbol, _, _ in role_definitions()}
    assert found == set(EXPECTED_CUSTOM_ROLES)


@pytest.mark.parametrize("key", sorted(EXPECTED_CUSTOM_ROLES), ids=lambda k: f"{k[0]}:{k[1]}")
def test_custom_role_definition(key: tuple[str, str]) -> None:
    file, symbol = key
    want_actions, want_data_actions = EXPECTED_CUSTOM_ROLES[key]
    doc = module(file)
    config = body(doc["resources"][symbol])
    props = config["properties"]
    assert props["type"] == "CustomRole"
    (permissions,) = props["permissions"]
    assert listed(doc, permissions["actions"]) == want_actions
    assert listed(doc, permissions["dataActions"]) == want_data_actions
    assert permissions["notActions"] == [] and permissions["notDataActions"] == []
    for action in want_actions | want_data_actions:
        assert "*" not in action, action
    # Assignable only in the resource group it is defined for (the target's own group), never wider.
    (scope,) = props["assignableScopes"]
    assert expression(scope) == "resource_group().id"
    # One definition per resource group, and a role name unique in the tenant for it.
    guid_args = [expression(v) for v in config["name"]["function"]["parameters"].values() if v is not None]
    assert guid_args[0] == "resource_group().id"
    assert "${resourceGroup().name}" in props["roleName"] and "${subscription().subscriptionId}" in props["roleName"]


def test_the_loader_job_is_manual_single_shot_and_runs_as_the_loader_identity() -> None:
    loader = module("loader.bicep")
    job = body(loader["resources"]["job"])
    config = job["properties"]["configuration"]
    assert config["triggerType"] == "Manual"
    assert config["manualTriggerConfig"] == {"replicaCompletionCount": 1, "parallelism": 1}
    assert config["replicaRetryLimit"] == 0
    assert config["replicaTimeout"] == "replicaTimeout"
    assert param_default(loader, "replicaTimeout") == 14400
    assert config["secrets"] == []
    # The user-assigned loader identity, available to the container and to the image pull.
    assert job["identity"]["type"] == "UserAssigned"
    assert list(job["identity"]["userAssignedIdentities"]) == ["'${identityId}'"]
    assert config["identitySettings"] == [{"identity": "identityId", "lifecycle": "All"}]
    registries = variable(loader, "registries")
    assert registries["operator"]["type"] == "conditional"
    assert registries["operator"]["operands"]["false_value"] == [{"server": "registryServer", "identity": "identityId"}]
    assert expression(job["properties"]["environmentId"]) == "managedEnvironment.id"
    assert job["properties"]["workloadProfileName"] == "Consumption"


def test_the_loader_template_env_is_exactly_the_documented_names_and_holds_no_secret() -> None:
    job = body(module("loader.bicep")["resources"]["job"])
    (container,) = job["properties"]["template"]["containers"]
    assert container["image"] == "image"
    assert container["resources"]["memory"] == "memory"
    env = {e["name"]: e for e in container["env"]}
    assert set(env) == {"AZURE_CLIENT_ID", "LOADER_PG_USER", "PGSSLMODE"}
    assert env["AZURE_CLIENT_ID"]["value"] == "identityClientId"
    assert env["LOADER_PG_USER"]["value"] == "pgUser"
    assert env["PGSSLMODE"]["value"] == "require"
    for entry in env.values():
        assert set(entry) == {"name", "value"}, entry


def test_the_loader_environment_logs_to_the_workspace_without_a_key() -> None:
    loader = module("loader.bicep")
    environment = body(loader["resources"]["managedEnvironment"])
    assert environment["properties"]["appLogsConfiguration"] == {"destination": "azure-monitor"}
    logs = body(loader["resources"]["environmentLogs"])
    assert logs["scope"] == "managedEnvironment"
    assert logs["properties"]["workspaceId"] == "logAnalyticsId"
    workspace = body(main()["modules"]["loader"])["params"]["logAnalyticsId"]
    assert expression(workspace) == "monitoring.outputs.logAnalyticsId"
    # VNet integration is optional: a subnet parameter, empty by default.
    assert param_default(loader, "infrastructureSubnetId") == ""
    assert param_default(main(), "loaderSubnetId") == ""


def test_main_deploys_the_loader_only_when_loading_is_enabled() -> None:
    doc = main()
    assert expression(variable(doc, "loadEnabled")) == "and(not(empty(loadTargetServers)), not(empty(loaderImage)))"
    for name in ("loaderIdentity", "loader", "loaderJobRoles"):
        assert "loadEnabled" in set(names_in(doc["modules"][name]["config"]["condition"])), name
    # AcrPull: a loop over none or one registry, so an empty id is never split for the scope.
    assert doc["modules"]["loaderPull"]["config"]["loop_type"]["detail"]["array_name"] == "loaderRegistryIds"
    registries = variable(doc, "loaderRegistryIds")
    assert "loadEnabled" in set(names_in(registries)) and "loaderRegistryId" in set(names_in(registries))
    assert expression(variable(doc, "loadContainerIds")) == "conditional(loadEnabled, allTargetIds, [])"
    params = {k: expression(v) for k, v in body(doc["modules"]["loader"])["params"].items()}
    assert params["image"] == "loaderImage"
    assert params["identityId"] == "loaderIdentity.outputs.id"
    assert params["identityClientId"] == "loaderIdentity.outputs.clientId"
    assert params["pgUser"] == "loaderPgUserValue"
    assert params["replicaTimeout"] == "int(loaderReplicaTimeout)"
    assert param_default(doc, "loaderReplicaTimeout") == "14400"
    # The image is pulled with the loader identity from the registry it got AcrPull on.
    assert params["registryServer"] == (
        "conditional(empty(loaderRegistryIds), , loaderPull.outputs.loginServer)")
    assert expression(body(doc["modules"]["loaderPull"])["params"]["principalId"]) == (
        "loaderIdentity.outputs.principalId")
    # LOADER_PG_USER defaults to the identity's name, the name pgaadauth_create_principal takes.
    assert expression(variable(doc, "loaderPgUserValue")) == (
        "conditional(empty(loaderPgUser), loaderIdentityName, loaderPgUser)")
    assert body(doc["modules"]["loaderIdentity"])["params"]["name"] == "loaderIdentityName"


def test_load_settings_are_wired_to_the_job_and_the_servers_that_get_the_role() -> None:
    doc = main()
    settings = function_app_settings()
    assert expression(settings["LOAD_JOB"]) == "conditional(loadEnabled, loader.outputs.jobId, )"
    assert expression(settings["LOAD_TARGET_ALLOWLIST"]) == "conditional(loadEnabled, join(loadTargetServers, ,), )"
    assert expression(variable(doc, "loadServerIds")) == "conditional(loadEnabled, loadTargetServers, [])"
    assert "loadTargetServerIds" in set(names_in(variable(doc, "loadTargetServers")))
    # The servers on the allowlist are the servers the app gets its load role on, each in its own group.
    targets = doc["modules"]["loadTargetRoles"]
    assert targets["config"]["loop_type"]["detail"]["array_name"] == "loadServerIds"
    scope = body(targets)["scope"]["function"]
    assert scope["type"] == "resource_group"
    assert expression(scope["parameters"]["subscription_id"]) == "split(serverId, /)"
    assert body(targets)["params"]["principalId"] == "appPrincipalId"
    assert "batchSize" in json.dumps(targets["decorators"])
    out = doc["outputs"]
    assert expression(out["LOAD_JOB"]["value"]) == "conditional(loadEnabled, loader.outputs.jobId, )"
    assert "loader" in set(names_in(out["LOADER_OUTBOUND_IPS"]["value"]))


def test_the_app_gets_the_job_role_on_the_job_alone() -> None:
    doc = main()
    roles = body(doc["modules"]["loaderJobRoles"])
    assert roles["scope"] == "rg"
    params = {k: expression(v) for k, v in roles["params"].items()}
    assert params == {"jobName": "loader.outputs.jobName", "principalId": "appPrincipalId"}
    job_roles = module("loader-job-roles.bicep")
    assert job_roles["resources"]["job"]["existing"] is True
    assert body(job_roles["resources"]["jobOperator"])["scope"] == "job"


def test_the_loader_identity_has_blob_read_report_write_and_image_pull_only() -> None:
    doc = main()
    # Where the loader identity's principal goes: the registry role and the restore-target container roles.
    users = {
        name for name, mod in doc["modules"].items()
        if "loaderIdentity.outputs.principalId" in {expression(v) for v in body(mod).get("params", {}).values()}
    }
    assert users == {"loaderPull", "loaderBlobRoles"}
    assert "loaderIdentity" not in set(names_in(body(doc["modules"]["functionApp"])["params"]))
    blob = doc["modules"]["loaderBlobRoles"]
    assert blob["config"]["loop_type"]["detail"]["array_name"] == "loadContainerIds"
    assert "allTargetIds" in set(names_in(variable(doc, "loadContainerIds")))
    assert expression(body(blob)["params"]["containerName"]) == "split(containerId, /)"
    # In the modules: every assignment to the loader principal, and what it grants.
    loader_roles = {
        (file, symbol): EXPECTED_ROLES[(file, symbol)][0]
        for file, symbol, _, resource in role_assignments()
        if file in {"loader-blob-roles.bicep", "acr-pull-role.bicep"}
        and expression(body(resource)["properties"]["principalId"]) in {"loaderPrincipalId", "principalId"}
    }
    assert loader_roles == {
        ("loader-blob-roles.bicep", "loaderReader"): BLOB_DATA_READER,
        ("loader-blob-roles.bicep", "loaderReportWriter"): REPORT_WRITER,
        ("acr-pull-role.bicep", "loaderPull"): ACR_PULL,
    }
    # The report writer role has no ARM action and no read/delete, and its assignment is limited to the report.
    writer = body(module("loader-blob-roles.bicep")["resources"]["loaderReportWriter"])["properties"]
    assert writer["conditionVersion"] == "2.0"
    # pycep keeps the Bicep escapes of the quotes.
    condition = variable(module("loader-blob-roles.bicep"), "reportOnlyCondition").replace("\\'", "'")
    assert writer["condition"] == "reportOnlyCondition"
    assert "StringLike '*_load-report.json'" in condition
    assert condition.count("ActionMatches") == 2
    assert "blobs/write'" in condition and "blobs/add/action'" in condition


def test_loader_parameters_reach_azd() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    want = {
        "loaderImage": "LOADER_IMAGE", "loaderRegistryId": "LOADER_REGISTRY_ID", "loaderPgUser": "LOADER_PG_USER",
        "loaderCpu": "LOADER_CPU", "loaderMemory": "LOADER_MEMORY", "loaderReplicaTimeout": "LOADER_REPLICA_TIMEOUT",
        "loaderSubnetId": "LOADER_SUBNET_ID", "loadTargetServerIds": "LOAD_TARGET_SERVER_IDS",
    }
    for name, env in want.items():
        assert parameters[name]["value"].startswith("${" + env), name
