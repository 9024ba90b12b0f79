// Parameters for infra/main.bicep. Values come from environment variables where a deployment varies
// (CI sets them from GitHub environment variables; see docs/deploy.md), with safe defaults otherwise.
// Override any of them on the command line: az deployment group create ... -p deployEventSubscriptions=true
using 'main.bicep'

param environmentName = readEnvironmentVariable('VISUALSEARCH_ENV', 'dev')

param hostingPlan = readEnvironmentVariable('VISUALSEARCH_HOSTING_PLAN', 'FlexConsumption')

param instanceMemoryMB = 2048

param maximumInstanceCount = int(readEnvironmentVariable('VISUALSEARCH_MAX_INSTANCES', '100'))

param alwaysReadyInstanceCount = int(readEnvironmentVariable('VISUALSEARCH_ALWAYS_READY', '0'))

// Each tier's limits are part of the parameter's type (main.bicep): Basic takes 1-3 replicas and partitions.
param searchSizing = {
  sku: 'basic'
  replicaCount: int(readEnvironmentVariable('VISUALSEARCH_SEARCH_REPLICAS', '2'))
  partitionCount: 1
}

// Comma-separated list, e.g. "https://visualsearch.example.com,http://localhost:5173".
param corsAllowedOrigins = filter(
  map(split(readEnvironmentVariable('VISUALSEARCH_CORS_ORIGINS', ''), ','), origin => trim(origin)),
  origin => !empty(origin)
)

// Object ID of whoever deploys: `az ad signed-in-user show --query id -o tsv` for a person, the
// service principal's object ID in CI (with VISUALSEARCH_PRINCIPAL_TYPE=ServicePrincipal).
param principalId = readEnvironmentVariable('VISUALSEARCH_PRINCIPAL_ID', '')

param principalType = readEnvironmentVariable('VISUALSEARCH_PRINCIPAL_TYPE', 'User')

// Sign-in with Microsoft Entra ID (docs/security.md): the API app registration's client ID and, optionally, its
// application ID URI. Empty: no App Service authentication (function keys only).
param apiClientId = readEnvironmentVariable('VISUALSEARCH_API_CLIENT_ID', '')

param apiAudience = readEnvironmentVariable('VISUALSEARCH_API_AUDIENCE', '')

// The web page's own (single-page application) registration: the page then signs people in with MSAL.js.
param pageClientId = readEnvironmentVariable('VISUALSEARCH_PAGE_CLIENT_ID', '')

param deployEventSubscriptions = bool(readEnvironmentVariable('VISUALSEARCH_EVENT_SUBSCRIPTIONS', 'false'))

param enableGpuEncoder = bool(readEnvironmentVariable('VISUALSEARCH_GPU', 'false'))

param gpuEncoderImage = readEnvironmentVariable('VISUALSEARCH_GPU_IMAGE', '')
