using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace VisualSearch.Functions.HostTests.Infrastructure;

/// <summary>
/// A local stand-in for Application Insights' ingestion endpoint: a connection string with
/// <c>IngestionEndpoint=http://127.0.0.1:PORT/</c> makes the real SDK post its envelopes here (gzip,
/// newline-delimited JSON), and they are kept for the test to read.
/// </summary>
public sealed class FakeIngestion : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeIngestion(WebApplication app, string baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public string BaseAddress { get; }

    /// <summary>A connection string that sends everything here.</summary>
    public string ConnectionString => $"InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint={BaseAddress}";

    public ConcurrentQueue<JsonElement> Received { get; } = new();

    public ConcurrentQueue<string> Requests { get; } = new();

    public static async Task<FakeIngestion> StartAsync()
    {
        var port = AzuriteProcess.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        var fake = new FakeIngestion(app, $"http://127.0.0.1:{port}/");
        app.Use(async (ctx, next) =>
        {
            fake.Requests.Enqueue($"{ctx.Request.Method} {ctx.Request.Path}");
            await next(ctx);
        });
        // WorkerService 2.23 posts to /v2/track; newer SDKs to /v2.1/track.
        Func<HttpRequest, Task<IResult>> track = async request =>
        {
            Stream body = request.Body;
            if (request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
                body = new GZipStream(request.Body, CompressionMode.Decompress);
            using var reader = new StreamReader(body);
            var text = await reader.ReadToEndAsync();
            var accepted = 0;
            foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                fake.Received.Enqueue(JsonDocument.Parse(line).RootElement.Clone());
                accepted++;
            }

            return Results.Json(new { itemsReceived = accepted, itemsAccepted = accepted, errors = Array.Empty<object>() });
        };
        app.MapPost("/v2/track", track);
        app.MapPost("/v2.1/track", track);
        await app.StartAsync();
        return fake;
    }

    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            foreach (var e in Received)
            {
                if (match(e)) return e;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"No matching telemetry within {timeout}; received {Received.Count} items: {string.Join(", ", Received.Select(e => e.GetProperty("name").GetString()))}; requests: {string.Join(", ", Requests)}");
    }

    public static string? EventName(JsonElement e) =>
        e.TryGetProperty("data", out var d) && d.TryGetProperty("baseType", out var t) && t.GetString() == "EventData"
            ? d.GetProperty("baseData").GetProperty("name").GetString() : null;

    public static string? MetricName(JsonElement e) =>
        e.TryGetProperty("data", out var d) && d.TryGetProperty("baseType", out var t) && t.GetString() == "MetricData"
            ? d.GetProperty("baseData").GetProperty("metrics")[0].GetProperty("name").GetString() : null;

    public static string? Property(JsonElement e, string name) =>
        e.GetProperty("data").GetProperty("baseData").TryGetProperty("properties", out var p) && p.TryGetProperty(name, out var v) ? v.GetString() : null;

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
