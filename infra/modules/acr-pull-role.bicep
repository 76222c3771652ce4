// Role of the loader identity on the existing container registry that holds the loader image (parameter
// loaderRegistryId). Deployed with scope = the registry's resource group. The job pulls with the identity
// (configuration.registries[].identity), so no registry password or admin user is involved.

@description('Name of the existing container registry.')
param registryName string

@description('Principal (object) id of the loader identity.')
param principalId string

var roleIds = {
  // AcrPull: pull images, nothing else (no push, no delete, no registry management).
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

// The Container Apps platform pulls the loader image as the loader identity.
resource loaderPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, principalId, roleIds.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.acrPull)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output loginServer string = registry.properties.loginServer
