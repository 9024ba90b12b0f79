using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests;

/// <summary>
/// One local host (vsearch serve --no-watch on Kestrel) with every sample photo indexed, one vector per item
/// (<c>Encoder__CopyDescriptor=None</c>: these tests are of the API surface over one space; the default's copy space is
/// CopySpaceApiTests').
/// </summary>
public sealed class ApiHostFixture : IAsyncLifetime
{
    private LocalHost? _host;

    internal LocalHost Host => _host ?? throw new InvalidOperationException("Not started.");

    public IReadOnlyList<string> Indexed { get; } = Repo.PhotoNames();

    public async Task InitializeAsync()
    {
        _host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?> { ["Encoder:CopyDescriptor"] = "None" }).ConfigureAwait(false);
        await _host.IngestPhotosAsync(Indexed).ConfigureAwait(false);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync().ConfigureAwait(false);
    }
}

public sealed class ApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private LocalHost Host => fixture.Host;

    private HttpClient Client => fixture.Host.Client;

    [Theory]
    [InlineData("chelsea.png")]
    [InlineData("coffee.png")]
    [InlineData("hubble_deep_field.jpg")]
    public async Task SearchByImage_FindsTheOriginalOfAnEditedCopyFirst(string photo)
    {
        var edited = TestImages.EditedCopy(Repo.PhotoBytes(photo));
        using var response = await Host.PostImageAsync("/api/search", edited);
        var body = await Http.JsonAsync(response);

        var ids = Http.ResultIds(body);
        Assert.Equal(fixture.Indexed.Count, ids.Count); // default k = 10 > 8 photos
        Assert.Equal(photo, ids[0]);
        var first = body.GetProperty("results")[0];
        Assert.True(first.GetProperty("score").GetSingle() > body.GetProperty("results")[1].GetProperty("score").GetSingle());
        Assert.Equal(photo, first.GetProperty("metadata").GetProperty("name").GetString());
        // An index without region vectors (Encoder__Regions off): no result names a region.
        Assert.All(body.GetProperty("results").EnumerateArray(), r => Assert.False(r.TryGetProperty("region", out _)));
    }

    [Fact]
    public async Task SearchByImage_HonoursKAndMinScore()
    {
        var edited = TestImages.EditedCopy(Repo.PhotoBytes("chelsea.png"));
        using (var response = await Host.PostImageAsync("/api/search?k=3", edited))
        {
            var ids = Http.ResultIds(await Http.JsonAsync(response));
            Assert.Equal(3, ids.Count);
            Assert.Equal("chelsea.png", ids[0]);
        }

        using (var response = await Host.PostImageAsync("/api/search?minScore=1", edited))
        {
            Assert.Empty(Http.ResultIds(await Http.JsonAsync(response)));
        }
    }

    [Fact]
    public async Task SearchByImage_AcceptsOctetStreamAndNoContentType()
    {
        var edited = TestImages.EditedCopy(Repo.PhotoBytes("coffee.png"));
        using (var response = await Host.PostImageAsync("/api/search", edited, "application/octet-stream"))
            Assert.Equal("coffee.png", Http.ResultIds(await Http.JsonAsync(response))[0]);

        using var content = new ByteArrayContent(edited);
        Assert.Null(content.Headers.ContentType);
        using (var response = await Client.PostAsync("/api/search", content))
            Assert.Equal("coffee.png", Http.ResultIds(await Http.JsonAsync(response))[0]);
    }

    [Fact]
    public async Task SearchById_ReturnsNeighboursWithoutTheItemItself()
    {
        using var response = await Client.GetAsync("/api/search?id=chelsea.png");
        var ids = Http.ResultIds(await Http.JsonAsync(response));
        Assert.Equal(fixture.Indexed.Count - 1, ids.Count);
        Assert.DoesNotContain("chelsea.png", ids);
        Assert.Equal(fixture.Indexed.Where(n => n != "chelsea.png").Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task SearchById_UnknownId_Is404Problem()
    {
        using var response = await Client.GetAsync("/api/search?id=unknown.jpg");
        await Http.ProblemAsync(response, HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("chelsea.png", "image/png")]
    [InlineData("retina.jpg", "image/jpeg")]
    public async Task GetItem_ReturnsTheStoredMetadata(string photo, string contentType)
    {
        var bytes = Repo.PhotoBytes(photo);
        var (width, height) = TestImages.Size(bytes);
        using var response = await Client.GetAsync($"/api/items/{photo}");
        var body = await Http.JsonAsync(response);

        Assert.Equal(photo, body.GetProperty("id").GetString());
        var metadata = body.GetProperty("metadata");
        Assert.Equal(width, metadata.GetProperty("width").GetInt32());
        Assert.Equal(height, metadata.GetProperty("height").GetInt32());
        Assert.Equal(contentType, metadata.GetProperty("contentType").GetString());
        Assert.Equal(bytes.Length, metadata.GetProperty("size").GetInt64());
        Assert.Equal("file", metadata.GetProperty("source").GetString());
        Assert.Equal(photo, metadata.GetProperty("name").GetString());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), metadata.GetProperty("contentHash").GetString());
        Assert.StartsWith("resnet18-", metadata.GetProperty("modelId").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetItem_Unknown_Is404Problem()
    {
        using var response = await Client.GetAsync("/api/items/nope");
        await Http.ProblemAsync(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Health_ReportsModelIndexAndCount()
    {
        using var response = await Client.GetAsync("/api/health");
        var body = await Http.JsonAsync(response);
        Assert.Equal("ok", body.GetProperty("status").GetString());
        var model = body.GetProperty("model").GetString()!;
        Assert.StartsWith("resnet18-", model, StringComparison.Ordinal);
        Assert.EndsWith("-" + body.GetProperty("dimension").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture), model, StringComparison.Ordinal);
        Assert.Equal("local", body.GetProperty("index").GetString());
        Assert.Equal(fixture.Indexed.Count, body.GetProperty("count").GetInt64());
    }

    [Theory]
    [InlineData("k=0")]
    [InlineData("k=101")]
    [InlineData("k=abc")]
    [InlineData("k=1.5")]
    [InlineData("minScore=2")]
    [InlineData("minScore=-1.5")]
    [InlineData("minScore=NaN")]
    [InlineData("minScore=abc")]
    [InlineData("filter=bogus")]
    [InlineData("filter=color%20eq%20%27red%27")]
    [InlineData("filter=contentType%20eq%20%27image%2Fpng")]
    [InlineData("cutoff=bogus")]
    [InlineData("cutoff=Auto")]
    [InlineData("cutoff=1")]
    [InlineData("space=bogus")]
    [InlineData("space=Copies")]
    [InlineData("space=copies")] // this host has no copy space (Encoder__CopyDescriptor None)
    public async Task BadQueryParameters_Are400Problems(string query)
    {
        var edited = TestImages.EditedCopy(Repo.PhotoBytes("chelsea.png"));
        using (var post = await Host.PostImageAsync($"/api/search?{query}", edited))
            await Http.ProblemAsync(post, HttpStatusCode.BadRequest);
        using (var get = await Client.GetAsync($"/api/search?id=chelsea.png&{query}"))
            await Http.ProblemAsync(get, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task CutoffAuto_ReturnsOnlyTheClearMatchOfAnEditedCopy_AndKStaysTheUpperBound()
    {
        var edited = TestImages.EditedCopy(Repo.PhotoBytes("chelsea.png"));
        using var all = await Host.PostImageAsync("/api/search?k=8", edited);
        var allBody = await Http.JsonAsync(all);
        var scores = allBody.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("score").GetSingle()).ToArray();
        Assert.Equal(8, scores.Length);

        using var auto = await Host.PostImageAsync("/api/search?k=8&cutoff=auto", edited);
        var ids = Http.ResultIds(await Http.JsonAsync(auto));
        Assert.Equal(VisualSearch.Search.ResultCutoff.Auto(scores), ids.Count);
        Assert.Equal(["chelsea.png"], ids);

        using var none = await Host.PostImageAsync("/api/search?k=3&cutoff=none", edited);
        Assert.Equal(3, Http.ResultIds(await Http.JsonAsync(none)).Count);
        using var byId = await Client.GetAsync("/api/search?id=chelsea.png&k=2&cutoff=auto");
        Assert.InRange(Http.ResultIds(await Http.JsonAsync(byId)).Count, 1, 2);
    }

    [Theory]
    [InlineData("/api/search")]
    [InlineData("/api/search?id=")]
    [InlineData("/api/search?id=a/../chelsea.png")]
    [InlineData("/api/search?id=..")]
    [InlineData("/api/search?id=a//b")]
    [InlineData("/api/search?id=a%5Cb")]
    public async Task SearchById_MissingOrInvalidId_Is400Problem(string url)
    {
        using var response = await Client.GetAsync(url);
        await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task SearchByImage_TextBody_Is415Problem()
    {
        using var content = new StringContent("this is not an image", Encoding.UTF8, "text/plain");
        using var response = await Client.PostAsync("/api/search", content);
        await Http.ProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task SearchByImage_RandomBytes_Is415Problem()
    {
        using var response = await Host.PostImageAsync("/api/search", TestImages.RandomBytes(4096), "application/octet-stream");
        var problem = await Http.ProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal("UnsupportedFormat", problem.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task SearchByImage_TruncatedJpeg_Is422Problem()
    {
        using var response = await Host.PostImageAsync("/api/search", TestImages.TruncatedJpeg());
        var problem = await Http.ProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Equal("Truncated", problem.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("image/jpeg")]
    [InlineData(null)]
    public async Task SearchByImage_EmptyBody_Is400Problem(string? contentType)
    {
        using var content = new ByteArrayContent([]);
        if (contentType is not null) content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await Client.PostAsync("/api/search", content);
        await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Filter_ContentTypePng_ReturnsOnlyPngs()
    {
        var filter = Uri.EscapeDataString("contentType eq 'image/png'");
        var edited = TestImages.EditedCopy(Repo.PhotoBytes("retina.jpg"));
        using var response = await Host.PostImageAsync($"/api/search?k=100&filter={filter}", edited);
        var body = await Http.JsonAsync(response);
        var ids = Http.ResultIds(body);

        var pngs = fixture.Indexed.Where(n => n.EndsWith(".png", StringComparison.Ordinal)).ToList();
        Assert.Equal(pngs.Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
        Assert.All(body.GetProperty("results").EnumerateArray(), r => Assert.Equal("image/png", r.GetProperty("metadata").GetProperty("contentType").GetString()));
    }

    [Fact]
    public async Task Filter_ContentTypeJpeg_OnSearchById_ReturnsOnlyJpegs()
    {
        var filter = Uri.EscapeDataString("contentType eq 'image/jpeg'");
        using var response = await Client.GetAsync($"/api/search?id=chelsea.png&filter={filter}");
        var ids = Http.ResultIds(await Http.JsonAsync(response));
        Assert.Equal(fixture.Indexed.Where(n => n.EndsWith(".jpg", StringComparison.Ordinal)).Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Filter_BySource_MatchesEverythingIndexedFromFiles()
    {
        var filter = Uri.EscapeDataString("source eq 'file' and uploadedAt ge 2000-01-01T00:00:00Z");
        using (var response = await Client.GetAsync($"/api/search?id=coffee.png&k=100&filter={filter}"))
            Assert.Equal(fixture.Indexed.Count - 1, Http.ResultIds(await Http.JsonAsync(response)).Count);

        var none = Uri.EscapeDataString("source eq 'elsewhere'");
        using (var response = await Client.GetAsync($"/api/search?id=coffee.png&filter={none}"))
            Assert.Empty(Http.ResultIds(await Http.JsonAsync(response)));
    }

    [Fact]
    public async Task BlobEventsWebhook_AnswersTheValidationHandshake()
    {
        const string Body = """[{"id":"v1","topic":"t","subject":"","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},"dataVersion":"2","metadataVersion":"1","eventTime":"2024-01-01T00:00:00Z"}]""";
        foreach (var path in new[] { "/runtime/webhooks/blobs", "/api/events/blobs" })
        {
            using var response = await Client.PostAsync(path, new StringContent(Body, Encoding.UTF8, "application/json"));
            var body = await Http.JsonAsync(response);
            Assert.Equal("512d38b6-c7b8-40c8-89fe-f46f9e9622b6", body.GetProperty("validationResponse").GetString());
        }
    }

    [Fact]
    public async Task BlobEventsWebhook_InvalidJson_Is400Problem()
    {
        using var response = await Client.PostAsync("/api/events/blobs", new StringContent("[{", Encoding.UTF8, "application/json"));
        await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task BlobEventsWebhook_BatchOver1MB_Is413Problem()
    {
        var json = "[" + string.Join(",", Enumerable.Repeat("""{"id":"x","eventType":"Other","subject":"s","data":{}}""", 25_000)) + "]";
        Assert.True(json.Length > 1024 * 1024);
        using var response = await Client.PostAsync("/api/events/blobs", new StringContent(json, Encoding.UTF8, "application/json"));
        await Http.ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task BlobEventsWebhook_CloudEventsHandshake_EchoesTheOrigin()
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/api/events/blobs");
        request.Headers.Add("WebHook-Request-Origin", "eventgrid.azure.net");
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("eventgrid.azure.net", Assert.Single(response.Headers.GetValues("WebHook-Allowed-Origin")));
    }
}
