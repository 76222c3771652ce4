// Roles on one existing restore-target container (RESTORE_TARGET_ALLOWLIST) for loading (docs/loading.md).
// Deployed with scope = the resource group of the container's storage account. Every grant is on the one
// container, not the account.
//
// - The loader identity lists and reads the restored files (Storage Blob Data Reader), and writes its report,
//   <prefix>_load-report.json, next to them: a custom data role with blob write only (no read, no delete, nothing
//   on ARM), assigned with a condition that limits it to blobs named *_load-report.json. So the loader can never
//   change or delete a restored file.
// - The app identity reads the restored dumps' tables of contents (ranged reads) and the loader's report
//   (Storage Blob Data Reader). It writes nothing there.

@description('Name of the storage account holding the container.')
param storageAccountName string

@description('Name of the restore-target container.')
param containerName string

@description('Principal (object) id of the loader identity.')
param loaderPrincipalId string

@description('Principal (object) id of the Function App managed identity.')
param appPrincipalId string

var roleIds = {
  // Storage Blob Data Reader: list and read blobs (the restored files, the report). Its only ARM actions are
  // reading the container and getting a user delegation key; it cannot write or delete.
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
}

// Blob creation only: Put Blob, Put Block, Put Block List. No read, no delete, no ARM action.
var reportWriterDataActions = [
  'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'
  'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'
]

// The report writer role applies to the load report only: any other write or add is not granted by it.
var reportOnlyCondition = '((!(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write\'}) AND !(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action\'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike \'*_load-report.json\'))'

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

// One definition per resource group (every target container of the group shares it): assignable only here.
resource reportWriterRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'pgflex-restore-load-report-writer')
  properties: {
    roleName: 'pgflex-restore load report writer (${resourceGroup().name}, ${subscription().subscriptionId})'
    description: 'Create blobs (no read, no delete); pgflex-restore assigns it with a condition: *_load-report.json only.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: reportWriterDataActions
        notDataActions: []
      }
    ]
  }
}

// The loader finds and downloads the restored files.
resource loaderReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, loaderPrincipalId, roleIds.storageBlobDataReader)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    principalId: loaderPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The loader writes <prefix>_load-report.json, and nothing else.
resource loaderReportWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, loaderPrincipalId, reportWriterRole.name)
  scope: container
  properties: {
    // The subscription-level id (an assignment does not accept the resource-group-qualified id of the definition).
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', reportWriterRole.name)
    principalId: loaderPrincipalId
    principalType: 'ServicePrincipal'
    condition: reportOnlyCondition
    conditionVersion: '2.0'
  }
}

// The app reads the dumps' tables of contents before a load and the loader's report after it.
resource appReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, appPrincipalId, roleIds.storageBlobDataReader)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
