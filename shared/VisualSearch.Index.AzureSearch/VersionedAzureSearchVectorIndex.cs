using VisualSearch.Indexing;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// Azure AI Search as the hosts see it: on <see cref="InitializeAsync"/> it reads the catalog's pointer and
/// opens the current model's index. A configured model other than the current one fails with
/// <see cref="IndexModelMismatchException"/> (the fix is <c>vsearch reindex</c>); a service with no pointer yet
/// gets an index for the configured model, which becomes current. The pointer is read on every open, and a
/// failed open is retried by the next request, so a host started with a new model begins to answer once the
/// reindex has switched; a host already open keeps its index. With <c>followCurrent: false</c> (what
/// <c>vsearch reindex</c> writes to) it opens the configured model's index whatever the pointer says.
/// </summary>
public sealed class VersionedAzureSearchVectorIndex(AzureSearchIndexCatalog catalog, bool followCurrent = true) : IVectorIndex, IAsyncDisposable, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile AzureSearchVectorIndex? _inner;
    private bool _disposed;

    public string Kind => AzureSearchVectorIndex.BackendKind;

    public AzureSearchIndexCatalog Catalog => catalog;

    /// <summary>The open index's name, or null before <see cref="InitializeAsync"/>.</summary>
    public string? IndexName => _inner?.IndexName;

    public async Task InitializeAsync(IndexSchema schema, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_inner is { } open)
            {
                await open.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
                return;
            }

            string? indexName = null;
            var fresh = false;
            if (followCurrent)
            {
                var current = await catalog.GetCurrentAsync(cancellationToken).ConfigureAwait(false);
                if (current is not null && current.ModelId != schema.ModelId)
                    throw new IndexModelMismatchException(current.ModelId!, schema.ModelId, catalog.Describe(current));
                indexName = current?.IndexName;
                fresh = current is null;
            }

            var inner = catalog.OpenVersion(schema.ModelId, indexName);
            try
            {
                await inner.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
                if (fresh) await catalog.SwitchToAsync(schema, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                inner.Dispose();
                throw;
            }

            _inner = inner;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task UpsertAsync(VectorRecord record, CancellationToken cancellationToken = default) => Open.UpsertAsync(record, cancellationToken);

    /// <summary>Stores many records in as few requests as the service limits allow.</summary>
    public Task UpsertBatchAsync(IEnumerable<VectorRecord> records, CancellationToken cancellationToken = default) => Open.UpsertBatchAsync(records, cancellationToken);

    public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default) => Open.DeleteAsync(id, cancellationToken);

    public Task<VectorRecord?> GetAsync(string id, CancellationToken cancellationToken = default) => Open.GetAsync(id, cancellationToken);

    public Task<IReadOnlyList<SearchHit>> SearchAsync(ReadOnlyMemory<float> vector, VectorQuery query, CancellationToken cancellationToken = default) =>
        Open.SearchAsync(vector, query, cancellationToken);

    public Task<long> CountAsync(CancellationToken cancellationToken = default) => Open.CountAsync(cancellationToken);

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _inner?.Dispose();
    }

    private AzureSearchVectorIndex Open
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _inner ?? throw new InvalidOperationException("The index is not initialised: call InitializeAsync with the model's schema first.");
        }
    }
}
