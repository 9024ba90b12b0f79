namespace VisualSearch.Indexing;

/// <summary>
/// A backend's index as the hosts see it, whatever the backend: on <see cref="InitializeAsync"/> it reads the
/// catalog's pointer and opens the current model's version. A configured model other than the current one
/// fails with <see cref="IndexModelMismatchException"/> (the fix is <c>vsearch reindex</c>); a catalog with no
/// current version yet gets one for the configured model, which becomes current. The pointer is read on every
/// open, and a failed open is retried by the next request, so a host started with a new model begins to answer
/// once the reindex has switched; a host already open keeps its version. With <c>followCurrent: false</c> (what
/// <c>vsearch reindex</c> writes to) it opens the configured model's version whatever the pointer says, and
/// never moves the pointer.
/// </summary>
public sealed class VersionedVectorIndex(IVectorIndexCatalog catalog, bool followCurrent = true) : IVectorIndex, IVectorScan, IAsyncDisposable, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile IVectorIndex? _inner;
    private IndexVersion? _version;
    private bool _disposed;

    public string Kind => catalog.Kind;

    public IVectorIndexCatalog Catalog => catalog;

    /// <summary>The open version, or null before <see cref="InitializeAsync"/>.</summary>
    public IndexVersion? Version => _inner is null ? null : _version;

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

            IndexVersion? current = null;
            if (followCurrent)
            {
                current = await catalog.GetCurrentAsync(cancellationToken).ConfigureAwait(false);
                if (current is not null && current.ModelId != schema.ModelId)
                    throw new IndexModelMismatchException(current.ModelId, schema.ModelId, $"{catalog.Describe(current.Name)} (current per {catalog.PointerLocation})");
            }

            var version = current ?? new IndexVersion(schema.ModelId, catalog.VersionName(schema.ModelId));
            var inner = catalog.OpenVersion(version);
            try
            {
                await inner.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
                if (followCurrent && current is null) await catalog.SwitchToAsync(schema, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                (inner as IDisposable)?.Dispose();
                throw;
            }

            _version = version;
            _inner = inner;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task UpsertAsync(VectorRecord record, CancellationToken cancellationToken = default) => Open.UpsertAsync(record, cancellationToken);

    public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default) => Open.DeleteAsync(id, cancellationToken);

    public Task<VectorRecord?> GetAsync(string id, CancellationToken cancellationToken = default) => Open.GetAsync(id, cancellationToken);

    public Task<IReadOnlyList<SearchHit>> SearchAsync(ReadOnlyMemory<float> vector, VectorQuery query, CancellationToken cancellationToken = default) =>
        Open.SearchAsync(vector, query, cancellationToken);

    public Task<long> CountAsync(CancellationToken cancellationToken = default) => Open.CountAsync(cancellationToken);

    /// <summary>Lists the open version's items; an inner backend that cannot list says so (<see cref="Duplicates.DuplicateGroupingNotSupportedException"/>).</summary>
    public IAsyncEnumerable<IndexedItem> ScanAsync(SearchFilter? filter = null, CancellationToken cancellationToken = default) =>
        Open is IVectorScan scan ? scan.ScanAsync(filter, cancellationToken) : throw new Duplicates.DuplicateGroupingNotSupportedException(Open.Kind);

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        _gate.Wait();
        try
        {
            if (_disposed) return;
            _disposed = true;
            (_inner as IDisposable)?.Dispose();
        }
        finally
        {
            _gate.Release();
        }
    }

    private IVectorIndex Open
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _inner ?? throw new InvalidOperationException("The index is not initialised: call InitializeAsync with the model's schema first.");
        }
    }
}
