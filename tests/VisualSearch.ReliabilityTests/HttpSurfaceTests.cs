using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using VisualSearch.Api;
using VisualSearch.Cli;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Imaging;
using VisualSearch.ReliabilityTests.Infrastructure;

namespace VisualSearch.ReliabilityTests;

/// <summary>The local host's HTTP surface: API key, rate limit, and what bad parameters, ids and bodies get.</summary>
public sealed class HttpSurfaceTests
{
    private const string Key = "test-key-0123456789abcdef";

    [Fact]
    public async Task With_an_api_key_set_every_api_route_but_health_needs_it()
    {
        await using var host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?> { ["Api:ApiKey"] = Key });
        await host.IngestPhotosAsync(["coffee.png"]);

        using (var anonymous = await host.Client.GetAsync("/api/search?id=coffee.png"))
        {
            await Http.ProblemAsync(anonymous, HttpStatusCode.Unauthorized);
            Assert.False(string.IsNullOrEmpty(anonymous.Headers.WwwAuthenticate.ToString()));
        }

        foreach (var (path, header) in new[] { ("/api/search?id=coffee.png", "x-api-key"), ("/api/search?id=coffee.png", "x-functions-key"), ($"/api/search?id=coffee.png&code={Key}", null) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (header is not null) request.Headers.Add(header, Key);
            using var response = await host.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        foreach (var wrong in new[] { Key + "x", Key[..^1], Key.ToUpperInvariant(), "" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/items/coffee.png");
            request.Headers.TryAddWithoutValidation("x-api-key", wrong);
            using var response = await host.Client.SendAsync(request);
            await Http.ProblemAsync(response, HttpStatusCode.Unauthorized);
        }

        using (var image = await host.PostImageAsync("/api/search", TestImages.Photo(1, 64, 64, ImageFormat.Png), "image/png"))
            await Http.ProblemAsync(image, HttpStatusCode.Unauthorized);
        using (var events = await host.Client.PostAsync("/api/events/blobs", new StringContent("[]", Encoding.UTF8, "application/json")))
            await Http.ProblemAsync(events, HttpStatusCode.Unauthorized);
        using (var webhook = await host.Client.PostAsync("/runtime/webhooks/blobs", new StringContent("[]", Encoding.UTF8, "application/json")))
            await Http.ProblemAsync(webhook, HttpStatusCode.Unauthorized);
        using (var health = await host.Client.GetAsync("/api/health"))
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Without_a_key_only_loopback_host_names_are_served_so_dns_rebinding_reads_and_writes_nothing()
    {
        await using var host = await LocalHost.StartAsync(watch: false);
        await host.IngestPhotosAsync(["coffee.png"]);
        var port = host.BaseAddress.Port;

        // A rebinding page: its own name resolves to 127.0.0.1, so the browser sends its Host and its Origin.
        foreach (var (method, path) in new[] { ("GET", "/api/items/coffee.png"), ("GET", "/api/search?id=coffee.png"), ("POST", "/api/images?name=x"), ("GET", "/api/health"), ("GET", "/") })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            request.Headers.Host = $"rebind.evil.example:{port}";
            request.Headers.Add("Origin", $"http://rebind.evil.example:{port}");
            if (method == "POST") request.Content = new ByteArrayContent(TestImages.Photo(5, 64, 64, ImageFormat.Png)) { Headers = { ContentType = new("image/png") } };
            using var response = await host.Client.SendAsync(request);
            Assert.True(HttpStatusCode.BadRequest == response.StatusCode, $"{method} {path} with a foreign Host: {(int)response.StatusCode}");
        }

        Assert.Equal(1, await host.CountAsync());
        foreach (var name in new[] { "localhost", "127.0.0.1", "[::1]", "LOCALHOST" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/items/coffee.png");
            request.Headers.Host = $"{name}:{port}";
            using var response = await host.Client.SendAsync(request);
            Assert.True(HttpStatusCode.OK == response.StatusCode, $"Host {name}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task With_a_key_any_host_name_is_served_to_a_caller_with_the_key()
    {
        await using var host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?> { ["Api:ApiKey"] = Key });
        await host.IngestPhotosAsync(["coffee.png"]);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/items/coffee.png");
        request.Headers.Host = "search.example.com";
        request.Headers.Add("x-api-key", Key);
        using var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Anonymous_health_says_ok_and_nothing_else_the_key_gets_the_details()
    {
        await using var host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?> { ["Api:ApiKey"] = Key });
        await host.IngestPhotosAsync(["coffee.png"]);

        using (var anonymous = await host.Client.GetAsync("/api/health"))
            Assert.Equal(["status"], (await Http.JsonAsync(anonymous)).EnumerateObject().Select(p => p.Name).ToArray());
        using (var wrongKey = new HttpRequestMessage(HttpMethod.Get, "/api/health"))
        {
            wrongKey.Headers.Add("x-api-key", Key + "x");
            using var response = await host.Client.SendAsync(wrongKey);
            Assert.Equal(["status"], (await Http.JsonAsync(response)).EnumerateObject().Select(p => p.Name).ToArray());
        }

        using (var details = await host.Client.GetAsync("/api/health/details"))
            await Http.ProblemAsync(details, HttpStatusCode.Unauthorized);

        foreach (var path in new[] { "/api/health", "/api/health/details" })
        {
            using var keyed = new HttpRequestMessage(HttpMethod.Get, path);
            keyed.Headers.Add("x-api-key", Key);
            using var response = await host.Client.SendAsync(keyed);
            var body = await Http.JsonAsync(response);
            Assert.Equal("ok", body.GetProperty("status").GetString());
            Assert.Equal(1, body.GetProperty("count").GetInt64());
            Assert.StartsWith("resnet18-", body.GetProperty("model").GetString(), StringComparison.Ordinal);
            Assert.True(body.TryGetProperty("coldStart", out _), path);
        }
    }

    [Fact]
    public async Task The_api_key_never_reaches_a_log_line()
    {
        await using var host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?>
        {
            ["Api:ApiKey"] = Key,
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
        });
        var logs = new LogCapture();
        host.Services.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>().AddProvider(logs);
        await host.IngestPhotosAsync(["coffee.png"]);

        foreach (var path in new[] { $"/api/search?id=coffee.png&code={Key}", $"/api/items/coffee.png?code={Key}", $"/api/health?code={Key}", $"/api/items/coffee.png?code={Key}x", $"/api/search?code={Key}&id=%00" })
        {
            using var response = await host.Client.GetAsync(path);
            Assert.True((int)response.StatusCode < 500, $"{path}: {(int)response.StatusCode}");
        }

        using (var headerKey = new HttpRequestMessage(HttpMethod.Get, "/api/items/coffee.png"))
        {
            headerKey.Headers.Add("x-api-key", Key);
            using var response = await host.Client.SendAsync(headerKey);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var entries = logs.Entries;
        // The requests were logged (path, status), so the check below looks at real request lines.
        Assert.Contains(entries, e => e.Message.Contains("/api/search", StringComparison.Ordinal) && e.Message.Contains("200", StringComparison.Ordinal));
        var leaks = entries.Where(e => e.Message.Contains(Key[..12], StringComparison.Ordinal) || (e.Exception?.ToString().Contains(Key[..12], StringComparison.Ordinal) ?? false)).ToList();
        Assert.True(leaks.Count == 0, "The key was logged:\n" + string.Join("\n", leaks.Select(e => $"{e.Category} {e.Level}: {e.Message}")));
    }

    [Fact]
    public async Task Past_the_decode_slots_and_their_queue_a_search_gets_503_with_retry_after()
    {
        // One decode at a time and no queue. The test itself holds the only slot (as a long decode would), so the
        // busy path does not depend on how fast this machine decodes: the search must be refused, not queued.
        await using var host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?>
        {
            ["Imaging:MaxConcurrentDecodes"] = "1",
            ["Imaging:MaxQueuedDecodes"] = "0",
            ["Api:PermitsPerSecond"] = "0",
        });
        var gate = host.Services.GetRequiredService<DecodeGate>();
        Assert.Equal(1, gate.Slots);
        var photo = TestImages.ZeroPng(1_000, 1_000);

        using (await gate.EnterAsync())
        {
            using var busy = await host.PostImageAsync("/api/search", photo, "image/png");
            await Http.ProblemAsync(busy, HttpStatusCode.ServiceUnavailable);
            Assert.True(busy.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "503 without Retry-After");
            Assert.Equal(0, gate.Queued);
        }

        // The slot is free again: the same request now runs.
        using var served = await host.PostImageAsync("/api/search", photo, "image/png");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task The_same_bytes_uploaded_again_by_the_same_owner_are_kept_and_indexed_once()
    {
        await using var host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?> { ["Api:PermitsPerSecond"] = "0" });
        var photo = TestImages.Photo(7, 160, 120, ImageFormat.Jpeg);

        using var first = await host.PostImageAsync("/api/images?name=a.jpg&owner=ana", photo);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var id = (await Http.JsonAsync(first, HttpStatusCode.Created)).GetProperty("id").GetString();

        // Eleven more posts of the same bytes by the same owner, four of them at once, some under another name.
        var again = new List<HttpResponseMessage>();
        for (var i = 0; i < 7; i++) again.Add(await host.PostImageAsync($"/api/images?name={(i % 2 == 0 ? "a" : "b")}.jpg&owner=ana", photo));
        again.AddRange(await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => host.PostImageAsync("/api/images?name=c.jpg&owner=ana", photo))));
        foreach (var response in again)
        {
            using (response)
                Assert.Equal(id, (await Http.JsonAsync(response, HttpStatusCode.OK)).GetProperty("id").GetString());
        }

        Assert.Equal(1, await host.CountAsync());
        Assert.Single(Directory.EnumerateFiles(Path.Combine(host.IndexPath, "uploads"), "*", SearchOption.AllDirectories));

        // Another owner, or other bytes, are another upload.
        using var bob = await host.PostImageAsync("/api/images?name=a.jpg&owner=bob", photo);
        Assert.NotEqual(id, (await Http.JsonAsync(bob, HttpStatusCode.Created)).GetProperty("id").GetString());
        using var other = await host.PostImageAsync("/api/images?name=a.jpg&owner=ana", TestImages.Photo(8, 160, 120, ImageFormat.Jpeg));
        Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        Assert.Equal(3, await host.CountAsync());
    }

    [Theory]
    [InlineData("http://127.0.0.1:7071", true)]
    [InlineData("http://localhost:7071", true)]
    [InlineData("http://[::1]:7071", true)]
    [InlineData("http://127.0.0.1:1;http://[::1]:2", true)]
    [InlineData("http://0.0.0.0:7071", false)]
    [InlineData("http://*:7071", false)]
    [InlineData("http://+:7071", false)]
    [InlineData("http://[::]:7071", false)]
    [InlineData("http://192.168.1.20:7071", false)]
    [InlineData("http://127.0.0.1:1;http://0.0.0.0:2", false)]
    [InlineData("http://example.com:7071", false)]
    public void Loopback_urls_are_recognised(string urls, bool loopback) => Assert.Equal(loopback, ApiOptions.IsLoopbackOnly(urls));

    [Fact]
    public async Task Serve_refuses_a_non_loopback_address_without_a_key_and_accepts_one_with_it()
    {
        // Options are validated before anything binds; the hosts are built, never started.
        await using (var exposed = ServeCommand.Build(CliArgs.Parse(["--urls", "http://0.0.0.0:0", "--no-watch"], "no-watch")))
        {
            var ex = Assert.Throws<OptionsValidationException>(() => exposed.Services.GetRequiredService<IOptions<ApiOptions>>().Value);
            Assert.Contains("Api:ApiKey", ex.Message, StringComparison.Ordinal);
        }

        await using var keyed = ServeCommand.Build(CliArgs.Parse(["--urls", "http://0.0.0.0:0", "--no-watch"], "no-watch"), new Dictionary<string, string?> { ["Api:ApiKey"] = Key });
        Assert.Equal(Key, keyed.Services.GetRequiredService<IOptions<ApiOptions>>().Value.ApiKey);

        await using var shortKey = ServeCommand.Build(CliArgs.Parse(["--no-watch"], "no-watch"), new Dictionary<string, string?> { ["Api:ApiKey"] = "short" });
        Assert.Throws<OptionsValidationException>(() => shortKey.Services.GetRequiredService<IOptions<ApiOptions>>().Value);
    }

    [Fact]
    public async Task Over_the_rate_limit_a_client_gets_429_with_retry_after_and_health_stays_open()
    {
        await using var host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?>
        {
            ["Api:PermitsPerSecond"] = "2",
            ["Api:Burst"] = "3",
            ["Api:QueueLimit"] = "0",
        });

        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => host.Client.GetAsync("/api/search?id=nothing.png")));
        try
        {
            Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.NotFound); // the burst is served
            var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
            Assert.True(limited.Count >= 12 - 3 - 2, $"{limited.Count} of 12 limited");
            Assert.Equal(12, limited.Count + responses.Count(r => r.StatusCode == HttpStatusCode.NotFound));
            foreach (var r in limited)
            {
                await Http.ProblemAsync(r, HttpStatusCode.TooManyRequests);
                Assert.True(r.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "429 without Retry-After");
            }
        }
        finally
        {
            foreach (var r in responses) r.Dispose();
        }

        for (var i = 0; i < 10; i++)
        {
            using var health = await host.Client.GetAsync("/api/health");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        await Task.Delay(1500); // tokens come back
        using var again = await host.Client.GetAsync("/api/search?id=nothing.png");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }
}

/// <summary>One local host (no rate limit) with a photo indexed, for the validation theories.</summary>
public sealed class ValidationHostFixture : IAsyncLifetime
{
    private LocalHost? _host;

    internal LocalHost Host => _host ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync()
    {
        _host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?> { ["Api:PermitsPerSecond"] = "0" });
        await _host.IngestPhotosAsync(["coffee.png"]);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync();
    }
}

/// <summary>k, minScore, filter, ids, content types: every bad value is a 4xx problem.</summary>
public sealed class HttpValidationTests(ValidationHostFixture fixture) : IClassFixture<ValidationHostFixture>
{
    private LocalHost Host => fixture.Host;

    public static TheoryData<string> BadParameters =>
    [
        "k=101", "k=-1", "k=1e3", "k=%20", "k=0x10", "k=99999999999", "k=1.5",
        "minScore=NaN", "minScore=Infinity", "minScore=-1.0001", "minScore=1e39", "minScore=abc",
        "filter=colour%20eq%20'red'", "filter=album%20eq%20'unterminated", "filter=album%20ne%20'x'",
        "filter=uploadedAt%20ge%20yesterday", "filter=album%20eq%20'a'%20or%20album%20eq%20'b'", "filter=album%20eq%20'%07'",
        "filter=" + new string('a', 2001),
    ];

    [Theory]
    [MemberData(nameof(BadParameters))]
    public async Task Bad_k_minScore_and_filter_are_400_problems(string parameters)
    {
        using (var byId = await Host.Client.GetAsync($"/api/search?id=coffee.png&{parameters}"))
            await Http.ProblemAsync(byId, HttpStatusCode.BadRequest);
        using var byImage = await Host.PostImageAsync($"/api/search?{parameters}", TestImages.Photo(3, 64, 64, ImageFormat.Png), "image/png");
        await Http.ProblemAsync(byImage, HttpStatusCode.BadRequest);
    }

    public static TheoryData<string> BadIds =>
    [
        "..", "a/../b", "./a", "a//b", "/a", "a/", "a%5Cb", "%00", "a%0Ab", "a%7F", new string('x', 1025),
    ];

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task Ids_with_path_tricks_control_characters_or_over_1024_characters_are_400(string id)
    {
        using var response = await Host.Client.GetAsync($"/api/search?id={id}");
        await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("/api/items/..%2F..%2Fetc%2Fpasswd")]
    [InlineData("/api/items/a/%2E%2E/%2E%2E/etc/passwd")]
    [InlineData("/api/items/a%5C..%5Cb")]
    [InlineData("/api/items/%00")]
    public async Task Item_paths_with_traversal_are_refused_or_unknown_never_served(string path)
    {
        using var response = await Host.Client.GetAsync(path);
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{path}: {(int)response.StatusCode}");
    }

    [Theory]
    [InlineData("application/json", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("multipart/form-data; boundary=x", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("text/plain", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("image/png", HttpStatusCode.OK)]      // a JPEG declared as PNG: the magic bytes decide
    [InlineData("image/gif", HttpStatusCode.OK)]
    public async Task The_declared_type_must_be_an_image_and_the_bytes_decide_which(string contentType, HttpStatusCode expected)
    {
        using var response = await Host.PostImageAsync("/api/search", TestImages.Photo(4, 96, 64, ImageFormat.Jpeg), contentType);
        if (expected == HttpStatusCode.OK) await Http.JsonAsync(response);
        else await Http.ProblemAsync(response, expected);
    }

    [Fact]
    public async Task An_svg_or_html_body_declared_as_an_image_is_415_by_its_bytes()
    {
        using var svg = await Host.PostImageAsync("/api/search", Encoding.UTF8.GetBytes("<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"), "image/svg+xml");
        Assert.Equal("UnsupportedFormat", (await Http.ProblemAsync(svg, HttpStatusCode.UnsupportedMediaType)).GetProperty("reason").GetString());
    }

}
