using System.Text.Json;
using System.Text.RegularExpressions;

namespace VisualSearch.Infra.Tests;

/// <summary>Compiles infra/main.bicep once (offline) for the assertions of <see cref="MainTemplateTests"/>.</summary>
public sealed class CompiledMainTemplate : IAsyncLifetime
{
    private ArmTemplate? template;

    internal ArmTemplate Template => template ?? throw new InvalidOperationException("Not compiled yet.");

    public async Task InitializeAsync()
    {
        var result = await BicepCli.RunAsync("build", "infra/main.bicep", "--stdout");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"bicep build infra/main.bicep failed: {result.Describe()}");
        }

        template = new ArmTemplate(result.StandardOutput);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// What the compiled template must guarantee: keyless access everywhere, the role assignments the app
/// needs (and no more sources of secrets), and the Event Grid wiring the functions expect.
/// </summary>
public sealed partial class MainTemplateTests(CompiledMainTemplate compiled) : IClassFixture<CompiledMainTemplate>
{
    private const string StorageBlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    private const string StorageBlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
    private const string StorageBlobDelegator = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a";
    private const string StorageQueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    private const string StorageTableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    private const string StorageAccountContributor = "17d1049b-9a84-46fb-8f53-869881c3d3ab";
    private const string SearchIndexDataContributor = "8ebe5a00-799e-43f5-93ac-243d3dce84a7";
    private const string SearchServiceContributor = "7ca78c08-252a-4471-8644-bb5ff32d4ba0";
    private const string MonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb";
    private const string AcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d";

    private ArmTemplate Arm => compiled.Template;

    [Fact]
    public void ParametersAndOutputs_ThatLookSecret_AreSecure()
    {
        var checkedTemplates = 0;
        foreach (var template in Arm.Templates())
        {
            checkedTemplates++;
            foreach (var section in new[] { "parameters", "outputs" })
            {
                foreach (var entry in template.Section(section))
                {
                    if (!SecretName().IsMatch(entry.Name))
                    {
                        continue;
                    }

                    var type = entry.Value.GetProperty("type").GetString();
                    Assert.True(
                        string.Equals(type, "securestring", StringComparison.OrdinalIgnoreCase)
                            || string.Equals(type, "secureobject", StringComparison.OrdinalIgnoreCase),
                        $"{template.Name}: {section} '{entry.Name}' looks like a secret but is of type '{type}'");
                }
            }
        }

        Assert.True(checkedTemplates >= 8, $"expected main plus its modules, saw {checkedTemplates} templates");
    }

    [Fact]
    public void StorageAccount_IsKeylessPrivateAndTls12()
    {
        var account = Assert.Single(Arm.OfType("Microsoft.Storage/storageAccounts")).Properties;

        Assert.False(account.GetProperty("allowSharedKeyAccess").GetBoolean());
        Assert.False(account.GetProperty("allowBlobPublicAccess").GetBoolean());
        Assert.True(account.GetProperty("supportsHttpsTrafficOnly").GetBoolean());
        Assert.True(account.GetProperty("defaultToOAuthAuthentication").GetBoolean());
        Assert.Equal("TLS1_2", account.GetProperty("minimumTlsVersion").GetString());
    }

    [Fact]
    public void BlobService_AllowsBrowserUploadsFromConfiguredOrigins()
    {
        var blobService = Assert.Single(Arm.OfType("Microsoft.Storage/storageAccounts/blobServices"));
        var cors = blobService.Properties.GetProperty("cors").GetRawText();

        Assert.Contains("corsAllowedOrigins", cors, StringComparison.Ordinal);
        foreach (var expected in new[] { "'PUT'", "'OPTIONS'", "'GET'", "'HEAD'", "'x-ms-blob-type'", "'content-type'", "'x-ms-meta-*'", "maxAgeInSeconds" })
        {
            Assert.Contains(expected, cors, StringComparison.Ordinal);
        }

        var containers = Arm.OfType("Microsoft.Storage/storageAccounts/blobServices/containers");
        Assert.NotEmpty(containers);
        Assert.All(containers, c => Assert.Equal("None", c.Properties.GetProperty("publicAccess").GetString()));
        Assert.Equal("images", Arm.Templates().First().Parameter("imagesContainerName").GetProperty("defaultValue").GetString());
    }

    [Fact]
    public void Monitoring_HasLocalAuthDisabled()
    {
        var insights = Assert.Single(Arm.OfType("Microsoft.Insights/components")).Properties;
        Assert.True(insights.GetProperty("DisableLocalAuth").GetBoolean());

        var workspace = Assert.Single(Arm.OfType("Microsoft.OperationalInsights/workspaces")).Properties;
        Assert.True(workspace.GetProperty("features").GetProperty("disableLocalAuth").GetBoolean());
    }

    [Fact]
    public void Search_HasApiKeysDisabledAndTwoReplicasByDefault()
    {
        var search = Assert.Single(Arm.OfType("Microsoft.Search/searchServices")).Properties;

        Assert.True(search.GetProperty("disableLocalAuth").GetBoolean());
        Assert.False(search.TryGetProperty("authOptions", out _), "authOptions must be absent when local auth is disabled");
        var sizing = Arm.Templates().First().Parameter("searchSizing").GetProperty("defaultValue");
        Assert.Equal("basic", sizing.GetProperty("sku").GetString());
        Assert.Equal(2, sizing.GetProperty("replicaCount").GetInt32());
    }

    [Fact]
    public void FunctionApp_RunsAsTheUserAssignedIdentityWithoutPublishingCredentials()
    {
        var site = Assert.Single(Arm.OfType("Microsoft.Web/sites"));
        Assert.Equal("UserAssigned", site.Element.GetProperty("identity").GetProperty("type").GetString());
        Assert.True(site.Properties.GetProperty("httpsOnly").GetBoolean());

        var functionAppConfig = site.Properties.GetProperty("functionAppConfig").GetRawText();
        Assert.Contains("'dotnet-isolated'", functionAppConfig, StringComparison.Ordinal);
        Assert.Contains("'10.0'", functionAppConfig, StringComparison.Ordinal);
        Assert.Contains("'UserAssignedIdentity'", functionAppConfig, StringComparison.Ordinal);
        Assert.Contains("instanceMemoryMB", functionAppConfig, StringComparison.Ordinal);
        Assert.Contains("alwaysReady", functionAppConfig, StringComparison.Ordinal);

        var plan = Assert.Single(Arm.OfType("Microsoft.Web/serverfarms")).Element.GetProperty("sku").GetRawText();
        Assert.Contains("'FC1'", plan, StringComparison.Ordinal);
        Assert.Contains("'EP1'", plan, StringComparison.Ordinal);

        var hostingPlan = Arm.Templates().First().Parameter("hostingPlan");
        Assert.Equal("FlexConsumption", hostingPlan.GetProperty("defaultValue").GetString());
        Assert.Equal(
            ["FlexConsumption", "ElasticPremium"],
            hostingPlan.GetProperty("allowedValues").EnumerateArray().Select(v => v.GetString()));

        var policies = Arm.OfType("Microsoft.Web/sites/basicPublishingCredentialsPolicies");
        Assert.Equal(2, policies.Count);
        Assert.All(policies, p => Assert.False(p.Properties.GetProperty("allow").GetBoolean()));
    }

    [Fact]
    public void FunctionApp_SignsPeopleInWithEntraIdBeforeTheCodeRuns()
    {
        var auth = Assert.Single(Arm.OfType("Microsoft.Web/sites/config"), c => c.Element.GetProperty("name").GetString()!.Contains("authsettingsV2", StringComparison.Ordinal));
        Assert.Equal("[not(empty(parameters('apiClientId')))]", auth.Element.GetProperty("condition").GetString());
        var p = auth.Properties;
        Assert.True(p.GetProperty("platform").GetProperty("enabled").GetBoolean());
        var global = p.GetProperty("globalValidation");
        Assert.True(global.GetProperty("requireAuthentication").GetBoolean());
        Assert.Equal("Return401", global.GetProperty("unauthenticatedClientAction").GetString());
        // Exactly these paths reach the app without a token: the health probe, the page's static files (its sign-in
        // library loads before anyone is signed in), and the two Event Grid webhooks (machine to machine, behind keys
        // only Event Grid holds: Easy Auth covers /runtime/webhooks too). Exact paths only, no "/*" folder: every
        // person-facing function (authLevel anonymous) stays behind the platform's token check, /api/health/details too.
        var excluded = global.GetProperty("excludedPaths").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(
            new[]
            {
                "/api/app", "/api/app/", "/api/app/app.css", "/api/app/app.js", "/api/app/config.json", "/api/app/index.html",
                "/api/app/msal-browser.LICENSE.txt", "/api/app/msal-browser.min.js", "/api/events/blobs", "/api/health", "/runtime/webhooks/blobs",
            }.Order(StringComparer.Ordinal),
            excluded);
        Assert.DoesNotContain(excluded, path => path.Contains('*', StringComparison.Ordinal));
        var entra = p.GetProperty("identityProviders").GetProperty("azureActiveDirectory");
        Assert.True(entra.GetProperty("enabled").GetBoolean());
        Assert.Equal("[parameters('apiClientId')]", entra.GetProperty("registration").GetProperty("clientId").GetString());
        Assert.Equal("[parameters('openIdIssuer')]", entra.GetProperty("registration").GetProperty("openIdIssuer").GetString());
        Assert.Equal(["[parameters('apiAudience')]"], entra.GetProperty("validation").GetProperty("allowedAudiences").EnumerateArray().Select(a => a.GetString()));
        Assert.False(p.GetProperty("login").GetProperty("tokenStore").GetProperty("enabled").GetBoolean());
        Assert.True(p.GetProperty("httpSettings").GetProperty("requireHttps").GetBoolean());

        // The issuer is the tenant's v2.0 endpoint; the code trusts the platform's principal only where the platform is there.
        var parameters = Arm.Module("functionapp").Properties.GetProperty("parameters");
        Assert.Contains("/v2.0", parameters.GetProperty("openIdIssuer").GetProperty("value").GetString(), StringComparison.Ordinal);
        Assert.Equal("[string(not(empty(parameters('apiClientId'))))]", parameters.GetProperty("appSettings").GetProperty("value").GetProperty("Auth__AppService").GetString());

        // The page signs people in only with both registrations (the API's and the page's own).
        var settings = parameters.GetProperty("appSettings").GetProperty("value");
        Assert.Contains("parameters('pageClientId')", settings.GetProperty("Auth__ClientId").GetString(), StringComparison.Ordinal);
        Assert.Contains("access_as_user", settings.GetProperty("Auth__Scope").GetString(), StringComparison.Ordinal);
        Assert.Contains("variables('openIdIssuer')", settings.GetProperty("Auth__Authority").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AppSettings_AreIdentityBased()
    {
        var settings = Arm.Module("functionapp").Properties.GetProperty("parameters").GetProperty("appSettings").GetProperty("value");
        var names = settings.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

        foreach (var connection in new[] { "AzureWebJobsStorage", "ImagesStorage" })
        {
            Assert.Contains($"{connection}__blobServiceUri", names);
            Assert.Contains($"{connection}__queueServiceUri", names);
            Assert.Equal("managedidentity", settings.GetProperty($"{connection}__credential").GetString());
            Assert.Contains("clientId", settings.GetProperty($"{connection}__clientId").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain(connection, names); // a bare name would be a connection string
        }

        Assert.EndsWith("Authorization=AAD', reference('identity').clientId)]", settings.GetProperty("APPLICATIONINSIGHTS_AUTHENTICATION_STRING").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("[format('ClientId={0};", settings.GetProperty("APPLICATIONINSIGHTS_AUTHENTICATION_STRING").GetString(), StringComparison.Ordinal);
        Assert.Contains("APPLICATIONINSIGHTS_CONNECTION_STRING", names);
        Assert.Contains("AzureSearch__Endpoint", names);
        Assert.Contains("AzureSearch__IndexName", names);
        Assert.Contains("AZURE_CLIENT_ID", names);
        Assert.Equal("AzureSearch", settings.GetProperty("VectorIndex__Provider").GetString());

        // The app's own blob client (BlobSourceOptions): service URI + identity, never a connection string.
        Assert.Contains("BlobSource__ServiceUri", names);
        Assert.Contains("clientId", settings.GetProperty("BlobSource__ClientId").GetString(), StringComparison.Ordinal);
        Assert.Equal("[parameters('imagesContainerName')]", settings.GetProperty("BlobSource__Container").GetString());
        // Shared albums live in their own container, which the storage module creates.
        Assert.Equal("[variables('albumsContainerName')]", settings.GetProperty("AlbumShares__Container").GetString());
        Assert.DoesNotContain("BlobSource__ConnectionString", names);

        var connectionStrings = names.Where(n => n.Contains("ConnectionString", StringComparison.OrdinalIgnoreCase) || n.Contains("CONNECTION_STRING", StringComparison.Ordinal));
        Assert.Equal(["APPLICATIONINSIGHTS_CONNECTION_STRING"], connectionStrings);
    }

    [Fact]
    public void Template_ReadsNoStorageOrSearchKeys()
    {
        foreach (var forbidden in new[] { "AccountKey", "SharedAccessKey", "listAccountSas", "listServiceSas", "listConnectionStrings", "listAdminKeys", "listQueryKeys", "listCredentials", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING" })
        {
            Assert.DoesNotContain(forbidden, Arm.Json, StringComparison.OrdinalIgnoreCase);
        }

        // The only keys read are the Functions host keys Event Grid needs, inside the subscriptions module.
        foreach (var template in Arm.Templates())
        {
            var text = template.Element.GetRawText();
            var calls = ListKeysCall().Matches(text);
            if (template.Name == "event-subscriptions")
            {
                Assert.NotEmpty(calls);
                Assert.All(calls, c => Assert.Contains("/host/default", c.Value, StringComparison.Ordinal));
            }
            else
            {
                // A parent template embeds its modules' text; count only calls outside them.
                var own = template.Resources().Where(r => r.Type != "Microsoft.Resources/deployments").Select(r => r.Text);
                Assert.DoesNotContain(own, r => ListKeysCall().IsMatch(r));
            }
        }
    }

    [Fact]
    public void RoleAssignments_GrantTheAppAndTheUserWhatTheyNeed()
    {
        var rbac = Arm.ModuleTemplate("rbac");
        var roles = rbac.Variable("roles").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        var granted = new HashSet<(string Scope, string Principal, string Role)>();

        foreach (var assignment in rbac.Resources().Where(r => r.Type == "Microsoft.Authorization/roleAssignments"))
        {
            var scope = Match(ScopeType(), assignment.Element.GetProperty("scope").GetString());
            var principal = Match(Parameter(), assignment.Properties.GetProperty("principalId").GetString());
            var roleExpression = assignment.Properties.GetProperty("roleDefinitionId").GetString()!;
            var name = assignment.Element.GetProperty("name").GetString()!;

            // Named guid(<scope>.id, principalId, roleDefinitionId).
            Assert.StartsWith("[guid(resourceId('" + scope + "'", name, StringComparison.Ordinal);
            Assert.Contains($"parameters('{principal}')", name, StringComparison.Ordinal);

            foreach (var roleId in ResolveRoles(rbac, roles, roleExpression))
            {
                granted.Add((scope, principal, roleId));
            }

            var roleArgument = roleExpression["[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ".Length..^2];
            Assert.EndsWith(roleArgument + ")]", name, StringComparison.Ordinal);
        }

        const string storage = "Microsoft.Storage/storageAccounts";
        const string search = "Microsoft.Search/searchServices";
        var expected = new HashSet<(string, string, string)>
        {
            (storage, "identityPrincipalId", StorageBlobDataOwner),
            (storage, "identityPrincipalId", StorageQueueDataContributor),
            (storage, "identityPrincipalId", StorageTableDataContributor),
            (storage, "identityPrincipalId", StorageBlobDelegator),
            (search, "identityPrincipalId", SearchIndexDataContributor),
            (search, "identityPrincipalId", SearchServiceContributor),
            ("Microsoft.Insights/components", "identityPrincipalId", MonitoringMetricsPublisher),
            ("Microsoft.ContainerRegistry/registries", "identityPrincipalId", AcrPull),
            (storage, "userPrincipalId", StorageBlobDataContributor),
            (storage, "userPrincipalId", StorageQueueDataContributor),
            (storage, "userPrincipalId", StorageBlobDelegator),
            (search, "userPrincipalId", SearchIndexDataContributor),
            (search, "userPrincipalId", SearchServiceContributor),
        };
        Assert.Equal(expected.Order(), granted.Order());

        // Role assignments live in rbac.bicep only.
        Assert.All(
            Arm.Templates().Where(t => t.Name != "rbac"),
            t => Assert.DoesNotContain(t.Resources(), r => r.Type == "Microsoft.Authorization/roleAssignments"));

        // The user's assignments are optional: principalId may be empty.
        Assert.Equal(string.Empty, Arm.Templates().First().Parameter("principalId").GetProperty("defaultValue").GetString());
    }

    [Fact]
    public void HostStorage_RolesAreTheDocumentedOnesOrSayWhyNot()
    {
        // Identity-based AzureWebJobsStorage with tableServiceUri: the host writes diagnostic events to tables, so the
        // app holds Storage Table Data Contributor (RoleAssignments_... checks the grant). Storage Account Contributor,
        // which the docs list for blob triggers, is a management role (keys, shared-key access) and is left out with
        // the reason and the source written down beside the roles and in docs/deploy.md.
        var settings = Arm.Module("functionapp").Properties.GetProperty("parameters").GetProperty("appSettings").GetProperty("value");
        Assert.True(settings.TryGetProperty("AzureWebJobsStorage__tableServiceUri", out _));
        Assert.DoesNotContain(StorageAccountContributor, Arm.Json, StringComparison.OrdinalIgnoreCase);

        const string Source = "https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity";
        foreach (var path in new[] { Repo.PathOf("infra", "modules", "rbac.bicep"), Repo.PathOf("docs", "deploy.md") })
        {
            var text = File.ReadAllText(path);
            Assert.Contains("Storage Account Contributor", text, StringComparison.Ordinal);
            Assert.Contains("Storage Table Data Contributor", text, StringComparison.Ordinal);
            Assert.Contains(Source, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EventSubscriptions_AreASecondPassThatTargetsTheFunctions()
    {
        var main = Arm.Templates().First();
        Assert.False(main.Parameter("deployEventSubscriptions").GetProperty("defaultValue").GetBoolean());
        Assert.Contains("deployEventSubscriptions", Arm.Module("event-subscriptions").Element.GetProperty("condition").GetString(), StringComparison.Ordinal);

        var topic = Assert.Single(Arm.OfType("Microsoft.EventGrid/systemTopics")).Properties;
        Assert.Equal("Microsoft.Storage.StorageAccounts", topic.GetProperty("topicType").GetString());

        var module = Arm.ModuleTemplate("event-subscriptions");
        Assert.Equal("IngestImage", module.Parameter("ingestFunctionName").GetProperty("defaultValue").GetString());
        Assert.Equal("events/blobs", module.Parameter("blobEventsRoute").GetProperty("defaultValue").GetString());
        Assert.Equal("/blobServices/default/containers/{0}/", Match(FormatPattern(), module.Variable("subjectPrefix").GetString()));

        var subscriptions = module.Resources().Where(r => r.Type == "Microsoft.EventGrid/systemTopics/eventSubscriptions").ToList();
        Assert.Equal(2, subscriptions.Count);

        var created = subscriptions.Single(s => EventTypes(s).SequenceEqual(["Microsoft.Storage.BlobCreated"]));
        var createdUrl = EndpointUrl(created);
        Assert.Contains("/runtime/webhooks/blobs?functionName=Host.Functions.{1}&code={2}", createdUrl, StringComparison.Ordinal);
        Assert.Contains(".systemKeys.blobs_extension", createdUrl, StringComparison.Ordinal);
        var apiFilter = Assert.Single(created.Properties.GetProperty("filter").GetProperty("advancedFilters").EnumerateArray());
        Assert.Equal("StringIn", apiFilter.GetProperty("operatorType").GetString());
        Assert.Equal("data.api", apiFilter.GetProperty("key").GetString());
        Assert.Equal(
            ["PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose"],
            apiFilter.GetProperty("values").EnumerateArray().Select(v => v.GetString()));

        var deleted = subscriptions.Single(s => EventTypes(s).SequenceEqual(["Microsoft.Storage.BlobDeleted"]));
        var deletedUrl = EndpointUrl(deleted);
        Assert.Contains("/api/{1}?code={2}", deletedUrl, StringComparison.Ordinal);
        Assert.Contains(".functionKeys.default", deletedUrl, StringComparison.Ordinal);

        Assert.All(subscriptions, s =>
        {
            Assert.Equal("WebHook", s.Properties.GetProperty("destination").GetProperty("endpointType").GetString());
            Assert.Equal("[variables('subjectPrefix')]", s.Properties.GetProperty("filter").GetProperty("subjectBeginsWith").GetString());
        });
    }

    [Fact]
    public void GpuEncoder_IsOptionalAndRunsTheFunctionsImageOnAServerlessGpu()
    {
        var main = Arm.Templates().First();
        Assert.False(main.Parameter("enableGpuEncoder").GetProperty("defaultValue").GetBoolean());
        Assert.Contains("enableGpuEncoder", Arm.Module("gpu-encoder").Element.GetProperty("condition").GetString(), StringComparison.Ordinal);
        Assert.Equal(
            ["Consumption-GPU-NC8as-T4", "Consumption-GPU-NC24-A100"],
            main.Parameter("gpuProfileType").GetProperty("allowedValues").EnumerateArray().Select(v => v.GetString()));

        var app = Assert.Single(Arm.OfType("Microsoft.App/containerApps"));
        Assert.Equal("functionapp", app.Element.GetProperty("kind").GetString());
        Assert.Equal("UserAssigned", app.Element.GetProperty("identity").GetProperty("type").GetString());
        Assert.Contains("Encoder__ExecutionProvider", app.Text + Arm.ModuleTemplate("gpu-encoder").Element.GetRawText(), StringComparison.Ordinal);

        var environment = Assert.Single(Arm.OfType("Microsoft.App/managedEnvironments")).Properties;
        Assert.Equal("azure-monitor", environment.GetProperty("appLogsConfiguration").GetProperty("destination").GetString());

        // Same identity-based settings as the Function App.
        Assert.Equal(
            Arm.Module("functionapp").Properties.GetProperty("parameters").GetProperty("appSettings").GetRawText(),
            Arm.Module("gpu-encoder").Properties.GetProperty("parameters").GetProperty("appSettings").GetRawText());
    }

    [Fact]
    public void Outputs_NameWhatTheDeploymentNeedsNext()
    {
        var outputs = Arm.Templates().First().Section("outputs").Select(o => o.Name).ToHashSet(StringComparer.Ordinal);

        foreach (var expected in new[] { "functionAppName", "functionAppUrl", "storageAccountName", "searchEndpoint", "identityClientId", "applicationInsightsName", "applicationInsightsConnectionStringSetting",
                     "eventGridSystemTopicName", "imagesContainerName", "deadLetterContainerName", "identityResourceId" })
        {
            Assert.Contains(expected, outputs);
        }
    }

    private static IEnumerable<string> ResolveRoles(Template rbac, Dictionary<string, string> roles, string expression)
    {
        var loop = LoopRole().Match(expression);
        var roleExpressions = loop.Success
            ? rbac.Variable(loop.Groups[1].Value).EnumerateArray().Select(e => e.GetString()!).ToList()
            : [expression];

        foreach (var roleExpression in roleExpressions)
        {
            yield return roles[Match(NamedRole(), roleExpression)];
        }
    }

    private static IEnumerable<string?> EventTypes(DeployedResource subscription) =>
        subscription.Properties.GetProperty("filter").GetProperty("includedEventTypes").EnumerateArray().Select(e => e.GetString());

    private static string EndpointUrl(DeployedResource subscription) =>
        subscription.Properties.GetProperty("destination").GetProperty("properties").GetProperty("endpointUrl").GetString()!;

    private static string Match(Regex regex, string? text)
    {
        var match = regex.Match(text ?? string.Empty);
        Assert.True(match.Success, $"'{text}' does not match {regex}");
        return match.Groups[1].Value;
    }

    [GeneratedRegex("key|secret|password", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    [GeneratedRegex(@"listKeys\([^\]]*")]
    private static partial Regex ListKeysCall();

    [GeneratedRegex(@"^\[resourceId\('([^']+)'")]
    private static partial Regex ScopeType();

    [GeneratedRegex(@"^\[parameters\('(\w+)'\)\]$")]
    private static partial Regex Parameter();

    [GeneratedRegex(@"variables\('(\w+)'\)\[copyIndex\(\)\]")]
    private static partial Regex LoopRole();

    [GeneratedRegex(@"variables\('roles'\)\.(\w+)")]
    private static partial Regex NamedRole();

    [GeneratedRegex(@"^\[format\('([^']+)'")]
    private static partial Regex FormatPattern();
}
