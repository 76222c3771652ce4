// Roles of the Function App identity on one existing Backup vault. Deployed with scope = the vault's resource
// group, which may be in another resource group or subscription than the app.

@description('Name of the existing Backup vault (Microsoft.DataProtection/backupVaults).')
param vaultName string

@description('Principal (object) id of the Function App managed identity.')
param principalId string

@description('Also grant Backup Reader (read backup jobs). See the comment on jobReader.')
param grantBackupReader bool = true

var roleIds = {
  // Backup Operator: backupInstances/read, recoveryPoints/read, validateRestore/action, restore/action and the
  // vault/location operationStatus + operationResults reads that the async polling needs. It cannot delete
  // backups, change policies, create vaults or grant access, so it is the narrowest built-in role that can
  // list recovery points, validate and trigger restores.
  backupOperator: '00c29273-979b-4161-815c-10b084fb9324'
  // Backup Reader: read-only (instances, policies, jobs). Added because it is not documented whether Backup
  // Operator includes backupVaults/backupJobs/read, which job tracking and the duplicate-trigger check need.
  // No write action; set grantBackupReader=false once job reads are seen to work without it.
  backupReader: 'a795c7a0-d4a2-40c1-ae25-d81f01202912'
}

resource vault 'Microsoft.DataProtection/backupVaults@2024-04-01' existing = {
  name: vaultName
}

// List recovery points, validate and trigger restores, poll their async operations.
resource restoreOperator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roleIds.backupOperator)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.backupOperator)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Read backup jobs (track the restore job to its end; look for a job before re-posting a restore).
resource jobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantBackupReader) {
  name: guid(vault.id, principalId, roleIds.backupReader)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.backupReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
