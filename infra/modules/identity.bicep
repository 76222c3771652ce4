// Optional user-assigned managed identity for the Function App (parameter identityType = 'UserAssigned').
// A user-assigned identity survives re-creation of the app, so its role assignments on the Backup vault and the
// storage accounts (which may live in other resource groups) do not have to be granted again.

@description('Azure region of the identity.')
param location string

@description('Tags applied to the identity.')
param tags object = {}

@description('Name of the user-assigned managed identity.')
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
