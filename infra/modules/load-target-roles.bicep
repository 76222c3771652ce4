// Role of the Function App identity on one existing load target (an allowlisted PostgreSQL flexible server,
// LOAD_TARGET_ALLOWLIST). Deployed with scope = the server's resource group, which may be in another resource
// group or subscription than the app.
//
// Before a load the app reads the server (host, major version, state) and, when the restored dumps need extensions
// the server does not allow yet, writes azure.extensions and polls that write (docs/loading.md, steps 1 and 3).
// No built-in role is that narrow (PostgreSQL Flexible Server contributor roles can delete servers, change
// networking and admins), so a custom role with exactly those actions is defined for the resource group and
// assigned on the server alone.

@description('Name of the existing PostgreSQL flexible server.')
param serverName string

@description('Principal (object) id of the Function App managed identity.')
param principalId string

// Exactly the calls of docs/loading.md steps 1 and 3.
var loadTargetActions = [
  // GET {server}: fullyQualifiedDomainName, version, state.
  'Microsoft.DBforPostgreSQL/flexibleServers/read'
  // GET {server}/configurations/azure.extensions.
  'Microsoft.DBforPostgreSQL/flexibleServers/configurations/read'
  // PUT {server}/configurations/azure.extensions (the union of the allowed and the needed extensions).
  'Microsoft.DBforPostgreSQL/flexibleServers/configurations/write'
  // GET of the Azure-AsyncOperation URL the PUT answers with.
  'Microsoft.DBforPostgreSQL/locations/azureAsyncOperation/read'
  // GET of its Location URL.
  'Microsoft.DBforPostgreSQL/locations/operationResults/read'
]

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: serverName
}

// One definition per resource group (several allowlisted servers of one group share it): assignable only here.
resource loadTargetRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'pgflex-restore-load-target')
  properties: {
    roleName: 'pgflex-restore load target (${resourceGroup().name}, ${subscription().subscriptionId})'
    description: 'Read a PostgreSQL flexible server and read/write its server parameters (azure.extensions) for pgflex-restore loads.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: loadTargetActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

// The app prepares this server for a load; scoped to the server, not its resource group.
resource loadTarget 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(server.id, principalId, loadTargetRole.name)
  scope: server
  properties: {
    // The subscription-level id (an assignment does not accept the resource-group-qualified id of the definition).
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', loadTargetRole.name)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
