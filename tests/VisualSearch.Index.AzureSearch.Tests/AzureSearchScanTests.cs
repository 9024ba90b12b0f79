using System.Net;
using System.Text.Json.Nodes;
using VisualSearch.Duplicates;
using VisualSearch.Index.AzureSearch.Tests.Fake;
using VisualSearch.Indexing;
using static VisualSearch.Index.AzureSearch.Tests.AzureSearchBackendTests;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>
/// Listing an Azure AI Search index's items (what near-duplicate grouping walks, issue 17), request by request against
/// the REST fake: <c>search=*</c> ordered by the sortable key, pages of 1,000 that continue with a range filter on the
/// key (never <c>$skip</c>, which the service caps at 100,000), the owner scope in the filter, no vectors read; and an
/// index made before listing existed (key not sortable) refused with its reason, and still updatable in place.
/// </summary>
public sealed class AzureSearchScanTests
{
    private static readonly IndexSchema Schema = new("m-1", 4);
    private readonly FakeSearchService _service = new();

    [Fact]
    public async Task A_new_index_has_a_sortable_key()
    {
        var index = _service.Catalog("images").OpenVersion(Schema.ModelId);
        await index.InitializeAsync(Schema);

        var key = ((JsonArray)_service.Definition(index.IndexName)!["fields"]!).OfType<JsonObject>().Single(f => (bool?)f["key"] == true);
        Assert.True((bool)key["sortable"]!);
        Assert.True((bool)key["filterable"]!);
    }

    [Fact]
    public async Task A_scan_pages_by_key_with_a_range_filter_and_reads_no_vectors()
    {
        var index = _service.Catalog("images").OpenVersion(Schema.ModelId);
        await index.InitializeAsync(Schema);
        var ids = Enumerable.Range(0, 2_345).Select(i => $"photos/{i:D5}.png").ToList();
        await index.UpsertBatchAsync(ids.Select(id => Record(id, [1, id.Length, 0, 0])));
        var before = _service.Requests.Count;

        var items = new List<IndexedItem>();
        await foreach (var item in index.ScanAsync(OwnerScope.Everyone.Restrict(null))) items.Add(item);

        Assert.Equal(ids, items.Select(i => i.Id).Order(StringComparer.Ordinal));
        Assert.Equal("hash-photos/00042.png", items.Single(i => i.Id == "photos/00042.png").Metadata.ContentHash);
        var scans = _service.Requests.Skip(before).ToList();
        Assert.Equal(3, scans.Count);
        Assert.All(scans, r => Assert.Equal("search", r.Operation));
        var bodies = scans.Select(r => r.Json!.AsObject()).ToList();
        foreach (var body in bodies)
        {
            Assert.Equal("*", (string?)body["search"]);
            Assert.Equal("key asc", (string?)body["orderby"]);
            Assert.Equal(1000, (int?)body["top"]);
            Assert.Null(body["skip"]);
            Assert.Null(body["vectorQueries"]);
            var select = ((string)body["select"]!).Split(',');
            Assert.DoesNotContain("vector", select);
            Assert.DoesNotContain("vectorCopy", select);
            Assert.Contains("contentHash", select);
        }

        // Each page continues after the last key of the one before, in the service's order (ordinal on the keys).
        var keys = ids.Select(DocumentKeys.Encode).Order(StringComparer.Ordinal).ToList();
        Assert.Null(bodies[0]["filter"]);
        Assert.Equal($"key gt {ODataFilter.Literal(keys[999])}", (string?)bodies[1]["filter"]);
        Assert.Equal($"key gt {ODataFilter.Literal(keys[1999])}", (string?)bodies[2]["filter"]);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task A_scan_in_a_scope_with_regions_filters_by_owner_and_skips_region_documents()
    {
        var index = _service.Catalog("images").OpenVersion(Schema.ModelId);
        var schema = Schema with { Regions = true };
        await index.InitializeAsync(schema);
        var mine = Record("mine.png", [1, 0, 0, 0]);
        mine = mine with
        {
            Metadata = mine.Metadata with { Tags = new Dictionary<string, string> { ["owner"] = "me" } },
            Regions = [new RegionVector([0, 1, 0, 0], new RegionBox(0, 0, 10, 10)), new RegionVector([0, 0, 1, 0], new RegionBox(5, 5, 10, 10))],
        };
        await index.UpsertAsync(mine);
        await index.UpsertAsync(Record("theirs.png", [1, 0, 0, 0]));
        var before = _service.Requests.Count;

        var items = new List<IndexedItem>();
        await foreach (var item in index.ScanAsync(OwnerScope.Of("me").Restrict(null))) items.Add(item);

        Assert.Equal("mine.png", Assert.Single(items).Id);
        var body = Assert.Single(_service.Requests.Skip(before)).Json!;
        Assert.Equal("owner eq 'me' and isRegion eq false", (string?)body["filter"]);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task An_index_made_before_listing_says_why_it_cannot_list_and_is_still_updated_in_place()
    {
        // The definition an earlier release made: the same, with the key not sortable.
        var other = new FakeSearchService();
        var earlier = other.Catalog("images").OpenVersion(Schema.ModelId);
        await earlier.InitializeAsync(Schema);
        var definition = other.Definition(earlier.IndexName)!;
        definition.Remove("@odata.etag");
        ((JsonArray)definition["fields"]!).OfType<JsonObject>().Single(f => (bool?)f["key"] == true)["sortable"] = false;
        using (var created = await _service.SendRawAsync(HttpMethod.Put, $"/indexes('{earlier.IndexName}')?api-version=2024-07-01", definition.ToJsonString()))
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        // A query-time setting changes: the definition is updated in place, keeping the key as it is.
        var index = _service.Catalog("images", o => o.HnswEfSearch = 700).OpenVersion(Schema.ModelId);
        await index.InitializeAsync(Schema);
        await index.UpsertAsync(Record("a.png", [1, 0, 0, 0]));

        var ex = await Assert.ThrowsAsync<DuplicateGroupingNotSupportedException>(async () =>
        {
            await foreach (var item in index.ScanAsync()) Assert.Fail($"listed {item.Id}");
        });
        Assert.Contains("key field is not sortable", ex.Message, StringComparison.Ordinal);
        Assert.Contains("vsearch reindex", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, _service.Requests.Count(r => r.Operation == "put-index"));
        Assert.Equal(700, (int)_service.Definition(index.IndexName)!["vectorSearch"]!["algorithms"]![0]!["hnswParameters"]!["efSearch"]!);
        Assert.Empty(_service.Violations);
    }

    [Theory]
    [InlineData("""{"search":"*","skip":100001}""", "cannot be greater than 100,000")]
    [InlineData("""{"search":"*","orderby":"name asc"}""", "'name' is not sortable")]
    [InlineData("""{"search":"*","orderby":"key upward"}""", "is not a field name")]
    [InlineData("""{"search":"*","orderby":"nothere"}""", "Could not find a property named 'nothere'")]
    public async Task The_fake_refuses_what_the_service_refuses_in_paging_and_ordering(string body, string message)
    {
        var index = _service.Catalog("images").OpenVersion(Schema.ModelId);
        await index.InitializeAsync(Schema);

        using var response = await _service.SendRawAsync(HttpMethod.Post, $"/indexes('{index.IndexName}')/docs/search.post.search?api-version=2023-11-01", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, Assert.Single(_service.Violations), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_fake_answers_a_top_beyond_1000_a_page_at_a_time_and_the_client_follows()
    {
        var index = _service.Catalog("images").OpenVersion(Schema.ModelId);
        await index.InitializeAsync(Schema);
        await index.UpsertBatchAsync(Enumerable.Range(0, 1_500).Select(i => Record($"p/{i:D4}.png", [1, i, 0, 0])));
        var client = new Azure.Search.Documents.SearchClient(_service.Endpoint, index.IndexName, new Azure.AzureKeyCredential(_service.ApiKey!),
            new Azure.Search.Documents.SearchClientOptions { Transport = _service.Transport() });
        var before = _service.Requests.Count;

        var options = new Azure.Search.Documents.SearchOptions { Size = 1_200, OrderBy = { "key asc" } };
        options.Select.Add("itemId");
        var results = (await client.SearchAsync<AzureSearchDocument>("*", options)).Value;
        var ids = new List<string>();
        await foreach (var result in results.GetResultsAsync()) ids.Add(result.Document.ItemId!);

        Assert.Equal(1_200, ids.Count);
        Assert.Equal(1_200, ids.Distinct().Count());
        var requests = _service.Requests.Skip(before).Select(r => r.Json!).ToList();
        Assert.Equal(2, requests.Count);
        Assert.Equal(1000, (int?)requests[1]["skip"]);
        Assert.Equal(200, (int?)requests[1]["top"]);
        Assert.Empty(_service.Violations);
    }
}
