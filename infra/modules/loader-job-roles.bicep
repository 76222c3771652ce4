// Role of the Function App identity on the loader job (modules/loader.bicep): read the job, start an execution,
// read executions, stop one (cancel). Deployed to the app's resource group; the role is assigned on the job
// alone, so the app can start no other job.
//
// A custom role rather than the built-in Container Apps Jobs Operator (b9a307c4-5aa3-4b52-ba60-2b17c136cd7b):
// the built-in role's action list is not published with it (public notes say jobs/read + jobs/*/action, which
// would not cover the execution reads the app polls), while this list is exactly the calls of docs/loading.md.

@description('Name of the loader job (created by loader.bicep in this resource group).')
param jobName string

@description('Principal (object) id of the Function App managed identity.')
param principalId string

// Exactly the job calls the app makes (docs/loading.md, steps 4 to 6, and cancel).
var jobOperatorActions = [
  // GET {job}: the template the app restates on start.
  'Microsoft.App/jobs/read'
  // POST {job}/start.
  'Microsoft.App/jobs/start/action'
  // GET {job}/executions (history).
  'Microsoft.App/jobs/executions/read'
  // GET {job}/executions/{name} (one execution).
  'Microsoft.App/jobs/execution/read'
  // POST {job}/stop (stop executions), on cancel.
  'Microsoft.App/jobs/stop/action'
  // POST {job}/executions/{name}/stop, on cancel.
  'Microsoft.App/jobs/stop/execution/action'
]

resource job 'Microsoft.App/jobs@2025-07-01' existing = {
  name: jobName
}

// One definition per resource group (the name and roleName derive from it): assignable only here.
resource jobOperatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'pgflex-restore-loader-job-operator')
  properties: {
    roleName: 'pgflex-restore loader job operator (${resourceGroup().name}, ${subscription().subscriptionId})'
    description: 'Read, start, and stop the executions of the pgflex-restore loader job; read its executions.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: jobOperatorActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

// The app starts and watches loads; scoped to the loader job, not the resource group.
resource jobOperator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(job.id, principalId, jobOperatorRole.name)
  scope: job
  properties: {
    // The subscription-level id (an assignment does not accept the resource-group-qualified id of the definition).
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', jobOperatorRole.name)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output roleDefinitionId string = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', jobOperatorRole.name)
