using Microsoft.AspNetCore.Http;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests;

/// <summary>The Functions host composition with every sample photo indexed.</summary>
public sealed class FunctionsHostFixture : IAsyncLifetime
{
    private FunctionsHost? _host;

    internal FunctionsHost Host => _host ?? throw new InvalidOperationException("Not started.");

    public IReadOnlyList<string> Indexed { get; } = Repo.PhotoNames();

    public async Task InitializeAsync()
    {
        _host = await FunctionsHost.StartAsync().ConfigureAwait(false);
        await LocalHost.IngestPhotosAsync(_host.Services, Indexed).ConfigureAwait(false);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The function classes called directly: the host only binds the request and runs the IActionResult.</summary>
public sealed class FunctionsTests(FunctionsHostFixture fixture) : IClassFixture<FunctionsHostFixture>
{
    private FunctionsHost Host => fixture.Host;

    [Fact]
    public async Task SearchByImage_FindsTheOriginalFirst()
    {
        var context = Host.NewContext("POST", "/api/search?k=5", TestImages.EditedCopy(Repo.PhotoBytes("astronaut.png")), "image/jpeg");
        var response = await FunctionsHost.ExecuteAsync(await Host.Search.SearchByImage(context.Request, CancellationToken.None), context);

        var ids = Http.ResultIds(response.Json());
        Assert.Equal(5, ids.Count);
        Assert.Equal("astronaut.png", ids[0]);
    }

    [Fact]
    public async Task SearchByImage_WithAFilter_ReturnsOnlyMatches()
    {
        var context = Host.NewContext("POST", "/api/search?filter=" + Uri.EscapeDataString("contentType eq 'image/jpeg'"),
            TestImages.EditedCopy(Repo.PhotoBytes("hubble_deep_field.jpg")), "image/jpeg");
        var response = await FunctionsHost.ExecuteAsync(await Host.Search.SearchByImage(context.Request, CancellationToken.None), context);
        Assert.Equal(["hubble_deep_field.jpg", "retina.jpg"], Http.ResultIds(response.Json()));
    }

    [Theory]
    [InlineData("/api/search?k=0", "image/jpeg", StatusCodes.Status400BadRequest)]
    [InlineData("/api/search?minScore=2", "image/jpeg", StatusCodes.Status400BadRequest)]
    [InlineData("/api/search?filter=bogus", "image/jpeg", StatusCodes.Status400BadRequest)]
    [InlineData("/api/search", "text/plain", StatusCodes.Status415UnsupportedMediaType)]
    public async Task SearchByImage_BadRequests_AreProblems(string url, string contentType, int status)
    {
        var context = Host.NewContext("POST", url, TestImages.EditedCopy(Repo.PhotoBytes("chelsea.png")), contentType);
        var response = await FunctionsHost.ExecuteAsync(await Host.Search.SearchByImage(context.Request, CancellationToken.None), context);
        response.Problem(status);
    }

    [Fact]
    public async Task SearchByImage_DamagedAndForeignBodies_AreProblems()
    {
        var truncated = Host.NewContext("POST", "/api/search", TestImages.TruncatedJpeg(), "image/jpeg");
        (await FunctionsHost.ExecuteAsync(await Host.Search.SearchByImage(truncated.Request, CancellationToken.None), truncated)).Problem(StatusCodes.Status422UnprocessableEntity);

        var random = Host.NewContext("POST", "/api/search", TestImages.RandomBytes(2048), "application/octet-stream");
        (await FunctionsHost.ExecuteAsync(await Host.Search.SearchByImage(random.Request, CancellationToken.None), random)).Problem(StatusCodes.Status415UnsupportedMediaType);

        var empty = Host.NewContext("POST", "/api/search", [], "image/png");
        (await FunctionsHost.ExecuteAsync(await Host.Search.SearchByImage(empty.Request, CancellationToken.None), empty)).Problem(StatusCodes.Status400BadRequest);
    }

    [Fact]
    public async Task SearchByImage_OverTheByteLimit_Is413()
    {
        await using var small = await FunctionsHost.StartAsync(new Dictionary<string, string?> { ["Imaging:MaxBytes"] = "1000" });
        var declared = small.NewContext("POST", "/api/search", TestImages.Synthetic(1), "image/png");
        (await FunctionsHost.ExecuteAsync(await small.Search.SearchByImage(declared.Request, CancellationToken.None), declared)).Problem(StatusCodes.Status413PayloadTooLarge);

        // No Content-Length (chunked): the bounded read stops at the limit.
        var chunked = small.NewContext("POST", "/api/search", TestImages.Synthetic(1), "image/png");
        chunked.Request.ContentLength = null;
        (await FunctionsHost.ExecuteAsync(await small.Search.SearchByImage(chunked.Request, CancellationToken.None), chunked)).Problem(StatusCodes.Status413PayloadTooLarge);
    }

    [Fact]
    public async Task SearchById_ExcludesTheItemItself()
    {
        var context = Host.NewContext("GET", "/api/search?id=coffee.png&k=100");
        var response = await FunctionsHost.ExecuteAsync(await Host.Search.SearchById(context.Request, CancellationToken.None), context);
        var ids = Http.ResultIds(response.Json());
        Assert.Equal(fixture.Indexed.Count - 1, ids.Count);
        Assert.DoesNotContain("coffee.png", ids);
    }

    [Theory]
    [InlineData("/api/search?id=unknown.jpg", StatusCodes.Status404NotFound)]
    [InlineData("/api/search", StatusCodes.Status400BadRequest)]
    [InlineData("/api/search?id=a/../coffee.png", StatusCodes.Status400BadRequest)]
    [InlineData("/api/search?id=coffee.png&k=abc", StatusCodes.Status400BadRequest)]
    public async Task SearchById_BadRequests_AreProblems(string url, int status)
    {
        var context = Host.NewContext("GET", url);
        (await FunctionsHost.ExecuteAsync(await Host.Search.SearchById(context.Request, CancellationToken.None), context)).Problem(status);
    }

    [Fact]
    public async Task GetItem_ReturnsMetadata()
    {
        var (width, height) = TestImages.Size(Repo.PhotoBytes("camera.png"));
        var context = Host.NewContext("GET", "/api/items/camera.png");
        var body = (await FunctionsHost.ExecuteAsync(await Host.Search.GetItem(context.Request, "camera.png", CancellationToken.None), context)).Json();
        Assert.Equal("camera.png", body.GetProperty("id").GetString());
        var metadata = body.GetProperty("metadata");
        Assert.Equal(width, metadata.GetProperty("width").GetInt32());
        Assert.Equal(height, metadata.GetProperty("height").GetInt32());
        Assert.Equal("image/png", metadata.GetProperty("contentType").GetString());
    }

    [Theory]
    [InlineData("nope", StatusCodes.Status404NotFound)]
    [InlineData("a/../camera.png", StatusCodes.Status400BadRequest)]
    [InlineData("", StatusCodes.Status400BadRequest)]
    public async Task GetItem_UnknownOrInvalid_AreProblems(string id, int status)
    {
        var context = Host.NewContext("GET", "/api/items/" + id);
        (await FunctionsHost.ExecuteAsync(await Host.Search.GetItem(context.Request, id, CancellationToken.None), context)).Problem(status);
    }

    [Fact]
    public async Task Health_ReportsModelIndexAndCount()
    {
        var context = Host.NewContext("GET", "/api/health");
        var body = (await FunctionsHost.ExecuteAsync(await Host.Search.Health(context.Request, CancellationToken.None), context)).Json();
        Assert.Equal("ok", body.GetProperty("status").GetString());
        Assert.StartsWith("resnet18-", body.GetProperty("model").GetString(), StringComparison.Ordinal);
        Assert.Equal("local", body.GetProperty("index").GetString());
        Assert.Equal(fixture.Indexed.Count, body.GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task BlobEvents_SubscriptionValidation_ReturnsTheCode()
    {
        const string Body = """[{"id":"2d1781af","topic":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa","subject":"","data":{"validationCode":"VALIDATION-CODE-123","validationUrl":"https://example.invalid"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2024-01-01T00:00:00Z","metadataVersion":"1","dataVersion":"2"}]""";
        var context = Host.NewJsonContext("POST", "/api/events/blobs", Body);
        var body = (await FunctionsHost.ExecuteAsync(await Host.Ingest.BlobEvents(context.Request, CancellationToken.None), context)).Json();
        Assert.Equal(["validationResponse"], body.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("VALIDATION-CODE-123", body.GetProperty("validationResponse").GetString());
    }

    [Fact]
    public async Task BlobEvents_ValidationWithoutACode_Is400()
    {
        const string Body = """[{"id":"1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","subject":"","data":{}}]""";
        var context = Host.NewJsonContext("POST", "/api/events/blobs", Body);
        (await FunctionsHost.ExecuteAsync(await Host.Ingest.BlobEvents(context.Request, CancellationToken.None), context)).Problem(StatusCodes.Status400BadRequest);
    }

    [Fact]
    public async Task BlobEvents_CloudEventsOptionsHandshake_AllowsTheOrigin()
    {
        var context = Host.NewContext("OPTIONS", "/api/events/blobs");
        context.Request.Headers["WebHook-Request-Origin"] = "eventgrid.azure.net";
        var response = await FunctionsHost.ExecuteAsync(await Host.Ingest.BlobEvents(context.Request, CancellationToken.None), context);
        Assert.Equal(StatusCodes.Status200OK, response.Status);
        Assert.Equal("eventgrid.azure.net", context.Response.Headers["WebHook-Allowed-Origin"].ToString());
    }

    [Fact]
    public async Task BlobEvents_UnrelatedEvents_AreIgnoredWith200()
    {
        const string Body = """[{"id":"1","eventType":"Microsoft.Resources.ResourceWriteSuccess","subject":"/subscriptions/x","data":{}},{"id":"2","eventType":"Microsoft.Storage.BlobCreated","subject":"not-a-blob-subject","data":{}}]""";
        var context = Host.NewJsonContext("POST", "/api/events/blobs", Body);
        var response = await FunctionsHost.ExecuteAsync(await Host.Ingest.BlobEvents(context.Request, CancellationToken.None), context);
        Assert.Equal(StatusCodes.Status200OK, response.Status);

        var health = Host.NewContext("GET", "/api/health");
        var body = (await FunctionsHost.ExecuteAsync(await Host.Search.Health(health.Request, CancellationToken.None), health)).Json();
        Assert.Equal(fixture.Indexed.Count, body.GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task BlobEvents_NotJson_Is400()
    {
        var context = Host.NewJsonContext("POST", "/api/events/blobs", "not json");
        (await FunctionsHost.ExecuteAsync(await Host.Ingest.BlobEvents(context.Request, CancellationToken.None), context)).Problem(StatusCodes.Status400BadRequest);
    }
}
