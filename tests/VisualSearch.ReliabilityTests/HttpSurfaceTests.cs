using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using VisualSearch.Api;
using VisualSearch.Cli;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Imaging;

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
