// Linux Function App (Python 3.11) on a Flex Consumption plan.
// Storage is reached only through identity-based connections (AzureWebJobsStorage__*): no connection string,
// no account key. Telemetry goes to Application Insights with Entra ID authentication.

@description('Azure region of the plan and the app.')
param location string

@description('Tags applied to the plan and the app.')
param tags object = {}

@description('Function App name (also its default host name: <name>.azurewebsites.net).')
param name string

@description('Hosting plan name.')
param planName string

@description('Plan SKU name. FC1 is the Flex Consumption SKU.')
param planSkuName string = 'FC1'

@description('Plan SKU tier.')
param planSkuTier string = 'FlexConsumption'

@description('Upper bound of instances the plan scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Python version of the app.')
param pythonVersion string = '3.11'

@description('azd service name this app is deployed as (azure.yaml services key).')
param azdServiceName string = 'api'

@description('The app storage account (existing, created by storage.bicep).')
param storageAccountName string

@description('Blob container of the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Application Insights component (existing, created by monitoring.bicep).')
param applicationInsightsName string

@description('SystemAssigned or UserAssigned.')
@allowed(['SystemAssigned', 'UserAssigned'])
param identityType string = 'SystemAssigned'

@description('Resource id of the user-assigned identity (identityType UserAssigned only).')
param userAssignedIdentityId string = ''

@description('Client id of the user-assigned identity (identityType UserAssigned only).')
param userAssignedIdentityClientId string = ''

@description('The app\'s own settings (DESIGN.md settings table); merged over the platform settings below.')
param appSettings object = {}

var isUserAssigned = identityType == 'UserAssigned'

var deploymentAuthUserAssigned = {
  type: 'UserAssignedIdentity'
  userAssignedIdentityResourceId: userAssignedIdentityId
}
var deploymentAuthSystemAssigned = {
  type: 'SystemAssignedIdentity'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225:Zone redundancy of a Flex Consumption plan depends on the region and needs always-ready instances; it is a cost choice left to the deployer.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: planSkuName
    tier: planSkuTier
  }
  properties: {
    // Linux.
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': azdServiceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: identityType
    userAssignedIdentities: isUserAssigned ? { '${userAssignedIdentityId}': {} } : null
  }
  //checkov:skip=CKV_AZURE_17:Callers use function keys (automation) or are Azure services (action group, Logic App) that present no client certificate.
  //checkov:skip=CKV_AZURE_222:Automation and Azure Monitor reach the HTTP API over the public endpoint; every function needs a key, HTTPS only, TLS 1.2. Add VNet integration + private endpoints if your callers are private.
  //checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero on demand; Durable Functions keeps all state in storage, so losing an instance loses no work. Always-ready instances are a cost choice.
  //checkov:skip=CKV_AZURE_213:The app has no HTTP health endpoint and scales to zero; the platform monitors the Functions host. A health-check ping would only keep an instance warm.
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          // The platform fetches the package with the app identity, never with a key.
          authentication: isUserAssigned ? deploymentAuthUserAssigned : deploymentAuthSystemAssigned
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// Identity-based connection of the Functions host, Durable Functions and the queue trigger (AzureWebJobsStorage).
// With a user-assigned identity the host must be told which identity to use (credential + clientId).
var storageConnection = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
}

var userAssignedSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: userAssignedIdentityClientId
  // azure-identity (DefaultAzureCredential / ManagedIdentityCredential) picks the user-assigned identity.
  AZURE_CLIENT_ID: userAssignedIdentityClientId
}

var telemetrySettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  // Entra ID authenticated ingestion (local auth is disabled on the component).
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: isUserAssigned ? 'ClientId=${userAssignedIdentityClientId};Authorization=AAD' : 'Authorization=AAD'
}

resource appSettingsConfig 'Microsoft.Web/sites/config@2024-04-01' = {
  //checkov:skip=CKV_AZURE_13:Misfire: checks meant for the 'web' config resource; this is the 'appsettings' config. Callers use function keys.
  //checkov:skip=CKV_AZURE_63:Misfire: checks meant for the 'web' config resource; this is the 'appsettings' config. HTTP logs go to App Insights.
  //checkov:skip=CKV_AZURE_65:Misfire: checks meant for the 'web' config resource; this is the 'appsettings' config.
  //checkov:skip=CKV_AZURE_66:Misfire: checks meant for the 'web' config resource; this is the 'appsettings' config.
  //checkov:skip=CKV_AZURE_80:Misfire: checks meant for the 'web' config resource; this is the 'appsettings' config of a Python app (no .NET).
  //checkov:skip=CKV_AZURE_88:Misfire: checks meant for the 'web' config resource; Flex Consumption uses no Azure Files share.
  //checkov:skip=CKV_AZURE_222:Misfire: checks meant for the site; this is the 'appsettings' config. See the skip on the site.
  parent: site
  name: 'appsettings'
  properties: union(storageConnection, isUserAssigned ? userAssignedSettings : {}, telemetrySettings, appSettings)
}

// Basic (user name + password) publishing credentials off, for FTP and for SCM/Kudu: deployments use Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
// Principal of the identity that the roles are granted to.
output principalId string = isUserAssigned ? '' : site.identity.principalId
