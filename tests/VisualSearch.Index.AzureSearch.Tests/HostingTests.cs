using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VisualSearch.Hosting;
using VisualSearch.Index.AzureSearch.Tests.Fake;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>The provider switch (configuration only) and the validation of its settings at start.</summary>
public sealed class HostingTests
{
    [Fact]
    public void The_backend_is_chosen_by_configuration_alone()
    {
        using var local = Host(new() { ["LocalIndex:Path"] = Path.Combine(Path.GetTempPath(), "unused-" + Guid.NewGuid().ToString("N")) });
        Assert.IsType<VersionedVectorIndex>(local.Services.GetRequiredService<IVectorIndex>());
        Assert.IsType<LocalIndexCatalog>(local.Services.GetRequiredService<IVectorIndexCatalog>());

        var service = new FakeSearchService();
        using var azure = Host(service.Settings("images"));
        Assert.IsType<VersionedVectorIndex>(azure.Services.GetRequiredService<IVectorIndex>());
        Assert.IsType<AzureSearchIndexCatalog>(azure.Services.GetRequiredService<IVectorIndexCatalog>());

        using var lowercase = Host(new() { ["VectorIndex:Provider"] = "azuresearch", ["AzureSearch:Endpoint"] = "https://x.search.windows.net", ["AzureSearch:IndexName"] = "images" });
        Assert.IsType<VersionedVectorIndex>(lowercase.Services.GetRequiredService<IVectorIndex>());
    }

    public static TheoryData<Dictionary<string, string?>, string> BadSettings => new()
    {
        { new() { ["VectorIndex:Provider"] = "Elastic" }, "VectorIndex:Provider must be one of Local, AzureSearch (default Local, the embedded index), not 'Elastic'" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:IndexName"] = "images" }, "AzureSearch:Endpoint is required when VectorIndex:Provider is AzureSearch" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:Endpoint"] = "https://x.search.windows.net" }, "AzureSearch:IndexName is required" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:Endpoint"] = "http://x.search.windows.net", ["AzureSearch:IndexName"] = "images" }, "AzureSearch:Endpoint must be an absolute https URL" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:Endpoint"] = "", ["AzureSearch:IndexName"] = "images", ["AzureSearch:ApiKey"] = "" }, "AzureSearch:Endpoint" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:Endpoint"] = "https://x.search.windows.net/indexes", ["AzureSearch:IndexName"] = "images" }, "without a path or query" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:Endpoint"] = "https://x.search.windows.net", ["AzureSearch:IndexName"] = "My_Images" }, "AzureSearch:IndexName must be 2-60 lowercase letters, digits or single dashes" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:Endpoint"] = "https://x.search.windows.net", ["AzureSearch:IndexName"] = "images", ["AzureSearch:HnswM"] = "20" }, "AzureSearch:HnswM must be from 4 to 10" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:Endpoint"] = "https://x.search.windows.net", ["AzureSearch:IndexName"] = "images", ["AzureSearch:BatchSize"] = "5000" }, "AzureSearch:BatchSize must be from 1 to 1000" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:Endpoint"] = "https://x.search.windows.net", ["AzureSearch:IndexName"] = "images", ["AzureSearch:ApiKey"] = "k", ["AzureSearch:ClientId"] = "c" }, "not both" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:Endpoint"] = "https://x.search.windows.net", ["AzureSearch:IndexName"] = "images", ["AzureSearch:DefaultOversampling"] = "0.5" }, "AzureSearch:DefaultOversampling must be from 1 to 100" },
        { new() { ["VectorIndex:Provider"] = "AzureSearch", ["AzureSearch:Endpoint"] = "https://x.search.windows.net", ["AzureSearch:IndexName"] = "images", ["AzureSearch:VectorCompression"] = "7" }, "AzureSearch:VectorCompression must be None or ScalarInt8" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task Bad_settings_stop_the_host_at_start_with_a_message_naming_the_setting(Dictionary<string, string?> settings, string message)
    {
        using var host = Host(settings);

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    private static IHost Host(Dictionary<string, string?> settings)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
        settings["Encoder:WarmUpOnStart"] = "false";
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddVisualSearchEngine();
        builder.AddVectorIndex();
        return builder.Build();
    }
}
