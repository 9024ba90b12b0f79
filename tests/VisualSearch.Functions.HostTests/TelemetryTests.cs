using VisualSearch.Functions.HostTests.Harness;
using VisualSearch.Functions.HostTests.Infrastructure;
using VisualSearch.Functions.Telemetry;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.Functions.HostTests;

/// <summary>
/// The worker process's own telemetry, with no test code between it and Application Insights: the real
/// ColdStartMiddleware and ApplicationInsightsMetricsBridge in the real worker send the ColdStart event and the
/// per-stage metrics to a fake ingestion endpoint (APPLICATIONINSIGHTS_CONNECTION_STRING in its environment).
/// </summary>
public sealed class TelemetryTests : IAsyncLifetime
{
    private readonly AzuriteFixture _azurite = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    [Fact]
    public async Task The_worker_sends_the_ColdStart_event_once_and_the_stage_metrics()
    {
        await using var ingestion = await FakeIngestion.StartAsync();
        using var index = new TempDirectory("vs-ht-ai-");
        var settings = WorkerFixture.Settings(AzuriteFixture.ConnectionString, index.Path);
        settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] = ingestion.ConnectionString;

        var worker = await FunctionsHostHarness.StartAsync(settings);
        try
        {
            // Two invocations: only the first of the process is cold.
            for (var i = 0; i < 2; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/search?k=3") { Content = new ByteArrayContent(Repo.PhotoBytes("coffee.png")) };
                request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/png");
                using var response = await worker.SendAsync(request.SignedIn(TestUser.Admin));
                await response.JsonAsync();
            }
        }
        finally
        {
            // WorkerTerminate: the worker stops its host, and the bridge flushes what it aggregated.
            await worker.DisposeAsync();
        }

        var coldStart = await ingestion.WaitForAsync(e => FakeIngestion.EventName(e) == ColdStartTelemetry.EventName, TimeSpan.FromSeconds(60));
        var measurements = coldStart.GetProperty("data").GetProperty("baseData").GetProperty("measurements");
        Assert.InRange(measurements.GetProperty("processStartToFirstInvocationMs").GetDouble(), 1, TimeSpan.FromHours(1).TotalMilliseconds);
        Assert.InRange(measurements.GetProperty("modelLoadMs").GetDouble(), 1, 120_000);
        Assert.InRange(measurements.GetProperty("firstInferenceMs").GetDouble(), 0.1, 120_000);
        Assert.InRange(measurements.GetProperty("firstInvocationMs").GetDouble(), 0.1, 120_000);
        var properties = coldStart.GetProperty("data").GetProperty("baseData").GetProperty("properties");
        Assert.Equal("SearchByImage", properties.GetProperty("functionName").GetString());
        Assert.False(string.IsNullOrEmpty(properties.GetProperty("instanceId").GetString()));

        var embed = await ingestion.WaitForAsync(e => FakeIngestion.MetricName(e) == "visualsearch.stage.duration" && FakeIngestion.Property(e, "stage") == "embed", TimeSpan.FromSeconds(60));
        var embedMetric = embed.GetProperty("data").GetProperty("baseData").GetProperty("metrics")[0];
        Assert.Equal(2, embedMetric.GetProperty("count").GetInt32());
        Assert.InRange(embedMetric.GetProperty("value").GetDouble() / 2, 1, 10_000);
        await ingestion.WaitForAsync(e => FakeIngestion.MetricName(e) == "visualsearch.stage.duration" && FakeIngestion.Property(e, "stage") == "decode", TimeSpan.FromSeconds(10));

        // A measurement with two tags (cold, operation) keeps both as dimensions.
        var cold = await ingestion.WaitForAsync(e => FakeIngestion.MetricName(e) == "visualsearch.invocations" && FakeIngestion.Property(e, "cold") == "True", TimeSpan.FromSeconds(10));
        Assert.Equal("SearchByImage", FakeIngestion.Property(cold, "operation"));
        var warm = await ingestion.WaitForAsync(e => FakeIngestion.MetricName(e) == "visualsearch.invocations" && FakeIngestion.Property(e, "cold") == "False", TimeSpan.FromSeconds(10));
        Assert.Equal("SearchByImage", FakeIngestion.Property(warm, "operation"));
        Assert.Single(ingestion.Received, e => FakeIngestion.EventName(e) == ColdStartTelemetry.EventName);
    }
}
