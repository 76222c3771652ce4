// Role of the Function App identity on the existing drill container. Deployed with scope = the resource group
// of the drill storage account. Scoped to the one container, not the account.

@description('Name of the storage account holding the drill container.')
param storageAccountName string

@description('Name of the drill container.')
param containerName string

@description('Principal (object) id of the Function App managed identity.')
param principalId string

var roleIds = {
  // Storage Blob Data Contributor: read (list blobs, ranged reads of the restored dump headers for verification)
  // and delete (retention cleanup of old drill files). Owner is not needed: the app never manages ACLs.
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: containerName
}

// Verify restored drill files and delete them after the retention period.
resource drillContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, principalId, roleIds.storageBlobDataContributor)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
