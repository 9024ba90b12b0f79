// Container registry for the GPU encoder image (only deployed with enableGpuEncoder). No admin user and
// no anonymous pull: the container app pulls with its managed identity (AcrPull in rbac.bicep) and the
// image is built in the registry with `az acr build` under the deploying Entra ID identity.

@description('Registry name (5-50 letters and digits).')
@minLength(5)
@maxLength(50)
param name string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

@description('Registry name.')
output name string = registry.name

@description('Login server, <name>.azurecr.io.')
output loginServer string = registry.properties.loginServer
