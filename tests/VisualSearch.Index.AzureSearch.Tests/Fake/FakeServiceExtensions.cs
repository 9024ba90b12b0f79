using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace VisualSearch.Index.AzureSearch.Tests.Fake;

/// <summary>Backend objects wired to a <see cref="FakeSearchService"/> with short retry delays.</summary>
public static class FakeServiceExtensions
{
    public static AzureSearchOptions Options(this FakeSearchService service, string indexName, Action<AzureSearchOptions>? configure = null)
    {
        var options = new AzureSearchOptions
        {
            Endpoint = service.Endpoint,
            IndexName = indexName,
            ApiKey = service.ApiKey,
            RetryDelay = TimeSpan.FromMilliseconds(5),
            MaxRetryDelay = TimeSpan.FromMilliseconds(50),
            MaxRetries = 3,
        };
        configure?.Invoke(options);
        return options;
    }

    public static AzureSearchIndexCatalog Catalog(this FakeSearchService service, string indexName, Action<AzureSearchOptions>? configure = null, AzureSearchClientSettings? settings = null) =>
        new(Microsoft.Extensions.Options.Options.Create(service.Options(indexName, configure)), NullLoggerFactory.Instance,
            settings ?? new AzureSearchClientSettings { Transport = service.Transport() });

    /// <summary>A request the backend does not send as it is (an earlier release's definition, a rule's edge), with the admin key.</summary>
    public static async Task<HttpResponseMessage> SendRawAsync(this FakeSearchService service, HttpMethod method, string pathAndQuery, string? json = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        using var http = new HttpClient(service, disposeHandler: false);
        using var request = new HttpRequestMessage(method, new Uri(service.Endpoint, pathAndQuery));
        if (json is not null) request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        request.Headers.Add("api-key", service.ApiKey);
        return await http.SendAsync(request);
    }

    /// <summary>Configuration keys for a host that uses this service (VectorIndex:Provider AzureSearch).</summary>
    public static Dictionary<string, string?> Settings(this FakeSearchService service, string indexName) => new()
    {
        ["VectorIndex:Provider"] = "AzureSearch",
        ["AzureSearch:Endpoint"] = service.Endpoint.ToString(),
        ["AzureSearch:IndexName"] = indexName,
        ["AzureSearch:ApiKey"] = service.ApiKey,
        ["AzureSearch:RetryDelay"] = "00:00:00.005",
        ["AzureSearch:MaxRetryDelay"] = "00:00:00.050",
    };
}
