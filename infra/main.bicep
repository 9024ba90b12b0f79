// VisualSearch: serverless visual search on Azure Functions (isolated worker, .NET 10).
//
//   browser --PUT (user-delegation SAS)--> Storage [images] --Event Grid--> Function App (IngestImage)
//                                                                            |  encode (ONNX) + upsert
//   browser --GET /api/search-----------------------------------------------> Function App --> AI Search
//
// Keyless end to end: one user-assigned managed identity, identity-based connections
// (<Connection>__blobServiceUri / __credential / __clientId), storage shared keys off, Search API keys off,
// App Insights local auth off. The only secrets in play are the Functions host keys Event Grid needs to
// call the app; modules/event-subscriptions.bicep reads them at deployment time and keeps them out of
// parameters and outputs.
//
// Two passes (see docs/deploy.md):
//   1. az deployment group create -f infra/main.bicep -p infra/main.bicepparam      (infrastructure)
//   2. deploy the function package                                                  (code)
//   3. az deployment group create ... -p deployEventSubscriptions=true               (Event Grid wiring)

targetScope = 'resourceGroup'

@description('Short environment name (dev, test, prod); it seeds the unique resource names.')
@minLength(1)
@maxLength(16)
param environmentName string

@description('Azure region for all resources.')
param location string = resourceGroup().location

@description('Tags applied to every resource, on top of env.')
param tags object = {}

@description('Functions hosting: FlexConsumption (FC1, default) or ElasticPremium (EP1).')
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string = 'FlexConsumption'

@description('Flex Consumption: memory per instance in MB. The image encoder runs in-process, so 2048 or more.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Maximum instances (Flex: 40-1000; Elastic Premium: capped at 100).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances for the HTTP (search) group on Flex; minimum instances on Elastic Premium. 0 = scale to zero on Flex.')
@minValue(0)
@maxValue(100)
param alwaysReadyInstanceCount int = 0

// Azure AI Search sizing: one object whose type carries each tier's limits, so a replica or partition count the
// tier does not allow fails when the parameters are compiled (literal values) or validated (preflight, what-if),
// not during the deployment. Limits: https://learn.microsoft.com/azure/search/search-limits-quotas-capacity
// (Basic: 3 replicas, 3 partitions; Standard and Storage Optimized: 12 replicas, 12 partitions, and at most
// 36 search units, replicas x partitions, which the service itself checks).
@description('Basic: 1-3 replicas, 1-3 partitions.')
type basicSearch = {
  sku: 'basic'
  @minValue(1)
  @maxValue(3)
  replicaCount: int
  partitionCount: 1 | 2 | 3
}

@description('Standard (S1): 1-12 replicas; 1, 2, 3, 4, 6 or 12 partitions.')
type standardSearch = {
  sku: 'standard'
  @minValue(1)
  @maxValue(12)
  replicaCount: int
  partitionCount: 1 | 2 | 3 | 4 | 6 | 12
}

@description('Standard S2: 1-12 replicas; 1, 2, 3, 4, 6 or 12 partitions.')
type standard2Search = {
  sku: 'standard2'
  @minValue(1)
  @maxValue(12)
  replicaCount: int
  partitionCount: 1 | 2 | 3 | 4 | 6 | 12
}

@description('Standard S3: 1-12 replicas; 1, 2, 3, 4, 6 or 12 partitions.')
type standard3Search = {
  sku: 'standard3'
  @minValue(1)
  @maxValue(12)
  replicaCount: int
  partitionCount: 1 | 2 | 3 | 4 | 6 | 12
}

@description('Storage Optimized L1: 1-12 replicas; 1, 2, 3, 4, 6 or 12 partitions.')
type storageOptimizedL1Search = {
  sku: 'storage_optimized_l1'
  @minValue(1)
  @maxValue(12)
  replicaCount: int
  partitionCount: 1 | 2 | 3 | 4 | 6 | 12
}

@description('Storage Optimized L2: 1-12 replicas; 1, 2, 3, 4, 6 or 12 partitions.')
type storageOptimizedL2Search = {
  sku: 'storage_optimized_l2'
  @minValue(1)
  @maxValue(12)
  replicaCount: int
  partitionCount: 1 | 2 | 3 | 4 | 6 | 12
}

@discriminator('sku')
type searchSizingType = basicSearch | standardSearch | standard2Search | standard3Search | storageOptimizedL1Search | storageOptimizedL2Search

@description('Azure AI Search tier (sku), replicas (2 is the minimum for the query SLA, 3 for the indexing SLA) and partitions, within the tier\'s limits.')
param searchSizing searchSizingType = {
  sku: 'basic'
  replicaCount: 2
  partitionCount: 1
}

@description('Name of the vector index the app creates and queries.')
param searchIndexName string = 'images'

@description('Blob container that receives uploaded images.')
param imagesContainerName string = 'images'

@description('Browser origins (https://app.example.com) allowed to upload to blob storage and call the HTTP API. Empty: no CORS.')
param corsAllowedOrigins string[] = []

@description('Object ID of the deploying user or CI principal, granted data-plane roles for local runs. Empty: none.')
param principalId string = ''

@description('Kind of principal principalId is.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Application (client) ID of the API\'s Entra app registration (docs/security.md). Set: App Service authentication validates every caller\'s token before the code runs. Empty: no sign-in: every person-facing route answers 401 (no function key opens them); ingestion and the Event Grid webhooks still run.')
param apiClientId string = ''

@description('Audience the API\'s access tokens carry (its application ID URI). Empty: api://<apiClientId>.')
param apiAudience string = ''

@description('Entra tenant that issues the tokens (workforce, or an External ID tenant for consumer apps).')
param authTenantId string = tenant().tenantId

@description('Application (client) ID of the web page\'s Entra app registration (platform "Single-page application", redirect URI https://<app>.azurewebsites.net/api/app/; docs/security.md). Set with apiClientId: the page signs people in (MSAL.js, code + PKCE) and asks for <apiAudience>/access_as_user. Empty: the page does not sign in.')
param pageClientId string = ''

@description('Create the Event Grid subscriptions. Leave false on the first deployment: the webhook keys exist only once the app code has been deployed; then deploy again with true.')
param deployEventSubscriptions bool = false

@description('Also deploy the GPU heavy path: Functions on Azure Container Apps with a serverless GPU profile (see infra/gpu/README.md).')
param enableGpuEncoder bool = false

@description('Serverless GPU workload profile for the GPU encoder.')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@description('GPU encoder image (<registry>.azurecr.io/visualsearch-functions-gpu:<tag>). Empty: a public Functions sample image until the real one is pushed.')
param gpuEncoderImage string = ''

@description('Maximum GPU encoder replicas (one GPU each).')
@minValue(1)
@maxValue(50)
param gpuMaxReplicas int = 2

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, {
  env: environmentName
  app: 'visualsearch'
})

var names = {
  identity: 'id-${resourceToken}'
  storage: 'st${resourceToken}'
  logAnalytics: 'log-${resourceToken}'
  applicationInsights: 'appi-${resourceToken}'
  search: 'srch-${resourceToken}'
  plan: 'plan-${resourceToken}'
  functionApp: 'func-${resourceToken}'
  systemTopic: 'evgt-${resourceToken}'
  registry: 'cr${resourceToken}'
  containerEnvironment: 'cae-${resourceToken}'
  gpuApp: 'ca-gpu-${resourceToken}'
}

var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'
var albumsContainerName = 'albums'
var packageBlobName = 'visualsearch-functions.zip'
var placeholderImage = 'mcr.microsoft.com/azure-functions/dotnet8-quickstart-demo:1.0'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: names.identity
  location: location
  tags: allTags
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: allTags
    imagesContainerName: imagesContainerName
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    albumsContainerName: albumsContainerName
    corsAllowedOrigins: corsAllowedOrigins
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: allTags
  }
}

module search 'modules/search.bicep' = {
  name: 'search'
  params: {
    name: names.search
    location: location
    tags: allTags
    sku: searchSizing.sku
    replicaCount: searchSizing.replicaCount
    partitionCount: searchSizing.partitionCount
  }
}

module registry 'modules/registry.bicep' = if (enableGpuEncoder) {
  name: 'registry'
  params: {
    name: names.registry
    location: location
    tags: allTags
  }
}

// Names, not module outputs, are passed wherever a module uses them as resource identifiers, so that
// what-if can predict those modules (linter rule what-if-short-circuiting); dependsOn keeps the order.
module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    storageAccountName: names.storage
    searchServiceName: names.search
    applicationInsightsName: names.applicationInsights
    containerRegistryName: enableGpuEncoder ? names.registry : ''
    // Role assignment names include the principal ID (so a re-created identity gets new assignments
    // instead of colliding with the old ones); it is only known once the identity exists.
    #disable-next-line what-if-short-circuiting
    identityPrincipalId: identity.properties.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
  dependsOn: [
    storage
    search
    monitoring
    registry
  ]
}

// Identity-based settings shared by every host of the app (Function App and GPU container app).
// The connection name ImagesStorage is the one the BlobTrigger uses (Connection = "ImagesStorage").
var apiAudienceValue = empty(apiAudience) ? 'api://${apiClientId}' : apiAudience
var openIdIssuer = '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
var pageSignsIn = !empty(apiClientId) && !empty(pageClientId)

var appSettings = {
  AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
  AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
  AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  ImagesStorage__blobServiceUri: storage.outputs.blobEndpoint
  ImagesStorage__queueServiceUri: storage.outputs.queueEndpoint
  ImagesStorage__credential: 'managedidentity'
  ImagesStorage__clientId: identity.properties.clientId
  // The app's own blob client (upload URLs, reads, deletes): keyless when ConnectionString is absent.
  BlobSource__ServiceUri: storage.outputs.blobEndpoint
  BlobSource__ClientId: identity.properties.clientId
  BlobSource__Container: imagesContainerName
  // Shared albums: one JSON document in its own container (never the images container, whose blobs are ingested).
  AlbumShares__Container: albumsContainerName
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  AzureSearch__Endpoint: search.outputs.endpoint
  AzureSearch__IndexName: searchIndexName
  VectorIndex__Provider: 'AzureSearch'
  AZURE_CLIENT_ID: identity.properties.clientId
  // The code reads the caller from App Service authentication's principal (Caller, AppServiceCallerResolver).
  Auth__AppService: string(!empty(apiClientId))
  // The page's sign-in (PageSignInOptions): empty values leave the page as it was.
  Auth__Authority: pageSignsIn ? openIdIssuer : ''
  Auth__ClientId: pageSignsIn ? pageClientId : ''
  Auth__Scope: pageSignsIn ? '${apiAudienceValue}/access_as_user' : ''
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: allTags
    hostingPlan: hostingPlan
    identityId: identity.id
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    packageBlobName: packageBlobName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyInstanceCount: alwaysReadyInstanceCount
    corsAllowedOrigins: corsAllowedOrigins
    appSettings: appSettings
    apiClientId: apiClientId
    apiAudience: empty(apiAudience) ? 'api://${apiClientId}' : apiAudience
    openIdIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
  }
  // The host must be able to reach storage (and the deployment container) as soon as it starts.
  dependsOn: [
    rbac
  ]
}

module eventGrid 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  params: {
    name: names.systemTopic
    location: location
    tags: allTags
    storageAccountName: names.storage
    identityId: identity.id
  }
  dependsOn: [
    storage
  ]
}

module eventSubscriptions 'modules/event-subscriptions.bicep' = if (deployEventSubscriptions) {
  name: 'event-subscriptions'
  params: {
    systemTopicName: names.systemTopic
    functionAppName: names.functionApp
    imagesContainerName: imagesContainerName
    storageAccountName: names.storage
    deadLetterContainerName: deadLetterContainerName
    identityId: identity.id
  }
  dependsOn: [
    eventGrid
    functionApp
  ]
}

module gpuEncoder 'modules/gpu-encoder.bicep' = if (enableGpuEncoder) {
  name: 'gpu-encoder'
  params: {
    environmentName: names.containerEnvironment
    appName: names.gpuApp
    location: location
    tags: allTags
    gpuProfileType: gpuProfileType
    image: empty(gpuEncoderImage) ? placeholderImage : gpuEncoderImage
    registryServer: registry!.outputs.loginServer
    identityId: identity.id
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    maxReplicas: gpuMaxReplicas
    appSettings: appSettings
  }
  // AcrPull must exist before the first image pull.
  dependsOn: [
    rbac
  ]
}

@description('Function app name (target of the code deployment).')
output functionAppName string = functionApp.outputs.name

@description('Function app base URL.')
output functionAppUrl string = functionApp.outputs.url

@description('Hosting plan in use.')
output hostingPlan string = hostingPlan

@description('Storage account name.')
output storageAccountName string = storage.outputs.name

@description('Container that receives uploaded images.')
output imagesContainerName string = imagesContainerName

@description('Container holding the deployment package (Flex) or the run-from-package zip (Elastic Premium).')
output deploymentContainerName string = deploymentContainerName

@description('Blob name of the run-from-package zip on Elastic Premium.')
output packageBlobName string = packageBlobName

@description('Azure AI Search endpoint.')
output searchEndpoint string = search.outputs.endpoint

@description('Azure AI Search service name.')
output searchServiceName string = search.outputs.name

@description('Client ID of the app\'s user-assigned managed identity (AZURE_CLIENT_ID).')
output identityClientId string = identity.properties.clientId

@description('Application Insights component name.')
output applicationInsightsName string = monitoring.outputs.applicationInsightsName

@description('Name of the app setting that carries the Application Insights connection string.')
output applicationInsightsConnectionStringSetting string = 'APPLICATIONINSIGHTS_CONNECTION_STRING'

@description('Event Grid system topic on the storage account.')
output eventGridSystemTopicName string = eventGrid.outputs.name

@description('Container that receives dead-lettered events (parameter of modules/event-subscriptions.bicep).')
output deadLetterContainerName string = deadLetterContainerName

@description('Resource ID of the app\'s user-assigned identity (parameter of modules/event-subscriptions.bicep).')
output identityResourceId string = identity.id

@description('Container registry for the GPU encoder image; empty when the GPU path is off.')
output containerRegistryName string = enableGpuEncoder ? registry!.outputs.name : ''

@description('GPU encoder container app name; empty when the GPU path is off.')
output gpuEncoderAppName string = enableGpuEncoder ? gpuEncoder!.outputs.name : ''

@description('GPU encoder base URL; empty when the GPU path is off.')
output gpuEncoderUrl string = enableGpuEncoder ? gpuEncoder!.outputs.url : ''
