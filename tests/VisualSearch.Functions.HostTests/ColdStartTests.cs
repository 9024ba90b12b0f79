using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Functions.HostTests.Harness;
using VisualSearch.Functions.HostTests.Infrastructure;

namespace VisualSearch.Functions.HostTests;

/// <summary>
/// The worker's own cold start through the harness: process start to the gRPC stream, WorkerInitResponse, every
/// function loaded and the first invocation answered (a POST /api/search over an index of the sample photos), with
/// the model load and first inference the worker reports in /api/health. The test checks the order of the steps
/// and the answer, never how fast; bench/functions-cold.sh runs it several times with VSEARCH_BENCH_COLD_RUNS and
/// VSEARCH_BENCH_OUT and writes the numbers (docs/performance.md).
/// </summary>
public sealed class ColdStartTests(WorkerFixture fixture) : IClassFixture<WorkerFixture>
{
    [Fact]
    public async Task Process_start_to_first_answered_invocation()
    {
        // The index the cold workers open: the sample photos, ingested through the fixture's worker, which then stops.
        var names = Repo.PhotoNames();
        foreach (var name in names) Assert.Equal(Rpc.StatusResult.Types.Status.Success, (await fixture.IngestAsync(await fixture.UploadAsync(name, Repo.PhotoBytes(name)))).Result.Status);
        await fixture.Worker.DisposeAsync();

        var runs = int.TryParse(Environment.GetEnvironmentVariable("VSEARCH_BENCH_COLD_RUNS"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1;
        var rows = new List<ColdStartRun>();
        for (var i = 0; i < runs; i++) rows.Add(await MeasureAsync(fixture.IndexPath, names.Count));

        if (Environment.GetEnvironmentVariable("VSEARCH_BENCH_OUT") is { Length: > 0 } output) await File.WriteAllTextAsync(output, Report(rows));
    }

    private async Task<ColdStartRun> MeasureAsync(string indexPath, int count)
    {
        var query = File.ReadAllBytes(Repo.Query("coffee-edited.jpg"));
        await using var worker = await FunctionsHostHarness.StartAsync(WorkerFixture.Settings(AzuriteFixture.ConnectionString, indexPath));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/search?k=1") { Content = new ByteArrayContent(query) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        using var search = await worker.SendAsync(request.SignedIn(TestUser.Admin));
        var answered = worker.SinceProcessStart;
        Assert.Equal($"images/{fixture.Prefix}/coffee.png", HttpInvocationAssertions.ResultIds(await search.JsonAsync())[0]);

        using var healthRequest = new HttpRequestMessage(HttpMethod.Get, "/api/health/details");
        using var health = await worker.SendAsync(healthRequest.SignedIn(TestUser.Admin));
        var body = await health.JsonAsync();
        Assert.Equal(count, body.GetProperty("count").GetInt64());
        var cold = body.GetProperty("coldStart");
        var modelLoad = cold.GetProperty("modelLoadMs").GetDouble();
        var firstInference = cold.GetProperty("firstInferenceMs").GetDouble();

        var times = worker.Times;
        Assert.True(times.StreamOpened <= times.Initialized && times.Initialized <= times.FunctionsLoaded && times.FunctionsLoaded <= answered,
            $"Steps out of order: {times}, answered {answered}.");
        Assert.True(modelLoad > 0 && firstInference > 0, $"The worker reported no model load or first inference: {cold}.");
        return new ColdStartRun(times, answered, modelLoad, firstInference);
    }

    private static string Report(IReadOnlyList<ColdStartRun> runs)
    {
        static string Ms(double value) => value.ToString("0", CultureInfo.InvariantCulture) + " ms";
        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        var text = new StringBuilder();
        text.AppendLine("| run | gRPC stream open | WorkerInitResponse | functions loaded | first search answered | model load (worker) | first inference (worker) |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (run, i) in runs.Select((r, i) => (r, i + 1)))
            text.AppendLine(CultureInfo.InvariantCulture, $"| {i} | {Ms(run.Times.StreamOpened.TotalMilliseconds)} | {Ms(run.Times.Initialized.TotalMilliseconds)} | {Ms(run.Times.FunctionsLoaded.TotalMilliseconds)} | {Ms(run.Answered.TotalMilliseconds)} | {Ms(run.ModelLoadMs)} | {Ms(run.FirstInferenceMs)} |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| median of {runs.Count} | {Ms(Median(runs.Select(r => r.Times.StreamOpened.TotalMilliseconds)))} | {Ms(Median(runs.Select(r => r.Times.Initialized.TotalMilliseconds)))} | {Ms(Median(runs.Select(r => r.Times.FunctionsLoaded.TotalMilliseconds)))} | {Ms(Median(runs.Select(r => r.Answered.TotalMilliseconds)))} | {Ms(Median(runs.Select(r => r.ModelLoadMs)))} | {Ms(Median(runs.Select(r => r.FirstInferenceMs)))} |");
        return text.ToString();
    }

    private sealed record ColdStartRun(HandshakeTimes Times, TimeSpan Answered, double ModelLoadMs, double FirstInferenceMs);
}
