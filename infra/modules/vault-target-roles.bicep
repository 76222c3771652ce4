// Roles of the Backup vaults' own (system-assigned) managed identities on one existing restore-target storage
// account. "Restore as files" is written by the Backup service with the vault's identity, not by the app, so
// each vault that may restore needs Storage Blob Data Contributor on each target account.
// Deployed with scope = the resource group of the target storage account.

@description('Name of the existing restore-target storage account.')
param storageAccountName string

@description('ARM ids of the Backup vaults whose managed identities write restored files here.')
param vaultIds array

var roleIds = {
  // Storage Blob Data Contributor: the role Azure Backup documents for the vault identity on the target
  // storage account of a PostgreSQL flexible server "restore as files".
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// The vaults may be in any resource group or subscription of the tenant.
resource vaults 'Microsoft.DataProtection/backupVaults@2024-04-01' existing = [for vaultId in vaultIds: {
  name: last(split(vaultId, '/'))
  scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
}]

// The vault writes Database.sql / Roles.sql / ... files into the target container.
resource vaultWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (vaultId, i) in vaultIds: {
  name: guid(storage.id, vaultId, roleIds.storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: vaults[i].identity.principalId
    principalType: 'ServicePrincipal'
  }
}]
