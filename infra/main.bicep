// pgflex-restore: Azure Functions app (Python 3.11, Durable Functions, Flex Consumption) that restores
// Azure Database for PostgreSQL flexible-server backups as files through Microsoft.DataProtection.
//
// `azd up` deploys this file at subscription scope: it creates the app's resource group and everything in it,
// and grants roles on EXISTING resources elsewhere (Backup vaults, restore-target and drill storage accounts),
// each through a small module deployed to that resource's own resource group.
// Parameters come from infra/main.parameters.json, i.e. from `azd env set NAME value` (see docs/deploy.md).
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('azd environment name; prefixes the resource group and derives unique resource names.')
param environmentName string

@minLength(1)
@description('Azure region of the app (must offer the Flex Consumption plan).')
param location string

@description('Resource group to create or reuse; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Managed identity of the app: SystemAssigned or UserAssigned (a user-assigned identity is created).')
@allowed(['SystemAssigned', 'UserAssigned'])
param identityType string = 'SystemAssigned'

@description('Hosting plan SKU name (FC1 = Flex Consumption).')
param planSkuName string = 'FC1'

@description('Hosting plan SKU tier.')
param planSkuTier string = 'FlexConsumption'

@description('Maximum instance count of the Flex Consumption app (string: azd passes environment values as text).')
param maximumInstanceCount string = '40'

@description('Instance memory in MB: 512, 2048 or 4096.')
param instanceMemoryMB string = '2048'

@description('Replication SKU of the app storage account.')
param storageSkuName string = 'Standard_GZRS'

// ---------------------------------------------------------------------------------------------------------
// What the app restores from and to (existing resources, any resource group / subscription of the tenant)
// ---------------------------------------------------------------------------------------------------------

@description('ARM id of the existing Backup vault that protects the PostgreSQL flexible servers.')
param backupVaultId string

@description('Comma-separated ARM ids of the Backup vaults searched for alert mapping and drills (RESTORE_VAULTS). Empty: the backupVaultId alone.')
param restoreVaultIds string = ''

@description('Comma-separated ARM ids of the blob containers restores may write to (.../storageAccounts/<acct>/blobServices/default/containers/<name>). Their URLs form RESTORE_TARGET_ALLOWLIST.')
param restoreTargetContainerIds string

@description('ARM id of the container that alert-started restores write to (ALERT_RESTORE_TARGET). Empty: alerts are rejected.')
param alertRestoreTargetContainerId string = ''

@description('Comma-separated ARM ids of the flexible servers restores may be loaded into (LOAD_TARGET_ALLOWLIST); the app gets its load role on each. Empty, or no loaderImage: no loader is deployed and loads are refused.')
param loadTargetServerIds string = ''

@description('ARM id of the drill container: its URL becomes the plan\'s "container"; it gets the drill roles. Empty: no drills.')
param drillContainerId string = ''

@description('"true" to set DRILL_PLAN from infra/drill-plan.json; "false" leaves DRILL_PLAN empty (no drills).')
param drillEnabled string = 'false'

@description('NCRONTAB schedule of restore drills (DRILL_SCHEDULE).')
param drillSchedule string = '0 0 3 * * *'

@description('"false" to grant only Backup Operator on the vaults (see modules/vault-roles.bicep).')
param grantBackupReader string = 'true'

// ---------------------------------------------------------------------------------------------------------
// The loader: a Container Apps job that loads restored files into a server (docs/loading.md, docs/deploy.md)
// ---------------------------------------------------------------------------------------------------------

@description('Loader image built from loader/Dockerfile, e.g. <registry>.azurecr.io/pgflex-loader:<tag>. Empty: no loader is deployed and loads are refused.')
param loaderImage string = ''

@description('ARM id of the container registry holding loaderImage: the loader identity gets AcrPull there and the job pulls with it. Empty: a public image.')
param loaderRegistryId string = ''

@description('PostgreSQL role of the loader identity on every load target (LOADER_PG_USER), the name given to pgaadauth_create_principal. Empty: the loader identity\'s name.')
param loaderPgUser string = ''

@description('vCPUs of the loader container (Consumption profile: 0.25 to 4, with 2 GiB of memory per vCPU).')
param loaderCpu string = '2.0'

@description('Memory of the loader container (2 GiB per vCPU on the Consumption profile).')
param loaderMemory string = '4Gi'

@description('Longest a load may run, in seconds (the job\'s replicaTimeout; string: azd passes text). Default 4 hours.')
param loaderReplicaTimeout string = '14400'

@description('Subnet ARM id (at least /27, delegated to Microsoft.App/environments) for the loader environment, when the load targets are private. Empty: no VNet, the job reaches the servers over their public endpoints.')
param loaderSubnetId string = ''

// ---------------------------------------------------------------------------------------------------------
// App settings with defaults (DESIGN.md settings table)
// ---------------------------------------------------------------------------------------------------------

@description('Resource Manager endpoint (ARM_ENDPOINT). Empty: the endpoint of the cloud being deployed to.')
param armEndpoint string = ''

@description('api-version of Microsoft.DataProtection (DATAPROTECTION_API_VERSION).')
param dataProtectionApiVersion string = '2026-06-01'

@description('Overall deadline of one restore, ISO 8601 duration or seconds (RESTORE_TIMEOUT).')
param restoreTimeout string = 'PT24H'

@description('Lower bound of every wait, seconds (POLL_MIN_SECONDS).')
param pollMinSeconds string = '5'

@description('Upper bound of every wait, seconds (POLL_MAX_SECONDS).')
param pollMaxSeconds string = '600'

@description('Wait when the service sends no Retry-After, seconds (POLL_DEFAULT_SECONDS).')
param pollDefaultSeconds string = '30'

@description('Queue of restore requests and alerts (RESTORE_REQUESTS_QUEUE).')
param restoreRequestsQueue string = 'restore-requests'

@description('Durable Functions task hub name (TASKHUB_NAME, used by host.json).')
param taskHubName string = 'pgflexrestore'

// ---------------------------------------------------------------------------------------------------------
// Optional Azure Monitor example
// ---------------------------------------------------------------------------------------------------------

@description('"true" to deploy the example alert route (metric alert -> action group -> Logic App -> queue).')
param alertExampleEnabled string = 'false'

@description('Comma-separated ARM ids of PostgreSQL flexible servers that get the example alert rule.')
param alertServerIds string = ''

// ---------------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------------

var tags = {
  'azd-env-name': environmentName
  application: 'pgflex-restore'
}
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var appName = 'func-pgrestore-${resourceToken}'
var storageName = 'stpgr${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var drillResultsTable = 'restoredrills'
var drillAlertsQueue = 'restore-drill-alerts'
// The poison queue (<queue>-poison) is created by the Functions host on first use.
var queueNames = [
  restoreRequestsQueue
  '${restoreRequestsQueue}-rejected'
  drillAlertsQueue
]

// ---------------------------------------------------------------------------------------------------------
// Inputs turned into lists
// ---------------------------------------------------------------------------------------------------------

// Comma-separated inputs; spaces are dropped (ARM ids contain none).
var extraVaultIds = empty(restoreVaultIds) ? [] : split(replace(restoreVaultIds, ' ', ''), ',')
var vaultIds = union([backupVaultId], extraVaultIds)
var restoreTargetIds = empty(restoreTargetContainerIds) ? [] : split(replace(restoreTargetContainerIds, ' ', ''), ',')
// Every container the Backup service may write to: the restore targets, the alert target, the drill container.
var extraTargetIds = filter([alertRestoreTargetContainerId, drillContainerId], c => !empty(c))
var allTargetIds = union(restoreTargetIds, extraTargetIds)
// A container id is /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{account}
// /blobServices/default/containers/{container}: split on '/' gives sub [2], rg [4], account [8], container [12].
var blobSuffix = environment().suffixes.storage
var allowlistUrls = [for c in allTargetIds: 'https://${split(c, '/')[8]}.blob.${blobSuffix}/${split(c, '/')[12]}']
var allowlist = join(allowlistUrls, ',')
var alertTargetUrl = empty(alertRestoreTargetContainerId) ? '' : 'https://${split(alertRestoreTargetContainerId, '/')[8]}.blob.${blobSuffix}/${split(alertRestoreTargetContainerId, '/')[12]}'
var drillContainerUrl = empty(drillContainerId) ? '' : 'https://${split(drillContainerId, '/')[8]}.blob.${blobSuffix}/${split(drillContainerId, '/')[12]}'
// Without "vaults" or "instances" the plan drills every vault of RESTORE_VAULTS (docs/drills.md has every key).
var drillPlan = union(loadJsonContent('drill-plan.json'), {
  container: drillContainerUrl
})
var resourceManager = environment().resourceManager
var defaultArmEndpoint = endsWith(resourceManager, '/') ? substring(resourceManager, 0, length(resourceManager) - 1) : resourceManager
var armEndpointValue = empty(armEndpoint) ? defaultArmEndpoint : armEndpoint
var alertServers = empty(alertServerIds) ? [] : split(replace(alertServerIds, ' ', ''), ',')
var isUserAssigned = identityType == 'UserAssigned'
// Loading needs both a server to load into and the loader image; without either nothing of it is deployed.
var loadTargetServers = empty(loadTargetServerIds) ? [] : split(replace(loadTargetServerIds, ' ', ''), ',')
var loadEnabled = (!empty(loadTargetServers)) && (!empty(loaderImage))
var loaderIdentityName = 'id-pgloader-${resourceToken}'
var loaderJobName = 'caj-pgload-${resourceToken}'
var loaderPgUserValue = empty(loaderPgUser) ? loaderIdentityName : loaderPgUser
// The servers that get the app's load role and the containers that get the loader's blob roles: none without a
// loader. The containers are every allowlisted restore target, where the files to load are written.
var loadServerIds = loadEnabled ? loadTargetServers : []
var loadContainerIds = loadEnabled ? allTargetIds : []
var loaderRegistryIds = loadEnabled && (!empty(loaderRegistryId)) ? [loaderRegistryId] : []

// The app's own settings: every name of the DESIGN.md settings table (AzureWebJobsStorage is the identity-based
// AzureWebJobsStorage__* set written by modules/functionapp.bicep; AZURE_CLIENT_ID is set there too when the
// identity is user-assigned), plus the task hub and the drill results table.
var appSettings = {
  ARM_ENDPOINT: armEndpointValue
  DATAPROTECTION_API_VERSION: dataProtectionApiVersion
  RESTORE_TARGET_ALLOWLIST: allowlist
  RESTORE_TIMEOUT: restoreTimeout
  POLL_MIN_SECONDS: pollMinSeconds
  POLL_MAX_SECONDS: pollMaxSeconds
  POLL_DEFAULT_SECONDS: pollDefaultSeconds
  RESTORE_REQUESTS_QUEUE: restoreRequestsQueue
  RESTORE_VAULTS: join(vaultIds, ',')
  ALERT_RESTORE_TARGET: alertTargetUrl
  // The servers that get the load role below (empty without a loader: every load refused), and the loader job.
  LOAD_TARGET_ALLOWLIST: loadEnabled ? join(loadTargetServers, ',') : ''
  LOAD_JOB: loadEnabled ? loader.outputs.jobId : ''
  DRILL_SCHEDULE: drillSchedule
  // infra/drill-plan.json (checked as JSON at build time) with the drill container filled in, or empty: no drills.
  DRILL_PLAN: bool(drillEnabled) ? string(drillPlan) : ''
  DRILL_RESULTS_TABLE: drillResultsTable
  DRILL_ALERTS_QUEUE: drillAlertsQueue
  TASKHUB_NAME: taskHubName
}

// ---------------------------------------------------------------------------------------------------------
// Resources in the app's resource group
// ---------------------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-pgrestore-${resourceToken}'
    applicationInsightsName: 'appi-pgrestore-${resourceToken}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: storageName
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
    queueNames: queueNames
    tableNames: [
      drillResultsTable
    ]
    logAnalyticsId: monitoring.outputs.logAnalyticsId
  }
}

module identity 'modules/identity.bicep' = if (isUserAssigned) {
  name: 'identity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'id-pgrestore-${resourceToken}'
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    location: location
    tags: tags
    name: appName
    planName: 'plan-pgrestore-${resourceToken}'
    planSkuName: planSkuName
    planSkuTier: planSkuTier
    maximumInstanceCount: int(maximumInstanceCount)
    instanceMemoryMB: int(instanceMemoryMB)
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityType: identityType
    userAssignedIdentityId: isUserAssigned ? identity.outputs.id : ''
    userAssignedIdentityClientId: isUserAssigned ? identity.outputs.clientId : ''
    appSettings: appSettings
  }
}

// The principal every role below is granted to.
var appPrincipalId = isUserAssigned ? identity.outputs.principalId : functionApp.outputs.principalId

// Blob Owner / Queue Contributor / Table Contributor on its own storage, Metrics Publisher on App Insights.
module appRoles 'modules/app-roles.bicep' = {
  name: 'app-roles'
  scope: rg
  params: {
    principalId: appPrincipalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

// ---------------------------------------------------------------------------------------------------------
// Roles on existing resources in other resource groups
// ---------------------------------------------------------------------------------------------------------

// App identity on each Backup vault: Backup Operator (+ Backup Reader for job reads).
module vaultRoles 'modules/vault-roles.bicep' = [for (vaultId, i) in vaultIds: {
  name: 'vault-roles-${i}'
  scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
  params: {
    vaultName: last(split(vaultId, '/'))
    principalId: appPrincipalId
    grantBackupReader: bool(grantBackupReader)
  }
}]

// Each vault's own identity on the storage account of each target container: Storage Blob Data Contributor.
// One deployment at a time: two containers of one account yield the same (idempotent) role assignment.
@batchSize(1)
module vaultTargetRoles 'modules/vault-target-roles.bicep' = [for (containerId, i) in allTargetIds: {
  name: 'vault-target-roles-${i}'
  scope: resourceGroup(split(containerId, '/')[2], split(containerId, '/')[4])
  params: {
    storageAccountName: split(containerId, '/')[8]
    vaultIds: vaultIds
  }
}]

// App identity on the drill container: Storage Blob Data Contributor (verify + clean up drill files).
// ARM may evaluate a skipped module's scope, so an empty drillContainerId must still split into enough parts.
var drillContainerParts = split(empty(drillContainerId) ? '${resourceGroup().id}/providers/Microsoft.Storage/storageAccounts/none/blobServices/default/containers/none' : drillContainerId, '/')

module drillRoles 'modules/drill-container-roles.bicep' = if (!empty(drillContainerId)) {
  name: 'drill-container-roles'
  scope: resourceGroup(drillContainerParts[2], drillContainerParts[4])
  params: {
    storageAccountName: drillContainerParts[8]
    containerName: drillContainerParts[12]
    principalId: appPrincipalId
  }
}

// Optional: Azure Monitor alert -> action group -> Logic App -> restore-requests queue.
module alertRoute 'modules/alert-route.bicep' = if (bool(alertExampleEnabled)) {
  name: 'alert-route'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: 'pgrestore-${resourceToken}'
    storageAccountName: storage.outputs.name
    queueName: restoreRequestsQueue
    serverIds: alertServers
  }
}

// ---------------------------------------------------------------------------------------------------------
// The loader (only when loading is enabled: loadTargetServerIds and loaderImage both set)
// ---------------------------------------------------------------------------------------------------------

// The loader identity, before the job: AcrPull must exist when the job is created.
module loaderIdentity 'modules/identity.bicep' = if (loadEnabled) {
  name: 'loader-identity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: loaderIdentityName
  }
}

// Loader identity on the registry of the image: AcrPull. A loop over none or one registry rather than a condition,
// so that the scope (split from the id) is never evaluated for an empty id.
module loaderPull 'modules/acr-pull-role.bicep' = [for (registryId, i) in loaderRegistryIds: {
  name: 'loader-acr-pull-${i}'
  scope: resourceGroup(split(registryId, '/')[2], split(registryId, '/')[4])
  params: {
    registryName: last(split(registryId, '/'))
    principalId: loaderIdentity.outputs.principalId
  }
}]

// Container Apps environment (logs to the existing workspace) and the manually triggered loader job.
module loader 'modules/loader.bicep' = if (loadEnabled) {
  name: 'loader'
  scope: rg
  params: {
    location: location
    tags: tags
    environmentName: 'cae-pgrestore-${resourceToken}'
    jobName: loaderJobName
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    identityId: loaderIdentity.outputs.id
    identityClientId: loaderIdentity.outputs.clientId
    image: loaderImage
    // The registry's own login server (read from it, after AcrPull is granted: the job is created after both).
    registryServer: empty(loaderRegistryIds) ? '' : loaderPull[0].outputs.loginServer
    pgUser: loaderPgUserValue
    cpu: loaderCpu
    memory: loaderMemory
    replicaTimeout: int(loaderReplicaTimeout)
    infrastructureSubnetId: loaderSubnetId
  }
}

// App identity on the loader job: read, start, read executions, stop (custom role, scoped to the job).
module loaderJobRoles 'modules/loader-job-roles.bicep' = if (loadEnabled) {
  name: 'loader-job-roles'
  scope: rg
  params: {
    jobName: loader.outputs.jobName
    principalId: appPrincipalId
  }
}

// App identity on each load target server: read it, read/write its configurations (custom role, scoped to the
// server). One at a time: servers of one resource group share the role definition.
@batchSize(1)
module loadTargetRoles 'modules/load-target-roles.bicep' = [for (serverId, i) in loadServerIds: {
  name: 'load-target-roles-${i}'
  scope: resourceGroup(split(serverId, '/')[2], split(serverId, '/')[4])
  params: {
    serverName: last(split(serverId, '/'))
    principalId: appPrincipalId
  }
}]

// Loader identity on each restore-target container: read the files, write only its report; app identity: read.
// One at a time: containers of one resource group share the report writer role definition.
@batchSize(1)
module loaderBlobRoles 'modules/loader-blob-roles.bicep' = [for (containerId, i) in loadContainerIds: {
  name: 'loader-blob-roles-${i}'
  scope: resourceGroup(split(containerId, '/')[2], split(containerId, '/')[4])
  params: {
    storageAccountName: split(containerId, '/')[8]
    containerName: split(containerId, '/')[12]
    loaderPrincipalId: loaderIdentity.outputs.principalId
    appPrincipalId: appPrincipalId
  }
}]

// ---------------------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment: `azd env get-values`)
// ---------------------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_PRINCIPAL_ID_APP string = appPrincipalId
output RESTORE_TARGET_ALLOWLIST string = allowlist
// The loader (empty without one): the job the app starts, the identity to create a PostgreSQL role for on each
// target server (docs/deploy.md), and the addresses the job connects from (for the servers' firewalls).
output LOAD_JOB string = loadEnabled ? loader.outputs.jobId : ''
output LOADER_JOB_NAME string = loadEnabled ? loader.outputs.jobName : ''
output LOADER_IDENTITY_NAME string = loadEnabled ? loaderIdentityName : ''
output LOADER_IDENTITY_CLIENT_ID string = loadEnabled ? loaderIdentity.outputs.clientId : ''
output LOADER_IDENTITY_PRINCIPAL_ID string = loadEnabled ? loaderIdentity.outputs.principalId : ''
output LOADER_PG_USER string = loadEnabled ? loaderPgUserValue : ''
output LOADER_OUTBOUND_IPS string = loadEnabled ? join(loader.outputs.outboundIpAddresses, ',') : ''
