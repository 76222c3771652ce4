// Optional example (main.bicep parameter alertExampleEnabled): Azure Monitor alerts on PostgreSQL flexible
// servers end up as messages on the app's restore-requests queue.
//
// An action group cannot write to a Storage queue: its receivers are e-mail/SMS/push/voice, webhook and secure
// webhook, Azure Function, Logic App, Automation runbook, Event Hub, ITSM and ARM role. The route used here is the
// supported one with no code of its own:
//
//   metric alert rule --> action group (Logic App receiver, common alert schema)
//     --> Logic App (HTTP request trigger) --> Queue service REST "Put Message" with the Logic App's managed
//         identity --> restore-requests --> the app's queue trigger (which understands the common alert schema).
//
// The Logic App holds no key: it authenticates to the queue with its system-assigned identity, which gets
// Storage Queue Data Message Sender on that one queue.

@description('Azure region of the Logic App.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Name prefix of the resources of this module.')
param namePrefix string

@description('The app storage account (created by storage.bicep).')
param storageAccountName string

@description('The queue the app reads restore requests and alerts from.')
param queueName string

@description('ARM ids of the PostgreSQL flexible servers that get an example alert rule.')
param serverIds array

@description('Severity of the example alert rules (0 critical .. 4 verbose).')
@allowed([0, 1, 2, 3, 4])
param severity int = 1

var roleIds = {
  // Storage Queue Data Message Sender: add messages to a queue, nothing else (no read, no delete).
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: queueService
  name: queueName
}

// The queue message is the alert payload itself (common alert schema JSON), XML-escaped inside the
// <MessageText> element that the Queue REST API expects. host.json sets messageEncoding "none", so the app
// reads the JSON text as it was sent (no base64).
var messageText = '@{replace(replace(replace(string(triggerBody()), \'&\', \'&amp;\'), \'<\', \'&lt;\'), \'>\', \'&gt;\')}'

resource forwarder 'Microsoft.Logic/workflows@2019-05-01' = {
  name: '${namePrefix}-alert-to-queue'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    state: 'Enabled'
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      triggers: {
        alert: {
          type: 'Request'
          kind: 'Http'
          inputs: {
            schema: {}
          }
        }
      }
      actions: {
        enqueue: {
          type: 'Http'
          runAfter: {}
          inputs: {
            method: 'POST'
            uri: '${storage.properties.primaryEndpoints.queue}${queueName}/messages'
            headers: {
              'x-ms-version': '2021-12-02'
              'Content-Type': 'application/xml'
            }
            body: '<QueueMessage><MessageText>${messageText}</MessageText></QueueMessage>'
            authentication: {
              type: 'ManagedServiceIdentity'
              audience: 'https://storage.azure.com/'
            }
          }
        }
      }
    }
  }
}

// The Logic App may add messages to restore-requests (and only to it).
resource forwarderSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, forwarder.id, roleIds.storageQueueDataMessageSender)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataMessageSender)
    principalId: forwarder.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-restore-on-alert'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'pgrestore'
    enabled: true
    logicAppReceivers: [
      {
        name: 'restore-requests-queue'
        resourceId: forwarder.id
        callbackUrl: listCallbackUrl('${forwarder.id}/triggers/alert', '2019-05-01').value
        // The app's queue trigger parses the common alert schema (data.essentials.alertTargetIDs, ...).
        useCommonAlertSchema: true
      }
    ]
  }
}

// Example rule: the server stopped answering ("Database Is Alive" below 1 for a minute in a 5-minute window).
// Change the metric, operator and threshold to whatever condition should start a restore of the latest point.
resource serverDown 'Microsoft.Insights/metricAlerts@2018-03-01' = [for serverId in serverIds: {
  name: '${namePrefix}-${last(split(serverId, '/'))}-down'
  location: 'global'
  tags: tags
  properties: {
    description: 'PostgreSQL flexible server is not alive: restore its latest backup as files (pgflex-restore).'
    severity: severity
    enabled: true
    scopes: [
      serverId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          name: 'IsDbAlive'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.DBforPostgreSQL/flexibleServers'
          metricName: 'is_db_alive'
          operator: 'LessThan'
          threshold: 1
          timeAggregation: 'Minimum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}]

output actionGroupId string = actionGroup.id
output logicAppName string = forwarder.name
