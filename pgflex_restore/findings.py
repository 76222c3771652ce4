"""The pre-flight's findings: what is wrong with a restore's target (or may be), before anything is posted.

Each check is a pure function of facts read through ARM (preflight_arm.py) and returns findings; each finding
names the resource, the problem, its severity and the exact command that fixes it. ``blocking``: the restore
would fail (Azure Backup's own validation says so minutes later, or the job fails); ``warning``: it may work,
or could not be checked. The rules come from the service's documented prerequisites for restoring a PostgreSQL
flexible server backup as files (docs/preflight.md lists each finding with its source).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .ids import BackupInstanceId, FlexibleServerId
from .preflight_arm import BLOB_WRITER_ROLES, RoleAssignmentFacts, StorageAccountFacts, VaultFacts, writer_roles

Severity = Literal["blocking", "warning"]
BLOCKING: Severity = "blocking"
WARNING: Severity = "warning"
APP_PRINCIPAL = "<the app's principal id>"
# Protection states in which no new backup is taken; the existing points still restore.
_NOT_PROTECTING = frozenset({"protectionstopped", "backupschedulessuspended", "retentionschedulessuspended",
                             "protectionerror", "configuringprotectionfailed", "notprotected"})
_SOFT_DELETED = frozenset({"softdeleted", "softdeleting"})


@dataclass(frozen=True)
class Finding:
    """One problem: ``fix`` is a command to run (None only when no command can fix it, e.g. a call that failed)."""

    code: str
    severity: Severity
    resource: str
    problem: str
    fix: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "resource": self.resource, "problem": self.problem,
                "fix": self.fix}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        severity: Severity = BLOCKING if data.get("severity") == BLOCKING else WARNING
        fix = data.get("fix")
        return cls(str(data["code"]), severity, str(data["resource"]), str(data["problem"]),
                   str(fix) if fix is not None else None)


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == BLOCKING]


def reader_fix(scope: str) -> str:
    """Reader lets the app read a resource's settings and role assignments (``*/read``)."""
    return f"az role assignment create --assignee {APP_PRINCIPAL} --role Reader --scope {scope}"


def not_readable(code: str, what: str, resource: str, error: Mapping[str, Any], scope: str | None = None) -> Finding:
    """A 403: the app may not read ``what``; the check was skipped (a warning: the restore itself may work)."""
    return Finding(code, WARNING, resource,
                   f"the app may not read {what} ({error.get('code') or 'AuthorizationFailed'}): this check was "
                   "skipped; give the app's identity Reader there", reader_fix(scope or resource))


def check_failed(what: str, resource: str, error: Mapping[str, Any]) -> Finding:
    """A read that failed for another reason (after its retries): said, and the restore goes on."""
    return Finding("PreflightCheckFailed", WARNING, resource,
                   f"could not read {what}: {error.get('code') or 'Error'}: {str(error.get('message') or '')[:300]}",
                   None)


def _account_update(account: StorageAccountFacts) -> str:
    return (f"az storage account update --name {account.name} --resource-group {account.resource_group} "
            f"--subscription {account.subscription}")


def storage_account(account: StorageAccountFacts) -> list[Finding]:
    """Cross-tenant replication, public network access and the firewall of the target account."""
    out: list[Finding] = []
    if account.allow_cross_tenant_replication is False:
        out.append(Finding("CrossTenantReplicationDisabled", BLOCKING, account.id,
                           f"storage account {account.name} does not allow cross-tenant replication "
                           "(allowCrossTenantReplication is false): Azure Backup copies the backup in from a "
                           "Microsoft-tenant storage account, so the restore fails",
                           f"{_account_update(account)} --allow-cross-tenant-replication true"))
    elif account.allow_cross_tenant_replication is None:
        out.append(Finding("CrossTenantReplicationUnknown", WARNING, account.id,
                           f"storage account {account.name} does not say whether it allows cross-tenant replication "
                           "(allowCrossTenantReplication is not set; new accounts default to false): the restore "
                           "fails unless it is true",
                           f"{_account_update(account)} --allow-cross-tenant-replication true"))
    access = (account.public_network_access or "enabled").lower()
    if access == "disabled":
        out.append(Finding("PublicNetworkAccessDisabled", BLOCKING, account.id,
                           f"storage account {account.name} has public network access disabled: Azure Backup writes "
                           "the restored files over the public endpoint, not through a private endpoint",
                           f"{_account_update(account)} --public-network-access Enabled"))
        return out
    if access == "securedbyperimeter":
        out.append(Finding("PublicNetworkAccessSecuredByPerimeter", WARNING, account.id,
                           f"storage account {account.name} leaves public network access to its network security "
                           "perimeter: the restore fails unless the perimeter lets Azure Backup in",
                           f"{_account_update(account)} --public-network-access Enabled"))
    if (account.default_action or "allow").lower() == "deny":
        bypass = [b for b in account.bypass if b.lower() != "none"]
        if "azureservices" not in {b.lower() for b in bypass}:
            out.append(Finding("StorageFirewallBlocksBackup", BLOCKING, account.id,
                               f"storage account {account.name} denies public traffic by default (networkAcls."
                               "defaultAction Deny) and does not let trusted Azure services bypass its firewall: "
                               "Azure Backup cannot write the restored files",
                               f"{_account_update(account)} --bypass {' '.join([*bypass, 'AzureServices'])}"))
        else:
            out.append(Finding("StorageFirewallRestricted", WARNING, account.id,
                               f"storage account {account.name} allows selected networks only (networkAcls."
                               "defaultAction Deny); Azure Backup comes in as a trusted Azure service, which the "
                               "service documents for private servers: if the restore's validation is refused, allow "
                               "public access", f"{_account_update(account)} --default-action Allow"))
    return out


def account_lookup(name: str | None, container_url: str, searched: Iterable[str],
                   denied: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """The account was not found in the subscriptions searched (or could not be listed in some): warnings only,
    since it may well exist where the app cannot see it."""
    out = [not_readable("StorageAccountsNotReadable", f"the storage accounts of subscription {sub}",
                        f"/subscriptions/{sub}", error) for sub, error in denied.items()]
    where = ", ".join(searched) or "none"
    if name is None:
        out.append(Finding("StorageAccountNotFound", WARNING, container_url,
                           f"the container URL {container_url} names no storage account (a local emulator URL "
                           "without one): the storage checks were skipped", None))
        return out
    out.append(Finding("StorageAccountNotFound", WARNING, container_url,
                       f"storage account {name} (of {container_url}) is in none of the subscriptions the app "
                       f"searched ({where}), or the app cannot see it: its settings, the container and the vault's "
                       "role on it were not checked",
                       reader_fix(f"$(az storage account show --name {name} --query id --output tsv)")))
    return out


def container(account: StorageAccountFacts, name: str, exists: bool) -> list[Finding]:
    """The container the files go to must exist: the restore does not create it."""
    if exists:
        return []
    return [Finding("ContainerNotFound", BLOCKING, account.container_id(name),
                    f"container {name} does not exist in storage account {account.name}: the restore does not "
                    "create it", f"az storage container create --name {name} --account-name {account.name} "
                                 "--auth-mode login")]


def vault_identity(vault: VaultFacts, instance: BackupInstanceId) -> list[Finding]:
    """The vault writes the files with its system-assigned identity: without one nothing can be written."""
    if vault.principal_id:
        return []
    vault_id = instance.vault
    return [Finding("VaultIdentityMissing", BLOCKING, vault.id,
                    f"Backup vault {vault_id.vault_name} has no system-assigned identity (identity type "
                    f"{vault.identity_type or 'None'}): the restore writes the files with it",
                    f"az dataprotection backup-vault update --resource-group {vault_id.resource_group} "
                    f"--vault-name {vault_id.vault_name} --subscription {vault_id.subscription_id} "
                    "--type SystemAssigned")]


def vault_role(account: StorageAccountFacts, container_name: str, vault: VaultFacts,
               assignments: Iterable[RoleAssignmentFacts]) -> list[Finding]:
    """The vault's identity needs a blob-data-writer role on the container or above it (the account, its group,
    the subscription). Roles through group membership are not listed for a principal, and so not seen."""
    if not vault.principal_id:
        return []
    target = account.container_id(container_name)
    if writer_roles(assignments, vault.principal_id, target):
        return []
    roles = " or ".join(BLOB_WRITER_ROLES.values())
    return [Finding("VaultRoleMissing", BLOCKING, account.id,
                    f"the Backup vault's identity (principal {vault.principal_id}) has no {roles} role on container "
                    f"{container_name} of storage account {account.name} or above it: the vault writes the files "
                    "with that identity (a role given through a group membership is not seen here; if it has one, "
                    "send \"preflight\": false)",
                    f"az role assignment create --assignee-object-id {vault.principal_id} --assignee-principal-type "
                    f"ServicePrincipal --role \"Storage Blob Data Contributor\" --scope {account.id}")]


def cross_subscription(vault: VaultFacts, account: StorageAccountFacts, instance: BackupInstanceId) -> list[Finding]:
    """A target in another subscription than the vault's needs the vault's cross-subscription restore enabled."""
    vault_id = instance.vault
    if not account.subscription or vault_id.subscription_id.lower() == account.subscription.lower():
        return []
    state = (vault.cross_subscription_restore or "").lower()
    where = (f"storage account {account.name} is in subscription {account.subscription}, the Backup vault "
             f"{vault_id.vault_name} in {vault_id.subscription_id}")
    if state == "enabled":
        return []
    if state == "permanentlydisabled":
        return [Finding("CrossSubscriptionRestoreDisabled", BLOCKING, vault.id,
                        f"{where}, and the vault's cross-subscription restore is permanently disabled: restore into "
                        f"a storage account of subscription {vault_id.subscription_id}",
                        f"az storage account create --name <new account> --resource-group <group> --subscription "
                        f"{vault_id.subscription_id} --allow-cross-tenant-replication true")]
    update = (f"az dataprotection backup-vault update --resource-group {vault_id.resource_group} --vault-name "
              f"{vault_id.vault_name} --subscription {vault_id.subscription_id} --cross-subscription-restore-state "
              "Enabled")
    if state == "disabled":
        return [Finding("CrossSubscriptionRestoreDisabled", BLOCKING, vault.id,
                        f"{where}, and the vault's cross-subscription restore is disabled", update)]
    return [Finding("CrossSubscriptionRestoreUnknown", WARNING, vault.id,
                    f"{where}; the vault did not say whether cross-subscription restore is enabled (its "
                    "featureSettings are not in this api-version's answer): the restore fails if it is not", update)]


def protection(instance: BackupInstanceId, state: str | None, status: str | None) -> list[Finding]:
    """A soft-deleted instance cannot be restored until undeleted; a stopped one restores its existing points."""
    seen = {(s or "").lower() for s in (state, status)}
    where = (f"--resource-group {instance.vault.resource_group} --vault-name {instance.vault.vault_name} "
             f"--subscription {instance.vault.subscription_id} --backup-instance-name {instance.backup_instance_name}")
    if seen & _SOFT_DELETED:
        return [Finding("BackupInstanceSoftDeleted", BLOCKING, str(instance),
                        f"backup instance {instance.backup_instance_name} is soft-deleted ({state or status}): "
                        "undelete it before restoring",
                        f"az dataprotection backup-instance deleted-backup-instance undelete {where}")]
    if seen & _NOT_PROTECTING:
        return [Finding("ProtectionNotActive", WARNING, str(instance),
                        f"backup instance {instance.backup_instance_name} is not being protected ({state or status}): "
                        "its existing recovery points restore, but no new backup is taken",
                        f"az dataprotection backup-instance resume-protection {where}")]
    return []


def recovery_point(instance: BackupInstanceId, point: Mapping[str, Any]) -> list[Finding]:
    """A point restored from the ArchiveStore is rehydrated first: the job takes hours longer."""
    if str(point.get("store") or "").lower() != "archivestore":
        return []
    vault = instance.vault
    return [Finding("ArchiveOnlyRecoveryPoint", WARNING, f"{instance}/recoveryPoints/{point.get('id')}",
                    f"recovery point {point.get('id')} ({point.get('time')}) is restored from the ArchiveStore: it "
                    "is rehydrated first, which takes hours before the files are written; a point in the VaultStore "
                    "restores at once",
                    f"az dataprotection recovery-point list --resource-group {vault.resource_group} --vault-name "
                    f"{vault.vault_name} --subscription {vault.subscription_id} --backup-instance-name "
                    f"{instance.backup_instance_name} --query \"[].{{id:name, time:properties.recoveryPointTime, "
                    "stores:join(',', properties.recoveryPointDataStoresDetails[].type)}\" --output table")]


def load_server(server_id: str, server: Mapping[str, Any] | None) -> list[Finding]:
    """The server a ``load`` names: it must exist and accept Entra sign-in (the loader has no password); a
    private one is reachable only from its network, a stopped one must be started."""
    try:
        parsed: FlexibleServerId | None = FlexibleServerId.parse(server_id)
    except ValueError:
        parsed = None
    where = (f"--resource-group {parsed.resource_group} --name {parsed.server_name} --subscription "
             f"{parsed.subscription_id}") if parsed else f"--ids {server_id}"
    if server is None:
        return [Finding("LoadServerNotFound", BLOCKING, server_id,
                        f"the load's target server {server_id} does not exist: the files would be restored and then "
                        "not loaded", "az postgres flexible-server list --query \"[].id\" --output tsv")]
    out: list[Finding] = []
    if (server.get("activeDirectoryAuth") or "").lower() == "disabled":
        out.append(Finding("LoadServerEntraAuthDisabled", BLOCKING, server_id,
                           "the load's target server does not accept Microsoft Entra authentication: the loader "
                           "signs in with its managed identity and has no password",
                           f"az postgres flexible-server update {where} --microsoft-entra-auth Enabled"))
    if (server.get("publicNetworkAccess") or "").lower() == "disabled":
        out.append(Finding("LoadServerPublicAccessDisabled", WARNING, server_id,
                           "the load's target server has public network access disabled: the loader job reaches it "
                           "only if it runs in the server's virtual network (or through its private endpoint)",
                           f"az postgres flexible-server update {where} --public-access Enabled"))
    state = server.get("state")
    if state and str(state).lower() != "ready":
        out.append(Finding("LoadServerNotReady", WARNING, server_id,
                           f"the load's target server is {state}, not Ready: the load fails unless it is Ready when "
                           "the files have been restored", f"az postgres flexible-server start {where}"))
    return out
