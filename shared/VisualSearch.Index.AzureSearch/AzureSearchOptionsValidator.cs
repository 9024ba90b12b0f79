using Microsoft.Extensions.Options;

namespace VisualSearch.Index.AzureSearch;

/// <summary>Rules the data annotations cannot say: the endpoint's scheme, the retry delays, the credential.</summary>
public sealed class AzureSearchOptionsValidator : IValidateOptions<AzureSearchOptions>
{
    public ValidateOptionsResult Validate(string? name, AzureSearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Endpoint is { } endpoint)
        {
            if (!endpoint.IsAbsoluteUri || endpoint.Scheme != Uri.UriSchemeHttps)
                failures.Add($"AzureSearch:Endpoint must be an absolute https URL such as https://<service>.search.windows.net, not '{endpoint}' (Azure.Search.Documents accepts only https).");
            else if (endpoint.AbsolutePath != "/" || !string.IsNullOrEmpty(endpoint.Query))
                failures.Add($"AzureSearch:Endpoint must be the service URL alone (https://<service>.search.windows.net), without a path or query: '{endpoint}'.");
        }

        if (options.RetryDelay <= TimeSpan.Zero || options.RetryDelay > TimeSpan.FromMinutes(1))
            failures.Add("AzureSearch:RetryDelay must be more than 0 and at most 00:01:00.");
        if (options.MaxRetryDelay < options.RetryDelay || options.MaxRetryDelay > TimeSpan.FromMinutes(5))
            failures.Add("AzureSearch:MaxRetryDelay must be at least AzureSearch:RetryDelay and at most 00:05:00.");
        if (!string.IsNullOrWhiteSpace(options.ApiKey) && !string.IsNullOrWhiteSpace(options.ClientId))
            failures.Add("Set AzureSearch:ApiKey or AzureSearch:ClientId, not both: a key, or a managed identity.");
        if (!Enum.IsDefined(options.Algorithm))
            failures.Add("AzureSearch:Algorithm must be Hnsw or ExhaustiveKnn.");
        if (!Enum.IsDefined(options.VectorCompression))
            failures.Add("AzureSearch:VectorCompression must be None or ScalarInt8.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
