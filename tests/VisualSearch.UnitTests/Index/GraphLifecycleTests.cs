using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using VisualSearch.Index.Local;
using VisualSearch.Index.Local.Ann;
using VisualSearch.Indexing;
using static VisualSearch.UnitTests.Index.PartsFixture;

namespace VisualSearch.UnitTests.Index;

/// <summary>
/// The graph's lifecycle on its own, with vectors from an array instead of a log: build, save, load (and when a
/// saved copy is refused), delete, and the re-ranked search against an exact scan of the same records.
/// </summary>
public sealed class GraphLifecycleTests : IDisposable
{
    private const int Dimension = 16;
    private static readonly HnswSettings Settings = new(Dimension, 16, 64, 128, AnnQuantization.Int8);
    private readonly TempDirectory _dir = new();
    private readonly SlotTable _records = new();
    private readonly ExactScan _exact = new(Dimension);
    private readonly float[][] _vectors = RandomUnits(300, Dimension, seed: 7);

    /// <summary>What the log would give back for each slot (slots move when the test renumbers).</summary>
    private float[][] _bySlot;

    public GraphLifecycleTests()
    {
        _bySlot = [.. _vectors];
        for (var i = 0; i < _vectors.Length; i++)
        {
            var (slot, _) = _records.Set($"r{i}", Metadata($"r{i}", i % 50 == 0 ? "rare" : "common"), 0);
            _exact.Set(slot, _vectors[i]);
        }
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_built_graph_re_ranks_to_the_exact_scores_and_honours_filters()
    {
        using var graph = Build();
        Assert.Equal(-1, graph.SavedAtLogLength);
        Assert.True(graph.MemoryUsage > 0);

        var overlap = 0;
        foreach (var q in _vectors.Take(20))
        {
            var expected = _exact.Search(q, new VectorQuery(5), _records, default);
            var actual = graph.Search(q, new VectorQuery(5), _records, overfetch: 4, ReadFromArray, default);
            Assert.Equal(expected[0].Id, actual[0].Id);
            overlap += actual.Count(h => expected.Any(e => e.Id == h.Id));
            foreach (var hit in actual) Assert.Equal(Dot(q, _vectors[int.Parse(hit.Id[1..])]), hit.Score, 1e-5f);
        }

        Assert.True(overlap >= 95, $"{overlap} of 100");

        // Six records in the rare album, far fewer than k x overfetch among the first candidates.
        var filtered = new VectorQuery(10, Filter: SearchFilter.Parse("album eq 'rare'"), ExcludeId: "r0");
        Assert.Equal(
            _exact.Search(_vectors[0], filtered, _records, default).Select(h => h.Id),
            graph.Search(_vectors[0], filtered, _records, overfetch: 4, ReadFromArray, default).Select(h => h.Id));
    }

    [Fact]
    public void A_saved_graph_loads_at_the_same_log_length_and_count_only()
    {
        IReadOnlyList<SearchHit> before;
        using (var graph = Build())
        {
            graph.Save(logLength: 12345, count: _records.Count);
            Assert.Equal(12345, graph.SavedAtLogLength);
            before = graph.Search(_vectors[3], new VectorQuery(5), _records, 4, ReadFromArray, default);
        }

        var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir.Path, GraphLifecycle.MetaFileName)))!;
        Assert.Equal(12345, (long)meta["logLength"]!);
        Assert.Equal("Int8", (string?)meta["quantization"]);

        using (var loaded = GraphLifecycle.TryLoad(_dir.Path, Settings, 12345, _records, NullLogger.Instance))
        {
            Assert.NotNull(loaded);
            Assert.Equal(12345, loaded.SavedAtLogLength);
            Assert.Equal(before.Select(h => h.Id), loaded.Search(_vectors[3], new VectorQuery(5), _records, 4, ReadFromArray, default).Select(h => h.Id));
        }

        // Another log length (writes after the save), other settings, or another set of records: rebuilt instead.
        Assert.Null(GraphLifecycle.TryLoad(_dir.Path, Settings, 12346, _records, NullLogger.Instance));
        Assert.Null(GraphLifecycle.TryLoad(_dir.Path, Settings with { Quantization = AnnQuantization.Float16 }, 12345, _records, NullLogger.Instance));
        _records.Remove("r5", out _);
        Assert.Null(GraphLifecycle.TryLoad(_dir.Path, Settings, 12345, _records, NullLogger.Instance));
    }

    [Fact]
    public void A_graph_read_ahead_of_the_records_is_validated_as_one_read_then_and_taken_once()
    {
        IReadOnlyList<SearchHit> before;
        using (var graph = Build())
        {
            graph.Save(logLength: 500, count: _records.Count);
            before = graph.Search(_vectors[7], new VectorQuery(5), _records, 4, ReadFromArray, default);
        }

        // Started before the records are known (as an open does beside the snapshot): a log length the saved copy was
        // not made at is refused whatever was read ahead, and the same pending read then serves the matching one.
        using (var pending = GraphLifecycle.StartLoad(_dir.Path, Settings))
        {
            Assert.NotNull(pending);
            Assert.Null(GraphLifecycle.TryLoad(_dir.Path, Settings, 501, _records, NullLogger.Instance, pending));
            using var loaded = GraphLifecycle.TryLoad(_dir.Path, Settings, 500, _records, NullLogger.Instance, pending);
            Assert.NotNull(loaded);
            Assert.Equal(before.Select(h => h.Id), loaded.Search(_vectors[7], new VectorQuery(5), _records, 4, ReadFromArray, default).Select(h => h.Id));
            Assert.Null(pending.Take(Settings));
        }

        // Records that no longer match the saved copy: the graph read ahead is refused too (and freed by the pending read).
        _records.Remove("r5", out _);
        using (var pending = GraphLifecycle.StartLoad(_dir.Path, Settings))
            Assert.Null(GraphLifecycle.TryLoad(_dir.Path, Settings, 500, _records, NullLogger.Instance, pending));

        // Other settings, no saved copy, or an unreadable file: nothing is read ahead, or its failure is not thrown.
        Assert.Null(GraphLifecycle.StartLoad(_dir.Path, Settings with { Connectivity = Settings.Connectivity + 1 }));
        File.WriteAllBytes(Path.Combine(_dir.Path, GraphLifecycle.GraphFileName), new byte[100]);
        using (var pending = GraphLifecycle.StartLoad(_dir.Path, Settings))
        {
            Assert.NotNull(pending);
            Assert.Null(GraphLifecycle.TryLoad(_dir.Path, Settings, 500, _records, NullLogger.Instance, pending));
        }

        using (var pending = GraphLifecycle.StartLoad(_dir.Path, Settings)) Assert.NotNull(pending); // disposed untaken: its failed read is dropped
        GraphLifecycle.DeleteSaved(_dir.Path);
        Assert.Null(GraphLifecycle.StartLoad(_dir.Path, Settings));
    }

    [Fact]
    public void An_unreadable_saved_graph_is_refused_not_thrown()
    {
        using (var graph = Build()) graph.Save(logLength: 1, count: _records.Count);
        File.WriteAllText(Path.Combine(_dir.Path, GraphLifecycle.MetaFileName), "{ not json");
        Assert.Null(GraphLifecycle.TryLoad(_dir.Path, Settings, 1, _records, NullLogger.Instance));

        using (var graph = Build()) graph.Save(logLength: 1, count: _records.Count);
        File.WriteAllBytes(Path.Combine(_dir.Path, GraphLifecycle.GraphFileName), new byte[100]);
        Assert.Null(GraphLifecycle.TryLoad(_dir.Path, Settings, 1, _records, NullLogger.Instance));
    }

    [Fact]
    public void Save_if_changed_writes_only_a_new_log_length_and_delete_forgets_the_copy()
    {
        using var graph = Build();
        var graphPath = Path.Combine(_dir.Path, GraphLifecycle.GraphFileName);
        graph.SaveIfChanged(logLength: 10, count: _records.Count);
        Assert.True(File.Exists(graphPath));

        File.Delete(graphPath);
        graph.SaveIfChanged(logLength: 10, count: _records.Count);
        Assert.False(File.Exists(graphPath));
        graph.SaveIfChanged(logLength: 11, count: _records.Count);
        Assert.True(File.Exists(graphPath));

        graph.DeleteSaved();
        Assert.Equal(-1, graph.SavedAtLogLength);
        Assert.False(File.Exists(graphPath));
        Assert.False(File.Exists(Path.Combine(_dir.Path, GraphLifecycle.MetaFileName)));
        Assert.Null(GraphLifecycle.TryLoad(_dir.Path, Settings, 11, _records, NullLogger.Instance));
    }

    [Fact]
    public void Added_removed_and_renamed_keys_are_what_the_search_finds()
    {
        using var graph = Build();
        var fresh = Unit([.. Enumerable.Range(0, Dimension).Select(i => i == 0 ? 1f : 0f)]);
        var (slot, _) = _records.Set("fresh", Metadata("fresh"), 0);
        Array.Resize(ref _bySlot, slot + 1);
        _bySlot[slot] = fresh;
        graph.Add(slot, fresh);
        Assert.Equal("fresh", graph.Search(fresh, new VectorQuery(1), _records, 4, ReadFromArray, default)[0].Id);

        _records.Remove("fresh", out _);
        graph.Remove(slot);
        Assert.NotEqual("fresh", graph.Search(fresh, new VectorQuery(1), _records, 4, ReadFromArray, default)[0].Id);

        _records.Remove("r0", out _);
        graph.Remove(0);
        var live = _records.LiveSlots();
        var moved = live.Select(s => _bySlot[s]).ToArray();
        _records.Renumber(live, new long[live.Length], graph.Rename);
        _bySlot = moved;
        Assert.Equal("r10", graph.Search(_vectors[10], new VectorQuery(1), _records, 4, ReadFromArray, default)[0].Id);
    }

    private GraphLifecycle Build() =>
        GraphLifecycle.Build(_dir.Path, Settings, _records.LiveSlots(), (slot, destination) => _exact.Row(slot).Span.CopyTo(destination), threads: 2, AnnBuildCheck.Links, NullLogger.Instance, default);

    private void ReadFromArray(int slot, Span<float> destination) => _bySlot[slot].CopyTo(destination);

    private static float Dot(float[] a, float[] b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
}
