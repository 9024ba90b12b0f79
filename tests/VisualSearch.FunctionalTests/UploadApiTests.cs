using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests;

/// <summary>A local host (vsearch serve --no-watch) for POST /api/uploads; signing needs no running Azurite.</summary>
public sealed class UploadHostFixture : IAsyncLifetime
{
    private LocalHost? _host;

    internal LocalHost Host => _host ?? throw new InvalidOperationException("Not started.");

    // Nothing here is embedded: no model warm-up either (it would also add to the process-wide stage metrics).
    public async Task InitializeAsync() =>
        _host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?> { ["Encoder:WarmUpOnStart"] = "false" }).ConfigureAwait(false);

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>POST /api/uploads on the local host: the response, and every way a request is refused.</summary>
public sealed partial class UploadApiTests(UploadHostFixture fixture) : IClassFixture<UploadHostFixture>
{
    private HttpClient Client => fixture.Host.Client;

    [Fact]
    public async Task CreateUpload_ReturnsAServerNamedBlobAndAWriteOnlyUrlForIt()
    {
        var before = DateTimeOffset.UtcNow;
        using var response = await PostJsonAsync("""{"contentType":"image/jpeg","fileName":"IMG_0001.HEIC","metadata":{"album":"Zürich 2024","tag":"100% cats"}}""");
        var body = await Http.JsonAsync(response);

        Assert.Equal(["id", "uploadUrl", "expiresOn", "method", "headers", "maxBytes"], body.EnumerateObject().Select(p => p.Name).ToArray());
        var id = body.GetProperty("id").GetString()!;
        // images/yyyy/MM/dd/<32 hex>.jpg: the server's name and the content type's extension, never the client's.
        Assert.Matches(BlobNamePattern(), id);
        Assert.EndsWith(".jpg", id, StringComparison.Ordinal);
        Assert.Equal("PUT", body.GetProperty("method").GetString());
        Assert.Equal(50L * 1024 * 1024, body.GetProperty("maxBytes").GetInt64());

        var url = new Uri(body.GetProperty("uploadUrl").GetString()!);
        Assert.Equal("/devstoreaccount1/" + id, url.AbsolutePath); // Azurite's development account
        var sas = System.Web.HttpUtility.ParseQueryString(url.Query);
        Assert.Equal("cw", sas["sp"]);  // create + write: no read, list or delete
        Assert.Equal("b", sas["sr"]);   // this one blob
        Assert.Equal("https,http", sas["spr"]); // the development signer only: Azurite speaks http
        Assert.False(string.IsNullOrEmpty(sas["sig"]));
        Assert.Null(sas["skoid"]);      // account-key signed (Azurite), not user delegation
        Assert.DoesNotContain("AccountKey", url.ToString(), StringComparison.OrdinalIgnoreCase);

        var expiresOn = body.GetProperty("expiresOn").GetDateTimeOffset();
        Assert.Equal(TimeSpan.Zero, expiresOn.Offset);
        Assert.InRange(expiresOn, before + TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(2), DateTimeOffset.UtcNow + TimeSpan.FromMinutes(5));
        Assert.Equal(expiresOn, DateTimeOffset.Parse(sas["se"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(DateTimeOffset.Parse(sas["st"]!, System.Globalization.CultureInfo.InvariantCulture) < before); // clock skew allowance

        var headers = body.GetProperty("headers").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal(new Dictionary<string, string?>
        {
            ["x-ms-blob-type"] = "BlockBlob",
            ["Content-Type"] = "image/jpeg",
            ["x-ms-meta-album"] = "Z%C3%BCrich 2024", // headers are ASCII: UTF-8, percent-encoded
            ["x-ms-meta-tag"] = "100%25 cats",
        }, headers);
    }

    [Fact]
    public async Task CreateUpload_EachRequestGetsItsOwnBlob()
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 5; i++)
        {
            using var response = await PostJsonAsync("""{"contentType":"image/png"}""");
            Assert.True(ids.Add((await Http.JsonAsync(response)).GetProperty("id").GetString()!));
        }
    }

    [Theory]
    [InlineData("", "", null)] // no body: no content type, no extension, no metadata
    [InlineData("{}", "", null)]
    [InlineData("""{"fileName":"holiday/IMG_1.PNG"}""", ".png", "image/png")]
    [InlineData("""{"fileName":"scan.tiff","contentType":null}""", ".tif", "image/tiff")]
    [InlineData("""{"fileName":"no-extension"}""", "", null)]
    [InlineData("""{"contentType":"image/jpg; charset=binary","fileName":"../../etc/passwd.png"}""", ".jpg", "image/jpeg")]
    [InlineData("""{"CONTENTTYPE":"IMAGE/WEBP","metadata":null}""", ".webp", "image/webp")]
    public async Task CreateUpload_TakesTheTypeFromContentTypeOrElseTheFileName(string json, string extension, string? contentType)
    {
        using var response = await PostJsonAsync(json);
        var body = await Http.JsonAsync(response);
        var id = body.GetProperty("id").GetString()!;
        Assert.Matches(BlobNamePattern(), id);
        Assert.Equal(extension, Path.GetExtension(id));
        var headers = body.GetProperty("headers");
        Assert.Equal("BlockBlob", headers.GetProperty("x-ms-blob-type").GetString());
        Assert.Equal(contentType, headers.TryGetProperty("Content-Type", out var ct) ? ct.GetString() : null);
    }

    [Theory]
    [InlineData("{", HttpStatusCode.BadRequest, "Invalid JSON")]
    [InlineData("[]", HttpStatusCode.BadRequest, "Invalid upload request")]
    [InlineData("\"image/jpeg\"", HttpStatusCode.BadRequest, "Invalid upload request")]
    [InlineData("""{"contentType":"image/jpeg","path":"a/b.jpg"}""", HttpStatusCode.BadRequest, "Unknown field")]
    [InlineData("""{"contentType":"image/png","ContentType":"image/png"}""", HttpStatusCode.BadRequest, "Duplicate field")]
    [InlineData("""{"contentType":42}""", HttpStatusCode.BadRequest, "Invalid contentType")]
    [InlineData("""{"fileName":["a.jpg"]}""", HttpStatusCode.BadRequest, "Invalid fileName")]
    [InlineData("""{"fileName":"a\u0000.jpg"}""", HttpStatusCode.BadRequest, "Invalid fileName")]
    [InlineData("""{"contentType":"text/plain"}""", HttpStatusCode.UnsupportedMediaType, "Unsupported image type")]
    [InlineData("""{"contentType":"image/heic"}""", HttpStatusCode.UnsupportedMediaType, "Unsupported image type")]
    [InlineData("""{"contentType":"image/svg+xml"}""", HttpStatusCode.UnsupportedMediaType, "Unsupported image type")]
    [InlineData("""{"fileName":"IMG_0001.HEIC"}""", HttpStatusCode.UnsupportedMediaType, "Unsupported image type")]
    [InlineData("""{"fileName":"run.exe"}""", HttpStatusCode.UnsupportedMediaType, "Unsupported image type")]
    [InlineData("""{"metadata":"album=cats"}""", HttpStatusCode.BadRequest, "Invalid metadata")]
    [InlineData("""{"metadata":{"camera":"x100"}}""", HttpStatusCode.BadRequest, "Invalid metadata key")]
    [InlineData("""{"metadata":{"vsearch-rejected":"Corrupt"}}""", HttpStatusCode.BadRequest, "Invalid metadata key")]
    [InlineData("""{"metadata":{"owner":"someone-else"}}""", HttpStatusCode.BadRequest, "Invalid metadata key")] // the owner is the server's
    [InlineData("""{"metadata":{"album":"a","Album":"b"}}""", HttpStatusCode.BadRequest, "Invalid metadata key")]
    [InlineData("""{"metadata":{"album":7}}""", HttpStatusCode.BadRequest, "Invalid metadata value")]
    [InlineData("""{"metadata":{"album":"   "}}""", HttpStatusCode.BadRequest, "Invalid metadata value")]
    [InlineData("""{"metadata":{"album":"line\nbreak"}}""", HttpStatusCode.BadRequest, "Invalid metadata value")]
    [InlineData("""{"metadata":{"album":"\ud800"}}""", HttpStatusCode.BadRequest, "Invalid metadata value")]
    public async Task CreateUpload_RefusesBadRequests(string json, HttpStatusCode status, string title)
    {
        using var response = await PostJsonAsync(json);
        var problem = await Http.ProblemAsync(response, status);
        Assert.Equal(title, problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task CreateUpload_LimitsMetadataValuesTo128Characters()
    {
        using (var ok = await PostJsonAsync(JsonSerializer.Serialize(new { metadata = new { album = new string('é', 128) } })))
            Assert.Equal(128 * 6, (await Http.JsonAsync(ok)).GetProperty("headers").GetProperty("x-ms-meta-album").GetString()!.Length); // %C3%A9 each

        using var tooLong = await PostJsonAsync(JsonSerializer.Serialize(new { metadata = new { album = new string('a', 129) } }));
        Assert.Contains("128", (await Http.ProblemAsync(tooLong, HttpStatusCode.BadRequest)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateUpload_RefusesNonJsonAndOversizedBodies()
    {
        using (var text = await Client.PostAsync("/api/uploads", new StringContent("{}", Encoding.UTF8, "text/plain")))
            await Http.ProblemAsync(text, HttpStatusCode.UnsupportedMediaType);

        var big = JsonSerializer.Serialize(new { fileName = "a.jpg", padding = new string('x', 20_000) });
        using var tooLarge = await PostJsonAsync(big);
        await Http.ProblemAsync(tooLarge, HttpStatusCode.RequestEntityTooLarge);
    }

    private Task<HttpResponseMessage> PostJsonAsync(string json) =>
        json.Length == 0 ? Client.PostAsync("/api/uploads", null) : Client.PostAsync("/api/uploads", new StringContent(json, Encoding.UTF8, "application/json"));

    [GeneratedRegex(@"^images/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}(\.[a-z]+)?$")]
    private static partial Regex BlobNamePattern();
}
