using System.Net;
using System.Text;
using System.Text.Json;
using VisualSearch.Cli;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Ingestion;

namespace VisualSearch.FunctionalTests;

/// <summary>
/// The blob-event webhook as an attacker would try it (issue 20, items 1 and 4): only schema-valid JSON events of
/// the configured container from no foreign page reach storage or the index; bad subjects are 400 before any storage
/// call; storage that cannot be reached is 503 with Retry-After, never 500.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class EventWebhookSecurityTests(AzuriteFixture azurite)
{
    private const string Webhook = "/api/events/blobs";

    [Fact]
    public async Task A_simple_cross_site_post_removes_nothing()
    {
        var container = await azurite.NewContainerAsync();
        await using var host = await LocalHost.StartAsync(watch: false, AzuriteFixture.BlobSourceSettings(container.Name));
        // An item `vsearch index` added (a folder's sub/brick.png), backed by no blob.
        await IngestFileAsAsync(host, "brick.png", "sub/brick.png");
        var deleteSub = EventJson("Microsoft.Storage.BlobDeleted", "sub", "brick.png");

        // text/plain: the content type any web page may post cross-site without a preflight.
        using (var plain = await host.Client.PostAsync(Webhook, new StringContent(deleteSub, Encoding.UTF8, "text/plain")))
            await Http.ProblemAsync(plain, HttpStatusCode.UnsupportedMediaType);

        // JSON, but from another site's page (a browser sends its Origin).
        using (var request = new HttpRequestMessage(HttpMethod.Post, Webhook) { Content = new StringContent(deleteSub, Encoding.UTF8, "application/json") })
        {
            request.Headers.Add("Origin", "https://evil.example");
            using var foreign = await host.Client.SendAsync(request);
            await Http.ProblemAsync(foreign, HttpStatusCode.Forbidden);
        }

        // Well-formed and same-origin, but for a container this host does not watch: ignored.
        using (var other = await host.Client.PostAsync(Webhook, Json(deleteSub)))
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);

        using var item = await host.Client.GetAsync("/api/items/sub/brick.png");
        Assert.Equal(HttpStatusCode.OK, item.StatusCode);
    }

    [Fact]
    public async Task Events_name_the_configured_container_or_touch_nothing()
    {
        var watched = await azurite.NewContainerAsync();
        var foreign = await azurite.NewContainerAsync();
        await using var host = await LocalHost.StartAsync(watch: false, AzuriteFixture.BlobSourceSettings(watched.Name));
        await foreign.UploadBlobAsync("coffee.png", new BinaryData(Repo.PhotoBytes("coffee.png")));
        await watched.UploadBlobAsync("chelsea.png", new BinaryData(Repo.PhotoBytes("chelsea.png")));

        using (var created = await host.Client.PostAsync(Webhook, Json(EventJson("Microsoft.Storage.BlobCreated", foreign.Name, "coffee.png"))))
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        using (var notIndexed = await host.Client.GetAsync($"/api/items/{foreign.Name}/coffee.png"))
            await Http.ProblemAsync(notIndexed, HttpStatusCode.NotFound);
        Assert.Empty((await foreign.GetBlobClient("coffee.png").GetTagsAsync()).Value.Tags); // not read, so not tagged either

        // The same event for the watched container is handled (so the refusal above is the container's doing).
        using (var ok = await host.Client.PostAsync(Webhook, Json(EventJson("Microsoft.Storage.BlobCreated", watched.Name, "chelsea.png"))))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var indexed = await host.Client.GetAsync($"/api/items/{watched.Name}/chelsea.png"))
            Assert.Equal(HttpStatusCode.OK, indexed.StatusCode);

        // A BlobDeleted of the watched container never removes an item another source added under the same id.
        await IngestFileAsAsync(host, "brick.png", $"{watched.Name}/brick.png");
        using (var deleted = await host.Client.PostAsync(Webhook, Json(EventJson("Microsoft.Storage.BlobDeleted", watched.Name, "brick.png"))))
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        using (var kept = await host.Client.GetAsync($"/api/items/{watched.Name}/brick.png"))
            Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
    }

    public static TheoryData<string> NotEventGridEvents =>
    [
        """[{"eventType":"Microsoft.Storage.BlobDeleted","subject":"/blobServices/default/containers/images/blobs/a.png"}]""",
        """[{"id":"1","eventType":"Microsoft.Storage.BlobDeleted","subject":"/blobServices/default/containers/images/blobs/a.png","data":{},"dataVersion":""}]""",
        """[{"id":"1","eventType":"Microsoft.Storage.BlobDeleted","subject":"/blobServices/default/containers/images/blobs/a.png","eventTime":"yesterday","data":{},"dataVersion":""}]""",
        """[{"id":"1","eventType":"Microsoft.Storage.BlobDeleted","subject":"/blobServices/default/containers/images/blobs/a.png","eventTime":"2026-01-01T00:00:00Z","data":"x","dataVersion":""}]""",
        """[{"id":1,"eventType":"Microsoft.Storage.BlobDeleted","subject":"/blobServices/default/containers/images/blobs/a.png","eventTime":"2026-01-01T00:00:00Z","data":{},"dataVersion":""}]""",
        """{"specversion":"0.3","id":"1","source":"s","type":"Microsoft.Storage.BlobDeleted","subject":"/blobServices/default/containers/images/blobs/a.png","data":{}}""",
        """{"specversion":"1.0","id":"1","type":"Microsoft.Storage.BlobDeleted","subject":"/blobServices/default/containers/images/blobs/a.png","data":{}}""",
        """[1]""",
        "[]",
    ];

    [Theory]
    [MemberData(nameof(NotEventGridEvents))]
    public async Task Events_that_do_not_follow_the_event_grid_or_cloud_events_schema_are_400(string body)
    {
        await using var host = await LocalHost.StartAsync(watch: false);
        using var response = await host.Client.PostAsync(Webhook, Json(body));
        await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("application/cloudevents+json; charset=utf-8")]
    [InlineData("application/cloudevents-batch+json")]
    [InlineData("application/json")]
    public async Task Event_grid_and_cloud_event_media_types_are_accepted(string contentType)
    {
        var container = await azurite.NewContainerAsync();
        await using var host = await LocalHost.StartAsync(watch: false, AzuriteFixture.BlobSourceSettings(container.Name));
        await container.UploadBlobAsync("coffee.png", new BinaryData(Repo.PhotoBytes("coffee.png")));
        var cloudEvent = new Dictionary<string, object>
        {
            ["specversion"] = "1.0",
            ["id"] = Guid.NewGuid().ToString(),
            ["source"] = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
            ["type"] = "Microsoft.Storage.BlobCreated",
            ["subject"] = $"/blobServices/default/containers/{container.Name}/blobs/coffee.png",
            ["time"] = DateTimeOffset.UtcNow.ToString("O"),
            ["data"] = new Dictionary<string, object> { ["api"] = "PutBlob" },
        };
        var body = contentType.Contains("batch", StringComparison.Ordinal) ? JsonSerializer.Serialize(new[] { cloudEvent })
            : contentType.Contains("cloudevents", StringComparison.Ordinal) ? JsonSerializer.Serialize(cloudEvent)
            : EventJson("Microsoft.Storage.BlobCreated", container.Name, "coffee.png");
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        using var response = await host.Client.PostAsync(Webhook, content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var item = await host.Client.GetAsync($"/api/items/{container.Name}/coffee.png");
        Assert.Equal(HttpStatusCode.OK, item.StatusCode);
    }

    [Theory]
    [InlineData("a/../b.png")]
    [InlineData("a\\b.png")]
    [InlineData("../../../evil")]
    [InlineData("./a.png")]
    [InlineData("a//b.png")]
    [InlineData("a\u0001b.png")]
    public async Task Blob_names_that_are_not_valid_ids_are_400_before_any_storage_call(string blobName)
    {
        // Storage that is not there: a call would be a 503, so a 400 proves none was made.
        await using var host = await LocalHost.StartAsync(watch: false, UnreachableStorage("images"));
        foreach (var type in new[] { "Microsoft.Storage.BlobDeleted", "Microsoft.Storage.BlobCreated" })
        {
            using var response = await host.Client.PostAsync(Webhook, Json(EventJson(type, "images", blobName)));
            await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
        }
    }

    [Theory]
    [InlineData("a?comp=list&x=")]
    [InlineData("UPPER")]
    [InlineData("a")]
    [InlineData("a--b")]
    [InlineData("-ab")]
    [InlineData("")]
    public async Task Container_names_storage_would_refuse_are_400(string containerName)
    {
        await using var host = await LocalHost.StartAsync(watch: false, UnreachableStorage("images"));
        using var response = await host.Client.PostAsync(Webhook, Json(EventJson("Microsoft.Storage.BlobDeleted", containerName, "a.png")));
        await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Unreachable_storage_is_503_with_retry_after_never_500()
    {
        await using var host = await LocalHost.StartAsync(watch: false, UnreachableStorage("images"));
        using (var deleted = await host.Client.PostAsync(Webhook, Json(EventJson("Microsoft.Storage.BlobDeleted", "images", "a.png"))))
            await AssertUnavailableAsync(deleted);
        using (var created = await host.Client.PostAsync(Webhook, Json(EventJson("Microsoft.Storage.BlobCreated", "images", "a.png"))))
            await AssertUnavailableAsync(created);
        using (var status = await host.Client.GetAsync("/api/uploads/images/2026/01/01/0123456789abcdef0123456789abcdef.png"))
            await AssertUnavailableAsync(status);
    }

    private static async Task AssertUnavailableAsync(HttpResponseMessage response)
    {
        await Http.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "503 without Retry-After");
    }

    /// <summary>Blob storage on a port nothing listens on, with no retries (fails fast).</summary>
    private static Dictionary<string, string?> UnreachableStorage(string container) => new()
    {
        ["BlobSource:ConnectionString"] = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;",
        ["BlobSource:Container"] = container,
        ["BlobSource:MaxRetries"] = "0",
    };

    private static async Task IngestFileAsAsync(LocalHost host, string photo, string id)
    {
        var ingestion = (IngestionService)host.Services.GetService(typeof(IngestionService))!;
        var result = await ingestion.IngestFileAsync(Repo.Photo(photo), id);
        Assert.Equal(IngestOutcome.Indexed, result.Outcome);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>One storage event in the Event Grid schema, as Event Grid posts it.</summary>
    private static string EventJson(string eventType, string container, string blobName) => JsonSerializer.Serialize(new object[]
    {
        new Dictionary<string, object>
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["topic"] = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
            ["subject"] = $"/blobServices/default/containers/{container}/blobs/{blobName}",
            ["eventType"] = eventType,
            ["eventTime"] = DateTimeOffset.UtcNow.ToString("O"),
            ["data"] = new Dictionary<string, object> { ["api"] = eventType.EndsWith("Deleted", StringComparison.Ordinal) ? "DeleteBlob" : "PutBlob", ["blobType"] = "BlockBlob" },
            ["dataVersion"] = "",
            ["metadataVersion"] = "1",
        },
    });
}
