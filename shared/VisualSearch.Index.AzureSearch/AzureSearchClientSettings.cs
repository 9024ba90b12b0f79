using Azure.Core;
using Azure.Core.Pipeline;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// Optional overrides of how the clients are made, registered in DI before <c>AddAzureSearchVectorIndex</c>:
/// a transport (tests route requests to an in-process endpoint) or a credential (instead of the API key or
/// DefaultAzureCredential). Hosts leave it unregistered.
/// </summary>
public sealed class AzureSearchClientSettings
{
    public HttpPipelineTransport? Transport { get; init; }

    public TokenCredential? Credential { get; init; }
}
