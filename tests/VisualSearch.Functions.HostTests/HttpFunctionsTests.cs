using System.Text.Json;
using VisualSearch.Functions.HostTests.Infrastructure;
using VisualSearch.Functions.HostTests.Rpc;

namespace VisualSearch.Functions.HostTests;

/// <summary>The real worker with every sample photo uploaded to Azurite and ingested through IngestImage.</summary>
public sealed class IndexedWorkerFixture : WorkerFixture
{
    public IReadOnlyList<string> Indexed { get; } = Repo.PhotoNames();

    public string Id(string name) => $"images/{Prefix}/{name}";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        foreach (var name in Indexed) await IngestOrThrowAsync(await UploadAsync(name, Repo.PhotoBytes(name)));
    }
}

/// <summary>
/// Every HTTP function once through the host's path (route, method, InvocationRequest, the request forwarded with
/// x-ms-invocation-id), with the status codes the API promises: 200, 302, 400, 404, 413, 415, 422.
/// </summary>
public sealed class HttpFunctionsTests(IndexedWorkerFixture fixture) : IClassFixture<IndexedWorkerFixture>
{
    [Fact]
    public async Task SearchByImage_FindsTheOriginalFirst()
    {
        using var response = await fixture.SendAsync(HttpMethod.Post, "/api/search?k=5", TestImages.EditedCopy(Repo.PhotoBytes("astronaut.png")), "image/jpeg");
        var ids = HttpInvocationAssertions.ResultIds(await response.JsonAsync());
        Assert.Equal(5, ids.Count);
        Assert.Equal(fixture.Id("astronaut.png"), ids[0]);
    }

    [Fact]
    public async Task SearchByImage_WithAFilter_ReturnsOnlyMatches()
    {
        using var response = await fixture.SendAsync(HttpMethod.Post, "/api/search?filter=" + Uri.EscapeDataString("contentType eq 'image/jpeg'"),
            TestImages.EditedCopy(Repo.PhotoBytes("hubble_deep_field.jpg")), "image/jpeg");
        Assert.Equal([fixture.Id("hubble_deep_field.jpg"), fixture.Id("retina.jpg")], HttpInvocationAssertions.ResultIds(await response.JsonAsync()));
    }

    [Theory]
    [InlineData("/api/search?k=0", "image/jpeg", 400)]
    [InlineData("/api/search?minScore=2", "image/jpeg", 400)]
    [InlineData("/api/search?filter=bogus", "image/jpeg", 400)]
    [InlineData("/api/search", "text/plain", 415)]
    public async Task SearchByImage_BadRequests_AreProblems(string url, string contentType, int status)
    {
        using var response = await fixture.SendAsync(HttpMethod.Post, url, TestImages.EditedCopy(Repo.PhotoBytes("chelsea.png")), contentType);
        await response.ProblemAsync(status);
    }

    [Fact]
    public async Task SearchByImage_DamagedForeignEmptyAndOversizedBodies_AreProblems()
    {
        using (var truncated = await fixture.SendAsync(HttpMethod.Post, "/api/search", TestImages.TruncatedJpeg(), "image/jpeg")) await truncated.ProblemAsync(422);
        using (var random = await fixture.SendAsync(HttpMethod.Post, "/api/search", TestImages.RandomBytes(2048), "application/octet-stream")) await random.ProblemAsync(415);
        using (var empty = await fixture.SendAsync(HttpMethod.Post, "/api/search", [], "image/png")) await empty.ProblemAsync(400);
        // A small file whose header declares 400 megapixels: refused before any pixel is decoded.
        using (var huge = await fixture.SendAsync(HttpMethod.Post, "/api/search", TestImages.PngWithHeader(20_000, 20_000), "image/png")) await huge.ProblemAsync(413);
    }

    [Fact]
    public async Task SearchById_ExcludesTheItemItself()
    {
        using var response = await fixture.GetAsync($"/api/search?id={fixture.Id("coffee.png")}&k=100");
        var ids = HttpInvocationAssertions.ResultIds(await response.JsonAsync());
        Assert.Equal("SearchById", response.Function!.Name);
        Assert.Equal(fixture.Indexed.Count - 1, ids.Count);
        Assert.DoesNotContain(fixture.Id("coffee.png"), ids);
    }

    [Theory]
    [InlineData("/api/search?id=images/unknown.jpg", 404)]
    [InlineData("/api/search", 400)]
    [InlineData("/api/search?id=a/../coffee.png", 400)]
    [InlineData("/api/search?id=images/coffee.png&k=abc", 400)]
    public async Task SearchById_BadRequests_AreProblems(string url, int status)
    {
        using var response = await fixture.GetAsync(url);
        await response.ProblemAsync(status);
    }

    [Fact]
    public async Task GetItem_ReturnsMetadata()
    {
        var (width, height) = TestImages.Size(Repo.PhotoBytes("camera.png"));
        using var response = await fixture.GetAsync("/api/items/" + fixture.Id("camera.png"));
        var body = await response.JsonAsync();
        Assert.Equal(fixture.Id("camera.png"), body.GetProperty("id").GetString());
        var metadata = body.GetProperty("metadata");
        Assert.Equal(width, metadata.GetProperty("width").GetInt32());
        Assert.Equal(height, metadata.GetProperty("height").GetInt32());
        Assert.Equal("image/png", metadata.GetProperty("contentType").GetString());
    }

    [Theory]
    [InlineData("images/nope", 404)]
    [InlineData("a%5Ccamera.png", 400)] // a backslash (a client would have collapsed a/../ before sending)
    [InlineData("a//camera.png", 400)]
    public async Task GetItem_UnknownOrInvalid_AreProblems(string id, int status)
    {
        using var response = await fixture.GetAsync("/api/items/" + id);
        await response.ProblemAsync(status);
    }

    [Fact]
    public async Task Health_TellsAnonymousCallersTheStatusOnly()
    {
        using var response = await fixture.GetAsync("/api/health");
        var body = await response.JsonAsync();
        Assert.Equal(["status"], body.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("ok", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task HealthDetails_ReportsModelIndexAndCount()
    {
        using var response = await fixture.GetAsync("/api/health/details");
        var body = await response.JsonAsync();
        Assert.Equal("ok", body.GetProperty("status").GetString());
        Assert.StartsWith("resnet18-", body.GetProperty("model").GetString(), StringComparison.Ordinal);
        Assert.Equal("local", body.GetProperty("index").GetString());
        Assert.Equal(fixture.Indexed.Count, body.GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task Duplicates_lists_no_groups_among_the_distinct_photos_and_refuses_bad_parameters()
    {
        using (var response = await fixture.GetAsync("/api/duplicates?minScore=0.99&limit=5"))
        {
            var body = await response.JsonAsync();
            Assert.Equal(0.99f, body.GetProperty("minScore").GetSingle());
            Assert.Equal(0, body.GetProperty("total").GetInt32()); // the sample photos are all different
        }

        using (var bad = await fixture.GetAsync("/api/duplicates?limit=x"))
            await bad.ProblemAsync(400);
        using (var badDecision = await fixture.PostJsonAsync("/api/duplicates/decisions", """{"items":["a.jpg"]}"""))
            await badDecision.ProblemAsync(400);
    }

    [Fact]
    public async Task Images_and_thumbnails_of_unknown_items_are_404()
    {
        using (var image = await fixture.GetAsync("/api/images/images/nope.png")) await image.ProblemAsync(404);
        using (var thumbnail = await fixture.GetAsync("/api/thumbnails/" + fixture.Id("camera.png") + "?size=77")) await thumbnail.ProblemAsync(400);
    }

    [Fact]
    public async Task Uploads_AreProblemsForAnUnsupportedTypeAndAnUnknownId()
    {
        using (var pdf = await fixture.PostJsonAsync("/api/uploads", """{"contentType":"application/pdf"}""")) await pdf.ProblemAsync(415);
        using (var notJson = await fixture.PostJsonAsync("/api/uploads", "not json")) await notJson.ProblemAsync(400);
        using (var unknown = await fixture.GetAsync($"/api/uploads/images/{fixture.Prefix}/2026/01/01/nothing.jpg")) await unknown.ProblemAsync(404);
    }

    [Fact]
    public async Task Page_RedirectsToItsFolderAndServesTheHtml()
    {
        using (var bare = await fixture.GetAsync("/api/app?code=k"))
        {
            await bare.BodyAsync(302);
            Assert.Equal("/api/app/?code=k", bare.Response.Headers.Location?.OriginalString);
        }

        using var page = await fixture.GetAsync("/api/app/");
        var html = await page.BodyAsync(200);
        Assert.Equal("text/html", page.MediaType);
        Assert.Contains("<html", html, StringComparison.OrdinalIgnoreCase);

        // The page's sign-in library comes from this host (embedded in the package), never from a CDN; without
        // Auth__ClientId the page is told not to sign in.
        using var msal = await fixture.GetAsync("/api/app/msal-browser.min.js");
        Assert.StartsWith(Repo.MsalBanner(), await msal.BodyAsync(200), StringComparison.Ordinal);
        using var config = await fixture.GetAsync("/api/app/config.json");
        Assert.Equal(JsonValueKind.Null, (await config.JsonAsync()).GetProperty("signIn").ValueKind);
    }

    [Fact]
    public async Task BlobEvents_SubscriptionValidation_ReturnsTheCode()
    {
        const string Body = """[{"id":"2d1781af","topic":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa","subject":"","data":{"validationCode":"VALIDATION-CODE-123","validationUrl":"https://example.invalid"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2024-01-01T00:00:00Z","metadataVersion":"1","dataVersion":"2"}]""";
        using var response = await fixture.PostJsonAsync("/api/events/blobs", Body);
        var body = await response.JsonAsync();
        Assert.Equal(["validationResponse"], body.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("VALIDATION-CODE-123", body.GetProperty("validationResponse").GetString());
    }

    [Fact]
    public async Task BlobEvents_ValidationWithoutACodeAndNotJson_Are400()
    {
        using (var noCode = await fixture.PostJsonAsync("/api/events/blobs", """[{"id":"1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","subject":"","data":{}}]"""))
            await noCode.ProblemAsync(400);
        using (var notJson = await fixture.PostJsonAsync("/api/events/blobs", "not json")) await notJson.ProblemAsync(400);
    }

    [Fact]
    public async Task BlobEvents_CloudEventsOptionsHandshake_AllowsTheOrigin()
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/api/events/blobs");
        request.Headers.Add("WebHook-Request-Origin", "eventgrid.azure.net");
        using var response = await fixture.Worker.SendAsync(request);
        await response.BodyAsync(200);
        Assert.Equal("eventgrid.azure.net", string.Join(",", response.Response.Headers.GetValues("WebHook-Allowed-Origin")));
    }

    [Fact]
    public async Task BlobEvents_UnrelatedEvents_AreIgnoredWith200()
    {
        const string Body = """[{"id":"1","eventType":"Microsoft.Resources.ResourceWriteSuccess","subject":"/subscriptions/x","eventTime":"2026-01-01T00:00:00Z","data":{},"dataVersion":""},{"id":"2","eventType":"Microsoft.Storage.BlobTierChanged","subject":"/blobServices/default/containers/images/blobs/a.png","eventTime":"2026-01-01T00:00:00Z","data":{},"dataVersion":""}]""";
        using (var response = await fixture.PostJsonAsync("/api/events/blobs", Body)) await response.BodyAsync(200);
        // A storage event whose subject names no blob is bad input (400), not an event to skip.
        using (var bad = await fixture.PostJsonAsync("/api/events/blobs", """[{"id":"2","eventType":"Microsoft.Storage.BlobCreated","subject":"not-a-blob-subject","eventTime":"2026-01-01T00:00:00Z","data":{},"dataVersion":""}]"""))
            await bad.ProblemAsync(400);
        using var health = await fixture.GetAsync("/api/health/details");
        Assert.Equal(fixture.Indexed.Count, (await health.JsonAsync()).GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task A_path_no_function_routes_is_404_without_an_invocation()
    {
        using var response = await fixture.GetAsync("/api/nothing-here");
        Assert.Equal(404, response.Status);
        Assert.Null(response.Invocation);
        using var wrongMethod = await fixture.SendAsync(HttpMethod.Put, "/api/items/" + fixture.Id("camera.png"));
        Assert.Null(wrongMethod.Invocation);
    }
}
