using System.Net;
using System.Net.Http.Headers;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests;

/// <summary>A second local host whose image limit is 100,000 bytes (Imaging:MaxBytes).</summary>
public sealed class SmallLimitHostFixture : IAsyncLifetime
{
    public const int MaxBytes = 100_000;

    private LocalHost? _host;

    internal LocalHost Host => _host ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync()
    {
        _host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?> { ["Imaging:MaxBytes"] = MaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ConfigureAwait(false);
        await _host.IngestPhotosAsync(["clock_motion.png"]).ConfigureAwait(false); // 58,784 bytes: under the limit
    }

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync().ConfigureAwait(false);
    }
}

public sealed class LimitsTests(SmallLimitHostFixture fixture) : IClassFixture<SmallLimitHostFixture>
{
    private LocalHost Host => fixture.Host;

    [Fact]
    public async Task BodyOverTheLimit_WithContentLength_Is413Problem()
    {
        var body = Repo.PhotoBytes("brick.png"); // 106,634 bytes
        Assert.True(body.Length > SmallLimitHostFixture.MaxBytes);
        using var response = await Host.PostImageAsync("/api/search", body, "image/png");
        await Http.ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Theory]
    [InlineData(SmallLimitHostFixture.MaxBytes + 1)]
    [InlineData(150_000)]
    [InlineData(1_000_000)] // over Kestrel's own request body limit as well
    public async Task BodyOverTheLimit_Chunked_Is413Problem(int length)
    {
        var body = TestImages.RandomBytes(length);
        body[0] = 0xFF; body[1] = 0xD8; body[2] = 0xFF; // looks like a JPEG
        using var response = await SendChunkedAsync("/api/search", body, "image/jpeg");
        await Http.ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task BodyUnderTheLimit_IsSearched()
    {
        var body = TestImages.EditedCopy(Repo.PhotoBytes("clock_motion.png"));
        Assert.True(body.Length < SmallLimitHostFixture.MaxBytes);
        using var response = await Host.PostImageAsync("/api/search", body);
        Assert.Equal(["clock_motion.png"], Http.ResultIds(await Http.JsonAsync(response)));
    }

    [Fact]
    public async Task BodyOfExactlyTheLimit_IsNotRejectedAsTooLarge()
    {
        var body = TestImages.RandomBytes(SmallLimitHostFixture.MaxBytes);
        using var response = await Host.PostImageAsync("/api/search", body, "application/octet-stream");
        await Http.ProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task EventBatchOverTheServerLimit_Chunked_Is413Problem()
    {
        // Under the webhook's 1 MB but over this host's Kestrel limit (MaxBytes + 64 KB).
        var json = "[" + string.Join(",", Enumerable.Repeat("""{"id":"x","eventType":"Other","subject":"s","data":{}}""", 6000)) + "]";
        Assert.InRange(json.Length, 200_000, 1024 * 1024);
        using var response = await SendChunkedAsync("/api/events/blobs", System.Text.Encoding.UTF8.GetBytes(json), "application/json");
        await Http.ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    /// <summary>A stream without a length, so HttpClient sends the body chunked.</summary>
    /// <summary>
    /// Posts <paramref name="body"/> chunked (no Content-Length, so the server finds the size only by reading).
    /// The server answers 413 and closes the connection while the client may still be sending; when the
    /// client's write fails first ("broken pipe", connection reset) it never sees that answer, so the
    /// transport failure alone is retried (up to 5 attempts). Whatever status does arrive is the one checked.
    /// </summary>
    private async Task<HttpResponseMessage> SendChunkedAsync(string path, byte[] body, string contentType)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var content = new StreamContent(new NonSeekableStream(body));
            content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
            request.Headers.TransferEncodingChunked = true;
            // The server gives up on this connection mid-body: keep it out of the shared client's pool, or the
            // next test's request is sent on a closed connection ("the response ended prematurely").
            request.Headers.ConnectionClose = true;
            try
            {
                return await Host.Client.SendAsync(request);
            }
            catch (HttpRequestException ex) when (attempt < 5 && ex.InnerException is IOException or System.Net.Sockets.SocketException)
            {
                // The connection was closed under the request body: try again.
            }
        }
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
