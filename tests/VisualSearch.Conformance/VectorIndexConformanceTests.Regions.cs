using VisualSearch.Indexing;
using Xunit;

namespace VisualSearch.Tests.Conformance;

/// <summary>
/// Items with several vectors (issue 14): an item's own vector and its region vectors, in an index whose schema
/// has <see cref="IndexSchema.Regions"/> on. A search scores an item by the best of its vectors, returns items
/// (never one twice), k of them, names the region that scored, and applies MinScore, filters and ExcludeId per item.
/// </summary>
public abstract partial class VectorIndexConformanceTests
{
    protected static readonly IndexSchema RegionSchema = Schema with { Regions = true };

    protected static readonly RegionBox BoxA = new(10, 20, 120, 90);
    protected static readonly RegionBox BoxB = new(300, 0, 64, 64);

    protected async Task<IVectorIndex> NewRegionIndexAsync()
    {
        var index = await CreateIndexAsync(RegionSchema);
        Track(index);
        return index;
    }

    protected static VectorRecord WithRegions(VectorRecord record, params (float[] Vector, RegionBox Box)[] regions) =>
        record with { Regions = [.. regions.Select(r => new RegionVector(r.Vector, r.Box))] };

    /// <summary>
    /// p: own vector orthogonal to the query, a region equal to it (cosine 1) and one at 0.6; q: own vector at 0.8, no
    /// regions; r: own vector at 0.6, a region at -0.6 (its own vector is its best).
    /// </summary>
    protected async Task<IVectorIndex> IndexWithRegionsAsync()
    {
        var index = await NewRegionIndexAsync();
        await index.UpsertAsync(WithRegions(Record("p", Unit(0, 1, 0, 0), album: "trip"), (Unit(1, 0, 0, 0), BoxA), (Unit(0.6f, 0, 0.8f, 0), BoxB)));
        await index.UpsertAsync(Record("q", Unit(0.8f, 0.6f, 0, 0), album: "trip"));
        await index.UpsertAsync(WithRegions(Record("r", Unit(0.6f, 0, 0, 0.8f), album: "home"), (Unit(-0.6f, 0, 0.8f, 0), BoxB)));
        return index;
    }

    [Fact]
    public async Task An_item_scores_the_best_of_its_vectors_and_names_the_region_that_scored()
    {
        var index = await IndexWithRegionsAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(10));

        Assert.Equal(["p", "q", "r"], hits.Select(h => h.Id));
        Assert.Equal([1f, 0.8f, 0.6f], hits.Select(h => h.Score), new ToleranceComparer());
        Assert.Equal(BoxA, hits[0].Region);
        Assert.Null(hits[1].Region);
        // r's own vector beats its region: no region is named.
        Assert.Null(hits[2].Region);
        AssertSameMetadata((await index.GetAsync("p"))!.Metadata, hits[0].Metadata);
    }

    [Fact]
    public async Task Results_are_items_never_repeated_and_k_counts_items()
    {
        var index = await NewRegionIndexAsync();
        // Every vector of p is closer to the query than any of q's or r's.
        await index.UpsertAsync(WithRegions(Record("p", Unit(1, 0.1f, 0, 0)), (Unit(1, 0, 0, 0), BoxA), (Unit(1, 0, 0.05f, 0), BoxB), (Unit(1, 0, 0, 0.05f), BoxA)));
        await index.UpsertAsync(Record("q", Unit(0.8f, 0.6f, 0, 0)));
        await index.UpsertAsync(Record("r", Unit(0.6f, 0, 0.8f, 0)));

        Assert.Equal(["p", "q"], (await index.SearchAsync(Query, new VectorQuery(2))).Select(h => h.Id));
        Assert.Equal(["p", "q", "r"], (await index.SearchAsync(Query, new VectorQuery(10))).Select(h => h.Id));
        Assert.Equal(3, await index.CountAsync());
    }

    /// <summary>p: own vector orthogonal to the query and 40 regions, every one closer to it than q (0.8) and r (0.6), which have none.</summary>
    protected async Task<IVectorIndex> IndexWithManyCloseRegionsAsync()
    {
        var index = await NewRegionIndexAsync();
        var regions = Enumerable.Range(0, 40).Select(i => (Unit(1, 0, 0, 0.01f * i), new RegionBox(i, i, 10, 10))).ToArray();
        await index.UpsertAsync(WithRegions(Record("p", Unit(0, 1, 0, 0)), regions));
        await index.UpsertAsync(Record("q", Unit(0.8f, 0.6f, 0, 0)));
        await index.UpsertAsync(Record("r", Unit(0.6f, 0, 0.8f, 0)));
        return index;
    }

    [Fact]
    public async Task An_item_with_many_close_regions_does_not_crowd_others_out_of_k()
    {
        // A backend that fetches a fixed number of vectors and collapses them would see only p.
        var index = await IndexWithManyCloseRegionsAsync();

        var hits = await index.SearchAsync(Query, new VectorQuery(2));

        Assert.Equal(["p", "q"], hits.Select(h => h.Id));
        Assert.Equal(new RegionBox(0, 0, 10, 10), hits[0].Region);
    }

    [Fact]
    public async Task Items_with_the_defaults_sixty_regions_each_fill_k_with_distinct_items_and_own_search_ignores_them()
    {
        // The shipped default stores up to 60 detail regions per item in the copy space (Encoder:DetailRegionLimit): six
        // items whose 60 regions each are all closer to the query than the next item's best, so k items need 4 x 61 vectors.
        var index = await NewRegionIndexAsync();
        for (var i = 0; i < 6; i++)
        {
            var regions = Enumerable.Range(0, 60).Select(j => (Unit(1, 0, 0.05f * i, 0.0005f * j), new RegionBox(j, i, 8, 8))).ToArray();
            await index.UpsertAsync(WithRegions(Record($"item{i}", Unit(0, 1, 0, 0.1f * i)), regions));
        }

        var hits = await index.SearchAsync(Query, new VectorQuery(4));
        Assert.Equal(["item0", "item1", "item2", "item3"], hits.Select(h => h.Id));
        Assert.All(hits, h => Assert.Equal(new RegionBox(0, int.Parse(h.Id[4..], System.Globalization.CultureInfo.InvariantCulture), 8, 8), h.Region));
        var regionHits = await index.SearchAsync(Query, new VectorQuery(4) { Vectors = VectorSelection.Regions });
        Assert.Equal(hits.Select(h => h.Id), regionHits.Select(h => h.Id));
        // Own: each item's own vector alone (all orthogonal to the query), one hit per item, no region named.
        var own = await index.SearchAsync(Query, new VectorQuery(6) { Vectors = VectorSelection.Own });
        Assert.Equal(6, own.Select(h => h.Id).Distinct().Count());
        Assert.All(own, h => Assert.Null(h.Region));
        Assert.Equal(6, await index.CountAsync());
        Assert.Equal(60, (await index.GetAsync("item5"))!.Regions.Count);
    }

    [Fact]
    public async Task Get_returns_the_item_with_its_regions()
    {
        var index = await IndexWithRegionsAsync();

        var p = await index.GetAsync("p");

        Assert.NotNull(p);
        Assert.Equal("p", p.Id);
        AssertVector(Unit(0, 1, 0, 0), p.Vector);
        Assert.Equal([BoxA, BoxB], p.Regions.Select(r => r.Box));
        AssertVector(Unit(1, 0, 0, 0), p.Regions[0].Vector);
        AssertVector(Unit(0.6f, 0, 0.8f, 0), p.Regions[1].Vector);
        Assert.Empty((await index.GetAsync("q"))!.Regions);
    }

    [Fact]
    public async Task An_upsert_replaces_all_of_an_items_vectors()
    {
        var index = await IndexWithRegionsAsync();

        // p without regions: its old region no longer finds it.
        await index.UpsertAsync(Record("p", Unit(0, 1, 0, 0), album: "trip"));
        var hits = await index.SearchAsync(Query, new VectorQuery(10));
        Assert.Equal(["q", "r", "p"], hits.Select(h => h.Id));
        Assert.Equal(0f, hits[2].Score, ScoreTolerance);
        Assert.Null(hits[2].Region);
        Assert.Empty((await index.GetAsync("p"))!.Regions);

        // q with a region: found by it.
        await index.UpsertAsync(WithRegions(Record("q", Unit(0, 0, 1, 0), album: "trip"), (Unit(1, 0, 0, 0), BoxB)));
        hits = await index.SearchAsync(Query, new VectorQuery(1));
        Assert.Equal("q", Assert.Single(hits).Id);
        Assert.Equal(BoxB, hits[0].Region);
        Assert.Equal(3, await index.CountAsync());
    }

    [Fact]
    public async Task A_delete_removes_every_vector_of_the_item()
    {
        var index = await IndexWithRegionsAsync();

        Assert.True(await index.DeleteAsync("p"));

        Assert.Null(await index.GetAsync("p"));
        Assert.Equal(2, await index.CountAsync());
        Assert.Equal(["q", "r"], (await index.SearchAsync(Query, new VectorQuery(10))).Select(h => h.Id));
        Assert.False(await index.DeleteAsync("p"));
    }

    [Fact]
    public async Task MinScore_filters_and_ExcludeId_apply_to_items()
    {
        var index = await IndexWithRegionsAsync();

        // p passes MinScore by its region though its own vector does not.
        Assert.Equal(["p", "q"], (await index.SearchAsync(Query, new VectorQuery(10, MinScore: 0.7f))).Select(h => h.Id));
        // A filter on the item's metadata: p's regions are p's.
        Assert.Equal(["r"], (await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("album eq 'home'")))).Select(h => h.Id));
        Assert.Equal(["p", "q"], (await index.SearchAsync(Query, new VectorQuery(10, Filter: SearchFilter.Parse("album eq 'trip'")))).Select(h => h.Id));
        // Excluding p excludes its regions too.
        Assert.Equal(["q", "r"], (await index.SearchAsync(Query, new VectorQuery(10, ExcludeId: "p"))).Select(h => h.Id));
    }

    /// <summary>bob/1 is the query's best match, but only by a region (BoxA); ann/1 by its own vector (0.8), ann/2 by a region (BoxB, 0.6).</summary>
    protected async Task<IVectorIndex> IndexOfTwoOwnersWithRegionsAsync()
    {
        var index = await NewRegionIndexAsync();
        await index.UpsertAsync(WithRegions(Record("bob/1", Unit(0, 0, 0, 1), owner: "bob"), (Unit(1, 0, 0, 0), BoxA)));
        await index.UpsertAsync(Record("ann/1", Unit(0.8f, 0.6f, 0, 0), owner: "ann"));
        await index.UpsertAsync(WithRegions(Record("ann/2", Unit(0, 1, 0, 0), owner: "ann"), (Unit(0.6f, 0, 0.8f, 0), BoxB)));
        return index;
    }

    [Fact]
    public async Task An_owner_scope_applies_to_an_items_regions()
    {
        var index = await IndexOfTwoOwnersWithRegionsAsync();

        var ann = await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Of("ann") });
        Assert.Equal(["ann/1", "ann/2"], ann.Select(h => h.Id));
        Assert.Equal([null, BoxB], ann.Select(h => h.Region));
        var bob = await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Of("bob") });
        Assert.Equal(BoxA, Assert.Single(bob).Region);
        Assert.Empty(await index.SearchAsync(Query, new VectorQuery(10) { Scope = OwnerScope.Of("carol") }));

        Assert.Null(await index.GetAsync("bob/1", OwnerScope.Of("ann")));
        Assert.Equal([BoxA], (await index.GetAsync("bob/1", OwnerScope.Of("bob")))!.Regions.Select(r => r.Box));
    }

    [Fact]
    public async Task Regions_survive_a_reopen()
    {
        var index = await IndexWithRegionsAsync();
        await index.UpsertAsync(WithRegions(Record("s", Unit(0, 0, 0, 1)), (Unit(0.8f, 0.6f, 0, 0), BoxB)));
        await index.DeleteAsync("q");

        var reopened = await ReopenAsync(index, RegionSchema);

        Assert.Equal(3, await reopened.CountAsync());
        var hits = await reopened.SearchAsync(Query, new VectorQuery(10));
        Assert.Equal(["p", "s", "r"], hits.Select(h => h.Id));
        Assert.Equal([BoxA, BoxB, null], hits.Select(h => h.Region));
        Assert.Equal([BoxA, BoxB], (await reopened.GetAsync("p"))!.Regions.Select(r => r.Box));
    }

    [Fact]
    public async Task An_index_without_regions_refuses_an_item_with_regions()
    {
        var index = await NewIndexAsync();

        await Assert.ThrowsAsync<IndexRegionsMismatchException>(() =>
            index.UpsertAsync(WithRegions(Record("p", Unit(0, 1, 0, 0)), (Unit(1, 0, 0, 0), BoxA))));

        Assert.Equal(0, await index.CountAsync());
    }

    [Fact]
    public async Task An_index_is_opened_only_with_the_regions_setting_it_was_made_with()
    {
        var withRegions = await IndexWithRegionsAsync();
        var ex = await Assert.ThrowsAsync<IndexRegionsMismatchException>(() => ReopenAsync(withRegions, Schema));
        Assert.True(ex.IndexRegions);
        Assert.False(ex.ConfiguredRegions);

        var without = await IndexWithFourRecordsAsync();
        ex = await Assert.ThrowsAsync<IndexRegionsMismatchException>(() => ReopenAsync(without, RegionSchema));
        Assert.False(ex.IndexRegions);
        Assert.True(ex.ConfiguredRegions);
    }

    private sealed class ToleranceComparer : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= ScoreTolerance;

        public int GetHashCode(float obj) => 0;
    }
}
