using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs.Models;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests.Identity;

/// <summary>
/// Uploads of signed-in people against the shared Azurite: the server names the blob users/&lt;owner&gt;/..., the
/// URL it hands A cannot write under B's prefix, ingestion takes the owner from the name (never from metadata),
/// and B cannot see A's upload status or item.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class UploadOwnershipTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Uploads_are_named_for_their_owner_and_stay_private()
    {
        var container = await azurite.NewContainerAsync();
        try
        {
            await using var issuer = await TestIssuer.StartAsync();
            var settings = AzuriteFixture.BlobSourceSettings(container.Name);
            foreach (var (k, v) in issuer.HostSettings()) settings[k] = v;
            await using var host = await LocalHost.StartAsync(watch: true, settings);

            var upload = await CreateUploadAsync(host, issuer.Token(TestUser.A), """{"contentType":"image/png","metadata":{"album":"cats"}}""");
            var id = upload.GetProperty("id").GetString()!;
            Assert.StartsWith($"{container.Name}/users/{TestUser.A.Owner}/", id, StringComparison.Ordinal);

            // The URL is for that one blob: the same signature cannot write under B's prefix (nor anywhere else).
            var url = upload.GetProperty("uploadUrl").GetString()!;
            var blobName = id[(container.Name.Length + 1)..];
            var underB = new UriBuilder(url) { Path = new Uri(url).AbsolutePath.Replace($"users/{TestUser.A.Owner}/", $"users/{Uri.EscapeDataString(TestUser.B.Owner)}/", StringComparison.Ordinal) }.Uri;
            Assert.NotEqual(new Uri(url).AbsolutePath, underB.AbsolutePath);
            using (var forged = await DirectUpload.PutAsync(upload, Repo.PhotoBytes("chelsea.png"), underB))
                Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
            Assert.Empty(await ListAsync(container, $"users/{TestUser.B.Owner}/"));

            // A's PUT with the URL she was given; the record is hers, from the blob name.
            using (var put = await DirectUpload.PutAsync(upload, Repo.PhotoBytes("chelsea.png")))
                Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            await Http.EventuallyAsync(async () =>
            {
                using var item = await SendAsync(host, HttpMethod.Get, $"/api/items/{id}", issuer.Token(TestUser.A));
                return item.StatusCode == HttpStatusCode.OK;
            }, "A's upload to be indexed", Timeout);
            using (var item = await SendAsync(host, HttpMethod.Get, $"/api/items/{id}", issuer.Token(TestUser.A)))
            {
                var tags = (await Http.JsonAsync(item)).GetProperty("metadata").GetProperty("tags");
                Assert.Equal(TestUser.A.Owner, tags.GetProperty("owner").GetString());
                Assert.Equal("cats", tags.GetProperty("album").GetString());
            }

            // B: A's upload status and item read like ones that do not exist.
            using (var status = await SendAsync(host, HttpMethod.Get, $"/api/uploads/{id}", issuer.Token(TestUser.B)))
                await Http.ProblemAsync(status, HttpStatusCode.NotFound);
            using (var status = await SendAsync(host, HttpMethod.Get, $"/api/uploads/{id}", issuer.Token(TestUser.A)))
                Assert.Equal("indexed", (await Http.JsonAsync(status)).GetProperty("status").GetString());
            using (var item = await SendAsync(host, HttpMethod.Get, $"/api/items/{id}", issuer.Token(TestUser.B)))
                await Http.ProblemAsync(item, HttpStatusCode.NotFound);

            // Metadata that claims another owner changes nothing: a blob under B's prefix (written with the account
            // key, as no client can) saying owner=A is B's.
            var planted = $"users/{TestUser.B.Owner}/2026/01/01/planted.png";
            await container.GetBlobClient(planted).UploadAsync(new BinaryData(Repo.PhotoBytes("coffee.png")),
                new BlobUploadOptions { Metadata = new Dictionary<string, string> { ["owner"] = TestUser.A.Owner } });
            var plantedId = $"{container.Name}/{planted}";
            await Http.EventuallyAsync(async () =>
            {
                using var item = await SendAsync(host, HttpMethod.Get, $"/api/items/{Uri.EscapeDataString(container.Name)}/users/{Uri.EscapeDataString(TestUser.B.Owner)}/2026/01/01/planted.png", issuer.Token(TestUser.B));
                return item.StatusCode == HttpStatusCode.OK;
            }, "the planted blob to be indexed as B's", Timeout);
            using (var item = await SendAsync(host, HttpMethod.Get, $"/api/items/{plantedId}", issuer.Token(TestUser.A)))
                await Http.ProblemAsync(item, HttpStatusCode.NotFound);

            // A deletes her upload: the blob goes, and with it the record.
            using (var byB = await SendAsync(host, HttpMethod.Delete, $"/api/items/{id}", issuer.Token(TestUser.B)))
                await Http.ProblemAsync(byB, HttpStatusCode.NotFound);
            Assert.True(await container.GetBlobClient(blobName).ExistsAsync());
            using (var byA = await SendAsync(host, HttpMethod.Delete, $"/api/items/{id}", issuer.Token(TestUser.A)))
                Assert.Equal(HttpStatusCode.NoContent, byA.StatusCode);
            Assert.False(await container.GetBlobClient(blobName).ExistsAsync());
            using (var gone = await SendAsync(host, HttpMethod.Get, $"/api/items/{id}", issuer.Token(TestUser.A)))
                await Http.ProblemAsync(gone, HttpStatusCode.NotFound);
        }
        finally
        {
            await container.DeleteIfExistsAsync();
        }
    }

    private static async Task<List<string>> ListAsync(Azure.Storage.Blobs.BlobContainerClient container, string prefix)
    {
        var names = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, CancellationToken.None)) names.Add(blob.Name);
        return names;
    }

    private static async Task<HttpResponseMessage> SendAsync(LocalHost host, HttpMethod method, string path, string token, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await host.Client.SendAsync(request);
    }

    private static async Task<JsonElement> CreateUploadAsync(LocalHost host, string token, string json)
    {
        using var response = await SendAsync(host, HttpMethod.Post, "/api/uploads", token, new StringContent(json, Encoding.UTF8, "application/json"));
        return await Http.JsonAsync(response);
    }
}
