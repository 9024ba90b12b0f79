using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Functions.HostTests.Harness;
using VisualSearch.Functions.HostTests.Rpc;

namespace VisualSearch.Functions.HostTests.Infrastructure;

/// <summary>
/// One real worker process for a test class, over Azurite (the shared one on 127.0.0.1:10000, or one started for
/// the run) and a temporary index. Its blobs live in the trigger's container (<c>images</c>, as on Azure) under a
/// prefix of their own, deleted at the end.
/// </summary>
public class WorkerFixture : IAsyncLifetime
{
    private readonly AzuriteFixture _azurite = new();
    private readonly TempDirectory _index = new("vs-ht-index-");
    private readonly System.Collections.Concurrent.ConcurrentBag<string> _ownedBlobs = [];
    private FunctionsHostHarness? _worker;

    public FunctionsHostHarness Worker => _worker ?? throw new InvalidOperationException("Not started.");

    /// <summary>The container the IngestImage trigger fires for.</summary>
    public BlobContainerClient Images { get; private set; } = null!;

    /// <summary>This fixture's folder in <see cref="Images"/>.</summary>
    public string Prefix { get; } = "ht-" + Guid.NewGuid().ToString("N")[..12];

    public string IndexPath => _index.Path;

    /// <summary>
    /// The worker's app settings over Azurite at <paramref name="connectionString"/> and the index at <paramref name="indexPath"/>,
    /// deployed as on Azure with sign-in: App Service authentication in front (Auth:AppService), whose part the harness
    /// plays by passing the validated principal (<see cref="AppServicePrincipal"/>).
    /// </summary>
    public static Dictionary<string, string?> Settings(string connectionString, string indexPath) => new()
    {
        ["Auth:AppService"] = "true",
        ["AzureWebJobsStorage"] = connectionString,
        ["ImagesStorage"] = connectionString, // the blob trigger's Connection
        ["BlobSource:ConnectionString"] = connectionString,
        ["BlobSource:Container"] = "images",
        ["BlobSource:MaxRetries"] = "1",
        ["LocalIndex:Path"] = indexPath,
        ["LocalIndex:FlushToDisk"] = "false",
    };

    public virtual async Task InitializeAsync()
    {
        await _azurite.InitializeAsync().ConfigureAwait(false);
        Images = _azurite.Service.GetBlobContainerClient("images");
        await Images.CreateIfNotExistsAsync().ConfigureAwait(false);
        var settings = Settings(AzuriteFixture.ConnectionString, _index.Path);
        foreach (var (name, value) in AppSettings) settings[name] = value;
        _worker = await FunctionsHostHarness.StartAsync(settings).ConfigureAwait(false);
    }

    /// <summary>Settings of this fixture's worker over <see cref="Settings"/>.</summary>
    protected virtual IReadOnlyDictionary<string, string?> AppSettings { get; } = new Dictionary<string, string?>();

    public virtual async Task DisposeAsync()
    {
        try
        {
            if (_worker is not null) await _worker.DisposeAsync().ConfigureAwait(false);
            await foreach (var blob in Images.GetBlobsAsync(BlobTraits.None, BlobStates.None, Prefix + "/", CancellationToken.None).ConfigureAwait(false))
                await Images.DeleteBlobIfExistsAsync(blob.Name).ConfigureAwait(false);
            foreach (var blobName in _ownedBlobs) await Images.DeleteBlobIfExistsAsync(blobName).ConfigureAwait(false);
        }
        finally
        {
            _index.Dispose();
            await _azurite.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Uploads <paramref name="bytes"/> as <c>images/&lt;prefix&gt;/&lt;name&gt;</c>, or with an <paramref name="owner"/> as a
    /// signed-in person's upload <c>images/users/&lt;owner&gt;/&lt;prefix&gt;/&lt;name&gt;</c> (ingestion takes the owner from
    /// that name), and returns the blob name (without the container). Deleted at the end.
    /// </summary>
    public async Task<string> UploadAsync(string name, byte[] bytes, string? owner = null)
    {
        var blobName = owner is null ? $"{Prefix}/{name}" : $"users/{owner}/{Prefix}/{name}";
        if (owner is not null) _ownedBlobs.Add(blobName);
        await Images.GetBlobClient(blobName).UploadAsync(new BinaryData(bytes), overwrite: true).ConfigureAwait(false);
        return blobName;
    }

    /// <summary>IngestImage for a blob of <see cref="Images"/>, as the host runs it for an Event Grid BlobCreated.</summary>
    public Task<InvocationResponse> IngestAsync(string blobName) => Worker.InvokeBlobTriggerAsync("IngestImage", blobName);

    /// <summary><see cref="IngestAsync"/> for a fixture's own photos: a failure stops the fixture with the worker's output.</summary>
    protected async Task IngestOrThrowAsync(string blobName)
    {
        var response = await IngestAsync(blobName).ConfigureAwait(false);
        if (response.Result.Status != StatusResult.Types.Status.Success)
            throw new InvalidOperationException($"IngestImage failed for {blobName}: {response.Result.Exception?.Message}\n{Worker.Output()}");
    }

    /// <summary>
    /// A request as the platform passes it on after App Service authentication validated the admin's token (the
    /// fixtures' photos have no owner, so only the admin role sees them).
    /// </summary>
    public Task<HttpInvocation> SendAsync(HttpMethod method, string url, byte[]? body = null, string? contentType = null) =>
        SendAsAsync(TestUser.Admin, method, url, body, contentType);

    /// <summary>As <see cref="SendAsync"/>, signed in as <paramref name="user"/>, or with no principal at all when null.</summary>
    public async Task<HttpInvocation> SendAsAsync(TestUser? user, HttpMethod method, string url, byte[]? body = null, string? contentType = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (user is not null) request.SignedIn(user);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (contentType is not null) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        return await Worker.SendAsync(request).ConfigureAwait(false);
    }

    public Task<HttpInvocation> GetAsync(string url) => SendAsync(HttpMethod.Get, url);

    public Task<HttpInvocation> PostJsonAsync(string url, string json) => SendAsync(HttpMethod.Post, url, Encoding.UTF8.GetBytes(json), "application/json");
}

/// <summary>Assertions on what the worker answered over HTTP.</summary>
public static class HttpInvocationAssertions
{
    /// <summary>The function ran to completion (its InvocationResponse says Success) and answered <paramref name="expectedStatus"/>.</summary>
    public static async Task<string> BodyAsync(this HttpInvocation invocation, int expectedStatus)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        var body = await invocation.Response.Content.ReadAsStringAsync().ConfigureAwait(false);
        Assert.True(invocation.Invocation is not null, $"No function matched {invocation.Response.RequestMessage?.RequestUri}.");
        Assert.True(invocation.Invocation.Result.Status == StatusResult.Types.Status.Success,
            $"{invocation.Function?.Name} failed: {invocation.Invocation.Result.Exception?.Message}");
        Assert.True(expectedStatus == invocation.Status, $"{invocation.Function?.Name}: expected {expectedStatus}, got {invocation.Status}: {body}");
        return body;
    }

    public static async Task<JsonElement> JsonAsync(this HttpInvocation invocation, int expectedStatus = 200)
    {
        var body = await invocation.BodyAsync(expectedStatus).ConfigureAwait(false);
        Assert.Equal("application/json", invocation.MediaType);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>An <c>application/problem+json</c> answer with <paramref name="expectedStatus"/> and a detail.</summary>
    public static async Task<JsonElement> ProblemAsync(this HttpInvocation invocation, int expectedStatus)
    {
        var body = await invocation.BodyAsync(expectedStatus).ConfigureAwait(false);
        Assert.Equal("application/problem+json", invocation.MediaType);
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal(expectedStatus, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        return problem;
    }

    public static IReadOnlyList<string> ResultIds(JsonElement body) =>
        body.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("id").GetString()!).ToList();
}
