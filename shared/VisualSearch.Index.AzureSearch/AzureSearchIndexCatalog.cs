using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Search.Documents;
using Azure.Search.Documents.Indexes;
using Azure.Search.Documents.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Indexing;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// The model versions of the Azure AI Search backend. Each model's vectors live in their own index,
/// &lt;IndexName&gt;-&lt;model id&gt;; the small index &lt;IndexName&gt;-meta holds one document, "current", naming the
/// model and the index the hosts use. Index aliases would do this job but are a preview feature (REST
/// 2021-04-30-Preview .. 2023-07-01-Preview) that 2023-11-01 and Azure.Search.Documents 11.5.1 do not have;
/// a one-document upload is atomic, so readers see the old pointer or the new one.
/// </summary>
public sealed partial class AzureSearchIndexCatalog : IVectorIndexCatalog
{
    public const string PointerKey = "current";

    private readonly AzureSearchOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger<AzureSearchIndexCatalog> _logger;
    private readonly Lazy<(SearchIndexClient Index, IndexDefinitionClient Definitions)> _clients;
    private readonly SemaphoreSlim _metaGate = new(1, 1);
    private bool _metaReady;

    public AzureSearchIndexCatalog(IOptions<AzureSearchOptions> options, ILoggerFactory loggerFactory, AzureSearchClientSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options.Value;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<AzureSearchIndexCatalog>();
        _clients = new(() => CreateClients(_options, settings));
    }

    public string Kind => AzureSearchVectorIndex.BackendKind;

    public SearchIndexClient IndexClient => _clients.Value.Index;

    /// <summary>Index definitions over REST 2024-07-01, through the same pipeline settings and credential as <see cref="IndexClient"/>.</summary>
    public IndexDefinitionClient Definitions => _clients.Value.Definitions;

    public string MetaIndexName => _options.IndexName + "-meta";

    public string PointerLocation => $"'{MetaIndexName}'";

    /// <summary>
    /// The index name of a model's version with the configured vector storage: &lt;IndexName&gt;-&lt;model id&gt; and the
    /// layout's suffix (<see cref="VectorLayout.NameSuffix"/>: "-sq8" for int8 compression, "-ns" without retrievable
    /// originals; none for the layout of earlier releases, whose indexes keep their names). The id is reduced to
    /// lowercase letters, digits and single dashes, with a hash when that changed it or made it longer than 60
    /// characters. A change of compression or storage is therefore a new version, which vsearch reindex builds.
    /// </summary>
    public string VersionName(string modelId) => VersionName(modelId, VectorLayout.From(_options));

    /// <summary>The index name of a model's version with <paramref name="layout"/>.</summary>
    public string VersionName(string modelId, VectorLayout layout)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        ArgumentNullException.ThrowIfNull(layout);
        var suffix = NotNameCharacters().Replace(modelId.ToLowerInvariant(), "-").Trim('-');
        suffix = Dashes().Replace(suffix, "-");
        if (suffix != modelId || suffix.Length > 60 || suffix is "" or "meta")
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(modelId)))[..8];
            suffix = (suffix.Length > 50 ? suffix[..50].TrimEnd('-') : suffix) + "-" + hash;
            suffix = suffix.TrimStart('-');
        }

        return _options.IndexName + "-" + suffix + layout.NameSuffix;
    }

    /// <summary>The pointer, or null while no model is current (no meta index, or no pointer in it).</summary>
    public async Task<IndexVersion?> GetCurrentAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var client = IndexClient.GetSearchClient(MetaIndexName);
            var pointer = (await client.GetDocumentAsync<IndexPointer>(PointerKey, cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            return pointer.ModelId is null || pointer.IndexName is null ? null : new IndexVersion(pointer.ModelId, pointer.IndexName);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, MetaIndexName, "read-pointer");
        }
    }

    /// <summary>A closed index for a model's version (its name from the pointer, or <see cref="VersionName"/>).</summary>
    public AzureSearchVectorIndex OpenVersion(string modelId, string? indexName = null) =>
        new(IndexClient, Definitions, indexName ?? VersionName(modelId), _options, _loggerFactory.CreateLogger<AzureSearchVectorIndex>());

    IVectorIndex IVectorIndexCatalog.OpenVersion(IndexVersion version)
    {
        ArgumentNullException.ThrowIfNull(version);
        return OpenVersion(version.ModelId, version.Name);
    }

    /// <summary>Points the hosts at <paramref name="schema"/>'s version (one atomic document upload). The version must exist.</summary>
    public async Task SwitchToAsync(IndexSchema schema, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var indexName = VersionName(schema.ModelId);
        if (!await ExistsAsync(indexName, cancellationToken).ConfigureAwait(false))
            throw new InvalidOperationException($"There is no Azure AI Search index '{indexName}' for model '{schema.ModelId}'; build it first (vsearch reindex).");
        await EnsureMetaIndexAsync(cancellationToken).ConfigureAwait(false);
        var pointer = new IndexPointer
        {
            Key = PointerKey,
            ModelId = schema.ModelId,
            IndexName = indexName,
            Dimension = schema.Dimension,
            SwitchedAt = DateTimeOffset.UtcNow,
        };
        try
        {
            await IndexClient.GetSearchClient(MetaIndexName)
                .IndexDocumentsAsync(IndexDocumentsBatch.Upload([pointer]), new IndexDocumentsOptions { ThrowOnAnyError = true }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, MetaIndexName, "switch");
        }

        LogSwitched(_logger, MetaIndexName, schema.ModelId, indexName);
    }

    /// <summary>Names of the version indexes (those named &lt;IndexName&gt;-..., less the meta index), in ordinal order.</summary>
    public async Task<IReadOnlyList<string>> ListVersionsAsync(CancellationToken cancellationToken = default)
    {
        var names = new List<string>();
        try
        {
            await foreach (var name in IndexClient.GetIndexNamesAsync(cancellationToken).ConfigureAwait(false))
            {
                if (name.StartsWith(_options.IndexName + "-", StringComparison.Ordinal) && name != MetaIndexName) names.Add(name);
            }
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, _options.IndexName + "-*", "list");
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public async Task<bool> ExistsAsync(string indexName, CancellationToken cancellationToken = default)
    {
        try
        {
            return await Definitions.GetAsync(indexName, cancellationToken).ConfigureAwait(false) is not null;
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, indexName, "get-index");
        }
    }

    /// <summary>Deletes a version's index. Refuses the current one.</summary>
    public async Task DeleteVersionAsync(string indexName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexName);
        if (!indexName.StartsWith(_options.IndexName + "-", StringComparison.Ordinal) || indexName == MetaIndexName)
            throw new ArgumentException($"'{indexName}' is not a version index of '{_options.IndexName}'.", nameof(indexName));
        if ((await GetCurrentAsync(cancellationToken).ConfigureAwait(false))?.Name == indexName)
            throw new InvalidOperationException($"The Azure AI Search index '{indexName}' is the current one; switch to another model before deleting it.");
        try
        {
            await IndexClient.DeleteIndexAsync(indexName, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return;
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, indexName, "delete-index");
        }

        LogDeleted(_logger, indexName);
    }

    /// <summary>Where a version's index lives, for messages.</summary>
    public string Describe(string versionName) => AzureSearchErrors.Location(versionName, _options.Endpoint);

    private async Task EnsureMetaIndexAsync(CancellationToken cancellationToken)
    {
        if (_metaReady) return;
        await _metaGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_metaReady) return;
            if (!await ExistsAsync(MetaIndexName, cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await Definitions.CreateOrUpdateAsync(AzureSearchSchema.MetaIndex(MetaIndexName), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
                {
                    throw Wrap(ex, MetaIndexName, "create-meta-index");
                }
            }

            _metaReady = true;
        }
        finally
        {
            _metaGate.Release();
        }
    }

    /// <summary>
    /// The clients for the options: the SDK's index client (documents, queries: REST 2023-11-01) and the index-definition
    /// client (REST 2024-07-01), both from one <see cref="SearchClientOptions"/> (transport, retry policy) and one
    /// credential: an API key, or a token credential (Microsoft Entra ID, audience https://search.azure.com).
    /// </summary>
    public static (SearchIndexClient Index, IndexDefinitionClient Definitions) CreateClients(AzureSearchOptions options, AzureSearchClientSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var endpoint = options.Endpoint ?? throw new InvalidOperationException("AzureSearch:Endpoint is not set.");
        var clientOptions = new SearchClientOptions(SearchClientOptions.ServiceVersion.V2023_11_01);
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.MaxRetries = options.MaxRetries;
        clientOptions.Retry.Delay = options.RetryDelay;
        clientOptions.Retry.MaxDelay = options.MaxRetryDelay;
        clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(100);
        if (settings?.Transport is { } transport) clientOptions.Transport = transport;
        if (!string.IsNullOrWhiteSpace(options.ApiKey))
        {
            var key = new AzureKeyCredential(options.ApiKey.Trim());
            return (new SearchIndexClient(endpoint, key, clientOptions), Definitions(new ApiKeyPolicy(key)));
        }

        TokenCredential credential = settings?.Credential
            ?? (string.IsNullOrWhiteSpace(options.ClientId)
                ? new DefaultAzureCredential()
                : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(options.ClientId)));
        return (new SearchIndexClient(endpoint, credential, clientOptions),
            Definitions(new BearerTokenAuthenticationPolicy(credential, (clientOptions.Audience ?? SearchAudience.AzurePublicCloud) + "/.default")));

        // The pipeline the SDK clients build: the options' policies and transport, the credential's policy on each retry.
        IndexDefinitionClient Definitions(HttpPipelinePolicy auth) =>
            new(HttpPipelineBuilder.Build(clientOptions, [], [auth], new ResponseClassifier()), endpoint);
    }

    /// <summary>The api-key header on every attempt, as the SDK's own (internal) key policy sends it; the key may be rotated.</summary>
    private sealed class ApiKeyPolicy(AzureKeyCredential key) : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message)
        {
            ArgumentNullException.ThrowIfNull(message);
            message.Request.Headers.SetValue("api-key", key.Key);
        }
    }

    private VectorIndexException Wrap(Exception ex, string indexName, string operation) =>
        AzureSearchErrors.Wrap(ex, AzureSearchErrors.Location(indexName, _options.Endpoint), indexName, operation);

    [GeneratedRegex("[^a-z0-9-]+")]
    private static partial Regex NotNameCharacters();

    [GeneratedRegex("-{2,}")]
    private static partial Regex Dashes();

    [LoggerMessage(410, LogLevel.Warning, "Azure AI Search {MetaIndex}: switched to model {ModelId} (index {IndexName}); hosts that open the index from now on use it")]
    private static partial void LogSwitched(ILogger logger, string metaIndex, string modelId, string indexName);

    [LoggerMessage(411, LogLevel.Information, "Deleted Azure AI Search index {IndexName}")]
    private static partial void LogDeleted(ILogger logger, string indexName);
}

/// <summary>The pointer document of the "-meta" index.</summary>
public sealed class IndexPointer
{
    [JsonPropertyName(AzureSearchSchema.Key)]
    public string Key { get; set; } = AzureSearchIndexCatalog.PointerKey;

    [JsonPropertyName(AzureSearchSchema.ModelId)]
    public string? ModelId { get; set; }

    [JsonPropertyName("indexName")]
    public string? IndexName { get; set; }

    [JsonPropertyName("dimension")]
    public int? Dimension { get; set; }

    [JsonPropertyName("switchedAt")]
    public DateTimeOffset? SwitchedAt { get; set; }
}
