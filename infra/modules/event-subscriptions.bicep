// Event Grid subscriptions that push blob events of the images container to the app.
//
// Deployed in a second pass (main.bicep: deployEventSubscriptions = true) AFTER the app code has been
// deployed, as in the Functions Event Grid blob-trigger quickstart: the webhook URLs carry host keys that
// the Functions runtime only creates once the code is there, and Event Grid validates each endpoint when
// the subscription is created (the blobs extension and the BlobEvents function answer the handshake).
//
//  * BlobCreated -> /runtime/webhooks/blobs?functionName=Host.Functions.IngestImage  (blobs_extension key)
//    consumed by [BlobTrigger("images/{name}", Source = BlobTriggerSource.EventGrid, Connection = "ImagesStorage")]
//  * BlobDeleted -> /api/events/blobs  (HTTP function BlobEvents, authLevel Function, default host key)
//
// The keys are read at deployment time with listKeys and written only into the subscriptions' endpoint
// URLs; they never appear in parameters or outputs.

@description('Name of the Event Grid system topic on the storage account.')
param systemTopicName string

@description('Name of the function app that receives the events.')
param functionAppName string

@description('Container whose events are delivered.')
param imagesContainerName string

@description('Name of the blob-triggered ingest function (Host.Functions.<name>).')
param ingestFunctionName string = 'IngestImage'

@description('Route of the HTTP function that handles BlobDeleted events (BlobEvents).')
param blobEventsRoute string = 'events/blobs'

@description('Storage account that receives dead-lettered events.')
param storageAccountName string

@description('Container that receives dead-lettered events.')
param deadLetterContainerName string

@description('Resource ID of the user-assigned identity the system topic uses for dead lettering.')
param identityId string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource functionApp 'Microsoft.Web/sites@2024-11-01' existing = {
  name: functionAppName
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

// Microsoft.Web/sites/host has no Bicep type, so list the host keys by resource ID.
var hostKeys = listKeys('${functionApp.id}/host/default', '2023-12-01')
var baseUrl = 'https://${functionApp.properties.defaultHostName}'
var subjectPrefix = '/blobServices/default/containers/${imagesContainerName}/'

var deadLetter = {
  identity: {
    type: 'UserAssigned'
    userAssignedIdentity: identityId
  }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: storageAccount.id
      blobContainerName: deadLetterContainerName
    }
  }
}

var retryPolicy = {
  maxDeliveryAttempts: 30
  eventTimeToLiveInMinutes: 1440
}

resource blobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: 'images-blob-created'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: '${baseUrl}/runtime/webhooks/blobs?functionName=Host.Functions.${ingestFunctionName}&code=${hostKeys.systemKeys.blobs_extension}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: subjectPrefix
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: [
            'PutBlob'
            'PutBlockList'
            'CopyBlob'
            'FlushWithClose'
          ]
        }
      ]
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
}

resource blobDeleted 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: 'images-blob-deleted'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: '${baseUrl}/api/${blobEventsRoute}?code=${hostKeys.functionKeys.default}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobDeleted'
      ]
      subjectBeginsWith: subjectPrefix
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
}

@description('Names of the subscriptions created.')
output subscriptionNames string[] = [
  blobCreated.name
  blobDeleted.name
]
