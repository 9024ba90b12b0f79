namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// An Azure AI Search request failed (after the retries the client makes), or some documents of an indexing
/// batch were refused. Not-found answers are not errors (null or false); every other backend failure is wrapped
/// once in this type, naming the index, the operation and, for a batch, the ids that were not stored.
/// </summary>
public sealed class AzureSearchException : Exception
{
    public AzureSearchException(string message, string indexName, string operation, int? status = null, IReadOnlyList<string>? failedIds = null, Exception? innerException = null)
        : base(message, innerException)
    {
        IndexName = indexName;
        Operation = operation;
        Status = status;
        FailedIds = failedIds ?? [];
    }

    /// <summary>"azure-search".</summary>
    public string Backend => AzureSearchVectorIndex.BackendKind;

    public string IndexName { get; }

    /// <summary>What was being done: initialize, upsert, delete, get, search, count, switch, ...</summary>
    public string Operation { get; }

    /// <summary>The HTTP status of the failure, when there was one.</summary>
    public int? Status { get; }

    /// <summary>Item ids that were not stored (a batch with failed documents).</summary>
    public IReadOnlyList<string> FailedIds { get; }
}
