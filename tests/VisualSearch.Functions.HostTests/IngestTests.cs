using System.Security.Cryptography;
using Azure.Storage.Blobs.Models;
using VisualSearch.Blobs;
using VisualSearch.Imaging;
using VisualSearch.Functions.HostTests.Infrastructure;
using VisualSearch.Functions.HostTests.Rpc;

namespace VisualSearch.Functions.HostTests;

/// <summary>
/// The blob trigger through the real worker: photos stored in Azurite, IngestImage invoked with the SDK-type
/// binding (the worker makes the BlobClient itself), then the HTTP functions over what was indexed.
/// </summary>
public sealed class IngestTests(WorkerFixture fixture) : IClassFixture<WorkerFixture>
{
    [Fact]
    public async Task Three_photos_ingested_through_IngestImage_are_found_by_SearchByImage_over_http()
    {
        var names = new[] { "astronaut.png", "coffee.png", "hubble_deep_field.jpg" };
        var blobs = new List<string>();
        foreach (var name in names) blobs.Add(await fixture.UploadAsync("three/" + name, Repo.PhotoBytes(name)));
        foreach (var blob in blobs) AssertSucceeded(await fixture.IngestAsync(blob));

        foreach (var name in names)
        {
            using var search = await fixture.SendAsync(HttpMethod.Post, "/api/search?k=3", TestImages.EditedCopy(Repo.PhotoBytes(name)), "image/jpeg");
            var ids = HttpInvocationAssertions.ResultIds(await search.JsonAsync());
            Assert.Equal("SearchByImage", search.Function!.Name);
            Assert.Equal($"images/{fixture.Prefix}/three/{name}", ids[0]);
        }

        // The item's metadata says where it came from; its original and a thumbnail are served from the blob.
        var id = $"images/{fixture.Prefix}/three/coffee.png";
        using var item = await fixture.GetAsync("/api/items/" + id);
        var metadata = (await item.JsonAsync()).GetProperty("metadata");
        Assert.Equal("images", metadata.GetProperty("source").GetString());
        Assert.Equal("image/png", metadata.GetProperty("contentType").GetString());

        using var image = await fixture.GetAsync("/api/images/" + id);
        await image.BodyAsync(200);
        Assert.Equal(Repo.PhotoBytes("coffee.png"), await image.Response.Content.ReadAsByteArrayAsync());
        using var thumbnail = await fixture.GetAsync("/api/thumbnails/" + id + "?size=128");
        await thumbnail.BodyAsync(200);
        Assert.Equal("image/jpeg", thumbnail.MediaType);
        var (width, height) = TestImages.Size(await thumbnail.Response.Content.ReadAsByteArrayAsync());
        Assert.Equal(128, Math.Max(width, height));
    }

    [Fact]
    public async Task A_bad_image_is_recorded_and_the_invocation_succeeds_so_the_host_does_not_retry()
    {
        var jpeg = TestImages.Photo(77, 300, 200, ImageFormat.Jpeg);
        var blob = await fixture.UploadAsync("bad/cut.jpg", jpeg[..(jpeg.Length / 2)]);

        // Delivered three times (duplicate events, a redelivery): a success each time, never a failure to retry.
        for (var i = 0; i < 3; i++) AssertSucceeded(await fixture.IngestAsync(blob));

        // Logged with its reason once (the worker's logs reach the host as RpcLog), then "refused before" twice.
        var rejected = Assert.Single(fixture.Worker.Logs, l => l.EventId == "Rejected" && l.Message.Contains(blob, StringComparison.Ordinal));
        Assert.Contains("Truncated", rejected.Message, StringComparison.Ordinal);
        Assert.Equal(2, fixture.Worker.Logs.Count(l => l.EventId == "LogAlreadyRejected" && l.Message.Contains(blob, StringComparison.Ordinal)));

        var tags = (await fixture.Images.GetBlobClient(blob).GetTagsAsync()).Value.Tags;
        Assert.Equal("Truncated", tags[RejectionTags.Reason]);
        using var status = await fixture.GetAsync("/api/uploads/images/" + blob);
        var body = await status.JsonAsync();
        Assert.Equal("rejected", body.GetProperty("status").GetString());
        Assert.Equal("Truncated", body.GetProperty("reason").GetString());
        using var item = await fixture.GetAsync("/api/items/images/" + blob);
        await item.ProblemAsync(404);

        // A fixed upload under the same name is a new version: indexed.
        await fixture.Images.GetBlobClient(blob).UploadAsync(new BinaryData(jpeg), overwrite: true);
        AssertSucceeded(await fixture.IngestAsync(blob));
        using var indexed = await fixture.GetAsync("/api/items/images/" + blob);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(jpeg)), (await indexed.JsonAsync()).GetProperty("metadata").GetProperty("contentHash").GetString());
    }

    [Fact]
    public async Task BlobDeleted_through_BlobEvents_removes_the_item_and_a_trigger_for_a_deleted_blob_is_a_no_op()
    {
        var blob = await fixture.UploadAsync("deleted/camera.png", Repo.PhotoBytes("camera.png"));
        AssertSucceeded(await fixture.IngestAsync(blob));
        using (var present = await fixture.GetAsync("/api/items/images/" + blob)) await present.JsonAsync();

        await fixture.Images.DeleteBlobAsync(blob, DeleteSnapshotsOption.IncludeSnapshots);
        using (var events = await fixture.PostJsonAsync("/api/events/blobs", EventGridJson("Microsoft.Storage.BlobDeleted", blob)))
            await events.BodyAsync(200);
        using (var gone = await fixture.GetAsync("/api/items/images/" + blob)) await gone.ProblemAsync(404);

        // The trigger fires late for the deleted blob: nothing to do, and no failure for the host to retry.
        AssertSucceeded(await fixture.IngestAsync(blob));
        using (var still = await fixture.GetAsync("/api/items/images/" + blob)) await still.ProblemAsync(404);
    }

    [Fact]
    public async Task A_client_upload_is_indexed_with_its_metadata_and_upload_urls_are_user_delegation_only()
    {
        // The Functions app signs upload URLs with a user delegation key only. Azurite issues none over http, so
        // CreateUpload fails there (the host answers 500), and the worker's log names the signer it used.
        using (var create = await fixture.PostJsonAsync("/api/uploads", """{"contentType":"image/jpeg","metadata":{"album":"space"}}"""))
        {
            Assert.Equal(500, create.Status);
            Assert.Equal(StatusResult.Types.Status.Failure, create.Invocation!.Result.Status);
        }

        Assert.Contains(fixture.Worker.Logs, l => l.EventId == "LogSigner" && l.Message.Contains("UserDelegationUploadSigner", StringComparison.Ordinal));

        // What a client does with an upload URL (PUT with the metadata header), then Event Grid's BlobCreated.
        var id = $"images/{fixture.Prefix}/2026/01/01/{Guid.NewGuid():N}.jpg";
        var blob = fixture.Images.GetBlobClient(id["images/".Length..]);
        await blob.UploadAsync(new BinaryData(Repo.PhotoBytes("hubble_deep_field.jpg")),
            new BlobUploadOptions { Metadata = new Dictionary<string, string> { ["album"] = "space" }, HttpHeaders = new BlobHttpHeaders { ContentType = "image/jpeg" } });
        using (var pending = await fixture.GetAsync("/api/uploads/" + id))
            Assert.Equal("processing", (await pending.JsonAsync()).GetProperty("status").GetString());

        AssertSucceeded(await fixture.IngestAsync(id["images/".Length..]));
        using var done = await fixture.GetAsync("/api/uploads/" + id);
        var status = await done.JsonAsync();
        Assert.Equal("indexed", status.GetProperty("status").GetString());
        Assert.Equal("space", status.GetProperty("metadata").GetProperty("tags").GetProperty("album").GetString());
    }

    private static void AssertSucceeded(InvocationResponse response) =>
        Assert.True(response.Result.Status == StatusResult.Types.Status.Success, $"IngestImage failed: {response.Result.Exception?.Message}\n{response.Result.Exception?.StackTrace}");

    private static string EventGridJson(string type, string blob) =>
        System.Text.Json.JsonSerializer.Serialize(new[]
        {
            new Dictionary<string, object>
            {
                ["id"] = Guid.NewGuid().ToString(),
                ["eventType"] = type,
                ["subject"] = $"/blobServices/default/containers/images/blobs/{blob}",
                ["eventTime"] = DateTimeOffset.UtcNow.ToString("o"),
                ["data"] = new Dictionary<string, object> { ["api"] = "DeleteBlob", ["blobType"] = "BlockBlob" },
                ["dataVersion"] = "",
                ["metadataVersion"] = "1",
            },
        });
}
