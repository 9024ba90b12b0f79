// Optional GPU heavy path (main.bicep: enableGpuEncoder = true): the same Functions image, built from
// infra/gpu/Dockerfile with the CUDA execution provider, running as an Azure Functions app on Azure
// Container Apps (kind functionapp) in a serverless GPU workload profile. It runs as the same
// user-assigned identity with the same identity-based settings as the Function App, plus
// Encoder__ExecutionProvider=Cuda. See infra/gpu/README.md for when it pays off.

@description('Container Apps managed environment name.')
param environmentName string

@description('Container app name.')
param appName string

@description('Azure region; it must offer serverless GPUs.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Serverless GPU workload profile: NVIDIA T4 (cheaper, inference-sized) or A100 (large encoders, batch throughput).')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string

@description('Container image, e.g. <registry>.azurecr.io/visualsearch-functions-gpu:<tag>.')
param image string

@description('Login server of the registry the identity pulls from (AcrPull granted in rbac.bicep).')
param registryServer string

@description('Resource ID of the user-assigned managed identity.')
param identityId string

@description('Log Analytics workspace that receives the environment\'s console and system logs.')
param logAnalyticsId string

@description('Maximum replicas (each holds one GPU).')
@minValue(1)
@maxValue(50)
param maxReplicas int

@description('Identity-based app settings shared with the Function App (see main.bicep).')
param appSettings object

var gpuProfileName = 'gpu'
var isT4 = gpuProfileType == 'Consumption-GPU-NC8as-T4'

// Serverless GPU profiles give one whole GPU per replica; ask for the profile's full CPU and memory.
var resources = isT4
  ? {
      cpu: 8
      memory: '56Gi'
    }
  : {
      cpu: 24
      memory: '220Gi'
    }

var env = [
  for setting in items(union(appSettings, {
    Encoder__ExecutionProvider: 'Cuda'
    // No App Service authentication in front of this app: never trust an X-MS-CLIENT-PRINCIPAL header here
    // (a client could forge it): its person-facing HTTP routes answer 401 to everyone; it serves ingestion and the
    // key-protected Event Grid webhooks (docs/security.md).
    Auth__AppService: 'false'
    // Nor does it serve the page to people: no page sign-in either.
    Auth__ClientId: ''
  })): {
    name: setting.key
    value: string(setting.value)
  }
]

resource managedEnvironment 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    // Keyless logging: Azure Monitor diagnostic settings instead of a Log Analytics shared key.
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
      {
        name: gpuProfileName
        workloadProfileType: gpuProfileType
      }
    ]
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: managedEnvironment
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

resource app 'Microsoft.App/containerApps@2025-07-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: managedEnvironment.id
    workloadProfileName: gpuProfileName
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: 80
        transport: 'auto'
        allowInsecure: false
      }
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'functions'
          image: image
          env: env
          resources: resources
        }
      ]
      scale: {
        minReplicas: 0
        maxReplicas: maxReplicas
      }
    }
  }
}

@description('Container app name.')
output name string = app.name

@description('HTTPS base URL of the GPU app.')
output url string = 'https://${app.properties.configuration.ingress.fqdn}'
