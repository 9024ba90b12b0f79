using System.Text.Json.Nodes;
using VisualSearch.Index.AzureSearch.Tests.Fake;
using VisualSearch.Indexing;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>
/// Items with region vectors (issue 14) as Azure AI Search documents, checked in what the REST endpoint holds and
/// was sent: the fields an index with regions has, one document per region carrying the item id and box, stale
/// region documents deleted, a count that counts items.
/// </summary>
public sealed class AzureSearchRegionTests
{
    private static readonly IndexSchema Schema = new IndexSchema("m-1", 4) with { Regions = true };
    private const string IndexName = "images-m-1-sq8-ns";
    private readonly FakeSearchService _service = new();

    [Fact]
    public async Task An_index_with_regions_has_a_filterable_item_id_a_region_flag_and_the_box_fields()
    {
        await OpenAsync();

        var fields = ((JsonArray)_service.Definition(IndexName)!["fields"]!).ToDictionary(f => (string)f!["name"]!, f => f!);
        Assert.True((bool)fields["itemId"]["filterable"]!);
        Assert.Equal("Edm.Boolean", (string)fields["isRegion"]["type"]!);
        Assert.True((bool)fields["isRegion"]["filterable"]!);
        foreach (var box in new[] { "regionX", "regionY", "regionWidth", "regionHeight" }) Assert.Equal("Edm.Int32", (string)fields[box]["type"]!);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task Each_region_is_a_document_with_the_items_id_metadata_and_box_and_an_upsert_deletes_the_regions_it_no_longer_has()
    {
        var index = await OpenAsync();
        await index.UpsertAsync(WithRegions("photos/a.png", 3, album: "trip"));

        var documents = _service.Documents(IndexName);
        var itemKey = DocumentKeys.Encode("photos/a.png");
        Assert.Equal([itemKey, itemKey + "=0", itemKey + "=1", itemKey + "=2"], documents.Keys.Order(StringComparer.Ordinal));
        Assert.False((bool)documents[itemKey]["isRegion"]!);
        var region = documents[itemKey + "=1"];
        Assert.True((bool)region["isRegion"]!);
        Assert.Equal("photos/a.png", (string)region["itemId"]!);
        Assert.Equal("trip", (string)region["album"]!);
        Assert.Equal((10, 20, 30, 40), ((int)region["regionX"]!, (int)region["regionY"]!, (int)region["regionWidth"]!, (int)region["regionHeight"]!));

        await index.UpsertAsync(WithRegions("photos/a.png", 1, album: "home"));

        documents = _service.Documents(IndexName);
        Assert.Equal([itemKey, itemKey + "=0"], documents.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("home", (string)documents[itemKey + "=0"]["album"]!);
        Assert.Equal(1, await index.CountAsync());
        // The count asks the service for the items' own documents only.
        var count = _service.Requests.Last(r => r.Operation == "search").Json!;
        Assert.True((bool)count["count"]!);
        Assert.Equal("isRegion eq false", (string)count["filter"]!);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task A_search_excludes_an_item_by_its_id_so_none_of_its_regions_come_back()
    {
        var index = await OpenAsync();
        await index.UpsertAsync(WithRegions("a", 2));
        await index.UpsertAsync(WithRegions("b", 0));

        var hits = await index.SearchAsync(new float[] { 1, 0, 0, 0 }, new VectorQuery(5, ExcludeId: "a"));

        Assert.Equal(["b"], hits.Select(h => h.Id));
        Assert.Contains("itemId ne 'a'", (string)_service.Requests.Last(r => r.Operation == "search").Json!["filter"]!, StringComparison.Ordinal);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task Own_and_Regions_searches_filter_on_the_region_flag_and_Own_asks_one_document_per_item()
    {
        var index = await OpenAsync();
        await index.UpsertAsync(WithRegions("a", 2, album: "trip"));
        await index.UpsertAsync(WithRegions("b", 0, album: "trip"));
        var query = new VectorQuery(3, Filter: Indexing.SearchFilter.Parse("album eq 'trip'")) { Scope = OwnerScope.Of("ann", [new SharedAlbum("bob", "trip")]) };

        await index.SearchAsync(new float[] { 1, 0, 0, 0 }, query with { Vectors = VectorSelection.Own });
        var own = _service.Requests.Last(r => r.Operation == "search").Json!;
        await index.SearchAsync(new float[] { 1, 0, 0, 0 }, query with { Vectors = VectorSelection.Regions });
        var regions = _service.Requests.Last(r => r.Operation == "search").Json!;
        await index.SearchAsync(new float[] { 1, 0, 0, 0 }, query);
        var all = _service.Requests.Last(r => r.Operation == "search").Json!;

        // The scope and the client's filter as for every search, and the kind of vector as one more condition.
        Assert.Equal("(owner eq 'ann' or (owner eq 'bob' and album eq 'trip')) and album eq 'trip' and isRegion eq false", (string)own["filter"]!);
        Assert.Equal("(owner eq 'ann' or (owner eq 'bob' and album eq 'trip')) and album eq 'trip' and isRegion eq true", (string)regions["filter"]!);
        Assert.Equal("(owner eq 'ann' or (owner eq 'bob' and album eq 'trip')) and album eq 'trip'", (string)all["filter"]!);
        // Own documents are one per item: k of them; regions are collapsed from an over-fetch, as all vectors are.
        Assert.Equal(3, (int)own["top"]!);
        Assert.Equal(3 * AzureSearchVectorIndex.RegionOverfetch, (int)regions["top"]!);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task A_Regions_search_of_an_index_without_regions_asks_the_service_nothing()
    {
        var index = new VersionedVectorIndex(_service.Catalog("plain"));
        await index.InitializeAsync(Schema with { Regions = false });
        await index.UpsertAsync(AzureSearchBackendTests.Record("a", [1, 0, 0, 0]));
        var searches = _service.Requests.Count(r => r.Operation == "search");

        Assert.Empty(await index.SearchAsync(new float[] { 1, 0, 0, 0 }, new VectorQuery(5) { Vectors = VectorSelection.Regions }));
        Assert.Equal(searches, _service.Requests.Count(r => r.Operation == "search"));
        var own = await index.SearchAsync(new float[] { 1, 0, 0, 0 }, new VectorQuery(5) { Vectors = VectorSelection.Own });
        Assert.Equal("a", Assert.Single(own).Id);
        // No region flag in an index made without regions: the Own search sends no condition on it.
        Assert.Null(_service.Requests.Last(r => r.Operation == "search").Json!["filter"]);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public void Region_keys_are_the_items_key_and_a_number_that_no_items_key_can_be()
    {
        var key = DocumentKeys.Encode("x/y.png");
        Assert.Equal(-1, DocumentKeys.RegionNumber(key));
        Assert.Equal(12, DocumentKeys.RegionNumber(DocumentKeys.Region(key, 12)));
        Assert.DoesNotContain('=', DocumentKeys.Encode("a"));
        Assert.DoesNotContain('=', DocumentKeys.Encode(new string('z', 2000)));
    }

    private static VectorRecord WithRegions(string id, int regions, string? album = null) =>
        AzureSearchBackendTests.Record(id, [0, 1, 0, 0], album) with
        {
            Regions = [.. Enumerable.Range(0, regions).Select(i => new RegionVector([1, 0, 0, 0], new RegionBox(10 * i, 20, 30, 40)))],
        };

    private async Task<VersionedVectorIndex> OpenAsync()
    {
        var index = new VersionedVectorIndex(_service.Catalog("images"));
        await index.InitializeAsync(Schema);
        return index;
    }
}
