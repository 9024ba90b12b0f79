using System.Globalization;

namespace VisualSearch.Cli.Bench;

/// <summary>The targets of issue 7, checked against a report (null: not measured in this run).</summary>
internal static class Targets
{
    public static List<TargetResult> Evaluate(BenchReport report)
    {
        var results = new List<TargetResult>();
        var decode12 = report.Decode.FirstOrDefault(d => d.Input == "jpeg-12mp.jpg");
        results.Add(new TargetResult("12 MP JPEG decode + resize + preprocess < 40 ms on one core",
            decode12 is null ? "not measured" : F($"{decode12.P50Ms:F1} ms p50"), decode12 is null ? null : decode12.P50Ms < 40));
        results.Add(new TargetResult("scaled decode embedding vs full decode: cosine >= 0.99",
            report.ScaledDecodeCosine is { } c ? F($"min {c.Min:F4}, mean {c.Mean:F4} over {c.Images} photos") : "not measured",
            report.ScaledDecodeCosine is null ? null : report.ScaledDecodeCosine.Min >= 0.99));

        var ours = report.Ingest.Count == 0 ? (double?)null : report.Ingest.Max(i => i.ImagesPerSecond);
        var peer = report.Peer is { Error: null, IngestImagesPerSecond: > 0 } p ? p.IngestImagesPerSecond : (double?)null;
        results.Add(new TargetResult("ingest >= 1.2x the peer stack, same images, same run",
            ours is null ? "not measured" : peer is null ? F($"{ours:F1} images/s; peer not run ({report.Peer?.Error ?? "no --peer"})") : F($"{ours:F1} vs {peer:F1} images/s = {ours / peer:F2}x"),
            ours is null || peer is null ? null : ours / peer >= 1.2));

        var million = report.Index.FirstOrDefault(i => i.Count >= 1_000_000);
        results.Add(new TargetResult("1M vectors: search p99 < 20 ms (graph)",
            million is null ? "not measured" : F($"by vector {million.Graph.ByVector.P99:F2} ms, by id {million.Graph.ById.P99:F2} ms"),
            million is null ? null : Math.Max(million.Graph.ByVector.P99, million.Graph.ById.P99) < 20));
        results.Add(new TargetResult("1M vectors: recall@10 >= 0.95 against exact",
            million is null ? "not measured" : F($"{million.Graph.RecallAt10:F4}"), million is null ? null : million.Graph.RecallAt10 >= 0.95));
        results.Add(new TargetResult("1M vectors: < 1.2 KB per vector in memory (vectors + graph)",
            million is null ? "not measured" : F($"{million.Graph.VectorBytesPerRecord:F0} B"), million is null ? null : million.Graph.VectorBytesPerRecord < 1200));
        var hundred = report.Index.FirstOrDefault(i => i.Count == 100_000);
        var hundredDefault = hundred is null ? null : hundred.DefaultMode == "hnsw" ? hundred.Graph : hundred.Exact;
        results.Add(new TargetResult("100k vectors: search p50 < 5 ms (default mode)",
            hundred is null ? "not measured" : F($"{hundred.DefaultMode}: by vector {hundredDefault!.ByVector.P50:F2} ms, by id {hundredDefault.ById.P50:F2} ms"),
            hundred is null ? null : Math.Max(hundredDefault!.ByVector.P50, hundredDefault.ById.P50) < 5));
        return results;
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
