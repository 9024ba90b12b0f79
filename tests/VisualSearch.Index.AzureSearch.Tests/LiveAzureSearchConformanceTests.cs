#if LIVE_AZURE_SEARCH
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Indexing;
using VisualSearch.Tests.Conformance;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>
/// The conformance suite against a real Azure AI Search service: compiled only when AZURE_SEARCH_ENDPOINT and
/// AZURE_SEARCH_API_KEY are set at build time. Each test uses its own base name and deletes its indexes. A real
/// service makes writes visible to queries within about a second (near-real-time indexing), so every write
/// through this suite is followed by a short wait.
/// </summary>
public sealed class LiveAzureSearchConformanceTests : VectorIndexConformanceTests
{
    private static readonly TimeSpan Visibility = TimeSpan.FromSeconds(2);
    private readonly string _base = "vsct-" + Guid.NewGuid().ToString("N")[..10];
    private AzureSearchIndexCatalog? _catalog;

    protected override async Task<IVectorIndex> CreateIndexAsync(IndexSchema schema)
    {
        var index = new Visible(new VersionedVectorIndex(Catalog()));
        await index.InitializeAsync(schema);
        return index;
    }

    protected override async Task<IVectorIndex> ReopenAsync(IVectorIndex index, IndexSchema schema)
    {
        var reopened = new Visible(new VersionedVectorIndex(Catalog()));
        Track(reopened);
        await reopened.InitializeAsync(schema);
        return reopened;
    }

    protected override async Task CleanupAsync()
    {
        var catalog = Catalog();
        foreach (var name in await catalog.ListVersionsAsync()) await catalog.IndexClient.DeleteIndexAsync(name);
        if (await catalog.ExistsAsync(catalog.MetaIndexName)) await catalog.IndexClient.DeleteIndexAsync(catalog.MetaIndexName);
    }

    private AzureSearchIndexCatalog Catalog() => _catalog ??= new AzureSearchIndexCatalog(
        Options.Create(new AzureSearchOptions
        {
            Endpoint = new Uri(Environment.GetEnvironmentVariable("AZURE_SEARCH_ENDPOINT")!),
            ApiKey = Environment.GetEnvironmentVariable("AZURE_SEARCH_API_KEY"),
            IndexName = _base,
        }),
        NullLoggerFactory.Instance);

    /// <summary>Waits after each write until a real service's near-real-time refresh has made it visible.</summary>
    private sealed class Visible(VersionedVectorIndex inner) : IVectorIndex, IDisposable
    {
        public string Kind => inner.Kind;

        public Task InitializeAsync(IndexSchema schema, CancellationToken cancellationToken = default) => inner.InitializeAsync(schema, cancellationToken);

        public async Task UpsertAsync(VectorRecord record, CancellationToken cancellationToken = default)
        {
            await inner.UpsertAsync(record, cancellationToken);
            await Task.Delay(Visibility, cancellationToken);
        }

        public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
        {
            var deleted = await inner.DeleteAsync(id, cancellationToken);
            await Task.Delay(Visibility, cancellationToken);
            return deleted;
        }

        public Task<VectorRecord?> GetAsync(string id, CancellationToken cancellationToken = default) => inner.GetAsync(id, cancellationToken);

        public Task<IReadOnlyList<SearchHit>> SearchAsync(ReadOnlyMemory<float> vector, VectorQuery query, CancellationToken cancellationToken = default) =>
            inner.SearchAsync(vector, query, cancellationToken);

        public Task<long> CountAsync(CancellationToken cancellationToken = default) => inner.CountAsync(cancellationToken);

        public void Dispose() => inner.Dispose();
    }
}
#endif
