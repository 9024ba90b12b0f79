using VisualSearch.Index.Local;
using VisualSearch.Index.Local.Ann;
using static VisualSearch.UnitTests.Index.PartsFixture;

namespace VisualSearch.UnitTests.Index;

/// <summary>
/// The graph built from several threads at once: every vector must stay reachable, that is found by a search
/// for itself as its own nearest neighbour (what a lost or unlinked vector fails), and incremental inserts after
/// the build must keep working. One thread is the control.
/// </summary>
public sealed class HnswParallelBuildTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData(AnnQuantization.Int8, 1)]
    [InlineData(AnnQuantization.Int8, 2)]
    [InlineData(AnnQuantization.Int8, 4)]
    [InlineData(AnnQuantization.Float16, 3)]
    public void Every_vector_of_a_parallel_build_is_its_own_nearest_neighbour(AnnQuantization quantization, int threads)
    {
        const int Count = 4000;
        const int Dimension = 32;
        var vectors = RandomUnits(Count, Dimension, seed: 21);
        using var graph = HnswGraph.Create(new HnswSettings(Dimension, 16, 64, 128, quantization));

        // More workers than this machine's cores, so inserts overlap whatever the scheduler does.
        var threadsSeen = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        var repaired = graph.AddMany([.. Enumerable.Range(0, Count).Select(i => (ulong)i)], (i, destination) =>
        {
            threadsSeen[Environment.CurrentManagedThreadId] = true;
            vectors[i].CopyTo(destination);
        }, threads);

        output.WriteLine($"{threads} thread(s), {quantization}: {repaired} of {Count} re-inserted after the parallel pass");
        if (threads > 1) Assert.True(threadsSeen.Count > 1, $"the build ran on {threadsSeen.Count} thread");
        Assert.Equal(Count, graph.Count);
        Assert.Empty(Unreachable(graph, vectors, 0, Count));

        // Incremental inserts after the build (one at a time, capacity grown as needed) stay reachable too.
        var more = RandomUnits(1200, Dimension, seed: 22);
        for (var i = 0; i < more.Length; i++) graph.Add((ulong)(Count + i), more[i]);
        Assert.Equal(Count + more.Length, graph.Count);
        Assert.Empty(Unreachable(graph, [.. vectors, .. more], 0, Count + more.Length));
    }

    [Fact]
    public void A_parallel_build_passes_on_the_reader_s_failure_and_honours_cancellation()
    {
        var vectors = RandomUnits(500, 8, seed: 3);
        using (var graph = HnswGraph.Create(new HnswSettings(8, 16, 64, 64, AnnQuantization.Int8)))
        {
            var ex = Assert.Throws<InvalidDataException>(() => graph.AddMany([.. Enumerable.Range(0, 500).Select(i => (ulong)i)], (i, destination) =>
            {
                if (i == 300) throw new InvalidDataException("log cut short");
                vectors[i].CopyTo(destination);
            }, threads: 2));
            Assert.Equal("log cut short", ex.Message);
        }

        using var cancelled = HnswGraph.Create(new HnswSettings(8, 16, 64, 64, AnnQuantization.Int8));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => cancelled.AddMany([.. Enumerable.Range(0, 500).Select(i => (ulong)i)], (i, destination) => vectors[i].CopyTo(destination), threads: 2, cts.Token));
    }

    /// <summary>The keys in [from, to) whose own vector's nearest neighbour in the graph is not themselves.</summary>
    private static List<int> Unreachable(HnswGraph graph, float[][] vectors, int from, int to)
    {
        var keys = new ulong[1];
        var distances = new float[1];
        var lost = new List<int>();
        for (var i = from; i < to; i++)
        {
            if (graph.Search(vectors[i], keys, distances) != 1 || keys[0] != (ulong)i) lost.Add(i);
        }

        return lost;
    }
}
