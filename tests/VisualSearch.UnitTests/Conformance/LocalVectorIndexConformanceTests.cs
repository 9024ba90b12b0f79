using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Tests.Conformance;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Conformance;

/// <summary>The conformance suite against the embedded index, each test in its own temporary directory.</summary>
public sealed class LocalVectorIndexConformanceTests : VectorIndexConformanceTests
{
    private readonly TempDirectory _root = new();
    private int _next;

    protected override async Task<IVectorIndex> CreateIndexAsync(IndexSchema schema)
    {
        var index = Open(Path.Combine(_root.Path, $"index-{Interlocked.Increment(ref _next)}"));
        await index.InitializeAsync(schema);
        return index;
    }

    /// <summary>The directory is locked by the open index: release it, then open the same directory anew.</summary>
    protected override async Task<IVectorIndex> ReopenAsync(IVectorIndex index, IndexSchema schema)
    {
        var local = (LocalVectorIndex)index;
        local.Dispose();
        var reopened = Open(local.Directory);
        Track(reopened);
        await reopened.InitializeAsync(schema);
        return reopened;
    }

    protected override Task CleanupAsync()
    {
        _root.Dispose();
        return Task.CompletedTask;
    }

    private static LocalVectorIndex Open(string path) =>
        new(Options.Create(new LocalIndexOptions { Path = path, FlushToDisk = false }), NullLogger<LocalVectorIndex>.Instance);
}
