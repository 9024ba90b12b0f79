// The Functions host: Flex Consumption (FC1) by default, Elastic Premium (EP1) as an option. Linux,
// dotnet-isolated 10.0, one user-assigned identity for everything (host storage, images, search, App
// Insights, and on Flex the deployment package). No keys: app settings carry service URIs and the
// identity's client ID only, and basic (publishing) credentials are disabled.

@description('Function app name; also the <name>.azurewebsites.net host name.')
param name string

@description('Hosting plan name.')
param planName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('FlexConsumption (FC1, scale to zero, default) or ElasticPremium (EP1, always warm, VNet-ready).')
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string

@description('Resource ID of the user-assigned managed identity the app runs as.')
param identityId string

@description('Storage account blob endpoint (https://<account>.blob.core.windows.net/).')
param storageBlobEndpoint string

@description('Container holding the deployment package.')
param deploymentContainerName string

@description('Elastic Premium only: blob name of the zip the app runs from (WEBSITE_RUN_FROM_PACKAGE, read with the managed identity).')
param packageBlobName string

@description('Flex Consumption only: memory per instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Upper bound on instances (Flex: maximumInstanceCount, 40-1000; Elastic Premium: maximum burst, up to 100).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Instances kept warm. Flex: always-ready instances of the HTTP group (search API); Elastic Premium: minimum instances (at least 1).')
@minValue(0)
@maxValue(100)
param alwaysReadyInstanceCount int

@description('Browser origins allowed to call the HTTP API. Empty: no CORS.')
param corsAllowedOrigins string[]

@description('Identity-based app settings shared by every host of the app (see main.bicep).')
param appSettings object

@description('Client ID of the API\'s Entra app registration. Empty: App Service authentication is not configured.')
param apiClientId string

@description('The audience access tokens must carry.')
param apiAudience string

@description('The Entra issuer: https://login.microsoftonline.com/<tenant>/v2.0.')
param openIdIssuer string

var isFlex = hostingPlan == 'FlexConsumption'

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex
    ? {
        name: 'FC1'
        tier: 'FlexConsumption'
      }
    : {
        name: 'EP1'
        tier: 'ElasticPremium'
      }
  properties: {
    reserved: true
    maximumElasticWorkerCount: isFlex ? null : min(maximumInstanceCount, 100)
  }
}

// Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION / WEBSITE_RUN_FROM_PACKAGE:
// runtime and package location live in functionAppConfig instead.
var elasticPremiumSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'dotnet-isolated'
  // Run from a zip in the deployment container, fetched with the managed identity: no Azure Files
  // content share, hence no storage connection string (possible on Linux only).
  WEBSITE_RUN_FROM_PACKAGE: '${storageBlobEndpoint}${deploymentContainerName}/${packageBlobName}'
  WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: identityId
}

resource functionApp 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    functionAppConfig: isFlex
      ? {
          deployment: {
            storage: {
              type: 'blobContainer'
              value: '${storageBlobEndpoint}${deploymentContainerName}'
              authentication: {
                type: 'UserAssignedIdentity'
                userAssignedIdentityResourceId: identityId
              }
            }
          }
          scaleAndConcurrency: {
            instanceMemoryMB: instanceMemoryMB
            maximumInstanceCount: max(maximumInstanceCount, 40)
            alwaysReady: alwaysReadyInstanceCount > 0
              ? [
                  {
                    name: 'http'
                    instanceCount: alwaysReadyInstanceCount
                  }
                ]
              : []
          }
          runtime: {
            name: 'dotnet-isolated'
            version: '10.0'
          }
        }
      : null
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      linuxFxVersion: isFlex ? null : 'DOTNET-ISOLATED|10.0'
      minimumElasticInstanceCount: isFlex ? null : min(max(alwaysReadyInstanceCount, 1), 20)
      functionAppScaleLimit: isFlex ? null : min(maximumInstanceCount, 100)
      cors: {
        allowedOrigins: corsAllowedOrigins
        supportCredentials: false
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, isFlex ? {} : elasticPremiumSettings)
  }

  // Sign-in (App Service authentication, "Easy Auth"): the platform validates the Entra access token of every
  // request before the code runs and answers 401 without one; the code reads the validated principal
  // (X-MS-CLIENT-PRINCIPAL) and scopes every read to its owner. The person-facing functions are authLevel
  // anonymous (no function key in a person's app), so this is what keeps strangers out, and the code refuses them
  // again (401) when no principal arrives (SignedInCallerMiddleware; Auth__AppService below says the platform is here).
  // Easy Auth covers the whole app, the Functions runtime's /runtime/webhooks/* included, so Event Grid's deliveries
  // would get 401 too: the excluded paths are exact (a trailing /* would exclude a whole folder; none is used, so
  // no person-facing route can slip in): the anonymous health probe (GET /api/health; /api/health/details is not
  // excluded and needs the admin role), the page's static files, and the two Event Grid webhooks, which are
  // machine-to-machine and protected by keys only Event Grid holds (/runtime/webhooks/blobs: the blobs_extension
  // system key; /api/events/blobs: authLevel function, the default host key; event-subscriptions.bicep).
  resource auth 'config' = if (!empty(apiClientId)) {
    name: 'authsettingsV2'
    properties: {
      platform: {
        enabled: true
        runtimeVersion: '~1'
      }
      globalValidation: {
        requireAuthentication: true
        unauthenticatedClientAction: 'Return401'
        excludedPaths: [
          '/api/health'
          '/api/app'
          '/api/app/'
          '/api/app/index.html'
          '/api/app/app.js'
          '/api/app/app.css'
          '/api/app/config.json'
          '/api/app/msal-browser.min.js'
          '/api/app/msal-browser.LICENSE.txt'
          '/api/events/blobs'
          '/runtime/webhooks/blobs'
        ]
      }
      identityProviders: {
        azureActiveDirectory: {
          enabled: true
          registration: {
            clientId: apiClientId
            openIdIssuer: openIdIssuer
          }
          validation: {
            allowedAudiences: [
              apiAudience
            ]
          }
        }
      }
      login: {
        tokenStore: {
          enabled: false
        }
      }
      httpSettings: {
        requireHttps: true
      }
    }
  }

  // Keyless deployment: no FTP or SCM basic-auth publishing credentials.
  resource ftp 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scm 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

@description('Function app name.')
output name string = functionApp.name

@description('Default host name, <name>.azurewebsites.net.')
output defaultHostName string = functionApp.properties.defaultHostName

@description('Base URL of the app.')
output url string = 'https://${functionApp.properties.defaultHostName}'
