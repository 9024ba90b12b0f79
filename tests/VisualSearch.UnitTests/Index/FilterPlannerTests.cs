using System.Numerics.Tensors;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Index;

/// <summary>
/// The filtered-search planner: its estimate of the share a filter admits (exact on small indexes, sampled on
/// large ones, not fooled by a field that repeats with the insertion order), the path it picks on either side of
/// the line, and an index in graph mode answering by the planned path with the exact scan's results.
/// </summary>
public sealed class FilterPlannerTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Small_indexes_are_counted_exactly_and_free_slots_do_not_count()
    {
        // 3,000 slots, every third free; album 'a' on one live record in ten.
        var metadata = Enumerable.Range(0, 3000).Select(i => i % 3 == 2 ? null : Meta(i, album: i % 10 == 0 ? "a" : "b")).ToArray();
        var live = metadata.Count(m => m is not null);
        var admitted = metadata.Count(m => m is not null && m.Tags["album"] == "a");

        var share = FilterPlanner.EstimateShare(Album("a").Matches, metadata.Length, slot => metadata[slot]);

        Assert.Equal(admitted / (double)live, share, 1e-12);
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.10)]
    [InlineData(0.50)]
    public void Large_indexes_are_sampled_close_to_the_true_share(double selectivity)
    {
        // Upload times in insertion order (as the bench's, and as real uploads are): a time cut-off admits a prefix.
        const int count = 200_000;
        var metadata = Enumerable.Range(0, count).Select(i => Meta(i)).ToArray();
        var filter = new SearchFilter { UploadedTo = new TimeBound(Start.AddMinutes(count * selectivity), Inclusive: false) };

        var share = FilterPlanner.EstimateShare(filter.Matches, count, slot => metadata[slot]);

        Assert.InRange(share, selectivity * 0.9, selectivity * 1.1);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(100)]
    public void A_field_that_repeats_with_the_slot_number_is_not_aliased(int period)
    {
        // album = slot mod period: an even stride that is a multiple of the period would see one album only.
        const int count = 1024 * 100;
        var metadata = Enumerable.Range(0, count).Select(i => Meta(i, album: (i % period).ToString(System.Globalization.CultureInfo.InvariantCulture))).ToArray();

        var share = FilterPlanner.EstimateShare(Album("0").Matches, count, slot => metadata[slot]);

        Assert.InRange(share, 0.5 / period, 1.5 / period);
    }

    [Fact]
    public void A_selective_filter_is_scanned_exactly_and_a_broad_one_goes_to_the_graph_with_over_fetch()
    {
        const int count = 100_000;
        var metadata = Enumerable.Range(0, count).Select(i => Meta(i)).ToArray();
        SearchPlan PlanFor(double selectivity, FilteredSearchMode mode = FilteredSearchMode.Auto) => FilterPlanner.Plan(
            new SearchFilter { UploadedTo = new TimeBound(Start.AddMinutes(count * selectivity), Inclusive: false) }.Matches,
            count, count, slot => metadata[slot], k: 10, overfetch: 4, maxCandidates: 4096, mode);

        var one = PlanFor(0.01);
        Assert.Equal(SearchPath.ExactScan, one.Path);
        Assert.InRange(one.EstimatedMatches, 900, 1100);
        Assert.Equal(0, one.Fetch);

        var ten = PlanFor(0.10);
        Assert.Equal(SearchPath.Graph, ten.Path);
        // 1.5 x 40 / ~0.1: about 600 candidates, so about 60 of them pass.
        Assert.InRange(ten.Fetch, 500, 700);

        var half = PlanFor(0.50);
        Assert.Equal(SearchPath.Graph, half.Path);
        Assert.InRange(half.Fetch, 100, 140);

        // The modes force a path either way.
        Assert.Equal(SearchPath.Graph, PlanFor(0.01, FilteredSearchMode.Graph).Path);
        Assert.InRange(PlanFor(0.01, FilteredSearchMode.Graph).Fetch, 4096, 4096);
        Assert.Equal(SearchPath.ExactScan, PlanFor(0.50, FilteredSearchMode.Exact).Path);
    }

    [Fact]
    public void No_filter_and_a_filter_nothing_matches()
    {
        var metadata = Enumerable.Range(0, 10_000).Select(i => Meta(i)).ToArray();

        var none = FilterPlanner.Plan(null, metadata.Length, metadata.Length, slot => metadata[slot], 10, 4, 4096);
        Assert.Equal(new SearchPlan(SearchPath.Graph, 1.0, metadata.Length, 40), none);

        var nothing = FilterPlanner.Plan(Album("none").Matches, metadata.Length, metadata.Length, slot => metadata[slot], 10, 4, 4096);
        Assert.Equal(SearchPath.ExactScan, nothing.Path);
        Assert.Equal(0, nothing.EstimatedMatches);
    }

    [Fact]
    public void An_owner_condition_narrows_the_estimate_like_any_other()
    {
        // Two owners, one with 1% of the records; the client's own filter (album 'x') admits half of everything.
        var metadata = Enumerable.Range(0, 20_000).Select(i => Meta(i, album: i % 2 == 0 ? "x" : "y", owner: i % 100 == 0 ? "alice" : "bob")).ToArray();
        var clientOnly = FilterPlanner.Plan(Album("x").Matches, metadata.Length, metadata.Length, slot => metadata[slot], 10, 4, 4096);
        var scoped = FilterPlanner.Plan(
            new SearchFilter { Conditions = [new FieldEquals("album", "x"), new FieldEquals("owner", "alice")] }.Matches,
            metadata.Length, metadata.Length, slot => metadata[slot], 10, 4, 4096);

        Assert.Equal(SearchPath.Graph, clientOnly.Path);
        Assert.Equal(SearchPath.ExactScan, scoped.Path);
        // 200 records are alice's, all in album 'x' (even slots); 20,000 slots are sampled, not counted.
        Assert.InRange(scoped.EstimatedMatches, 100, 300);
    }

    [Theory]
    [InlineData(FilteredSearchMode.Auto)]
    [InlineData(FilteredSearchMode.Graph)]
    [InlineData(FilteredSearchMode.Exact)]
    public async Task The_index_answers_by_the_planned_path_with_the_exact_results(FilteredSearchMode mode)
    {
        const int count = 6000;
        var vectors = Vectors(count + 20, seed: 7);
        using var exact = await OpenAsync(Path.Combine(_dir.Path, "exact"), annThreshold: 0, mode);
        using var graph = await OpenAsync(Path.Combine(_dir.Path, "graph"), annThreshold: 1000, mode);
        for (var i = 0; i < count; i++)
        {
            var record = new VectorRecord($"r{i}", vectors[i], Meta(i, album: i % 200 == 0 ? "rare" : i % 2 == 0 ? "even" : "odd"));
            await exact.UpsertAsync(record);
            await graph.UpsertAsync(record);
        }

        Assert.Equal("hnsw", graph.Statistics.Mode);
        var rare = new VectorQuery(10, Filter: Album("rare"));
        var even = new VectorQuery(10, Filter: Album("even"));
        var expectRare = mode == FilteredSearchMode.Graph ? SearchPath.Graph : SearchPath.ExactScan;
        var expectEven = mode == FilteredSearchMode.Exact ? SearchPath.ExactScan : SearchPath.Graph;
        Assert.Equal(expectRare, graph.PlanSearch(rare).Path);
        Assert.Equal(expectEven, graph.PlanSearch(even).Path);
        // 6,000 slots are sampled (1,024 of them): 30 matches are estimated, not counted.
        Assert.InRange(graph.PlanSearch(rare).EstimatedMatches, 6, 90);
        Assert.Equal(SearchPath.ExactScan, exact.PlanSearch(rare).Path);

        var found = 0;
        for (var q = count; q < count + 20; q++)
        {
            // The rare album (0.5%) on any path: every match is found, in the exact order.
            var expected = await exact.SearchAsync(vectors[q], rare);
            var actual = await graph.SearchAsync(vectors[q], rare);
            Assert.Equal(expected.Select(h => h.Id), actual.Select(h => h.Id));

            var expectedEven = await exact.SearchAsync(vectors[q], even);
            var actualEven = await graph.SearchAsync(vectors[q], even);
            Assert.Equal(10, actualEven.Count);
            Assert.All(actualEven, h => Assert.Equal("even", h.Metadata.Tags["album"]));
            found += actualEven.Count(h => expectedEven.Any(e => e.Id == h.Id));
        }

        Assert.True(found >= 190, $"recall@10 of the half filter: {found / 200.0:F3}");
    }

    [Theory]
    [InlineData(FilteredSearchMode.Auto)]
    [InlineData(FilteredSearchMode.Graph)]
    [InlineData(FilteredSearchMode.Exact)]
    public async Task The_owner_scope_is_planned_as_a_filter_and_never_widened(FilteredSearchMode mode)
    {
        // alice owns one record in a hundred, bob the rest; a scoped query with no client filter is still filtered.
        const int count = 5000;
        var vectors = Vectors(count + 10, seed: 9);
        using var exact = await OpenAsync(Path.Combine(_dir.Path, "exact"), annThreshold: 0, mode);
        using var graph = await OpenAsync(Path.Combine(_dir.Path, "graph"), annThreshold: 1000, mode);
        for (var i = 0; i < count; i++)
        {
            var record = new VectorRecord($"r{i}", vectors[i], Meta(i, owner: i % 100 == 0 ? "alice" : "bob"));
            await exact.UpsertAsync(record);
            await graph.UpsertAsync(record);
        }

        var alice = new VectorQuery(10) { Scope = OwnerScope.Of("alice") };
        var plan = graph.PlanSearch(alice);
        Assert.Equal(mode == FilteredSearchMode.Graph ? SearchPath.Graph : SearchPath.ExactScan, plan.Path);
        Assert.InRange(plan.EstimatedShare, 0.002, 0.03);
        for (var q = count; q < count + 10; q++)
        {
            var expected = await exact.SearchAsync(vectors[q], alice);
            var actual = await graph.SearchAsync(vectors[q], alice);
            Assert.Equal(10, actual.Count);
            Assert.All(actual, h => Assert.Equal("alice", h.Metadata.Tags["owner"]));
            if (mode != FilteredSearchMode.Graph) Assert.Equal(expected.Select(h => h.Id), actual.Select(h => h.Id));
        }
    }

    private static SearchFilter Album(string album) => new() { Conditions = [new FieldEquals("album", album)] };

    private static ItemMetadata Meta(int i, string album = "a", string? owner = null) => new()
    {
        Source = "photos",
        Name = $"r{i}.jpg",
        ContentHash = new string('a', 64),
        ContentType = "image/jpeg",
        UploadedAt = Start.AddMinutes(i),
        ModelId = "m-1",
        Tags = owner is null ? new Dictionary<string, string> { ["album"] = album } : new Dictionary<string, string> { ["album"] = album, ["owner"] = owner },
    };

    private static async Task<LocalVectorIndex> OpenAsync(string path, int annThreshold, FilteredSearchMode mode)
    {
        var index = new LocalVectorIndex(
            Options.Create(new LocalIndexOptions { Path = path, FlushToDisk = false, AnnThreshold = annThreshold, FilteredSearch = mode }),
            NullLogger<LocalVectorIndex>.Instance);
        await index.InitializeAsync(new IndexSchema("m-1", 32));
        return index;
    }

    private static float[][] Vectors(int count, int seed)
    {
        var random = new Random(seed);
        var centres = Enumerable.Range(0, 30).Select(_ => Enumerable.Range(0, 32).Select(_ => random.NextSingle() * 2 - 1).ToArray()).ToArray();
        return Enumerable.Range(0, count).Select(_ =>
        {
            var centre = centres[random.Next(centres.Length)];
            var v = centre.Select(c => c + (random.NextSingle() * 2 - 1) * 0.6f).ToArray();
            TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
            return v;
        }).ToArray();
    }
}
