using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// Reads and writes index definitions over REST api-version 2024-07-01 (compressions and <c>stored</c>), through an
/// <see cref="HttpPipeline"/> built from the same <c>SearchClientOptions</c> (transport, retry policy) and the same
/// credential as the SDK's clients (<see cref="AzureSearchIndexCatalog.CreateClients"/>). Documents, queries and the
/// "-meta" index keep the SDK's 2023-11-01. Failures throw <see cref="RequestFailedException"/>, as the SDK's do.
/// </summary>
public sealed class IndexDefinitionClient(HttpPipeline pipeline, Uri endpoint)
{
    public const string ApiVersion = "2024-07-01";

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public Uri Endpoint => endpoint;

    /// <summary>The definition of <paramref name="indexName"/>, or null if there is no such index.</summary>
    public async Task<IndexDefinition?> GetAsync(string indexName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexName);
        using var message = CreateMessage(RequestMethod.Get, indexName);
        await pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
        return message.Response.Status switch
        {
            200 => Read(message.Response),
            404 => null,
            _ => throw new RequestFailedException(message.Response),
        };
    }

    /// <summary>Creates the index or replaces its definition (PUT, <c>allowIndexDowntime</c> not set: no downtime).</summary>
    public async Task<IndexDefinition> CreateOrUpdateAsync(IndexDefinition definition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentException.ThrowIfNullOrEmpty(definition.Name, nameof(definition));
        using var message = CreateMessage(RequestMethod.Put, definition.Name);
        message.Request.Headers.Add("Content-Type", "application/json");
        message.Request.Headers.Add("Prefer", "return=representation");
        message.Request.Content = RequestContent.Create(JsonSerializer.SerializeToUtf8Bytes(definition, Json));
        await pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
        return message.Response.Status is 200 or 201
            ? Read(message.Response)
            : throw new RequestFailedException(message.Response);
    }

    private HttpMessage CreateMessage(RequestMethod method, string indexName)
    {
        var message = pipeline.CreateMessage();
        var request = message.Request;
        request.Method = method;
        request.Uri.Reset(endpoint);
        request.Uri.AppendPath("/indexes('", false);
        request.Uri.AppendPath(indexName, true);
        request.Uri.AppendPath("')", false);
        request.Uri.AppendQuery("api-version", ApiVersion, true);
        request.Headers.Add("Accept", "application/json; odata.metadata=minimal");
        return message;
    }

    private static IndexDefinition Read(Response response) =>
        JsonSerializer.Deserialize<IndexDefinition>(response.Content.ToMemory().Span, Json)
        ?? throw new RequestFailedException(response.Status, "The service answered with an empty index definition.");
}
