namespace VisualSearch.Indexing;

/// <summary>
/// The one failure type of every index backend: a backend's own errors (HTTP failures, I/O, a corrupt file)
/// are wrapped in it once, at the backend's edge, so hosts and the CLI catch this type and never a backend's.
/// </summary>
public sealed class VectorIndexException : Exception
{
    public VectorIndexException(
        string message,
        string backend,
        string indexName,
        string operation,
        bool retriable,
        IReadOnlyList<string>? failedIds = null,
        Exception? innerException = null)
        : base(message, innerException)
    {
        Backend = backend;
        IndexName = indexName;
        Operation = operation;
        Retriable = retriable;
        FailedIds = failedIds ?? [];
    }

    /// <summary>The backend's kind, as the index reports it ("local", "azure-search", ...).</summary>
    public string Backend { get; }

    /// <summary>The index (a directory, a service index name) the operation addressed.</summary>
    public string IndexName { get; }

    /// <summary>What was being done: open, upsert, delete, get, search, count, switch, ...</summary>
    public string Operation { get; }

    /// <summary>True when the same call may succeed later (throttling, a service or disk briefly unavailable).</summary>
    public bool Retriable { get; }

    /// <summary>Item ids that were not stored (a batch with failed items); empty otherwise.</summary>
    public IReadOnlyList<string> FailedIds { get; }
}
