// Roles of the Function App identity on the resources of its own resource group.

@description('Principal (object) id of the Function App managed identity.')
param principalId string

@description('The app storage account (created by storage.bicep).')
param storageAccountName string

@description('Application Insights component (created by monitoring.bicep).')
param applicationInsightsName string

// Built-in role definition ids (identical in every Azure cloud and tenant).
var roleIds = {
  // Blob read/write/delete plus blob leases and container management. The Functions host keeps its locks and
  // keys in blobs, Durable Functions keeps large payloads and task hub leases in blob containers it creates,
  // and Flex Consumption fetches the deployment package: Owner (not Contributor) is what the identity-based
  // AzureWebJobsStorage connection documents for the host.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Read, add, update, delete queue messages and create queues: the queue trigger on restore-requests, the
  // rejected / poison / drill alert queues, and the Durable Functions control and work-item queues.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Read/write/create tables: the Durable Functions history and instances tables, the drill results table, the
  // restore attempts table (a re-delivered trigger_restore finds its own job instead of posting again), the
  // ARM budget table (every ARM call is paced to the subscription's token buckets) and the ledger of the
  // databases loads created (pgflexloads: onExists "replace" drops only those).
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Send telemetry with Entra ID authentication (the component has local auth disabled).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Functions host, Durable Functions task hub and deployment package: blobs.
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Queue trigger, rejected and drill alert queues, Durable Functions queues.
resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Durable Functions history/instances tables, the drill results, restore attempts and ARM budget tables.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Entra ID authenticated telemetry ingestion.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, roleIds.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
