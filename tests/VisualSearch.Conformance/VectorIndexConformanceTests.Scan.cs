using VisualSearch.Indexing;
using Xunit;

namespace VisualSearch.Tests.Conformance;

/// <summary>
/// Listing an index's items (<see cref="IVectorScan"/>, what near-duplicate grouping walks, issue 17): every live item
/// once with its stored metadata, through as many pages as the backend needs, only what the filter (the owner scope)
/// admits, and with regions on the items, never their region vectors.
/// </summary>
public abstract partial class VectorIndexConformanceTests
{
    /// <summary>More items than one page of either backend's scan (1,024 embedded, 1,000 Azure AI Search), not a round number of either.</summary>
    protected const int ScanItems = 2_345;

    private static async Task<List<IndexedItem>> ScanAllAsync(IVectorIndex index, SearchFilter? filter = null)
    {
        var scan = Assert.IsAssignableFrom<IVectorScan>(index);
        var items = new List<IndexedItem>();
        await foreach (var item in scan.ScanAsync(filter)) items.Add(item);
        return items;
    }

    [Fact]
    public async Task Scan_of_an_empty_index_lists_nothing()
    {
        var index = await NewIndexAsync();

        Assert.Empty(await ScanAllAsync(index));
    }

    [Fact]
    public async Task Scan_lists_every_live_item_once_with_its_stored_metadata()
    {
        var index = await IndexWithFourRecordsAsync();
        var replaced = Record("b", Unit(0, 1, 0, 0), "image/webp", album: "moved", uploadedAt: BaseTime.AddDays(40));
        await index.UpsertAsync(replaced);
        Assert.True(await index.DeleteAsync("c"));

        var items = await ScanAllAsync(index);

        Assert.Equal(["a", "b", "d"], items.Select(i => i.Id).Order(StringComparer.Ordinal));
        foreach (var item in items) AssertSameMetadata((await index.GetAsync(item.Id))!.Metadata, item.Metadata);
        AssertSameMetadata(replaced.Metadata, items.Single(i => i.Id == "b").Metadata);
    }

    [Fact]
    public async Task Scan_with_the_owner_scope_lists_that_owners_items_only()
    {
        var index = await NewIndexAsync();
        await index.UpsertAsync(Record("x/1", Unit(1, 0, 0, 0), owner: "user-x", album: "trip"));
        await index.UpsertAsync(Record("x/2", Unit(0, 1, 0, 0), owner: "user-x"));
        await index.UpsertAsync(Record("y/1", Unit(1, 0, 0, 0), owner: "user-y", album: "trip"));
        await index.UpsertAsync(Record("none", Unit(0, 0, 1, 0)));

        var x = await ScanAllAsync(index, OwnerScope.Of("user-x").Restrict(null));
        var xTrip = await ScanAllAsync(index, OwnerScope.Of("user-x").Restrict(SearchFilter.Parse("album eq 'trip'")));
        var everyone = await ScanAllAsync(index, OwnerScope.Everyone.Restrict(null));
        var nobody = await ScanAllAsync(index, OwnerScope.Of("user-z").Restrict(null));

        Assert.Equal(["x/1", "x/2"], x.Select(i => i.Id).Order(StringComparer.Ordinal));
        Assert.All(x, i => Assert.Equal("user-x", i.Metadata.Tags["owner"]));
        Assert.Equal(["x/1"], xTrip.Select(i => i.Id));
        Assert.Equal(["none", "x/1", "x/2", "y/1"], everyone.Select(i => i.Id).Order(StringComparer.Ordinal));
        Assert.Empty(nobody);
    }

    [Fact]
    public async Task Scan_pages_through_more_items_than_one_page_and_lists_each_once()
    {
        var index = await NewIndexAsync();
        var random = new Random(17);
        var ids = Enumerable.Range(0, ScanItems).Select(i => $"photos/{random.Next():x8}/{i:D5}.jpg").ToList();
        foreach (var chunk in ids.Chunk(200))
            await Task.WhenAll(chunk.Select(id => index.UpsertAsync(Record(id, Unit(1, (float)random.NextDouble(), 0, 0), owner: id.EndsWith("7.jpg", StringComparison.Ordinal) ? "seven" : "other"))));

        var items = await ScanAllAsync(index);
        var sevens = await ScanAllAsync(index, OwnerScope.Of("seven").Restrict(null));

        Assert.Equal(ScanItems, items.Count);
        Assert.Equal(ids.Order(StringComparer.Ordinal), items.Select(i => i.Id).Order(StringComparer.Ordinal));
        Assert.Equal(ids.Where(id => id.EndsWith("7.jpg", StringComparison.Ordinal)).Order(StringComparer.Ordinal), sevens.Select(i => i.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Scan_of_an_index_with_regions_lists_items_not_their_regions()
    {
        var index = await IndexWithRegionsAsync();

        var items = await ScanAllAsync(index);

        Assert.Equal(["p", "q", "r"], items.Select(i => i.Id).Order(StringComparer.Ordinal));
        AssertSameMetadata((await index.GetAsync("p"))!.Metadata, items.Single(i => i.Id == "p").Metadata);
    }
}
