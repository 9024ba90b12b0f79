using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Tests.Conformance;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Conformance;

/// <summary>
/// The conformance suite against the embedded index in graph mode: LocalIndex:AnnThreshold 1 puts every
/// non-empty index on the HNSW graph with exact re-ranking, so each test exercises that path (and a reopen
/// loads the saved graph).
/// </summary>
public sealed class GraphLocalVectorIndexConformanceTests : VectorIndexConformanceTests
{
    private readonly TempDirectory _root = new();
    private int _next;

    protected override async Task<IVectorIndex> CreateIndexAsync(IndexSchema schema)
    {
        var index = Open(Path.Combine(_root.Path, $"index-{Interlocked.Increment(ref _next)}"));
        await index.InitializeAsync(schema);
        return index;
    }

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

    [Fact]
    public async Task The_index_under_test_searches_the_graph()
    {
        var index = (LocalVectorIndex)await IndexWithFourRecordsAsync();
        Assert.Equal("hnsw", index.Statistics.Mode);
    }

    private static LocalVectorIndex Open(string path) =>
        new(Options.Create(new LocalIndexOptions { Path = path, FlushToDisk = false, AnnThreshold = 1 }), NullLogger<LocalVectorIndex>.Instance);
}
