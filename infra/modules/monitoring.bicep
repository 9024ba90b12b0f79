// Log Analytics workspace + workspace-based Application Insights. Local (key) authentication is off on
// both: telemetry is accepted only from Entra ID principals holding Monitoring Metrics Publisher, and the
// app authenticates with APPLICATIONINSIGHTS_AUTHENTICATION_STRING (its managed identity).

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights component name.')
param applicationInsightsName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Days of log retention in the workspace.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    retentionInDays: retentionInDays
    sku: {
      name: 'PerGB2018'
    }
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

@description('Application Insights component name.')
output applicationInsightsName string = applicationInsights.name

@description('Application Insights connection string. Not a secret: with local auth disabled it only addresses the component; ingestion still needs an Entra ID token.')
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString

@description('Log Analytics workspace resource ID.')
output logAnalyticsId string = logAnalytics.id
