using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Tests.Conformance;

namespace VisualSearch.UnitTests.Conformance;

/// <summary>The conformance suite against the embedded index, each test in its own temporary directory.</summary>
public abstract class LocalVectorIndexConformanceBase : VectorIndexConformanceTests
{
    private readonly TempDirectory _root = new();
    private int _next;

    /// <summary>The settings of every index under test (the path is filled in).</summary>
    protected abstract LocalIndexOptions Settings(string path);

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

    private LocalVectorIndex Open(string path) => new(Options.Create(Settings(path)), NullLogger<LocalVectorIndex>.Instance);
}

/// <summary>The embedded index searching exactly (LocalIndex:AnnThreshold 0).</summary>
public sealed class LocalVectorIndexConformanceTests : LocalVectorIndexConformanceBase
{
    protected override LocalIndexOptions Settings(string path) => new() { Path = path, FlushToDisk = false, AnnThreshold = 0 };

    [Fact]
    public async Task The_index_under_test_searches_exactly()
    {
        var index = (LocalVectorIndex)await IndexWithFourRecordsAsync();
        Assert.Equal("exact", index.Statistics.Mode);
    }
}

/// <summary>
/// The embedded index in graph mode: LocalIndex:AnnThreshold 1 puts every non-empty index on the HNSW graph
/// with exact re-ranking, so each test exercises that path (and a reopen loads the saved graph); once with
/// the default int8 graph vectors, once with float16.
/// </summary>
public abstract class GraphLocalVectorIndexConformanceBase(AnnQuantization quantization) : LocalVectorIndexConformanceBase
{
    protected override LocalIndexOptions Settings(string path) =>
        new() { Path = path, FlushToDisk = false, AnnThreshold = 1, AnnQuantization = quantization };

    [Fact]
    public async Task The_index_under_test_searches_the_graph()
    {
        var index = (LocalVectorIndex)await IndexWithFourRecordsAsync();
        Assert.Equal("hnsw", index.Statistics.Mode);
    }
}

public sealed class GraphInt8LocalVectorIndexConformanceTests() : GraphLocalVectorIndexConformanceBase(AnnQuantization.Int8);

public sealed class GraphFloat16LocalVectorIndexConformanceTests() : GraphLocalVectorIndexConformanceBase(AnnQuantization.Float16);

/// <summary>
/// The embedded index in graph mode by its vectors but not by its items (LocalIndex:AnnThreshold 4): an index with
/// regions then searches every vector on the graph and the items' own vectors on their exact rows (issue 14,
/// whole-first), so each region test exercises that split; smaller indexes search exactly.
/// </summary>
public sealed class OwnRowsLocalVectorIndexConformanceTests : LocalVectorIndexConformanceBase
{
    protected override LocalIndexOptions Settings(string path) => new() { Path = path, FlushToDisk = false, AnnThreshold = 4 };

    [Fact]
    public async Task The_index_under_test_searches_all_vectors_on_the_graph_and_own_ones_exactly()
    {
        var index = (LocalVectorIndex)await IndexWithRegionsAsync();
        Assert.Equal("hnsw", index.Statistics.Mode);
        Assert.Equal(SearchPath.ExactScan, index.PlanSearch(new VectorQuery(10) { Vectors = VectorSelection.Own }).Path);
        Assert.Equal(SearchPath.Graph, index.PlanSearch(new VectorQuery(10) { Vectors = VectorSelection.Regions }).Path);
    }
}
