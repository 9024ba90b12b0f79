// Storage account for the images, the Functions host (AzureWebJobsStorage) and the Flex Consumption
// deployment package. Keyless: shared-key access is off, so every client (the app, Event Grid dead
// lettering, the deploying user, browsers with user-delegation SAS) authenticates with Entra ID.

@description('Storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the account.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Replication SKU.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param skuName string = 'Standard_LRS'

@description('Container that receives uploaded images (the BlobTrigger path).')
param imagesContainerName string

@description('Container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Container that receives Event Grid events that could not be delivered.')
param deadLetterContainerName string

@description('Container of the app\'s own state: the shared-albums document (AlbumShares__Container).')
param albumsContainerName string

@description('Browser origins allowed to PUT images straight into blob storage with a user-delegation SAS. Empty: no CORS rule.')
param corsAllowedOrigins string[]

@description('How long browsers may cache a CORS preflight answer, in seconds.')
@minValue(0)
param corsMaxAgeInSeconds int = 3600

resource storageAccount 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: storageAccount
  name: 'default'
  properties: {
    cors: {
      corsRules: empty(corsAllowedOrigins)
        ? []
        : [
            {
              allowedOrigins: corsAllowedOrigins
              allowedMethods: [
                'PUT'
                'OPTIONS'
                'GET'
                'HEAD'
              ]
              allowedHeaders: [
                'x-ms-blob-type'
                'content-type'
                'x-ms-meta-*'
                'x-ms-version'
                'x-ms-client-request-id'
              ]
              exposedHeaders: [
                'etag'
                'x-ms-request-id'
                'x-ms-version'
              ]
              maxAgeInSeconds: corsMaxAgeInSeconds
            }
          ]
    }
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = [
  for containerName in [
    imagesContainerName
    deploymentContainerName
    deadLetterContainerName
    albumsContainerName
  ]: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

@description('Storage account name.')
output name string = storageAccount.name

@description('Storage account resource ID.')
output id string = storageAccount.id

@description('Blob service endpoint, with a trailing slash.')
output blobEndpoint string = storageAccount.properties.primaryEndpoints.blob

@description('Queue service endpoint, with a trailing slash.')
output queueEndpoint string = storageAccount.properties.primaryEndpoints.queue

@description('Table service endpoint, with a trailing slash.')
output tableEndpoint string = storageAccount.properties.primaryEndpoints.table
