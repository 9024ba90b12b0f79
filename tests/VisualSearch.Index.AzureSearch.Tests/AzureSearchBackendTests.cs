using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Azure.Core;
using VisualSearch.Index.AzureSearch.Tests.Fake;
using VisualSearch.Indexing;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>
/// What the Azure AI Search backend sends and how it reacts, checked against the in-process REST endpoint:
/// the index definition, request shapes, batching within the service limits, retries, per-document failures.
/// </summary>
public sealed class AzureSearchBackendTests
{
    private static readonly IndexSchema Schema = new("m-1", 4);

    /// <summary>The version name with the default vector storage (int8, originals not stored).</summary>
    private const string IndexName = "images-m-1-sq8-ns";
    private readonly FakeSearchService _service = new();

    [Fact]
    public async Task A_new_index_uses_int8_compression_with_reranking_and_no_retrievable_originals_by_default()
    {
        var index = await OpenAsync();

        var definition = _service.Definition(IndexName)!;
        var fields = Fields(definition);
        Assert.True((bool)fields["key"]["key"]!);
        Assert.Equal("Edm.String", (string)fields["key"]["type"]!);
        Assert.Equal("Collection(Edm.Single)", (string)fields["vector"]["type"]!);
        Assert.Equal(4, (int)fields["vector"]["dimensions"]!);
        Assert.Equal("vector-profile", (string)fields["vector"]["vectorSearchProfile"]!);
        Assert.True((bool)fields["vector"]["searchable"]!);
        Assert.False((bool)fields["vector"]["stored"]!);
        Assert.False((bool)fields["vector"]["retrievable"]!);
        // The compact copy search by id reads: a plain string, in no index structure.
        Assert.Equal("Edm.String", (string)fields["vectorCopy"]["type"]!);
        Assert.True((bool)fields["vectorCopy"]["retrievable"]!);
        Assert.False((bool)fields["vectorCopy"]["searchable"]! || (bool)fields["vectorCopy"]["filterable"]! || (bool)fields["vectorCopy"]["sortable"]! || (bool)fields["vectorCopy"]["facetable"]!);
        foreach (var filterable in new[] { "contentType", "source", "album", "owner", "tag", "uploadedAt", "modelId" })
            Assert.True((bool)fields[filterable]["filterable"]!, filterable);
        Assert.Equal("Edm.DateTimeOffset", (string)fields["uploadedAt"]["type"]!);
        var algorithm = definition["vectorSearch"]!["algorithms"]![0]!;
        Assert.Equal("hnsw", (string)algorithm["kind"]!);
        Assert.Equal(4, (int)algorithm["hnswParameters"]!["m"]!);
        Assert.Equal(400, (int)algorithm["hnswParameters"]!["efConstruction"]!);
        Assert.Equal(500, (int)algorithm["hnswParameters"]!["efSearch"]!);
        Assert.Equal("cosine", (string)algorithm["hnswParameters"]!["metric"]!);
        var profile = definition["vectorSearch"]!["profiles"]![0]!;
        Assert.Equal("hnsw", (string)profile["algorithm"]!);
        Assert.Equal("sq8", (string)profile["compression"]!);
        var compression = Assert.Single((JsonArray)definition["vectorSearch"]!["compressions"]!)!;
        Assert.Equal("scalarQuantization", (string)compression["kind"]!);
        Assert.Equal("int8", (string)compression["scalarQuantizationParameters"]!["quantizedDataType"]!);
        Assert.True((bool)compression["rerankWithOriginalVectors"]!);
        Assert.Equal(4.0, (double)compression["defaultOversampling"]!);

        // Index definitions travel as 2024-07-01 (through the SDK's pipeline: same key header); documents and queries as 2023-11-01.
        await index.UpsertAsync(Record("a", [1, 0, 0, 0]));
        await index.SearchAsync(new float[] { 1, 0, 0, 0 }, new VectorQuery(1));
        Assert.All(_service.Requests, r =>
        {
            var definitionRequest = r.Operation is "get-index" or "put-index";
            Assert.Contains("api-version=" + (definitionRequest ? "2024-07-01" : "2023-11-01"), r.Query, StringComparison.Ordinal);
            Assert.Equal(_service.ApiKey, r.Headers["api-key"]);
        });
        Assert.Contains(_service.Requests, r => r.Operation == "put-index" && r.Path == $"/indexes('{IndexName}')");
        Assert.Empty(_service.Violations);
        Assert.Equal("azure-search", index.Kind);
    }

    [Fact]
    public async Task Without_compression_and_with_stored_originals_the_definition_is_the_earlier_one()
    {
        await OpenAsync(o => { o.VectorCompression = AzureSearchVectorCompression.None; o.StoreOriginalVectors = true; });

        var definition = _service.Definition("images-m-1")!;
        var fields = Fields(definition);
        Assert.True((bool)fields["vector"]["stored"]!);
        Assert.True((bool)fields["vector"]["retrievable"]!);
        Assert.False(fields.ContainsKey("vectorCopy"));
        Assert.Null(definition["vectorSearch"]!["compressions"]);
        Assert.Null(definition["vectorSearch"]!["profiles"]![0]!["compression"]);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task Without_reranking_no_oversampling_is_sent()
    {
        await OpenAsync(o => o.RerankWithOriginalVectors = false);

        var compression = _service.Definition(IndexName)!["vectorSearch"]!["compressions"]![0]!;
        Assert.False((bool)compression["rerankWithOriginalVectors"]!);
        Assert.Null(compression["defaultOversampling"]);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task The_endpoint_refuses_compression_settings_under_2023_11_01()
    {
        // Why compression is left out: vectorSearch.compressions (scalar int8 + rescoring) arrived in 2024-07-01.
        using var http = new HttpClient(_service, disposeHandler: false);
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(_service.Endpoint, "/indexes('q')?api-version=2023-11-01"))
        {
            Content = new StringContent("""
                {"name":"q","fields":[{"name":"key","type":"Edm.String","key":true},
                  {"name":"v","type":"Collection(Edm.Single)","searchable":true,"dimensions":4,"vectorSearchProfile":"p"}],
                 "vectorSearch":{"algorithms":[{"name":"h","kind":"hnsw"}],"profiles":[{"name":"p","algorithm":"h","compression":"c"}],
                  "compressions":[{"name":"c","kind":"scalarQuantization","rerankWithOriginalVectors":true}]}}
                """, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("api-key", _service.ApiKey);

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("compressions", Assert.Single(_service.Violations), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HNSW_settings_and_exhaustive_KNN_come_from_the_options()
    {
        await OpenAsync(o => { o.HnswM = 8; o.HnswEfConstruction = 200; o.HnswEfSearch = 300; });
        var hnsw = _service.Definition(IndexName)!["vectorSearch"]!["algorithms"]![0]!["hnswParameters"]!;
        Assert.Equal([8, 200, 300], new[] { (int)hnsw["m"]!, (int)hnsw["efConstruction"]!, (int)hnsw["efSearch"]! });

        var exhaustive = new FakeSearchService();
        var index = new VersionedVectorIndex(exhaustive.Catalog("images", o => o.Algorithm = AzureSearchAlgorithm.ExhaustiveKnn));
        await index.InitializeAsync(Schema);
        var algorithm = exhaustive.Definition(IndexName)!["vectorSearch"]!["algorithms"]![0]!;
        Assert.Equal("exhaustiveKnn", (string)algorithm["kind"]!);
        Assert.Equal("cosine", (string)algorithm["exhaustiveKnnParameters"]!["metric"]!);
        Assert.Empty(exhaustive.Violations);
    }

    [Fact]
    public async Task An_unchanged_definition_is_not_sent_again_and_a_changed_setting_is()
    {
        await OpenAsync();
        await OpenAsync();
        Assert.Single(_service.Requests, r => r.Operation == "put-index" && r.Path == $"/indexes('{IndexName}')");

        await OpenAsync(o => o.HnswEfSearch = 700);
        Assert.Equal(2, _service.Requests.Count(r => r.Operation == "put-index" && r.Path == $"/indexes('{IndexName}')"));
        Assert.Equal(700, (int)_service.Definition(IndexName)!["vectorSearch"]!["algorithms"]![0]!["hnswParameters"]!["efSearch"]!);
    }

    [Fact]
    public async Task An_existing_index_with_vectors_of_another_dimension_is_refused()
    {
        var catalog = _service.Catalog("images");
        var first = catalog.OpenVersion("m-1");
        await first.InitializeAsync(Schema);
        await first.UpsertAsync(Record("a", [1, 0, 0, 0]));

        var other = catalog.OpenVersion("m-1");
        var ex = await Assert.ThrowsAsync<IndexModelMismatchException>(() => other.InitializeAsync(new IndexSchema("m-1", 8)));
        Assert.Equal("m-1", ex.IndexModelId);
        Assert.Contains(IndexName, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Searches_send_a_vector_query_with_a_pre_filter_and_read_no_vectors()
    {
        var index = await OpenAsync();
        await index.UpsertAsync(Record("images/a.png", [1, 0, 0, 0], album: "x' or 1 eq 1 or '"));

        var hits = await index.SearchAsync(new float[] { 1, 0, 0, 0 }, new VectorQuery(5, Filter: SearchFilter.Parse("album eq 'x'' or 1 eq 1 or ''' and uploadedAt ge 2024-01-01T00:00:00Z"), ExcludeId: "images/b.png"));

        Assert.Equal("images/a.png", Assert.Single(hits).Id);
        var body = _service.Requests.Last(r => r.Operation == "search").Json!;
        Assert.Equal(
            $"album eq 'x'' or 1 eq 1 or ''' and uploadedAt ge 2024-01-01T00:00:00.000Z and key ne '{DocumentKeys.Encode("images/b.png")}'",
            (string)body["filter"]!);
        Assert.Equal(5, (int)body["top"]!);
        Assert.Equal("preFilter", (string)body["vectorFilterMode"]!);
        var query = body["vectorQueries"]![0]!;
        Assert.Equal("vector", (string)query["kind"]!);
        Assert.Equal(5, (int)query["k"]!);
        Assert.Equal("vector", (string)query["fields"]!);
        Assert.Equal(4, ((JsonArray)query["vector"]!).Count);
        Assert.DoesNotContain("vector", ((string)body["select"]!).Split(','));
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public void The_owner_scope_is_one_parenthesized_condition_anded_before_the_clients()
    {
        const string hostile = "x') or (1 eq 1";
        var scope = OwnerScope.Of("ann", [new SharedAlbum("bob", hostile), new SharedAlbum("carol", "trip")]);
        var query = new VectorQuery(5, Filter: SearchFilter.Parse("owner eq 'bob'")) { Scope = scope };

        var odata = ODataFilter.ForQuery(query, "k1")!;

        Assert.Equal("(owner eq 'ann' or (owner eq 'bob' and album eq 'x'') or (1 eq 1') or (owner eq 'carol' and album eq 'trip')) and owner eq 'bob' and key ne 'k1'", odata);
        var parsed = Assert.IsType<AndExpression>(FakeODataFilter.ParseExpression(odata));
        Assert.Equal(3, parsed.Parts.Count);
        var shared = Assert.IsType<OrExpression>(parsed.Parts[0]);
        Assert.Equal(3, shared.Parts.Count);
        Assert.Contains(new FilterClause("album", "eq", hostile), shared.Clauses);
        Assert.Equal("owner eq 'ann'", ODataFilter.ForQuery(new VectorQuery(5) { Scope = OwnerScope.Of("ann") }));
        Assert.Null(ODataFilter.ForQuery(new VectorQuery(5)));
    }

    [Fact]
    public void A_filter_value_never_changes_the_structure_of_the_OData_expression()
    {
        const string hostile = "x' or 1 eq 1 or '";
        var filter = SearchFilter.Parse("album eq 'x'' or 1 eq 1 or ''' and owner eq ''''")!;
        Assert.Equal(hostile, filter.Conditions[0].Value);

        var odata = ODataFilter.Build(filter)!;

        Assert.Equal("album eq 'x'' or 1 eq 1 or ''' and owner eq ''''", odata);
        var clauses = FakeODataFilter.Parse(odata);
        Assert.Equal([new FilterClause("album", "eq", hostile), new FilterClause("owner", "eq", "'")], clauses);
        Assert.Equal("'it''s'", ODataFilter.Literal("it's"));
        Assert.Equal("''''''", ODataFilter.Literal("''"));
        Assert.Null(ODataFilter.Build(null));
        Assert.Equal(
            "uploadedAt gt 2024-01-01T10:00:00.000Z and uploadedAt le 2024-02-01T00:00:00.000Z",
            ODataFilter.Build(SearchFilter.Parse("uploadedAt gt 2024-01-01T12:00:00+02:00 and uploadedAt le 2024-02-01T00:00:00Z")));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("images/holiday 2024/IMG_0001.JPG")]
    [InlineData("caf\u00e9/\u00fcber/\U0001F600.png")]
    [InlineData("it's/\"q\"/=+&.jpg")]
    public void Keys_use_only_the_characters_a_key_may_hold_and_are_distinct(string id)
    {
        var key = DocumentKeys.Encode(id);
        Assert.Matches("^b[A-Za-z0-9_-]+$", key);
        Assert.NotEqual(key, DocumentKeys.Encode(id + "x"));
        var base64 = key[1..].Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '=');
        Assert.Equal(id, System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(base64)));
    }

    [Fact]
    public void Keys_of_long_ids_are_hashes_within_the_key_limit()
    {
        var id = new string('a', 1000) + "/b.png";
        var key = DocumentKeys.Encode(id);
        Assert.Matches("^h[0-9a-f]{64}$", key);
        Assert.NotEqual(key, DocumentKeys.Encode(id + "c"));
        Assert.True(DocumentKeys.Encode(new string('\u00e9', 370)).Length <= 1000);
    }

    [Fact]
    public async Task Two_thousand_five_hundred_records_go_in_three_requests_of_at_most_a_thousand()
    {
        var index = await OpenVersionAsync();

        await index.UpsertBatchAsync(Enumerable.Range(0, 2500).Select(i => Record($"img/{i}.png", [1, i, 0, 0])));

        var batches = _service.Requests.Where(r => IsBatch(r)).Select(r => ((JsonArray)r.Json!["value"]!).Count).ToList();
        Assert.Equal([1000, 1000, 500], batches);
        Assert.All(_service.Requests.Where(r => IsBatch(r)), r => Assert.Equal($"/indexes('{IndexName}')/docs/search.index", r.Path));
        Assert.Equal(2500, await index.CountAsync());
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task Large_documents_are_split_under_the_16_MB_request_limit()
    {
        var schema = new IndexSchema("m-big", 2048);
        var index = _service.Catalog("images").OpenVersion(schema.ModelId);
        await index.InitializeAsync(schema);
        var random = new Random(7);
        var records = Enumerable.Range(0, 900).Select(i =>
        {
            var v = new float[2048];
            for (var d = 0; d < v.Length; d++) v[d] = (float)(random.NextDouble() - 0.5);
            return Record($"big/{i}.png", v, modelId: schema.ModelId);
        }).ToList();

        await index.UpsertBatchAsync(records);

        var requests = _service.Requests.Where(r => IsBatch(r)).ToList();
        Assert.True(requests.Count >= 2, $"{requests.Count} request(s)");
        Assert.All(requests, r => Assert.True(r.Body.Length <= 15 * 1024 * 1024, $"{r.Body.Length} bytes"));
        Assert.Equal(900, requests.Sum(r => ((JsonArray)r.Json!["value"]!).Count));
        Assert.Equal(900, await index.CountAsync());
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public void Planning_respects_the_count_the_bytes_and_repeated_keys()
    {
        var doc = AzureSearchDocument.From(Record("x", [1, 0, 0, 0]));
        var size = AzureSearchVectorIndex.Measure(doc);
        AzureSearchVectorIndex.Pending P(string id) => new(id, AzureSearchDocument.From(Record(id, [1, 0, 0, 0])), size);

        var byCount = AzureSearchVectorIndex.PlanBatches([.. Enumerable.Range(0, 7).Select(i => P($"{i}"))], 3, 1 << 20).Select(b => b.Count).ToList();
        Assert.Equal([3, 3, 1], byCount);

        var perRequest = AzureSearchVectorIndex.EnvelopeOverhead + 2 * (size + AzureSearchVectorIndex.ActionOverhead);
        var byBytes = AzureSearchVectorIndex.PlanBatches([.. Enumerable.Range(0, 5).Select(i => P($"{i}"))], 1000, perRequest).Select(b => b.Count).ToList();
        Assert.Equal([2, 2, 1], byBytes);

        var byKey = AzureSearchVectorIndex.PlanBatches([P("a"), P("b"), P("a"), P("c")], 1000, 1 << 20).Select(b => string.Join("", b.Select(p => p.Id))).ToList();
        Assert.Equal(["ab", "ac"], byKey);

        Assert.Throws<ArgumentException>(() => AzureSearchVectorIndex.PlanBatches([P("huge")], 1000, size).ToList());
    }

    [Fact]
    public async Task Concurrent_upserts_share_indexing_requests()
    {
        var index = await OpenAsync();
        _service.Latency = TimeSpan.FromMilliseconds(40);

        await Task.WhenAll(Enumerable.Range(0, 60).Select(i => index.UpsertAsync(Record($"c/{i}.png", [1, i, 0, 0]))));

        Assert.Equal(60, await index.CountAsync());
        var requests = _service.Requests.Count(r => IsBatch(r));
        Assert.True(requests < 20, $"{requests} indexing requests for 60 concurrent upserts");
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task A_429_with_Retry_After_is_retried_after_the_delay_the_service_asked_for()
    {
        var index = await OpenAsync();
        _service.FailNext("index", HttpStatusCode.TooManyRequests, times: 1, retryAfter: "1");
        var sw = Stopwatch.StartNew();

        await index.UpsertAsync(Record("a", [1, 0, 0, 0]));

        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(0.9), $"retried after {sw.Elapsed.TotalMilliseconds} ms");
        Assert.Equal([429, 200], _service.Requests.Where(r => IsBatch(r)).Select(r => r.Status));
        Assert.Equal(1, await index.CountAsync());
    }

    [Fact]
    public async Task A_503_is_retried_on_queries_too()
    {
        var index = await OpenAsync();
        await index.UpsertAsync(Record("a", [1, 0, 0, 0]));
        _service.FailNext("search", HttpStatusCode.ServiceUnavailable, times: 2);

        Assert.Equal("a", Assert.Single(await index.SearchAsync(new float[] { 1, 0, 0, 0 }, new VectorQuery(3))).Id);
        Assert.Equal([503, 503, 200], _service.Requests.Where(r => r.Operation == "search").TakeLast(3).Select(r => r.Status));
    }

    [Fact]
    public async Task When_retries_run_out_the_failure_names_the_index_the_operation_and_the_ids()
    {
        var index = await OpenAsync();
        _service.FailNext("index", HttpStatusCode.ServiceUnavailable, times: 10);

        var ex = await Assert.ThrowsAsync<VectorIndexException>(() => index.UpsertAsync(Record("images/a.png", [1, 0, 0, 0])));

        Assert.Equal("upsert", ex.Operation);
        Assert.Equal(IndexName, ex.IndexName);
        Assert.Contains("failed (503", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.Retriable);
        Assert.Equal(["images/a.png"], ex.FailedIds);
        Assert.Equal("azure-search", ex.Backend);
        Assert.Equal(4, _service.Requests.Count(r => IsBatch(r)));
    }

    [Fact]
    public async Task A_207_with_one_failed_document_surfaces_as_an_exception_naming_that_id()
    {
        var index = await OpenVersionAsync();
        _service.FailDocument(DocumentKeys.Encode("images/bad.png"), 400, "The value of the field 'width' is not valid.");

        var ex = await Assert.ThrowsAsync<VectorIndexException>(() => index.UpsertBatchAsync(
            [Record("images/a.png", [1, 0, 0, 0]), Record("images/bad.png", [0, 1, 0, 0]), Record("images/c.png", [0, 0, 1, 0])]));

        Assert.Equal(["images/bad.png"], ex.FailedIds);
        Assert.False(ex.Retriable);
        Assert.Contains("'images/bad.png' (400: The value of the field 'width' is not valid.)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("1 of 3 documents were not stored", ex.Message, StringComparison.Ordinal);
        Assert.Equal(207, _service.Requests.Last(r => IsBatch(r)).Status);
        Assert.NotNull(await index.GetAsync("images/a.png"));
        Assert.NotNull(await index.GetAsync("images/c.png"));
        Assert.Null(await index.GetAsync("images/bad.png"));

        // A single upsert of that document fails the same way; the others are untouched.
        var single = await Assert.ThrowsAsync<VectorIndexException>(() => index.UpsertAsync(Record("images/bad.png", [0, 1, 0, 0])));
        Assert.Equal(["images/bad.png"], single.FailedIds);
        Assert.Equal(2, await index.CountAsync());
    }

    [Fact]
    public async Task A_document_refused_with_a_retriable_status_is_sent_again()
    {
        var index = await OpenVersionAsync();
        _service.FailDocument(DocumentKeys.Encode("images/b.png"), 503, "Service unavailable, try again.", times: 2);

        await index.UpsertBatchAsync([Record("images/a.png", [1, 0, 0, 0]), Record("images/b.png", [0, 1, 0, 0])]);

        var batches = _service.Requests.Where(r => IsBatch(r)).Select(r => ((JsonArray)r.Json!["value"]!).Count).ToList();
        Assert.Equal([2, 1, 1], batches);
        Assert.Equal(2, await index.CountAsync());
    }

    [Fact]
    public async Task A_wrong_key_fails_with_the_status_and_what_to_check()
    {
        var wrong = new VersionedVectorIndex(_service.Catalog("images", o => o.ApiKey = "not-the-key"));

        var ex = await Assert.ThrowsAsync<VectorIndexException>(() => wrong.InitializeAsync(Schema));

        Assert.Contains("failed (401", ex.Message, StringComparison.Ordinal);
        Assert.False(ex.Retriable);
        Assert.Equal("azure-search", ex.Backend);
        Assert.Contains("AzureSearch:ApiKey", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_key_requests_carry_a_Bearer_token_for_the_search_audience()
    {
        var service = new FakeSearchService(apiKey: null, bearerToken: "entra-token");
        var credential = new StaticToken("entra-token");
        var index = new VersionedVectorIndex(service.Catalog("images", o => o.ApiKey = null,
            new AzureSearchClientSettings { Transport = service.Transport(), Credential = credential }));

        await index.InitializeAsync(Schema);
        await index.UpsertAsync(Record("a", [1, 0, 0, 0]));

        Assert.All(service.Requests, r =>
        {
            Assert.Equal("Bearer entra-token", r.Headers["Authorization"]);
            Assert.False(r.Headers.ContainsKey("api-key"));
        });
        Assert.Contains("https://search.azure.com/.default", credential.Scopes);
        Assert.Empty(service.Violations);
    }

    [Theory]
    [InlineData(429, true)]
    [InlineData(503, true)]
    [InlineData(504, true)]
    [InlineData(400, false)]
    [InlineData(403, false)]
    public void Throttling_and_unavailability_are_retriable_and_refusals_are_not(int status, bool retriable)
    {
        var ex = AzureSearchErrors.Wrap(new Azure.RequestFailedException(status, "refused"), "here", "images-m-1", "search");

        Assert.Equal(retriable, ex.Retriable);
        Assert.Equal("search", ex.Operation);
        Assert.Equal("images-m-1", ex.IndexName);
        Assert.IsType<Azure.RequestFailedException>(ex.InnerException);
    }

    [Fact]
    public void A_timeout_the_caller_did_not_ask_for_is_a_retriable_index_failure()
    {
        var timeout = new TaskCanceledException("The operation was cancelled because it exceeded the configured timeout of 0:01:40.");
        Assert.True(AzureSearchErrors.IsServiceFailure(timeout, CancellationToken.None));
        Assert.False(AzureSearchErrors.IsServiceFailure(timeout, new CancellationToken(canceled: true)));

        var ex = AzureSearchErrors.Wrap(timeout, "here", "images-m-1", "upsert", ["a"]);

        Assert.True(ex.Retriable);
        Assert.Contains("timed out", ex.Message, StringComparison.Ordinal);
        Assert.Equal(["a"], ex.FailedIds);
    }

    [Theory]
    [InlineData(1.0, 1f)]
    [InlineData(1 / 1.2, 0.8f)]
    [InlineData(0.5, 0f)]
    [InlineData(1 / 3.0, -1f)]
    public void Scores_convert_back_to_cosine_similarity(double score, float cosine) =>
        Assert.Equal(cosine, AzureSearchVectorIndex.ToCosine(score), 1e-6f);

    internal static Dictionary<string, JsonObject> Fields(JsonObject definition) =>
        ((JsonArray)definition["fields"]!).OfType<JsonObject>().ToDictionary(f => (string)f["name"]!);

    /// <summary>An indexing request to a model's index (not the pointer upload to images-meta).</summary>
    private static bool IsBatch(RecordedRequest r) => r.Operation == "index" && !r.Path.Contains("-meta", StringComparison.Ordinal);

    private async Task<VersionedVectorIndex> OpenAsync(Action<AzureSearchOptions>? configure = null)
    {
        var index = new VersionedVectorIndex(_service.Catalog("images", configure));
        await index.InitializeAsync(Schema);
        return index;
    }

    /// <summary>The backend's own index of the model's version (batch writes are the backend's, not the abstraction's).</summary>
    private async Task<AzureSearchVectorIndex> OpenVersionAsync()
    {
        var index = _service.Catalog("images").OpenVersion(Schema.ModelId);
        await index.InitializeAsync(Schema);
        return index;
    }

    internal static VectorRecord Record(string id, float[] vector, string? album = null, string modelId = "m-1") => new(id, vector, new ItemMetadata
    {
        Source = "images",
        Name = id,
        ContentHash = "hash-" + id,
        ContentType = "image/png",
        ModelId = modelId,
        UploadedAt = new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.Zero),
        Tags = album is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["album"] = album },
    });

    private sealed class StaticToken(string token) : TokenCredential
    {
        public List<string> Scopes { get; } = [];

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            lock (Scopes) Scopes.AddRange(requestContext.Scopes);
            return new AccessToken(token, DateTimeOffset.UtcNow.AddHours(1));
        }

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
