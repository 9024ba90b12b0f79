// Every role assignment of the deployment, in one place. Each is named
// guid(<scope resource>.id, principalId, roleDefinitionId), so re-deploying is idempotent and the same
// principal never gets the same role twice on the same scope.

@description('Storage account holding images, host state and the deployment package.')
param storageAccountName string

@description('Azure AI Search service.')
param searchServiceName string

@description('Application Insights component.')
param applicationInsightsName string

@description('Container registry for the GPU encoder image; empty when the GPU path is off.')
param containerRegistryName string = ''

@description('Principal (object) ID of the app\'s user-assigned managed identity.')
param identityPrincipalId string

@description('Object ID of the deploying user or CI service principal, for local runs and data-plane checks. Empty: no assignment.')
param userPrincipalId string = ''

@description('Kind of principal userPrincipalId is.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param userPrincipalType string = 'User'

// Built-in role definition IDs: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  searchIndexDataContributor: '8ebe5a00-799e-43f5-93ac-243d3dce84a7'
  searchServiceContributor: '7ca78c08-252a-4471-8644-bb5ff32d4ba0'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}

// The app: Blob Data Owner (the Functions host manages its own containers and blob leases; ingestion writes
// blob index tags saying why an upload was rejected), Queue Data Contributor (host queues, blob-trigger
// poison queue), Storage Table Data Contributor (identity-based AzureWebJobsStorage with tableServiceUri set: the host
// writes diagnostic events to tables), Blob Delegator (user-delegation keys for the client upload SAS URLs of
// POST /api/uploads).
// Not granted: Storage Account Contributor, which the Functions docs list for blob triggers on identity-based
// AzureWebJobsStorage (https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity).
// It is a management-plane role that may list the account keys and turn shared-key access back on; the only
// blob trigger here uses Source = EventGrid (no polling, no blob logs), and docs/deploy.md says what to do if
// the host reports a 403 on the account (grant it then, scoped to this account).
var identityStorageRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
  roles.storageBlobDelegator
]

// The app: read/write documents, and create or update the index at startup.
var identitySearchRoles = [
  roles.searchIndexDataContributor
  roles.searchServiceContributor
]

// The deploying user: enough to upload test images, mint SAS URLs and inspect the index from a laptop.
var userStorageRoles = [
  roles.storageBlobDataContributor
  roles.storageQueueDataContributor
  roles.storageBlobDelegator
]

var userSearchRoles = [
  roles.searchIndexDataContributor
  roles.searchServiceContributor
]

var hasUser = !empty(userPrincipalId)

resource storageAccount 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource search 'Microsoft.Search/searchServices@2025-05-01' existing = {
  name: searchServiceName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource containerRegistry 'Microsoft.ContainerRegistry/registries@2025-04-01' existing = if (!empty(containerRegistryName)) {
  name: containerRegistryName
}

resource identityStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in identityStorageRoles: {
    name: guid(storageAccount.id, identityPrincipalId, roleId)
    scope: storageAccount
    properties: {
      principalId: identityPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource identitySearch 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in identitySearchRoles: {
    name: guid(search.id, identityPrincipalId, roleId)
    scope: search
    properties: {
      principalId: identityPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource identityMonitoring 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roles.monitoringMetricsPublisher
    )
  }
}

resource identityAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(containerRegistryName)) {
  name: guid(containerRegistry.id, identityPrincipalId, roles.acrPull)
  scope: containerRegistry
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
  }
}

resource userStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in userStorageRoles: if (hasUser) {
    name: guid(storageAccount.id, userPrincipalId, roleId)
    scope: storageAccount
    properties: {
      principalId: userPrincipalId
      principalType: userPrincipalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource userSearch 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in userSearchRoles: if (hasUser) {
    name: guid(search.id, userPrincipalId, roleId)
    scope: search
    properties: {
      principalId: userPrincipalId
      principalType: userPrincipalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]
