using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using SkiaSharp;
using VisualSearch.Api;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch loadtest --url URL [--duration 10s] [--concurrency 1,4,16] [--mode id|image|both] [--key KEY] [--json]</c>:
/// a closed-loop load generator for a running <c>vsearch serve</c> on this machine. Each of C workers sends its next
/// request when the previous one is answered, for the given duration per level; the report gives requests/s,
/// latency percentiles and every status class. Loopback addresses only, and bounded in time.
/// </summary>
public static class LoadTestCommand
{
    private const int QueryImages = 16;

    public static async Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        args.RejectUnknown("url", "duration", "concurrency", "mode", "key", "k", "json", "verbose");
        var url = args.Get("url") ?? ServeCommand.DefaultUrls;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var baseUri) || !ApiOptions.IsLoopbackOnly(url))
            throw new UsageException("--url must be an http URL of this machine (127.0.0.1, [::1] or localhost): load is never sent elsewhere.");
        var duration = ParseDuration(args.Get("duration") ?? "10s");
        var levels = (args.Get("concurrency") ?? "1,4,16").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(c => int.TryParse(c, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 256 ? n : throw new UsageException("--concurrency takes numbers from 1 to 256, e.g. 1,4,16."))
            .ToList();
        var mode = args.Get("mode") ?? "both";
        string[] modes = mode switch
        {
            "id" => ["id"],
            "image" => ["image"],
            "both" => ["id", "image"],
            _ => throw new UsageException("--mode is id, image or both."),
        };
        var k = args.GetInt("k", 10, 1, 100);

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = levels.Max(), PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        using var client = new HttpClient(handler) { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(60) };
        var key = args.Get("key") ?? Environment.GetEnvironmentVariable("Api__ApiKey");
        if (!string.IsNullOrEmpty(key)) client.DefaultRequestHeaders.Add("x-api-key", key);

        var count = await WaitForHealthAsync(client, stderr, cancellationToken).ConfigureAwait(false);
        var images = Enumerable.Range(0, QueryImages).Select(QueryImage).ToList();
        var ids = await CollectIdsAsync(client, images[0], cancellationToken).ConfigureAwait(false);
        if (ids.Count == 0 && modes.Contains("id"))
        {
            await stderr.WriteLineAsync("error: the index is empty: nothing to search by id (vsearch seed-synthetic --count 10000 fills one).").ConfigureAwait(false);
            return 1;
        }

        await stderr.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{baseUri} holds {count} items; {duration.TotalSeconds:F0} s per level; levels {string.Join(",", levels)}; k={k}")).ConfigureAwait(false);
        var rows = new List<LevelResult>();
        foreach (var m in modes)
        {
            // A short warm-up per mode (JIT, connection pool, first inference), not counted.
            await RunLevelAsync(client, m, k, 2, TimeSpan.FromSeconds(1), ids, images, cancellationToken).ConfigureAwait(false);
            foreach (var c in levels)
            {
                var row = await RunLevelAsync(client, m, k, c, duration, ids, images, cancellationToken).ConfigureAwait(false);
                rows.Add(row);
                await stderr.WriteLineAsync(Format(row)).ConfigureAwait(false);
            }
        }

        if (args.Has("json"))
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(new { url = baseUri.ToString(), items = count, seconds = duration.TotalSeconds, results = rows }, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true })).ConfigureAwait(false);
        }
        else
        {
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Loopback load against {baseUri} holding {count} items, {duration.TotalSeconds:F0} s per level, k={k}:")).ConfigureAwait(false);
            await stdout.WriteLineAsync().ConfigureAwait(false);
            await stdout.WriteLineAsync("| mode | concurrency | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | 2xx | 4xx | 429 | 5xx | lost |").ConfigureAwait(false);
            await stdout.WriteLineAsync("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|").ConfigureAwait(false);
            foreach (var r in rows) await stdout.WriteLineAsync(Format(r)).ConfigureAwait(false);
        }

        return rows.Any(r => r.Status5xx > 0 || r.Lost > 0) ? 1 : 0;
    }

    /// <summary>One level: <paramref name="concurrency"/> workers in a closed loop until the deadline.</summary>
    private static async Task<LevelResult> RunLevelAsync(HttpClient client, string mode, int k, int concurrency, TimeSpan duration,
        IReadOnlyList<string> ids, IReadOnlyList<byte[]> images, CancellationToken cancellationToken)
    {
        var perWorker = new List<double>[concurrency];
        var statuses = new int[concurrency, 5];
        var lost = new int[concurrency];
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var latencies = perWorker[w] = new List<double>(4096);
            var i = w;
            while (sw.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                using var request = mode == "id"
                    ? new HttpRequestMessage(HttpMethod.Get, $"/api/search?k={k}&id={Uri.EscapeDataString(ids[i % ids.Count])}")
                    : new HttpRequestMessage(HttpMethod.Post, $"/api/search?k={k}") { Content = ImageContent(images[i % images.Count]) };
                i += concurrency;
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
                    await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    var code = (int)response.StatusCode;
                    var bucket = code == 429 ? 3 : code >= 500 ? 4 : code >= 400 ? 2 : code >= 200 && code < 300 ? 1 : 0;
                    statuses[w, bucket]++;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException && !cancellationToken.IsCancellationRequested)
                {
                    lost[w]++;
                }
            }
        }, cancellationToken))).ConfigureAwait(false);
        var elapsed = sw.Elapsed.TotalSeconds;

        var all = perWorker.SelectMany(l => l).Order().ToArray();
        int Sum(int bucket) => Enumerable.Range(0, concurrency).Sum(w => statuses[w, bucket]);
        return new LevelResult(mode, concurrency, all.Length + lost.Sum(), all.Length / elapsed,
            Percentile(all, 0.50), Percentile(all, 0.90), Percentile(all, 0.99), all.Length == 0 ? 0 : all[^1],
            Sum(1), Sum(2), Sum(3), Sum(4), lost.Sum());
    }

    private static ByteArrayContent ImageContent(byte[] image)
    {
        var content = new ByteArrayContent(image);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        return content;
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static string Format(LevelResult r) => string.Create(CultureInfo.InvariantCulture,
        $"| {(r.Mode == "id" ? "search by id" : "search by image")} | {r.Concurrency} | {r.Requests} | {r.RequestsPerSecond:F0} | {r.P50:F1} | {r.P90:F1} | {r.P99:F1} | {r.Max:F1} | {r.Status2xx} | {r.Status4xx} | {r.Status429} | {r.Status5xx} | {r.Lost} |");

    private static async Task<long> WaitForHealthAsync(HttpClient client, TextWriter stderr, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await client.GetAsync("/api/health", cancellationToken).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
                    return json.RootElement.GetProperty("count").GetInt64();
                }
            }
            catch (HttpRequestException) when (deadline.Elapsed < TimeSpan.FromSeconds(90))
            {
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(90)) throw new IOException($"{client.BaseAddress} did not answer /api/health within 90 s.");
            if (deadline.Elapsed > TimeSpan.FromSeconds(2) && deadline.Elapsed < TimeSpan.FromSeconds(2.3))
                await stderr.WriteLineAsync($"waiting for {client.BaseAddress}api/health ...").ConfigureAwait(false);
            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Ids to search by: the neighbours of one query image (up to 100).</summary>
    private static async Task<List<string>> CollectIdsAsync(HttpClient client, byte[] image, CancellationToken cancellationToken)
    {
        using var response = await client.PostAsync("/api/search?k=100", ImageContent(image), cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK) throw new IOException($"POST /api/search answered {(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("id").GetString()!).ToList();
    }

    /// <summary>A 640x480 JPEG of coloured shapes, different for every seed.</summary>
    private static byte[] QueryImage(int seed)
    {
        var random = new Random(seed);
        using var surface = SKSurface.Create(new SKImageInfo(640, 480)) ?? throw new InvalidOperationException("Could not allocate a surface.");
        var canvas = surface.Canvas;
        canvas.Clear(new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        using var paint = new SKPaint { IsAntialias = true };
        for (var i = 0; i < 12; i++)
        {
            paint.Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
            canvas.DrawCircle(random.Next(640), random.Next(480), random.Next(20, 160), paint);
        }

        using var snapshot = surface.Snapshot();
        using var data = snapshot.Encode(SKEncodedImageFormat.Jpeg, 85);
        return data.ToArray();
    }

    private static TimeSpan ParseDuration(string text)
    {
        var value = text.EndsWith('s') ? text[..^1] : text;
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds < 1 || seconds > 300)
            throw new UsageException("--duration is 1s to 300s per level, e.g. 10s.");
        return TimeSpan.FromSeconds(seconds);
    }

    public sealed record LevelResult(string Mode, int Concurrency, int Requests, double RequestsPerSecond, double P50, double P90, double P99, double Max,
        int Status2xx, int Status4xx, int Status429, int Status5xx, int Lost);
}
