// The loader (docs/loading.md): a Container Apps managed environment and a manually triggered Container Apps job
// that runs the loader image (loader/Dockerfile) once per load. The app starts an execution with the whole
// template restated plus LOAD_REQUEST (POST {job}/start) and polls it; nothing else ever starts it.
//
// The job runs as the user-assigned loader identity (modules/identity.bicep, created before this module so that
// AcrPull can be granted before the job is created). That identity signs in to PostgreSQL with an Entra token
// (LOADER_PG_USER is its PostgreSQL role, made once per server with pgaadauth_create_principal: docs/deploy.md)
// and reads the restored files from Blob Storage. The template holds no secret: no password, no key, no
// connection string.
//
// Logs: the environment sends console and system logs to the existing Log Analytics workspace through a
// diagnostic setting ('azure-monitor' destination), so no workspace shared key is ever read into the template.

@description('Azure region of the environment and the job.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Name of the Container Apps managed environment.')
param environmentName string

@description('Name of the Container Apps job.')
param jobName string

@description('Log Analytics workspace (monitoring.bicep) that receives the job\'s console and system logs.')
param logAnalyticsId string

@description('Resource id of the user-assigned loader identity.')
param identityId string

@description('Client id of the loader identity (AZURE_CLIENT_ID in the container).')
param identityClientId string

@description('Loader image, e.g. <registry>.azurecr.io/pgflex-loader:<tag>.')
param image string

@description('Login server of the registry the image is pulled from with the loader identity (<name>.azurecr.io). Empty: a public image, no registry credentials.')
param registryServer string = ''

@description('PostgreSQL role of the loader identity on every allowlisted server (LOADER_PG_USER).')
param pgUser string

@description('vCPUs of the loader container (Consumption profile: 0.25 .. 4, memory 2 GiB per vCPU).')
param cpu string = '2.0'

@description('Memory of the loader container, e.g. 4Gi (2 GiB per vCPU on the Consumption profile).')
param memory string = '4Gi'

@description('Longest a load may run, seconds (replicaTimeout): the execution is stopped after it.')
@minValue(60)
param replicaTimeout int = 14400

@description('Resource id of a subnet (at least /27, delegated to Microsoft.App/environments) for VNet integration, when the target servers are private. Empty: no VNet, outbound over the internet.')
param infrastructureSubnetId string = ''

var vnetEnabled = !empty(infrastructureSubnetId)

resource managedEnvironment 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    // Logs go through the diagnostic setting below: no workspace key in the template.
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    // Workload-profiles environment with the serverless Consumption profile only: pay per execution second, and a
    // /27 subnet is enough when VNet integration is used.
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
    // The job has no ingress: an internal environment exposes nothing; outbound goes through the subnet.
    vnetConfiguration: vnetEnabled ? {
      infrastructureSubnetId: infrastructureSubnetId
      internal: true
    } : null
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'loader-logs'
  scope: managedEnvironment
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        // ContainerAppConsoleLogs (the loader's stdout, its report as the last line) and ContainerAppSystemLogs.
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

var registries = empty(registryServer) ? [] : [
  {
    server: registryServer
    // Pull with the loader identity (AcrPull, modules/acr-pull-role.bicep): no registry password.
    identity: identityId
  }
]

resource job 'Microsoft.App/jobs@2025-07-01' = {
  name: jobName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: managedEnvironment.id
    workloadProfileName: 'Consumption'
    configuration: {
      // Started only by the app (POST {job}/start), one execution per load.
      triggerType: 'Manual'
      manualTriggerConfig: {
        replicaCompletionCount: 1
        parallelism: 1
      }
      replicaTimeout: replicaTimeout
      // A failed load is reported, not retried: a retry would meet the databases the first attempt created.
      replicaRetryLimit: 0
      // The identity is available to the container (tokens for PostgreSQL and Storage) and to the platform
      // (image pull).
      identitySettings: [
        {
          identity: identityId
          lifecycle: 'All'
        }
      ]
      registries: registries
      secrets: []
    }
    template: {
      containers: [
        {
          name: 'loader'
          image: image
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          // The app restates these on every start (an override replaces the whole template) and adds the
          // execution's LOAD_REQUEST. Nothing here is secret.
          env: [
            {
              // ManagedIdentityCredential picks the loader identity (user-assigned: a client id is mandatory).
              name: 'AZURE_CLIENT_ID'
              value: identityClientId
            }
            {
              // The PostgreSQL role pgaadauth_create_principal made for the loader identity.
              name: 'LOADER_PG_USER'
              value: pgUser
            }
            {
              // Azure Database for PostgreSQL flexible server accepts TLS connections only.
              name: 'PGSSLMODE'
              value: 'require'
            }
          ]
        }
      ]
    }
  }
}

output environmentId string = managedEnvironment.id
output environmentName string = managedEnvironment.name
output jobId string = job.id
output jobName string = job.name
// The addresses the job connects from: add them to each target server's firewall (unless VNet-integrated).
output outboundIpAddresses array = job.properties.outboundIpAddresses
