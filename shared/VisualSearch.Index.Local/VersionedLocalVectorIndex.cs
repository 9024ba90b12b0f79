using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// The embedded index as the hosts see it: on <see cref="InitializeAsync"/> it reads the catalog's CURRENT
/// pointer and opens that model's <see cref="LocalVectorIndex"/>. A configured model other than the current
/// one fails with <see cref="IndexModelMismatchException"/> (the fix is <c>vsearch reindex</c>); a root with no
/// index yet gets one for the configured model, which becomes current. The pointer is read on every open, and
/// a failed open is retried by the next request, so a host started with a new model begins to answer once
/// the reindex has switched. With <c>followCurrent: false</c> (what <c>vsearch reindex</c> writes to) it
/// opens the configured model's version whatever the pointer says, and never moves the pointer.
/// </summary>
public sealed class VersionedLocalVectorIndex(LocalIndexCatalog catalog, bool followCurrent = true) : IVectorIndex, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile LocalVectorIndex? _inner;
    private bool _disposed;

    public string Kind => "local";

    public LocalIndexCatalog Catalog => catalog;

    /// <summary>The open version's directory, or null before <see cref="InitializeAsync"/>.</summary>
    public string? Directory => _inner?.Directory;

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

            var fresh = false;
            if (followCurrent)
            {
                var current = catalog.ReadCurrent();
                if (current is not null && current != schema.ModelId)
                    throw new IndexModelMismatchException(current, schema.ModelId, catalog.Describe(current));
                fresh = current is null;
            }

            var inner = catalog.OpenVersion(schema.ModelId);
            try
            {
                await inner.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
                if (fresh) catalog.SwitchTo(schema.ModelId);
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

    public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default) => Open.DeleteAsync(id, cancellationToken);

    public Task<VectorRecord?> GetAsync(string id, CancellationToken cancellationToken = default) => Open.GetAsync(id, cancellationToken);

    public Task<IReadOnlyList<SearchHit>> SearchAsync(ReadOnlyMemory<float> vector, VectorQuery query, CancellationToken cancellationToken = default) =>
        Open.SearchAsync(vector, query, cancellationToken);

    public Task<long> CountAsync(CancellationToken cancellationToken = default) => Open.CountAsync(cancellationToken);

    public void Dispose()
    {
        _gate.Wait();
        try
        {
            if (_disposed) return;
            _disposed = true;
            _inner?.Dispose();
        }
        finally
        {
            _gate.Release();
        }
    }

    private LocalVectorIndex Open
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _inner ?? throw new InvalidOperationException("The index is not initialised: call InitializeAsync with the model's schema first.");
        }
    }
}
