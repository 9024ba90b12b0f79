using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Blobs;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests;

/// <summary>
/// Client uploads end to end against a real Azurite: ask the API for an upload URL, PUT the photo to Blob Storage
/// with a plain HttpClient (no SDK, as a mobile or web client would), let ingestion follow, then search.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class UploadTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    // A client that knows nothing of Azure: no SDK, no credentials, just the URL and headers it was given.
    private static HttpClient Plain => DirectUpload.Plain;

    [Fact]
    public async Task Upload_WithTheSignedUrl_IsIndexedSearchableAndFilterable()
    {
        var container = await azurite.NewContainerAsync();
        try
        {
            await using var host = await LocalHost.StartAsync(watch: true, AzuriteFixture.BlobSourceSettings(container.Name));

            var chelsea = await CreateUploadAsync(host, new { contentType = "image/png", fileName = "IMG_0001.PNG", metadata = new { album = "Zürich 2024", tag = "ana" } });
            var hubble = await CreateUploadAsync(host, new { contentType = "image/jpeg" });
            var id = chelsea.GetProperty("id").GetString()!;
            Assert.StartsWith(container.Name + "/", id, StringComparison.Ordinal);

            // Nothing until the PUT.
            using (var before = await host.Client.GetAsync($"/api/items/{id}"))
                await Http.ProblemAsync(before, HttpStatusCode.NotFound);
            using (var status = await host.Client.GetAsync($"/api/uploads/{id}"))
                await Http.ProblemAsync(status, HttpStatusCode.NotFound);

            using (var put = await DirectUpload.PutAsync(chelsea, Repo.PhotoBytes("chelsea.png")))
                await AssertStatusAsync(HttpStatusCode.Created, put);
            using (var put = await DirectUpload.PutAsync(hubble, Repo.PhotoBytes("hubble_deep_field.jpg")))
                await AssertStatusAsync(HttpStatusCode.Created, put);

            // Ingestion follows from the upload (the watcher, locally): the record appears.
            await Http.EventuallyAsync(async () =>
            {
                using var item = await host.Client.GetAsync($"/api/items/{id}");
                return item.StatusCode == HttpStatusCode.OK;
            }, "the uploaded photo to be indexed", Timeout);
            var metadata = await GetMetadataAsync(host, id);
            Assert.Equal(id[(container.Name.Length + 1)..], metadata.GetProperty("name").GetString());
            Assert.Equal("image/png", metadata.GetProperty("contentType").GetString());
            Assert.Equal(Repo.PhotoBytes("chelsea.png").Length, metadata.GetProperty("size").GetInt64());
            var tags = metadata.GetProperty("tags");
            Assert.Equal("Zürich 2024", tags.GetProperty("album").GetString()); // percent-encoded in the header, decoded at ingestion
            Assert.Equal("ana", tags.GetProperty("tag").GetString());
            Assert.False(tags.TryGetProperty("owner", out _)); // single-user host: no owner, and no client may name one

            using (var status = await host.Client.GetAsync($"/api/uploads/{id}"))
            {
                var body = await Http.JsonAsync(status);
                Assert.Equal("indexed", body.GetProperty("status").GetString());
                Assert.Equal("Zürich 2024", body.GetProperty("metadata").GetProperty("tags").GetProperty("album").GetString());
            }

            // Found by searching with an edited copy; and the client metadata is a filter.
            var hubbleId = hubble.GetProperty("id").GetString()!;
            await Http.EventuallyAsync(async () => await host.CountAsync() == 2, "both uploads to be indexed", Timeout);
            using (var search = await host.PostImageAsync("/api/search", TestImages.EditedCopy(Repo.PhotoBytes("chelsea.png"))))
                Assert.Equal([id, hubbleId], Http.ResultIds(await Http.JsonAsync(search)));
            using (var filtered = await host.Client.GetAsync($"/api/search?id={Uri.EscapeDataString(hubbleId)}&filter={Uri.EscapeDataString("album eq 'Zürich 2024' and tag eq 'ana'")}"))
                Assert.Equal([id], Http.ResultIds(await Http.JsonAsync(filtered)));

            // The signature is for that one blob: the same query string on another name is refused.
            var url = chelsea.GetProperty("uploadUrl").GetString()!;
            var elsewhere = new UriBuilder(url) { Path = new Uri(url).AbsolutePath.Replace(Path.GetFileName(id), "someone-else.png", StringComparison.Ordinal) }.Uri;
            using (var other = await DirectUpload.PutAsync(chelsea, Repo.PhotoBytes("coffee.png"), elsewhere))
                await AssertStatusAsync(HttpStatusCode.Forbidden, other);
            Assert.False(await container.GetBlobClient(Path.GetDirectoryName(id[(container.Name.Length + 1)..])!.Replace('\\', '/') + "/someone-else.png").ExistsAsync());

            // Create and write only: the URL cannot read the blob back, list or delete.
            using (var read = await Plain.GetAsync(url))
                await AssertStatusAsync(HttpStatusCode.Forbidden, read, "AuthorizationPermissionMismatch");
            using (var delete = await Plain.DeleteAsync(url))
                await AssertStatusAsync(HttpStatusCode.Forbidden, delete, "AuthorizationPermissionMismatch");
            var containerUrl = new UriBuilder(url) { Path = $"/devstoreaccount1/{container.Name}", Query = new Uri(url).Query.TrimStart('?') + "&restype=container&comp=list" }.Uri;
            using (var list = await Plain.GetAsync(containerUrl))
                await AssertStatusAsync(HttpStatusCode.Forbidden, list);
        }
        finally
        {
            await container.DeleteIfExistsAsync();
        }
    }

    [Fact]
    public async Task Upload_ThatIsNotAnImage_IsRejected_AndTheStatusSaysWhy()
    {
        var container = await azurite.NewContainerAsync();
        try
        {
            await using var host = await LocalHost.StartAsync(watch: true, AzuriteFixture.BlobSourceSettings(container.Name));

            // The client claims a JPEG; the bytes say otherwise (a SAS cannot check content).
            var upload = await CreateUploadAsync(host, new { contentType = "image/jpeg", metadata = new { tag = "notes" } });
            var id = upload.GetProperty("id").GetString()!;
            using (var put = await DirectUpload.PutAsync(upload, Encoding.UTF8.GetBytes("these are my notes, not a photo")))
                await AssertStatusAsync(HttpStatusCode.Created, put);

            var status = await WaitForStatusAsync(host, id, "rejected");
            Assert.Equal("UnsupportedFormat", status.GetProperty("reason").GetString());
            Assert.False(string.IsNullOrWhiteSpace(status.GetProperty("detail").GetString()));
            using (var item = await host.Client.GetAsync($"/api/items/{id}"))
                await Http.ProblemAsync(item, HttpStatusCode.NotFound);

            // The client fixes it with the same URL (it may overwrite its own blob until the URL expires): judged afresh.
            using (var put = await DirectUpload.PutAsync(upload, Repo.PhotoBytes("retina.jpg")))
                await AssertStatusAsync(HttpStatusCode.Created, put);
            var indexed = await WaitForStatusAsync(host, id, "indexed");
            Assert.Equal("notes", indexed.GetProperty("metadata").GetProperty("tags").GetProperty("tag").GetString());
            Assert.False(indexed.TryGetProperty("reason", out _));
        }
        finally
        {
            await container.DeleteIfExistsAsync();
        }
    }

    [Fact]
    public async Task UploadUrl_Expires_AndOversizedUploadsAreRejected()
    {
        var container = await azurite.NewContainerAsync();
        try
        {
            var settings = AzuriteFixture.BlobSourceSettings(container.Name);
            settings["Uploads:UrlLifetime"] = "00:00:03";
            settings["Imaging:MaxBytes"] = "4096";
            await using var host = await LocalHost.StartAsync(watch: true, settings);

            var upload = await CreateUploadAsync(host, new { contentType = "image/png" });
            var id = upload.GetProperty("id").GetString()!;
            Assert.Equal(4096, upload.GetProperty("maxBytes").GetInt64()); // clients can check before they send
            var expiresOn = upload.GetProperty("expiresOn").GetDateTimeOffset();
            Assert.True(expiresOn <= DateTimeOffset.UtcNow + TimeSpan.FromSeconds(3));

            // A SAS cannot limit the size: the PUT succeeds, ingestion refuses it and says why.
            var photo = Repo.PhotoBytes("coffee.png");
            Assert.True(photo.Length > 4096);
            using (var put = await DirectUpload.PutAsync(upload, photo))
                await AssertStatusAsync(HttpStatusCode.Created, put);
            var status = await WaitForStatusAsync(host, id, "rejected");
            Assert.Equal("TooLarge", status.GetProperty("reason").GetString());
            Assert.Contains("4096", status.GetProperty("detail").GetString(), StringComparison.Ordinal);

            // After expiry the same URL is refused.
            var wait = expiresOn + TimeSpan.FromSeconds(1.5) - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero) await Task.Delay(wait);
            using (var late = await DirectUpload.PutAsync(upload, TestImages.Synthetic(3, 16, 16)))
                await AssertStatusAsync(HttpStatusCode.Forbidden, late);
            var blob = container.GetBlobClient(id[(container.Name.Length + 1)..]);
            Assert.Equal(photo.Length, (await blob.GetPropertiesAsync()).Value.ContentLength);
        }
        finally
        {
            await container.DeleteIfExistsAsync();
        }
    }

    private static async Task<JsonElement> CreateUploadAsync(LocalHost host, object request)
    {
        using var response = await host.Client.PostAsync("/api/uploads", new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"));
        return await Http.JsonAsync(response);
    }

    /// <summary>Asserts the status (and, if given, Blob Storage's x-ms-error-code; Azurite's codes for a bad or expired signature differ from Azure's, its permission code does not).</summary>
    private static async Task AssertStatusAsync(HttpStatusCode expected, HttpResponseMessage response, string? errorCode = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"Expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        if (errorCode is not null) Assert.Equal(errorCode, response.Headers.GetValues("x-ms-error-code").Single());
    }

    private static async Task<JsonElement> WaitForStatusAsync(LocalHost host, string id, string expected)
    {
        JsonElement last = default;
        await Http.EventuallyAsync(async () =>
        {
            using var response = await host.Client.GetAsync($"/api/uploads/{id}");
            if (response.StatusCode != HttpStatusCode.OK) return false;
            last = await Http.JsonAsync(response);
            return last.GetProperty("status").GetString() == expected;
        }, $"upload {id} to be {expected}", Timeout);
        return last;
    }

    private static async Task<JsonElement> GetMetadataAsync(LocalHost host, string id)
    {
        using var response = await host.Client.GetAsync($"/api/items/{id}");
        var body = await Http.JsonAsync(response);
        Assert.Equal(id, body.GetProperty("id").GetString());
        return body.GetProperty("metadata");
    }
}
