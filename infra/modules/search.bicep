// Azure AI Search service holding the vector index. API keys are disabled (disableLocalAuth): the app and
// the deploying user reach it with Entra ID tokens and the Search Index Data Contributor / Search Service
// Contributor roles granted in rbac.bicep.

@description('Search service name (2-60 lowercase letters, digits and dashes).')
@minLength(2)
@maxLength(60)
param name string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Pricing tier. Vector search needs basic or higher.')
@allowed([
  'basic'
  'standard'
  'standard2'
  'standard3'
  'storage_optimized_l1'
  'storage_optimized_l2'
])
param sku string

@description('Replicas. Two or more are needed for the read (query) SLA, three or more for read-write.')
@minValue(1)
@maxValue(12)
param replicaCount int

@description('Partitions (index size and indexing throughput).')
@allowed([
  1
  2
  3
  4
  6
  12
])
param partitionCount int

resource search 'Microsoft.Search/searchServices@2025-05-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    replicaCount: replicaCount
    partitionCount: partitionCount
    hostingMode: 'Default'
    publicNetworkAccess: 'enabled'
    disableLocalAuth: true
    semanticSearch: 'disabled'
  }
}

@description('Search service name.')
output name string = search.name

@description('Search service endpoint, https://<name>.search.windows.net in the public cloud.')
output endpoint string = search.properties.?endpoint ?? 'https://${search.name}.search.windows.net'
