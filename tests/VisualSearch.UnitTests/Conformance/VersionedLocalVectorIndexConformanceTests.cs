using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Tests.Conformance;

namespace VisualSearch.UnitTests.Conformance;

/// <summary>
/// The conformance suite against the embedded index as the hosts open it: a root with a CURRENT pointer and
/// one directory per model. Reopening with another model is refused by the pointer.
/// </summary>
public sealed class VersionedLocalVectorIndexConformanceTests : VectorIndexConformanceTests
{
    private readonly TempDirectory _root = new();
    private int _next;

    protected override async Task<IVectorIndex> CreateIndexAsync(IndexSchema schema)
    {
        var index = Open(Path.Combine(_root.Path, $"root-{Interlocked.Increment(ref _next)}"));
        await index.InitializeAsync(schema);
        return index;
    }

    protected override async Task<IVectorIndex> ReopenAsync(IVectorIndex index, IndexSchema schema)
    {
        var versioned = (VersionedVectorIndex)index;
        versioned.Dispose();
        var reopened = Open(((LocalIndexCatalog)versioned.Catalog).Root);
        Track(reopened);
        await reopened.InitializeAsync(schema);
        return reopened;
    }

    protected override Task CleanupAsync()
    {
        _root.Dispose();
        return Task.CompletedTask;
    }

    private static VersionedVectorIndex Open(string root) =>
        new(new LocalIndexCatalog(Options.Create(new LocalIndexOptions { Path = root, FlushToDisk = false }), NullLoggerFactory.Instance));
}
