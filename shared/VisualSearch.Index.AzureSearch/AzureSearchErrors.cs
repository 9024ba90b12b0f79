using Azure;
using VisualSearch.Indexing;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// The one place Azure AI Search failures become <see cref="VectorIndexException"/>: a request that failed after
/// the client's retries, or that timed out. Not-found answers are not errors (null or false) and are caught
/// before this. 408, 429, 503 and 504 answers, a transport failure and a timeout are retriable; the rest
/// (401/403 credentials, 400 a refused definition or document) are not.
/// </summary>
internal static class AzureSearchErrors
{
    private const string CredentialHint =
        " Check the credential: AzureSearch:ApiKey, or the managed identity's roles (Search Index Data Contributor, Search Service Contributor).";

    /// <summary>Whether a status (null: no answer) means the same request may succeed later.</summary>
    public static bool IsRetriable(int? status) => status is null or 0 or 408 or 429 or 503 or 504;

    /// <summary>A failure of the service call, not of the caller: a request failure, or a timeout the caller did not ask for.</summary>
    public static bool IsServiceFailure(Exception ex, CancellationToken cancellationToken) =>
        ex is RequestFailedException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>"Azure AI Search index 'name' at endpoint", the location every message starts with.</summary>
    public static string Location(string indexName, Uri? endpoint) => $"Azure AI Search index '{indexName}' at {endpoint}";

    public static VectorIndexException Wrap(Exception ex, string location, string indexName, string operation, IReadOnlyList<string>? ids = null, string? hint = null)
    {
        ArgumentNullException.ThrowIfNull(ex);
        if (ex is not RequestFailedException failed)
            return new VectorIndexException($"{location}: {operation} timed out: {FirstLine(ex.Message)}", AzureSearchVectorIndex.BackendKind, indexName, operation, retriable: true, ids, ex);

        var auth = failed.Status is 401 or 403 ? CredentialHint : "";
        var code = failed.ErrorCode is null ? "" : " " + failed.ErrorCode;
        return new VectorIndexException($"{location}: {operation} failed ({failed.Status}{code}): {FirstLine(failed.Message)}{auth}{hint}",
            AzureSearchVectorIndex.BackendKind, indexName, operation, IsRetriable(failed.Status), ids, ex);
    }

    private static string FirstLine(string message)
    {
        var newline = message.IndexOf('\n', StringComparison.Ordinal);
        return (newline < 0 ? message : message[..newline]).Trim();
    }
}
