using VisualSearch.Index.AzureSearch.Tests.Fake;
using VisualSearch.Indexing;
using VisualSearch.Tests.Conformance;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>
/// The conformance suite against Azure AI Search as the hosts open it (the pointer in &lt;base&gt;-meta, one index
/// per model), over the in-process REST endpoint, with the default vector storage: int8 scalar quantization with
/// re-ranking, originals not retrievable (search by id reads the compact copy). Every request of every test must
/// follow the documented API. The suite's hand-made vectors have components whose ratios to the largest are exact in
/// float16 (0.25, 0.5, 0.75), so its 1e-6 round trip holds through the float16 copy; the copy's precision on 512-d
/// vectors (within 2^-11 of the largest component) is checked in <see cref="AzureSearchCompressionTests"/>.
/// </summary>
public class AzureSearchConformanceTests : VectorIndexConformanceTests
{
    private readonly FakeSearchService _service = new();
    private int _next;

    /// <summary>Changes to the default options (none here).</summary>
    protected virtual void Configure(AzureSearchOptions options)
    {
    }

    protected override async Task<IVectorIndex> CreateIndexAsync(IndexSchema schema)
    {
        var index = new VersionedVectorIndex(_service.Catalog($"conformance-{Interlocked.Increment(ref _next)}", Configure));
        await index.InitializeAsync(schema);
        return index;
    }

    /// <summary>Another client (a new process) opens the same service and base name.</summary>
    protected override async Task<IVectorIndex> ReopenAsync(IVectorIndex index, IndexSchema schema)
    {
        var versioned = (VersionedVectorIndex)index;
        var reopened = new VersionedVectorIndex(_service.Catalog(((AzureSearchIndexCatalog)versioned.Catalog).MetaIndexName[..^"-meta".Length], Configure));
        Track(reopened);
        await reopened.InitializeAsync(schema);
        return reopened;
    }

    protected override Task CleanupAsync()
    {
        Assert.Empty(_service.Violations);
        return Task.CompletedTask;
    }
}

/// <summary>The conformance suite with uncompressed vectors and retrievable originals (the storage of earlier releases).</summary>
public sealed class AzureSearchUncompressedConformanceTests : AzureSearchConformanceTests
{
    protected override void Configure(AzureSearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.VectorCompression = AzureSearchVectorCompression.None;
        options.StoreOriginalVectors = true;
    }
}

/// <summary>
/// The conformance suite against one Azure AI Search index opened directly (no pointer): reopening it with
/// another model is refused by the documents' model ids.
/// </summary>
public sealed class AzureSearchCollectionConformanceTests : VectorIndexConformanceTests
{
    private readonly FakeSearchService _service = new();
    private int _next;

    protected override async Task<IVectorIndex> CreateIndexAsync(IndexSchema schema)
    {
        var index = _service.Catalog("collection").OpenVersion(schema.ModelId, $"collection-{Interlocked.Increment(ref _next)}");
        await index.InitializeAsync(schema);
        return index;
    }

    protected override async Task<IVectorIndex> ReopenAsync(IVectorIndex index, IndexSchema schema)
    {
        var reopened = _service.Catalog("collection").OpenVersion(schema.ModelId, ((AzureSearchVectorIndex)index).IndexName);
        Track(reopened);
        await reopened.InitializeAsync(schema);
        return reopened;
    }

    protected override Task CleanupAsync()
    {
        Assert.Empty(_service.Violations);
        return Task.CompletedTask;
    }
}
