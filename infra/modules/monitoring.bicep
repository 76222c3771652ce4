// Log Analytics workspace + workspace-based Application Insights, and a workbook over the app's telemetry.
// Local (instrumentation-key) ingestion is disabled: the Function App sends telemetry with its managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING), which needs Monitoring Metrics Publisher (granted in app-roles.bicep).

@description('Azure region of the resources.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Display name of the workbook over the app telemetry (restores, phases, failures, drills, ARM calls).')
param workbookDisplayName string = 'pgflex-restore: restores and drills'

@description('Days of log retention in the workspace.')
@minValue(30)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Only Entra ID (managed identity) authenticated telemetry is accepted.
    DisableLocalAuth: true
  }
}

// The workbook reads what the app exports with OpenTelemetry (README, Telemetry): the `restore` requests, their
// phase dependencies and the pgflex.* metrics. Its queries are in workbook.json; tests/infra checks their names
// against the ones the app exports.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, applicationInsightsName, 'pgflex-restore-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: workbookDisplayName
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: string(union(loadJsonContent('workbook.json'), { fallbackResourceIds: [applicationInsights.id] }))
  }
}

output logAnalyticsId string = logAnalytics.id
output applicationInsightsId string = applicationInsights.id
output applicationInsightsName string = applicationInsights.name
output workbookId string = workbook.id
