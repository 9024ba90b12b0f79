// Event Grid system topic over the storage account. It is created with the rest of the infrastructure;
// the subscriptions that deliver its events to the app are in event-subscriptions.bicep, deployed only
// once the app code (and so its webhook keys) exists.

@description('System topic name.')
param name string

@description('Azure region; a system topic lives in the region of its source.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the storage account whose blob events the topic publishes.')
param storageAccountName string

@description('Resource ID of the user-assigned identity the topic uses to write dead-lettered events.')
param identityId string

resource storageAccount 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    source: storageAccount.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

@description('System topic name.')
output name string = systemTopic.name
