using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.ApplicationInsights;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VisualSearch.Diagnostics;
using VisualSearch.Functions.Telemetry;
using VisualSearch.Index.Local;
using VisualSearch.Search;

namespace VisualSearch.FunctionalTests;

/// <summary>
/// The real Application Insights SDK (WorkerService 2.23) sends to a local fake ingestion endpoint
/// (IngestionEndpoint=http://127.0.0.1:PORT/ makes it POST to /v2/track): the cold-start event and the
/// per-stage metrics arrive with sane values.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class TelemetryTests
{
    [Fact]
    public async Task Cold_start_event_and_stage_metrics_reach_application_insights()
    {
        await using var ingestion = await FakeIngestion.StartAsync();
        using var index = new TempDirectory("vs-ft-ai-");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{LocalIndexOptions.SectionName}:Path"] = index.Path,
            ["Encoder:WarmUpOnStart"] = "true",
        });
        builder.Services.AddApplicationInsightsTelemetryWorkerService(o =>
        {
            o.ConnectionString = $"InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint={ingestion.BaseAddress}";
            o.EnableAdaptiveSampling = false;
        });
        builder.Services.AddHostedService<ApplicationInsightsMetricsBridge>();
        builder.AddVisualSearchEngine();
        builder.AddLocalVectorIndex();
        using var host = builder.Build();
        await host.StartAsync();

        var metrics = host.Services.GetRequiredService<VisualSearchMetrics>();
        var telemetry = host.Services.GetRequiredService<TelemetryClient>();
        var search = host.Services.GetRequiredService<SearchService>();

        // Two invocations, as the ColdStartMiddleware makes them: only the first is cold.
        for (var i = 0; i < 2; i++)
        {
            var invocation = metrics.BeginInvocation("SearchByImage");
            Assert.Equal(i == 0, invocation.IsCold);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await search.SearchByImageAsync(Repo.PhotoBytes("coffee.png"), new SearchQuery(3));
            ColdStartTelemetry.Report(telemetry, metrics.ColdStart, "SearchByImage", invocation, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        await telemetry.FlushAsync(CancellationToken.None);
        var coldStart = await ingestion.WaitForAsync(e => EventName(e) == ColdStartTelemetry.EventName, TimeSpan.FromSeconds(60));
        var measurements = coldStart.GetProperty("data").GetProperty("baseData").GetProperty("measurements");
        var sinceStart = measurements.GetProperty("processStartToFirstInvocationMs").GetDouble();
        Assert.InRange(sinceStart, 1, TimeSpan.FromHours(1).TotalMilliseconds);
        Assert.InRange(measurements.GetProperty("modelLoadMs").GetDouble(), 1, 120_000);
        Assert.InRange(measurements.GetProperty("firstInvocationMs").GetDouble(), 0.1, 120_000);
        var properties = coldStart.GetProperty("data").GetProperty("baseData").GetProperty("properties");
        Assert.Equal("SearchByImage", properties.GetProperty("functionName").GetString());
        Assert.False(string.IsNullOrEmpty(properties.GetProperty("instanceId").GetString()));

        var embed = await ingestion.WaitForAsync(e => MetricName(e) == "visualsearch.stage.duration" && Property(e, "stage") == "embed", TimeSpan.FromSeconds(60));
        var embedMetric = embed.GetProperty("data").GetProperty("baseData").GetProperty("metrics")[0];
        Assert.Equal(2, embedMetric.GetProperty("count").GetInt32());
        Assert.InRange(embedMetric.GetProperty("value").GetDouble() / 2, 1, 10_000);
        await ingestion.WaitForAsync(e => MetricName(e) == "visualsearch.stage.duration" && Property(e, "stage") == "decode", TimeSpan.FromSeconds(10));
        Assert.Single(ingestion.Received, e => EventName(e) == ColdStartTelemetry.EventName);

        await host.StopAsync();
    }

    private static string? EventName(JsonElement e) =>
        e.TryGetProperty("data", out var d) && d.TryGetProperty("baseType", out var t) && t.GetString() == "EventData"
            ? d.GetProperty("baseData").GetProperty("name").GetString() : null;

    private static string? MetricName(JsonElement e) =>
        e.TryGetProperty("data", out var d) && d.TryGetProperty("baseType", out var t) && t.GetString() == "MetricData"
            ? d.GetProperty("baseData").GetProperty("metrics")[0].GetProperty("name").GetString() : null;

    private static string? Property(JsonElement e, string name) =>
        e.GetProperty("data").GetProperty("baseData").TryGetProperty("properties", out var p) && p.TryGetProperty(name, out var v) ? v.GetString() : null;

    /// <summary>Accepts what the SDK posts to /v2.1/track (gzip, newline-delimited JSON envelopes).</summary>
    private sealed class FakeIngestion : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private FakeIngestion(WebApplication app, string baseAddress)
        {
            _app = app;
            BaseAddress = baseAddress;
        }

        public string BaseAddress { get; }

        public ConcurrentQueue<JsonElement> Received { get; } = new();

        public ConcurrentQueue<string> Requests { get; } = new();

        public static async Task<FakeIngestion> StartAsync()
        {
            var port = FreePort();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
            var app = builder.Build();
            var fake = new FakeIngestion(app, $"http://127.0.0.1:{port}/");
            app.Use(async (ctx, next) => { fake.Requests.Enqueue($"{ctx.Request.Method} {ctx.Request.Path}"); await next(ctx); });
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

        public ValueTask DisposeAsync() => _app.DisposeAsync();

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}

/// <summary>
/// Runs alone, after the parallel classes: the stage metrics come from a process-wide Meter, so images embedded by
/// other test classes' hosts at the same moment would be counted too.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry";
}
