using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Api;
using VisualSearch.BrowserTests.Infrastructure;

namespace VisualSearch.BrowserTests;

/// <summary>
/// The HTTP surface of the page on the local host: the page files, originals and thumbnails (limits, caching
/// headers, made once), and uploads to the index. Each test has its own host and a copy of a few photos.
/// </summary>
public sealed class PageRoutesTests : IAsyncLifetime
{
    private static readonly string[] Photos = ["chelsea.png", "coffee.png", "retina.jpg"];
    private readonly TempDirectory _images = new("vs-bt-images-");
    private PageHost _host = null!;

    public async Task InitializeAsync()
    {
        foreach (var name in Photos) File.Copy(Repo.Photo(name), Path.Combine(_images.Path, name));
        _host = await PageHost.StartAsync(_images.Path, Photos);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _images.Dispose();
    }

    [Fact]
    public async Task The_page_is_served_at_the_root_with_a_same_origin_policy()
    {
        using var page = await _host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(" ", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script type=\"module\" src=\"app.js\">", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);

        foreach (var (file, mediaType) in new[] { ("app.js", "text/javascript"), ("app.css", "text/css"), ("config.json", "application/json") })
        {
            using var response = await _host.Client.GetAsync("/" + file);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("no-cache", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
            Assert.NotNull(response.Headers.ETag);
        }

        using var config = JsonDocument.Parse(await _host.Client.GetStringAsync("/config.json"));
        Assert.True(config.RootElement.GetProperty("upload").GetBoolean());
        using var missing = await _host.Client.GetAsync("/nothing.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task A_thumbnail_is_a_bounded_jpeg_with_caching_headers_made_once()
    {
        using var first = await _host.Client.GetAsync("/api/thumbnails/chelsea.png?size=128");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("image/jpeg", first.Content.Headers.ContentType?.MediaType);
        Assert.Equal("public, max-age=86400", first.Headers.CacheControl?.ToString());
        var etag = first.Headers.ETag;
        Assert.NotNull(etag);
        Assert.False(etag.IsWeak);
        var bytes = await first.Content.ReadAsByteArrayAsync();
        var (width, height) = JpegSize(bytes);
        Assert.Equal(128, Math.Max(width, height));

        // Made once: the cached file is not written again, and a revalidation is a 304 without a body.
        var images = _host.Services.GetRequiredService<ItemImageService>();
        Assert.StartsWith(_host.IndexPath, images.CacheDirectory, StringComparison.Ordinal);
        var cached = Assert.Single(Directory.GetFiles(images.CacheDirectory, "*-128.jpg", SearchOption.AllDirectories));
        var written = File.GetLastWriteTimeUtc(cached);
        await Task.Delay(50);
        Assert.Equal(bytes, await _host.Client.GetByteArrayAsync("/api/thumbnails/chelsea.png?size=128"));
        Assert.Equal(written, File.GetLastWriteTimeUtc(cached));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/thumbnails/chelsea.png?size=128");
        request.Headers.IfNoneMatch.Add(etag);
        using var revalidated = await _host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Empty(await revalidated.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, revalidated.Headers.ETag);

        // Another size is another file and another ETag; the default is 256.
        using var standard = await _host.Client.GetAsync("/api/thumbnails/chelsea.png");
        var (standardWidth, standardHeight) = JpegSize(await standard.Content.ReadAsByteArrayAsync());
        Assert.Equal(256, Math.Max(standardWidth, standardHeight));
        Assert.NotEqual(etag, standard.Headers.ETag);
    }

    [Theory]
    [InlineData("/api/thumbnails/chelsea.png?size=300", HttpStatusCode.BadRequest, "Invalid size")]
    [InlineData("/api/thumbnails/chelsea.png?size=4096", HttpStatusCode.BadRequest, "Invalid size")]
    [InlineData("/api/thumbnails/nothing.png", HttpStatusCode.NotFound, "Unknown id")]
    [InlineData("/api/images/nothing.png", HttpStatusCode.NotFound, "Unknown id")]
    [InlineData("/api/images/a%01b.png", HttpStatusCode.BadRequest, "Invalid id")]
    public async Task Bad_image_requests_are_problems_in_words(string path, HttpStatusCode status, string title)
    {
        using var response = await _host.Client.GetAsync(path);
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(title, problem.RootElement.GetProperty("title").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.RootElement.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task The_original_is_served_byte_for_byte_with_its_type_and_validators()
    {
        using var response = await _host.Client.GetAsync("/api/images/retina.jpg");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await File.ReadAllBytesAsync(Repo.Photo("retina.jpg")), await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("public, max-age=86400", response.Headers.CacheControl?.ToString());
        Assert.Equal("nosniff", string.Join("", response.Headers.GetValues("X-Content-Type-Options")));
        var hash = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Repo.Photo("retina.jpg"))));
        Assert.Equal($"\"{hash[..32]}\"", response.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task A_missing_or_changed_original_is_404_or_409_not_a_wrong_picture()
    {
        File.Delete(Path.Combine(_images.Path, "coffee.png"));
        using var gone = await _host.Client.GetAsync("/api/thumbnails/coffee.png");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Contains("Images__Root", await gone.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        File.Copy(Repo.Photo("retina.jpg"), Path.Combine(_images.Path, "chelsea.png"), overwrite: true);
        using var changed = await _host.Client.GetAsync("/api/images/chelsea.png");
        Assert.Equal(HttpStatusCode.Conflict, changed.StatusCode);
        using var changedThumbnail = await _host.Client.GetAsync("/api/thumbnails/chelsea.png?size=64");
        Assert.Equal(HttpStatusCode.Conflict, changedThumbnail.StatusCode);
    }

    [Fact]
    public async Task An_upload_is_indexed_kept_and_found_next_to_its_original()
    {
        var edited = await File.ReadAllBytesAsync(Repo.Query("chelsea-edited.jpg"));
        using var response = await _host.PostAsync("/api/images?name=My%20Cat%20(edited).JPG&album=pets", edited);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var item = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var id = item.RootElement.GetProperty("id").GetString()!;
        Assert.Matches("^uploads/[0-9a-f]{32}/My-Cat--edited.jpg$", id);
        Assert.Equal($"/api/items/{id}", response.Headers.Location?.ToString());
        var metadata = item.RootElement.GetProperty("metadata");
        Assert.Equal("uploads", metadata.GetProperty("source").GetString());
        Assert.Equal("image/jpeg", metadata.GetProperty("contentType").GetString());
        Assert.Equal("pets", metadata.GetProperty("tags").GetProperty("album").GetString());

        Assert.Equal(edited, await _host.Client.GetByteArrayAsync($"/api/images/{id}"));
        Assert.True(File.Exists(Path.Combine(_host.IndexPath, "uploads", id["uploads/".Length..])));
        using var thumbnail = await _host.Client.GetAsync($"/api/thumbnails/{id}?size=64");
        Assert.Equal(HttpStatusCode.OK, thumbnail.StatusCode);

        using var neighbours = JsonDocument.Parse(await _host.Client.GetStringAsync($"/api/search?id={Uri.EscapeDataString(id)}&k=1"));
        Assert.Equal("chelsea.png", neighbours.RootElement.GetProperty("results")[0].GetProperty("id").GetString());
        using var byAlbum = JsonDocument.Parse(await _host.Client.GetStringAsync($"/api/search?id=chelsea.png&filter={Uri.EscapeDataString("album eq 'pets'")}"));
        Assert.Equal(id, Assert.Single(byAlbum.RootElement.GetProperty("results").EnumerateArray()).GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("text/plain", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("image/png", HttpStatusCode.UnsupportedMediaType)]
    public async Task An_upload_that_is_not_an_image_is_refused_and_nothing_is_kept(string contentType, HttpStatusCode status)
    {
        using var response = await _host.PostAsync("/api/images?name=notes.png", "these are notes, not a picture"u8.ToArray(), contentType);
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(3, await CountAsync());
        var uploads = Path.Combine(_host.IndexPath, "uploads");
        Assert.True(!Directory.Exists(uploads) || Directory.GetFiles(uploads, "*", SearchOption.AllDirectories).Length == 0);
    }

    [Fact]
    public async Task Only_the_hosts_own_page_may_add_images()
    {
        var edited = await File.ReadAllBytesAsync(Repo.Query("chelsea-edited.jpg"));
        using var crossSite = new HttpRequestMessage(HttpMethod.Post, "/api/images") { Content = new ByteArrayContent(edited) };
        crossSite.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        crossSite.Headers.Add("Origin", "http://elsewhere.example");
        using (var response = await _host.Client.SendAsync(crossSite))
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);

        // What another origin can send without a CORS preflight: no Content-Type at all.
        using (var response = await _host.Client.PostAsync("/api/images", new ByteArrayContent(edited)))
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal(3, await CountAsync());

        using var sameOrigin = new HttpRequestMessage(HttpMethod.Post, "/api/images") { Content = new ByteArrayContent(edited) };
        sameOrigin.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        sameOrigin.Headers.Add("Origin", _host.BaseAddress.GetLeftPart(UriPartial.Authority));
        using (var response = await _host.Client.SendAsync(sameOrigin))
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task A_damaged_upload_is_422_and_its_file_is_removed()
    {
        var jpeg = await File.ReadAllBytesAsync(Repo.Query("chelsea-edited.jpg"));
        using var response = await _host.PostAsync("/api/images", jpeg[..(jpeg.Length / 2)]);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal(3, await CountAsync());
        var uploads = Path.Combine(_host.IndexPath, "uploads");
        Assert.Empty(Directory.GetFiles(uploads, "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetDirectories(uploads));
    }

    private async Task<long> CountAsync()
    {
        using var health = JsonDocument.Parse(await _host.Client.GetStringAsync("/api/health"));
        return health.RootElement.GetProperty("count").GetInt64();
    }

    /// <summary>Width and height from a baseline or progressive JPEG's SOF marker.</summary>
    private static (int Width, int Height) JpegSize(byte[] jpeg)
    {
        Assert.True(jpeg.Length > 4 && jpeg[0] == 0xFF && jpeg[1] == 0xD8, "not a JPEG");
        var i = 2;
        while (i + 9 < jpeg.Length)
        {
            if (jpeg[i] != 0xFF) { i++; continue; }
            var marker = jpeg[i + 1];
            var length = (jpeg[i + 2] << 8) | jpeg[i + 3];
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
                return ((jpeg[i + 7] << 8) | jpeg[i + 8], (jpeg[i + 5] << 8) | jpeg[i + 6]);
            i += 2 + length;
        }

        throw new InvalidDataException("No SOF marker.");
    }
}
