using System.Net;
using System.Text.Json.Nodes;
using VisualSearch.Index.AzureSearch.Tests.Fake;
using VisualSearch.Indexing;
using static VisualSearch.Index.AzureSearch.Tests.AzureSearchBackendTests;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>
/// Compressed vectors (REST 2024-07-01): what the REST fake refuses as the documentation says the service does,
/// search by id without retrievable originals, an existing index keeping its storage, and re-ranking.
/// </summary>
public sealed class AzureSearchCompressionTests
{
    private const int Dimension = 512;
    private readonly FakeSearchService _service = new();

    /// <summary>Index definitions the REST reference forbids (2024-07-01), each with the words of the refusal.</summary>
    public static TheoryData<string, string, string> Refused => new()
    {
        { "stored false on a retrievable vector", Vector("\"stored\":false,\"retrievable\":true"), "'retrievable' must also be false" },
        { "stored false, retrievable unset (default true)", Vector("\"stored\":false"), "'retrievable' must also be false" },
        { "stored false on a string field", Definition(extraField: "{\"name\":\"s\",\"type\":\"Edm.String\",\"stored\":false,\"retrievable\":false}"), "only on a vector field" },
        { "stored false on the key", Definition(key: "{\"name\":\"k\",\"type\":\"Edm.String\",\"key\":true,\"stored\":false,\"retrievable\":false}"), "only on a vector field" },
        { "oversampling without re-ranking", Definition(compression: "\"rerankWithOriginalVectors\":false,\"defaultOversampling\":4"), "only be set when rerankWithOriginalVectors is true" },
        { "oversampling under 1", Definition(compression: "\"rerankWithOriginalVectors\":true,\"defaultOversampling\":0.5"), "at least 1" },
        { "a quantized type other than int8", Definition(compression: "\"scalarQuantizationParameters\":{\"quantizedDataType\":\"int4\"}"), "must be 'int8'" },
        { "an unknown compression kind", Definition(compressionKind: "productQuantization"), "unknown compression kind" },
        { "a profile naming no compression", Definition(profileCompression: "missing"), "unknown compression 'missing'" },
        { "a misspelt compression property", Definition(compression: "\"rerankWithOriginalVector\":true"), "unknown property 'rerankWithOriginalVector'" },
        { "compression on an sbyte vector", Definition(vectorType: "Collection(Edm.SByte)"), "compression applies to Collection(Edm.Single) and Collection(Edm.Half) only" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task The_fake_refuses_what_the_REST_reference_forbids(string what, string body, string message)
    {
        using var response = await PutAsync("q", body, "2024-07-01");

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, what);
        Assert.Contains(message, Assert.Single(_service.Violations), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_fake_takes_the_documented_2024_07_01_definition_and_shows_it_without_compression_to_2023_11_01()
    {
        using var created = await PutAsync("q", Definition(compression: "\"rerankWithOriginalVectors\":true,\"defaultOversampling\":10"), "2024-07-01");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        using var http = new HttpClient(_service, disposeHandler: false);
        var old = await GetAsync(http, "q", "2023-11-01");
        Assert.Null(old["vectorSearch"]!["compressions"]);
        Assert.Null(old["vectorSearch"]!["profiles"]![0]!["compression"]);
        Assert.All(((JsonArray)old["fields"]!).OfType<JsonObject>(), f => Assert.Null(f["stored"]));
        var now = await GetAsync(http, "q", "2024-07-01");
        Assert.Equal(10.0, (double)now["vectorSearch"]!["compressions"]![0]!["defaultOversampling"]!);
        Assert.Empty(_service.Violations);

        // Unverified against the service: a 2023-11-01 update could drop the compression; the fake refuses it.
        using var downgraded = await PutAsync("q", Definition(compressionKind: null), "2023-11-01");
        Assert.Equal(HttpStatusCode.BadRequest, downgraded.StatusCode);
    }

    [Fact]
    public async Task Stored_cannot_change_on_an_existing_field_nor_be_false_on_a_new_one()
    {
        using var created = await PutAsync("q", Definition(compressionKind: null), "2024-07-01");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        using var changed = await PutAsync("q", Vector("\"stored\":false,\"retrievable\":false", compressionKind: null), "2024-07-01");
        using var added = await PutAsync("q", Definition(compressionKind: null, extraField: "{\"name\":\"v2\",\"type\":\"Collection(Edm.Single)\",\"searchable\":true,\"dimensions\":4,\"vectorSearchProfile\":\"p\",\"stored\":false,\"retrievable\":false}"), "2024-07-01");

        Assert.Equal(HttpStatusCode.BadRequest, changed.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, added.StatusCode);
        Assert.Collection(_service.Violations,
            v => Assert.Contains("'stored' of existing field 'v' cannot change", v, StringComparison.Ordinal),
            v => Assert.Contains("cannot be false on a field added to an existing index", v, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Index_definition_requests_get_the_SDK_clients_retry_policy()
    {
        _service.FailNext("get-index", HttpStatusCode.TooManyRequests, times: 1, retryAfter: "0");
        _service.FailNext("put-index", HttpStatusCode.ServiceUnavailable, times: 2);

        var index = await OpenAsync();

        var definitions = _service.Requests.Where(r => r.Path == "/indexes('images-m-512-sq8-ns')").ToList();
        // Read (throttled, then not found), created (twice unavailable), then read again by the switch of the pointer.
        Assert.Equal([429, 404, 503, 503, 201, 200], definitions.Select(r => r.Status));
        Assert.All(definitions, r => Assert.Contains("api-version=2024-07-01", r.Query, StringComparison.Ordinal));
        Assert.NotNull(index.Version?.Name);
    }

    [Fact]
    public async Task Search_by_id_reads_the_compact_copy_when_the_originals_are_not_retrievable()
    {
        var index = await OpenAsync();
        var random = new Random(7);
        var vectors = Enumerable.Range(0, 20).Select(_ => UnitRandom(random)).ToList();
        await Task.WhenAll(vectors.Select((v, i) => Record($"img/{i}.png", v, modelId: "m-512")).Select(r => index.UpsertAsync(r)));

        var stored = await index.GetAsync("img/3.png");

        Assert.NotNull(stored);
        Assert.Equal(Dimension, stored.Vector.Length);
        for (var i = 0; i < Dimension; i++) Assert.Equal(vectors[3][i], stored.Vector[i], 5e-4f);
        Assert.True(FakeSearchService.Cosine(vectors[3], stored.Vector) > 0.99999, "the copy points where the original does");
        var lookup = _service.Requests.Last(r => r.Operation == "lookup");
        Assert.Contains("vectorCopy", Uri.UnescapeDataString(lookup.Query), StringComparison.Ordinal);
        Assert.DoesNotContain("vector,", Uri.UnescapeDataString(lookup.Query) + ",", StringComparison.Ordinal);
        var document = _service.Documents("images-m-512-sq8-ns")[DocumentKeys.Encode("img/3.png")];
        Assert.Equal(1372, ((string)document["vectorCopy"]!).Length);

        // The neighbours of the item are the ones the exact float32 query finds, with its scores.
        var byCopy = await index.SearchAsync(stored.Vector, new VectorQuery(5, ExcludeId: "img/3.png"));
        var exact = vectors.Select((v, i) => (Id: $"img/{i}.png", Score: FakeSearchService.Cosine(vectors[3], v))).Where(h => h.Id != "img/3.png").OrderByDescending(h => h.Score).Take(5).ToList();
        Assert.Equal(exact.Select(h => h.Id), byCopy.Select(h => h.Id));
        for (var i = 0; i < 5; i++) Assert.Equal(exact[i].Score, byCopy[i].Score, 1e-4);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task With_originals_stored_the_vector_itself_is_read_back_exactly()
    {
        var index = await OpenAsync(o => o.StoreOriginalVectors = true);
        var vector = UnitRandom(new Random(3));
        await index.UpsertAsync(Record("a", vector, modelId: "m-512"));

        var stored = await index.GetAsync("a");

        Assert.Equal(vector, stored!.Vector);
        Assert.False(_service.Documents("images-m-512-sq8").Single().Value.ContainsKey("vectorCopy"));
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task An_existing_index_keeps_the_storage_it_was_built_with_and_settings_only_name_new_versions()
    {
        var catalog = _service.Catalog("images", o => { o.VectorCompression = AzureSearchVectorCompression.None; o.StoreOriginalVectors = true; });
        var legacy = catalog.OpenVersion("m-512");
        await legacy.InitializeAsync(new IndexSchema("m-512", Dimension));
        var vector = UnitRandom(new Random(5));
        await legacy.UpsertAsync(Record("a", vector, modelId: "m-512"));

        // The defaults (int8, no retrievable originals) opening that index by name: no definition change, exact reads.
        var reopened = _service.Catalog("images").OpenVersion("m-512", "images-m-512");
        var puts = _service.Requests.Count(r => r.Operation == "put-index");
        await reopened.InitializeAsync(new IndexSchema("m-512", Dimension));

        Assert.Equal(puts, _service.Requests.Count(r => r.Operation == "put-index"));
        Assert.Equal(new VectorLayout(AzureSearchVectorCompression.None, true), reopened.Layout);
        Assert.Equal(vector, (await reopened.GetAsync("a"))!.Vector);
        await reopened.UpsertAsync(Record("b", vector, modelId: "m-512"));
        Assert.False(_service.Documents("images-m-512")[DocumentKeys.Encode("b")].ContainsKey("vectorCopy"));
        Assert.Equal("images-m-512-sq8-ns", _service.Catalog("images").VersionName("m-512"));
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task An_index_created_by_an_earlier_release_over_2023_11_01_is_served_as_it_is()
    {
        // The definition the earlier release sent (2023-11-01: no 'stored', no compression), made on another service.
        var other = new FakeSearchService();
        var earlier = other.Catalog("images", o => { o.VectorCompression = AzureSearchVectorCompression.None; o.StoreOriginalVectors = true; }).OpenVersion("m-512");
        await earlier.InitializeAsync(new IndexSchema("m-512", Dimension));
        var definition = other.Definition("images-m-512")!;
        definition.Remove("@odata.etag");
        foreach (var field in ((JsonArray)definition["fields"]!).OfType<JsonObject>()) field.Remove("stored");
        using (var created = await PutAsync("images-m-512", definition.ToJsonString(), "2023-11-01"))
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var index = _service.Catalog("images").OpenVersion("m-512", "images-m-512");
        await index.InitializeAsync(new IndexSchema("m-512", Dimension));
        var vector = UnitRandom(new Random(9));
        await index.UpsertAsync(Record("a", vector, modelId: "m-512"));

        Assert.Equal(new VectorLayout(AzureSearchVectorCompression.None, true), index.Layout);
        Assert.Single(_service.Requests, r => r.Operation == "put-index");
        Assert.Equal(vector, (await index.GetAsync("a"))!.Vector);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task Oversampling_and_reranking_are_updated_in_place_on_the_same_version()
    {
        await OpenAsync();
        await OpenAsync(o => o.DefaultOversampling = 10);
        await OpenAsync(o => o.RerankWithOriginalVectors = false);

        Assert.Equal(3, _service.Requests.Count(r => r.Operation == "put-index" && r.Path == "/indexes('images-m-512-sq8-ns')"));
        var compression = Assert.Single((JsonArray)_service.Definition("images-m-512-sq8-ns")!["vectorSearch"]!["compressions"]!)!;
        Assert.False((bool)compression["rerankWithOriginalVectors"]!);
        Assert.Null(compression["defaultOversampling"]);
        Assert.Equal("int8", (string)compression["scalarQuantizationParameters"]!["quantizedDataType"]!);
        Assert.Equal(["images-m-512-sq8-ns", "images-meta"], _service.IndexNames.Order(StringComparer.Ordinal));
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task Reranking_with_the_originals_gives_exact_scores_and_without_it_the_int8_scores_come_back()
    {
        var random = new Random(11);
        var vectors = Enumerable.Range(0, 200).Select(_ => UnitRandom(random, 64)).ToList();
        var query = UnitRandom(random, 64);
        var exact = vectors.Select(v => FakeSearchService.Cosine(query, v)).OrderDescending().Take(10).ToList();

        var reranked = await SearchAsync(o => { }, vectors, query);
        var approximate = await SearchAsync(o => o.RerankWithOriginalVectors = false, vectors, query);

        Assert.Equal(10, reranked.Count);
        Assert.All(reranked, h => Assert.Contains(exact, s => Math.Abs(s - h.Score) < 1e-5));
        Assert.Contains(approximate, h => !exact.Any(s => Math.Abs(s - h.Score) < 1e-5));
        Assert.Empty(_service.Violations);
    }

    private async Task<IReadOnlyList<SearchHit>> SearchAsync(Action<AzureSearchOptions> configure, List<float[]> vectors, float[] query)
    {
        var name = "r" + Guid.NewGuid().ToString("N")[..8];
        var index = new VersionedVectorIndex(_service.Catalog(name, configure));
        await index.InitializeAsync(new IndexSchema("m-64", 64));
        await Task.WhenAll(vectors.Select((v, i) => Record($"v{i}", v, modelId: "m-64")).Select(r => index.UpsertAsync(r)));
        return await index.SearchAsync(query, new VectorQuery(10));
    }

    private async Task<VersionedVectorIndex> OpenAsync(Action<AzureSearchOptions>? configure = null)
    {
        var index = new VersionedVectorIndex(_service.Catalog("images", configure));
        await index.InitializeAsync(new IndexSchema("m-512", Dimension));
        return index;
    }

    private static float[] UnitRandom(Random random, int dimension = Dimension)
    {
        // Like the model's embeddings: non-negative (after ReLU and pooling), L2-normalised.
        var v = Enumerable.Range(0, dimension).Select(_ => (float)Math.Pow(random.NextDouble(), 3)).ToArray();
        var norm = MathF.Sqrt(v.Sum(x => x * x));
        return v.Select(x => x / norm).ToArray();
    }

    private Task<HttpResponseMessage> PutAsync(string name, string body, string version) =>
        _service.SendRawAsync(HttpMethod.Put, $"/indexes('{name}')?api-version={version}", body);

    private async Task<JsonObject> GetAsync(HttpClient http, string name, string version)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_service.Endpoint, $"/indexes('{name}')?api-version={version}"));
        request.Headers.Add("api-key", _service.ApiKey);
        using var response = await http.SendAsync(request);
        return (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    /// <summary>A definition with the vector field's attributes replaced.</summary>
    private static string Vector(string attributes, string? compressionKind = "scalarQuantization") =>
        Definition(vectorAttributes: attributes, compressionKind: compressionKind);

    private static string Definition(
        string? vectorAttributes = null,
        string vectorType = "Collection(Edm.Single)",
        string? compression = null,
        string? compressionKind = "scalarQuantization",
        string profileCompression = "c",
        string? extraField = null,
        string key = "{\"name\":\"k\",\"type\":\"Edm.String\",\"key\":true}")
    {
        var fields = $"{key},{{\"name\":\"v\",\"type\":\"{vectorType}\",\"searchable\":true,\"dimensions\":4,\"vectorSearchProfile\":\"p\"{(vectorAttributes is null ? "" : "," + vectorAttributes)}}}"
            + (extraField is null ? "" : "," + extraField);
        if (compressionKind is null)
            return $"{{\"name\":\"q\",\"fields\":[{fields}],\"vectorSearch\":{{\"algorithms\":[{{\"name\":\"h\",\"kind\":\"hnsw\"}}],\"profiles\":[{{\"name\":\"p\",\"algorithm\":\"h\"}}]}}}}";
        var compressionBody = $"{{\"name\":\"c\",\"kind\":\"{compressionKind}\"{(compression is null ? "" : "," + compression)}}}";
        return $"{{\"name\":\"q\",\"fields\":[{fields}],\"vectorSearch\":{{\"algorithms\":[{{\"name\":\"h\",\"kind\":\"hnsw\"}}],"
            + $"\"profiles\":[{{\"name\":\"p\",\"algorithm\":\"h\",\"compression\":\"{profileCompression}\"}}],\"compressions\":[{compressionBody}]}}}}";
    }
}
