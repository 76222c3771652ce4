"""Response bodies shaped like the official examples, per api-version (2021-07-01 lacks some 2026 fields)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from .clock import arm_time, timespan
from .scenario import DATASOURCE_TYPE, BackupInstance, RecoveryPoint, Vault
from .state import Job, Operation

NEW = "2026-06-01"
RP_TYPE = "Microsoft.DataProtection/backupVaults/backupInstances/recoveryPoints"
ZERO_TIME = "0001-01-01T00:00:00Z"


def _server_rg(instance: BackupInstance) -> str:
    parts = instance.server_id.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""


def _server_sub(instance: BackupInstance) -> str:
    parts = instance.server_id.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("subscriptions") + 1] if "subscriptions" in lowered else ""


def vault_identity_principal(vault: Vault) -> str:
    """A stable principal id for the vault's system-assigned identity (what role assignments name)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, vault.id.lower()))


def backup_vault(vault: Vault, api_version: str) -> dict[str, Any]:
    """A BackupVaultResource: location, system-assigned identity, storage settings."""
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "resourceMoveState": "Unknown",
        "storageSettings": [{"datastoreType": "VaultStore", "type": "LocallyRedundant"}],
    }
    if api_version >= NEW:  # featureSettings are not in 2021-07-01's BackupVault
        properties.update(isVaultProtectedByResourceGuard=False, secureScore="Minimum",
                          securitySettings={"softDeleteSettings": {"state": "On", "retentionDurationInDays": 14}},
                          featureSettings={"crossSubscriptionRestoreSettings": {
                              "state": vault.cross_subscription_restore}})
    identity: dict[str, Any] = {"type": "None"}
    if vault.identity:
        identity = {"type": "SystemAssigned", "principalId": vault_identity_principal(vault),
                    "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
    return {
        "id": vault.id,
        "name": vault.name,
        "type": "Microsoft.DataProtection/backupVaults",
        "location": vault.location,
        "tags": {},
        "identity": identity,
        "properties": properties,
    }


def backup_instance(vault: Vault, instance: BackupInstance, api_version: str) -> dict[str, Any]:
    """A BackupInstanceResource for a PostgreSQL flexible server."""
    datasource = {
        "datasourceType": DATASOURCE_TYPE,
        "objectType": "Datasource",
        "resourceID": instance.server_id,
        "resourceLocation": vault.location,
        "resourceName": instance.server_name,
        "resourceType": DATASOURCE_TYPE,
        "resourceUri": instance.server_id,
    }
    properties: dict[str, Any] = {
        "friendlyName": instance.friendly_name,
        "dataSourceInfo": datasource,
        "dataSourceSetInfo": {**datasource, "objectType": "DatasourceSet"},
        "policyInfo": {"policyId": f"{vault.id}/backupPolicies/{instance.policy_name}", "policyVersion": ""},
        "protectionStatus": {"status": _protection_status(instance.protection_state)},
        "currentProtectionState": instance.protection_state,
        "provisioningState": "Succeeded",
        "objectType": "BackupInstance",
    }
    if api_version >= NEW:
        properties["identityDetails"] = {"useSystemAssignedIdentity": True}
    return {
        "id": f"{vault.id}/backupInstances/{instance.name}",
        "name": instance.name,
        "type": "Microsoft.DataProtection/backupVaults/backupInstances",
        "properties": properties,
    }


def _protection_status(state: str) -> str:
    """protectionStatus.status has fewer values than currentProtectionState (both api-versions' Status enum)."""
    if state in ("ProtectionConfigured", "ProtectionStopped", "SoftDeleted", "SoftDeleting",
                 "ConfiguringProtectionFailed"):
        return state
    return "ProtectionStopped" if state.endswith("Suspended") else "ProtectionConfigured"


def recovery_point(vault: Vault, instance: BackupInstance, point: RecoveryPoint, api_version: str) -> dict[str, Any]:
    """An AzureBackupRecoveryPointResource (AzureBackupDiscreteRecoveryPoint)."""
    expiry = point.time + timedelta(days=90)
    stores = [
        {
            "id": f"{point.id[:8]}-{index:04d}-4000-8000-{store.lower()[:12].ljust(12, '0')}",
            "type": store,
            "creationTime": arm_time(point.time),
            "expiryTime": arm_time(expiry),
            "state": "COMMITTED",
            "visible": True,
        }
        for index, store in enumerate(point.stores)
    ]
    properties: dict[str, Any] = {
        "objectType": "AzureBackupDiscreteRecoveryPoint",
        "friendlyName": point.id[:8],
        "recoveryPointDataStoresDetails": stores,
        "recoveryPointTime": arm_time(point.time),
        "policyName": instance.policy_name,
        "recoveryPointId": point.id,
        "recoveryPointType": "Full",
        "retentionTagName": "Default",
        "retentionTagVersion": "638000000000000000",
    }
    if api_version >= NEW:
        properties["expiryTime"] = arm_time(expiry)
        properties["recoveryPointState"] = "Completed"
    return {
        "id": f"{vault.id}/backupInstances/{instance.name}/recoveryPoints/{point.id}",
        "name": point.id,
        "type": RP_TYPE,
        "properties": properties,
    }


def operation_status(op: Operation, status_id: str, now: datetime, spelling: str) -> dict[str, Any]:
    """An OperationResource: InProgress (or the scenario's spelling) until ``op.end``, then the outcome."""
    body: dict[str, Any] = {"id": status_id, "name": op.id, "startTime": arm_time(op.start)}
    if not op.done(now):
        body.update(status=spelling, endTime=ZERO_TIME)
        return body
    body["endTime"] = arm_time(op.end)
    if op.error is not None:
        body["status"] = "Failed"
        body["error"] = dict(op.error)
        return body
    body["status"] = "Succeeded"
    if op.job_id is not None:
        body["properties"] = {"objectType": "OperationJobExtendedInfo", "jobId": op.job_id}
    return body


def operation_result(op: Operation) -> dict[str, Any]:
    """The Location URL's final 200 body: OperationJobExtendedInfo."""
    body: dict[str, Any] = {"objectType": "OperationJobExtendedInfo"}
    if op.job_id is not None:
        body["jobId"] = op.job_id
    return body


def job(job: Job, now: datetime, api_version: str) -> dict[str, Any]:
    """An AzureBackupJobResource: a restore job, or a scheduled backup a scenario declared as a past job."""
    status = job.status(now)
    percent = job.percent(now)
    instance, vault = job.instance, job.vault
    transfer_status = {"InProgress": "InProgress", "Completed": "Completed", "Failed": "Failed"}[status]
    restore = job.operation == "Restore"
    additional: dict[str, str] = {"ProgressPercentage": str(percent)}
    if restore:
        additional.update(TargetContainerUrl=job.target_url, FilePrefix=job.file_prefix)
    if job.files:
        additional["RestoredFiles"] = ",".join(f.name for f in job.files)
    extended: dict[str, Any] = {
        "additionalDetails": additional,
        "dataTransferredInBytes": float(sum(f.size for f in job.files)),
        "subTasks": [
            {"taskId": 1, "taskName": "Validate restore" if restore else "Take backup", "taskStatus": "Completed"},
            {"taskId": 2, "taskName": "Transfer data", "taskProgress": f"{percent}%", "taskStatus": transfer_status},
        ],
    }
    if restore:
        extended["recoveryDestination"] = job.target_url
        extended["sourceRecoverPoint"] = {"recoveryPointID": job.recovery_point.id,
                                          "recoveryPointTime": arm_time(job.recovery_point.time)}
    if api_version >= NEW:
        extended["warningDetails"] = []
    end = job.finish if status != "InProgress" else None
    properties: dict[str, Any] = {
        "activityID": job.activity_id,
        "backupInstanceFriendlyName": instance.friendly_name,
        "backupInstanceId": f"{vault.id}/backupInstances/{instance.name}",
        "dataSourceId": instance.server_id,
        "dataSourceLocation": vault.location,
        "dataSourceName": instance.server_name,
        "dataSourceSetName": instance.server_name,
        "dataSourceType": DATASOURCE_TYPE,
        "duration": timespan((end or now) - job.start),
        "startTime": arm_time(job.start),
        "extendedInfo": extended,
        "isUserTriggered": restore,
        "operation": job.operation if restore else "Backup",
        "operationCategory": job.operation,
        "policyId": f"{vault.id}/backupPolicies/{instance.policy_name}",
        "policyName": instance.policy_name,
        "progressEnabled": True,
        "progressUrl": f"{vault.id}/backupJobs/{job.id}",
        "sourceResourceGroup": _server_rg(instance),
        "sourceSubscriptionID": _server_sub(instance),
        "status": status,
        "subscriptionId": vault.subscription,
        "supportedActions": [""],
        "vaultName": vault.name,
        "sourceDataStoreName": job.source_store if restore else "OperationalStore",
        "destinationDataStoreName": "" if restore else "VaultStore",
    }
    if restore:
        properties["restoreType"] = "ALR"
    if api_version >= NEW and job.rehydration_priority:
        properties["rehydrationPriority"] = job.rehydration_priority
    if end is not None:
        properties["endTime"] = arm_time(end)
    if status == "Failed" and job.error is not None:
        properties["errorDetails"] = [{
            "code": job.error.get("code"),
            "message": job.error.get("message", ""),
            "isRetryable": False,
            "isUserError": str(job.error.get("code", "")).startswith("UserError"),
            "recommendedAction": [job.error.get("recommendedAction", "Retry the restore; if it fails again, "
                                                "contact support.")],
            "target": job.error.get("target", ""),
        }]
    return {
        "id": job.arm_id,
        "name": job.id,
        "type": "Microsoft.DataProtection/backupVaults/backupJobs",
        "properties": properties,
    }
