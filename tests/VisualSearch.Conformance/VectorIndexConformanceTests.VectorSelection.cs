using VisualSearch.Indexing;
using Xunit;

namespace VisualSearch.Tests.Conformance;

/// <summary>
/// <see cref="VectorQuery.Vectors"/> (issue 14's whole-first copy search): a search scores only the items' own vectors,
/// only their region vectors, or all of them (the default), with k, MinScore, filters, ExcludeId and the owner scope
/// applying per item exactly as for all of them. In an index without regions Own is All and Regions finds nothing.
/// </summary>
public abstract partial class VectorIndexConformanceTests
{
    [Fact]
    public async Task Own_scores_items_by_their_own_vectors_only()
    {
        var index = await IndexWithRegionsAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(10) { Vectors = VectorSelection.Own });

        // p's region equals the query, but its own vector is orthogonal to it.
        Assert.Equal(["q", "r", "p"], hits.Select(h => h.Id));
        Assert.Equal([0.8f, 0.6f, 0f], hits.Select(h => h.Score), new ToleranceComparer());
        Assert.All(hits, h => Assert.Null(h.Region));
        AssertSameMetadata((await index.GetAsync("p"))!.Metadata, hits[2].Metadata);
    }

    [Fact]
    public async Task Regions_scores_items_by_their_regions_only_and_names_the_region()
    {
        var index = await IndexWithRegionsAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(10) { Vectors = VectorSelection.Regions });

        // q has no region: not a hit. r scores its region (-0.6) though its own vector scores 0.6.
        Assert.Equal(["p", "r"], hits.Select(h => h.Id));
        Assert.Equal([1f, -0.6f], hits.Select(h => h.Score), new ToleranceComparer());
        Assert.Equal([BoxA, BoxB], hits.Select(h => h.Region));
        AssertSameMetadata((await index.GetAsync("p"))!.Metadata, hits[0].Metadata);
    }

    [Fact]
    public async Task Own_and_Regions_apply_k_MinScore_filters_and_ExcludeId_per_item()
    {
        var index = await IndexWithRegionsAsync();
        VectorQuery Own(int k, float? minScore = null, string? filter = null, string? exclude = null) =>
            new(k, minScore, SearchFilter.Parse(filter), exclude) { Vectors = VectorSelection.Own };
        VectorQuery Regions(int k, float? minScore = null, string? filter = null, string? exclude = null) =>
            new(k, minScore, SearchFilter.Parse(filter), exclude) { Vectors = VectorSelection.Regions };

        Assert.Equal(["q"], (await index.SearchAsync(Query, Own(1))).Select(h => h.Id));
        Assert.Equal(["p"], (await index.SearchAsync(Query, Regions(1))).Select(h => h.Id));
        // p passes 0.7 by its region only: not when its own vector is asked.
        Assert.Equal(["q"], (await index.SearchAsync(Query, Own(10, minScore: 0.7f))).Select(h => h.Id));
        Assert.Equal(["p"], (await index.SearchAsync(Query, Regions(10, minScore: 0.7f))).Select(h => h.Id));
        Assert.Equal(["r"], (await index.SearchAsync(Query, Regions(10, filter: "album eq 'home'"))).Select(h => h.Id));
        Assert.Equal(["q", "p"], (await index.SearchAsync(Query, Own(10, filter: "album eq 'trip'"))).Select(h => h.Id));
        Assert.Equal(["r"], (await index.SearchAsync(Query, Regions(10, exclude: "p"))).Select(h => h.Id));
        Assert.Equal(["r", "p"], (await index.SearchAsync(Query, Own(10, exclude: "q"))).Select(h => h.Id));
    }

    [Fact]
    public async Task An_owner_scope_applies_to_own_and_region_searches_alike()
    {
        // bob's item matches the query by a region only; ann's by her own vectors and a weaker region.
        var index = await IndexOfTwoOwnersWithRegionsAsync();

        var annRegions = await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Of("ann"), Vectors = VectorSelection.Regions });
        Assert.Equal("ann/2", Assert.Single(annRegions).Id);
        Assert.Equal(BoxB, annRegions[0].Region);
        var bobOwn = await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Of("bob"), Vectors = VectorSelection.Own });
        Assert.Equal(0f, Assert.Single(bobOwn).Score, ScoreTolerance);
        Assert.Null(bobOwn[0].Region);
        Assert.Empty(await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Of("carol"), Vectors = VectorSelection.Regions }));
    }

    [Fact]
    public async Task Own_is_not_crowded_out_by_an_items_many_close_regions()
    {
        // p's 40 regions are closer to the query than any own vector: an Own search that fetched vectors without asking
        // for own ones would find p's regions only.
        var index = await IndexWithManyCloseRegionsAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(2) { Vectors = VectorSelection.Own });

        Assert.Equal(["q", "r"], hits.Select(h => h.Id));
        Assert.Equal([0.8f, 0.6f], hits.Select(h => h.Score), new ToleranceComparer());
    }

    [Fact]
    public async Task In_an_index_without_regions_Own_is_All_and_Regions_finds_nothing()
    {
        var index = await IndexWithFourRecordsAsync();

        var all = await index.SearchAsync(Query, new VectorQuery(10));
        var own = await index.SearchAsync(Query, new VectorQuery(10) { Vectors = VectorSelection.Own });

        Assert.Equal(["a", "b", "c", "d"], own.Select(h => h.Id));
        Assert.Equal(all.Select(h => h.Score), own.Select(h => h.Score));
        Assert.Empty(await index.SearchAsync(Query, new VectorQuery(10) { Vectors = VectorSelection.Regions }));
    }

    /// <summary>
    /// 40 items of two owners and two albums, most with many regions (up to 24, as a regional index holds 59 vectors
    /// per item): own vectors spread over the sphere, regions near a few shared directions so that they outnumber and
    /// outscore the own vectors near a query. Seeded, so every backend holds the same records.
    /// </summary>
    protected async Task<(IVectorIndex Index, List<VectorRecord> Records)> IndexOfManyItemsWithManyRegionsAsync()
    {
        var index = await NewRegionIndexAsync();
        var random = new Random(1459);
        var records = new List<VectorRecord>();
        for (var i = 0; i < 40; i++)
        {
            var owner = i % 3 == 0 ? "bob" : "ann";
            var record = Record($"{owner}/{i:D2}", RandomUnit(random), album: i % 2 == 0 ? "trip" : "home", owner: owner);
            var regions = Enumerable.Range(0, i % 5 == 4 ? 0 : 8 + i % 17)
                .Select(j => (Near(random, j % 3), new RegionBox(j * 7, i, 16 + j, 16)))
                .ToArray();
            records.Add(WithRegions(record, regions));
        }

        foreach (var record in records) await index.UpsertAsync(record);
        return (index, records);

        static float[] Near(Random random, int direction)
        {
            var v = RandomUnit(random);
            var axis = new float[Dimension];
            axis[direction] = 1;
            return Unit([.. v.Select((x, d) => (0.35f * x) + axis[d])]);
        }
    }

    [Theory]
    [InlineData(VectorSelection.Own)]
    [InlineData(VectorSelection.Regions)]
    [InlineData(VectorSelection.All)]
    public async Task Many_regions_per_item_each_selection_ranks_items_by_the_best_vector_it_selects(VectorSelection selection)
    {
        var (index, records) = await IndexOfManyItemsWithManyRegionsAsync();
        var random = new Random(7);
        var queries = new List<float[]> { Unit(1, 0, 0, 0), Unit(0, 0.2f, 1, 0) };
        for (var q = 0; q < 6; q++) queries.Add(RandomUnit(random));

        foreach (var query in queries)
        {
            foreach (var (album, scope) in new (string? Album, OwnerScope? Scope)[] { (null, null), ("trip", null), (null, OwnerScope.Of("bob")), ("home", OwnerScope.Of("ann")) })
            {
                var filter = album is null ? null : $"album eq '{album}'";
                foreach (var k in new[] { 1, 5, 12 })
                {
                    var hits = await index.SearchAsync(query, new VectorQuery(k, Filter: SearchFilter.Parse(filter)) { Scope = scope ?? OwnerScope.Everyone, Vectors = selection });
                    var admitted = records.Where(r => (album is null || r.Metadata.Tags["album"] == album)
                        && (scope is null || r.Id.StartsWith(scope.Owner + "/", StringComparison.Ordinal)));
                    AssertTopItems(Expected(admitted, query, selection), hits, k, $"{selection}, filter {filter}, scope {scope?.Owner}, k {k}");
                }
            }
        }
    }

    [Fact]
    public async Task Own_and_Regions_stay_right_after_deletes_and_upserts_that_change_an_items_regions()
    {
        var (index, records) = await IndexOfManyItemsWithManyRegionsAsync();
        var random = new Random(11);
        // Deleted, given regions, stripped of them, and replaced with a new own vector: every kind of change an item has.
        var deleted = Enumerable.Range(0, 8).Select(i => records[i * 5].Id).ToHashSet(StringComparer.Ordinal);
        foreach (var id in deleted) Assert.True(await index.DeleteAsync(id));
        records.RemoveAll(r => deleted.Contains(r.Id));
        for (var i = 0; i < records.Count; i += 4)
        {
            var changed = i % 8 == 0
                ? records[i] with { Vector = RandomUnit(random), Regions = [] }
                : WithRegions(records[i] with { Vector = RandomUnit(random) }, [.. Enumerable.Range(0, 30).Select(j => (RandomUnit(random), new RegionBox(j, j, 8, 8)))]);
            await index.UpsertAsync(changed);
            records[i] = changed;
        }

        var query = RandomUnit(random);
        foreach (var selection in new[] { VectorSelection.Own, VectorSelection.Regions, VectorSelection.All })
        {
            AssertTopItems(Expected(records, query, selection), await index.SearchAsync(query, new VectorQuery(10) { Vectors = selection }), 10, $"{selection} after the changes");
        }

        var reopened = await ReopenAsync(index, RegionSchema);
        foreach (var selection in new[] { VectorSelection.Own, VectorSelection.Regions, VectorSelection.All })
        {
            AssertTopItems(Expected(records, query, selection), await reopened.SearchAsync(query, new VectorQuery(10) { Vectors = selection }), 10, $"{selection} after a reopen");
        }
    }

    /// <summary>Each item with the best score of the vectors <paramref name="selection"/> scores (none: left out), best first.</summary>
    private static List<(string Id, float Score)> Expected(IEnumerable<VectorRecord> records, float[] query, VectorSelection selection)
    {
        var scored = new List<(string Id, float Score)>();
        foreach (var record in records)
        {
            var vectors = selection switch
            {
                VectorSelection.Own => [record.Vector],
                VectorSelection.Regions => record.Regions.Select(r => r.Vector).ToList(),
                _ => [record.Vector, .. record.Regions.Select(r => r.Vector)],
            };
            if (vectors.Count > 0) scored.Add((record.Id, vectors.Max(v => v.Zip(query, (a, b) => a * b).Sum())));
        }

        return [.. scored.OrderByDescending(s => s.Score).ThenBy(s => s.Id, StringComparer.Ordinal)];
    }

    /// <summary>
    /// The hits are the best min(k, n) items of <paramref name="expected"/>: the same scores in order, each hit scoring
    /// what its item scores (items within the tolerance of each other may come in either order), no item twice.
    /// </summary>
    private static void AssertTopItems(List<(string Id, float Score)> expected, IReadOnlyList<SearchHit> hits, int k, string what)
    {
        Assert.True(hits.Count == Math.Min(k, expected.Count), $"{what}: {hits.Count} hits, expected {Math.Min(k, expected.Count)}");
        Assert.Equal(hits.Count, hits.Select(h => h.Id).Distinct().Count());
        var byId = expected.ToDictionary(e => e.Id, e => e.Score);
        for (var i = 0; i < hits.Count; i++)
        {
            Assert.True(byId.TryGetValue(hits[i].Id, out var score), $"{what}: {hits[i].Id} is not one of the admitted items with such vectors");
            Assert.True(Math.Abs(score - hits[i].Score) <= ScoreTolerance, $"{what}: {hits[i].Id} scored {hits[i].Score}, its best is {score}");
            Assert.True(Math.Abs(expected[i].Score - hits[i].Score) <= ScoreTolerance, $"{what}: hit {i} scored {hits[i].Score}, the {i + 1}th best item scores {expected[i].Score}");
        }
    }

    private static float[] RandomUnit(Random random) => Unit([.. Enumerable.Range(0, Dimension).Select(_ => (float)((random.NextDouble() * 2) - 1))]);

    [Fact]
    public void An_undefined_selection_is_refused_by_the_query()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new VectorQuery(10) { Vectors = (VectorSelection)7 });
    }
}
