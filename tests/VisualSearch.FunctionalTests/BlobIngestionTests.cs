using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Blobs;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests;

/// <summary>Blob Storage ingestion against a real Azurite: the container watcher, Event Grid webhooks, the Functions classes.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class BlobIngestionTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Watcher_IndexesUploads_FollowsDeletesAndOverwrites()
    {
        var container = await azurite.NewContainerAsync();
        try
        {
            await using var host = await LocalHost.StartAsync(watch: true, AzuriteFixture.BlobSourceSettings(container.Name));
            Assert.NotNull(host.Services.GetService<ContainerWatcher>());

            await UploadAsync(container, "cats/chelsea.png", Repo.PhotoBytes("chelsea.png"), new Dictionary<string, string> { ["album"] = "cats" });
            await UploadAsync(container, "coffee.png", Repo.PhotoBytes("coffee.png"));
            await UploadAsync(container, "astronaut.png", Repo.PhotoBytes("astronaut.png"));
            await UploadAsync(container, "broken.jpg", TestImages.TruncatedJpeg()); // rejected, never indexed

            await Http.EventuallyAsync(async () => await host.CountAsync() == 3, "the watcher to index 3 blobs", Timeout);
            // Two more complete passes: the damaged blob stays out, and nothing else shows up.
            await WaitForPassesAsync(host, 2);
            Assert.Equal(3, await host.CountAsync());
            using (var broken = await host.Client.GetAsync($"/api/items/{container.Name}/broken.jpg"))
                await Http.ProblemAsync(broken, HttpStatusCode.NotFound);

            var chelseaId = $"{container.Name}/cats/chelsea.png";
            using (var search = await host.PostImageAsync("/api/search", TestImages.EditedCopy(Repo.PhotoBytes("chelsea.png"))))
            {
                var ids = Http.ResultIds(await Http.JsonAsync(search));
                Assert.Equal(3, ids.Count);
                Assert.Equal(chelseaId, ids[0]);
            }

            var original = await GetMetadataAsync(host, chelseaId);
            Assert.Equal(container.Name, original.GetProperty("source").GetString());
            Assert.Equal("cats/chelsea.png", original.GetProperty("name").GetString());
            Assert.Equal("image/png", original.GetProperty("contentType").GetString());
            Assert.Equal("cats", original.GetProperty("tags").GetProperty("album").GetString());
            Assert.Equal(Sha256(Repo.PhotoBytes("chelsea.png")), original.GetProperty("contentHash").GetString());

            // Blob metadata becomes filterable tags.
            using (var filtered = await host.Client.GetAsync($"/api/search?id={Uri.EscapeDataString($"{container.Name}/coffee.png")}&filter={Uri.EscapeDataString("album eq 'cats'")}"))
                Assert.Equal([chelseaId], Http.ResultIds(await Http.JsonAsync(filtered)));

            // Delete: the record goes.
            await container.DeleteBlobAsync("coffee.png");
            await Http.EventuallyAsync(async () =>
            {
                using var item = await host.Client.GetAsync($"/api/items/{container.Name}/coffee.png");
                return item.StatusCode == HttpStatusCode.NotFound && await host.CountAsync() == 2;
            }, "the deleted blob's record to go", Timeout);

            // Overwrite with other content: the record is updated in place.
            var replacement = Repo.PhotoBytes("brick.png");
            await UploadAsync(container, "cats/chelsea.png", replacement);
            await Http.EventuallyAsync(async () =>
                (await GetMetadataAsync(host, chelseaId)).GetProperty("contentHash").GetString() == Sha256(replacement),
                "the overwritten blob to be re-indexed", Timeout);
            var updated = await GetMetadataAsync(host, chelseaId);
            Assert.NotEqual(original.GetProperty("contentHash").GetString(), updated.GetProperty("contentHash").GetString());
            Assert.Equal(replacement.Length, updated.GetProperty("size").GetInt64());
            Assert.Equal(TestImages.Size(replacement).Width, updated.GetProperty("width").GetInt32());
            Assert.Equal(2, await host.CountAsync());

            using (var search = await host.PostImageAsync("/api/search", TestImages.EditedCopy(replacement)))
                Assert.Equal(chelseaId, Http.ResultIds(await Http.JsonAsync(search))[0]);
        }
        finally
        {
            await container.DeleteIfExistsAsync();
        }
    }

    [Fact]
    public async Task EventGridWebhooks_IndexCreatedBlobs_AndRemoveDeletedOnes()
    {
        var container = await azurite.NewContainerAsync();
        try
        {
            await using var host = await LocalHost.StartAsync(watch: false, AzuriteFixture.BlobSourceSettings(container.Name));
            Assert.Null(host.Services.GetService<ContainerWatcher>());

            const string Name = "uploads/2024/coffee.png";
            var id = $"{container.Name}/{Name}";
            await UploadAsync(container, Name, Repo.PhotoBytes("coffee.png"));
            await UploadAsync(container, "retina.jpg", Repo.PhotoBytes("retina.jpg"));
            Assert.Equal(0, await host.CountAsync()); // no watcher: nothing happens without an event

            using (var created = await PostEventAsync(host, "/runtime/webhooks/blobs", "Microsoft.Storage.BlobCreated", container, Name))
                Assert.Equal(HttpStatusCode.OK, created.StatusCode);
            using (var created = await PostEventAsync(host, "/runtime/webhooks/blobs", "Microsoft.Storage.BlobCreated", container, "retina.jpg"))
                Assert.Equal(HttpStatusCode.OK, created.StatusCode);

            Assert.Equal(2, await host.CountAsync());
            var metadata = await GetMetadataAsync(host, id);
            Assert.Equal(Name, metadata.GetProperty("name").GetString());
            using (var search = await host.PostImageAsync("/api/search", TestImages.EditedCopy(Repo.PhotoBytes("coffee.png"))))
                Assert.Equal([id, $"{container.Name}/retina.jpg"], Http.ResultIds(await Http.JsonAsync(search)));

            // A repeated event for the same version changes nothing.
            using (var again = await PostEventAsync(host, "/api/events/blobs", "Microsoft.Storage.BlobCreated", container, Name))
                Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Equal(metadata.GetProperty("indexedAt").GetString(), (await GetMetadataAsync(host, id)).GetProperty("indexedAt").GetString());

            await container.DeleteBlobAsync(Name);
            using (var deleted = await PostEventAsync(host, "/api/events/blobs", "Microsoft.Storage.BlobDeleted", container, Name))
                Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
            using (var item = await host.Client.GetAsync($"/api/items/{id}"))
                await Http.ProblemAsync(item, HttpStatusCode.NotFound);
            Assert.Equal(1, await host.CountAsync());
        }
        finally
        {
            await container.DeleteIfExistsAsync();
        }
    }

    [Fact]
    public async Task EventGridWebhook_ForAMissingBlob_Returns200AndIndexesNothing()
    {
        var container = await azurite.NewContainerAsync();
        try
        {
            await using var host = await LocalHost.StartAsync(watch: false, AzuriteFixture.BlobSourceSettings(container.Name));

            using (var missingBlob = await PostEventAsync(host, "/runtime/webhooks/blobs", "Microsoft.Storage.BlobCreated", container, "ghost.png"))
                Assert.Equal(HttpStatusCode.OK, missingBlob.StatusCode);
            var otherContainer = azurite.Service.GetBlobContainerClient("it-missing-" + Guid.NewGuid().ToString("N")[..8]);
            using (var missingContainer = await PostEventAsync(host, "/api/events/blobs", "Microsoft.Storage.BlobCreated", otherContainer, "ghost.png"))
                Assert.Equal(HttpStatusCode.OK, missingContainer.StatusCode);
            using (var deletedUnknown = await PostEventAsync(host, "/api/events/blobs", "Microsoft.Storage.BlobDeleted", container, "never-indexed.png"))
                Assert.Equal(HttpStatusCode.OK, deletedUnknown.StatusCode);

            Assert.Equal(0, await host.CountAsync());
            using var item = await host.Client.GetAsync($"/api/items/{container.Name}/ghost.png");
            await Http.ProblemAsync(item, HttpStatusCode.NotFound);
        }
        finally
        {
            await container.DeleteIfExistsAsync();
        }
    }

    [Fact]
    public async Task EventGridWebhook_ForADamagedBlob_Returns200AndIndexesNothing()
    {
        var container = await azurite.NewContainerAsync();
        try
        {
            await using var host = await LocalHost.StartAsync(watch: false, AzuriteFixture.BlobSourceSettings(container.Name));
            await UploadAsync(container, "cut.jpg", TestImages.TruncatedJpeg());
            await UploadAsync(container, "notes.txt", Encoding.UTF8.GetBytes("not an image"));

            foreach (var name in new[] { "cut.jpg", "notes.txt" })
            {
                using var response = await PostEventAsync(host, "/runtime/webhooks/blobs", "Microsoft.Storage.BlobCreated", container, name);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            Assert.Equal(0, await host.CountAsync());
        }
        finally
        {
            await container.DeleteIfExistsAsync();
        }
    }

    private static async Task UploadAsync(BlobContainerClient container, string name, byte[] content, IDictionary<string, string>? metadata = null)
    {
        var options = new BlobUploadOptions { Metadata = metadata };
        await container.GetBlobClient(name).UploadAsync(new BinaryData(content), options);
    }

    private static async Task<JsonElement> GetMetadataAsync(LocalHost host, string id)
    {
        using var response = await host.Client.GetAsync($"/api/items/{id}");
        var body = await Http.JsonAsync(response);
        Assert.Equal(id, body.GetProperty("id").GetString());
        return body.GetProperty("metadata");
    }

    private static async Task WaitForPassesAsync(LocalHost host, int passes)
    {
        var watcher = host.Services.GetRequiredService<ContainerWatcher>();
        var target = watcher.Passes + passes;
        await Http.EventuallyAsync(() => Task.FromResult(watcher.Passes >= target), $"{passes} more watcher passes", Timeout);
    }

    /// <summary>An Event Grid schema batch with one storage event, as Event Grid posts it.</summary>
    private static string EventJson(string eventType, BlobContainerClient container, string blobName)
    {
        var api = eventType.EndsWith("Deleted", StringComparison.Ordinal) ? "DeleteBlob" : "PutBlob";
        object[] batch =
        [
            new Dictionary<string, object>
            {
                ["id"] = Guid.NewGuid().ToString(),
                ["eventType"] = eventType,
                ["subject"] = $"/blobServices/default/containers/{container.Name}/blobs/{blobName}",
                ["data"] = new Dictionary<string, object>
                {
                    ["api"] = api,
                    ["contentType"] = "application/octet-stream",
                    ["blobType"] = "BlockBlob",
                    ["url"] = $"{container.Uri.ToString().TrimEnd('/')}/{blobName}",
                },
                ["dataVersion"] = "",
                ["metadataVersion"] = "1",
                ["eventTime"] = DateTimeOffset.UtcNow.ToString("O"),
                ["topic"] = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
            },
        ];
        return JsonSerializer.Serialize(batch);
    }

    private static Task<HttpResponseMessage> PostEventAsync(LocalHost host, string path, string eventType, BlobContainerClient container, string blobName) =>
        host.Client.PostAsync(path, new StringContent(EventJson(eventType, container, blobName), Encoding.UTF8, "application/json"));

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
