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

    [Fact]
    public void An_undefined_selection_is_refused_by_the_query()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new VectorQuery(10) { Vectors = (VectorSelection)7 });
    }
}
