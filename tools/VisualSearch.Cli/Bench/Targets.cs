using System.Globalization;

namespace VisualSearch.Cli.Bench;

/// <summary>The targets of issues 7, 13 and 21, checked against a report (null: not measured in this run).</summary>
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

        var embed1 = report.Embed.FirstOrDefault(e => e.IntraOpThreads == 1 && e.Precision == "Int8");
        results.Add(new TargetResult("embed, int8, 1 thread <= 8 ms",
            embed1 is null ? "not measured" : F($"{embed1.P50Ms:F1} ms p50") + (embed1.ModelAloneP50Ms is { } alone ? F($" (the model alone {alone:F1} ms)") : ""),
            embed1 is null ? null : embed1.P50Ms <= 8));
        var load = report.ModelLoad.FirstOrDefault(l => l.Precision == "Int8");
        results.Add(new TargetResult("model load, int8 <= 100 ms",
            load is null ? "not measured" : F($"{load.P50Ms:F0} ms p50"), load is null ? null : load.P50Ms <= 100));

        // Ingest: only like for like counts (whole processes; one core against the peer's one thread; all cores
        // against as many peer processes). Unpinned runs are not per core, so they decide nothing.
        var perCore = report.PerCore;
        var rates = perCore?.ImagesPerSecond ?? [];
        double? Rate(string prefix) => rates.FirstOrDefault(r => r.Key.StartsWith(prefix, StringComparison.Ordinal)) is { Key: not null } kv ? kv.Value : null;
        results.Add(Ratio("ingest per core (taskset -c 0, whole process): vsearch index int8 1 worker x 1 thread >= 1.5x the peer (float32, 1 thread)",
            Rate("ours int8, core 0"), Rate("peer float32, core 0"), 1.5, perCore));
        results.Add(Ratio("ingest on all cores (whole processes): vsearch index int8, one worker per core >= 1.2x as many peer processes",
            Rate("ours int8, all"), Rate("peer float32, all"), 1.2, perCore));

        var million = report.Index.FirstOrDefault(i => i.Count >= 1_000_000);
        results.Add(new TargetResult("1M vectors: search p99 < 20 ms (graph)",
            million is null ? "not measured" : F($"by vector {million.Graph.ByVector.P99:F2} ms, by id {million.Graph.ById.P99:F2} ms"),
            million is null ? null : Math.Max(million.Graph.ByVector.P99, million.Graph.ById.P99) < 20));
        results.Add(new TargetResult("1M vectors: recall@10 >= 0.95 against exact",
            million is null ? "not measured" : F($"{million.Graph.RecallAt10:F4}"), million is null ? null : million.Graph.RecallAt10 >= 0.95));
        results.Add(new TargetResult("1M vectors: < 1.2 KB per vector in memory (vectors + graph)",
            million is null ? "not measured" : F($"{million.Graph.VectorBytesPerRecord:F0} B"), million is null ? null : million.Graph.VectorBytesPerRecord < 1200));
        // Issue 21: the embedded index at 1M around the search (open, first answer, build, memory by the kernel's count).
        results.Add(new TargetResult("1M: open with the saved graph < 2 s",
            million is null ? "not measured" : F($"{million.GraphLoadOpenSeconds:F2} s"), million is null ? null : million.GraphLoadOpenSeconds < 2));
        var np = million?.NewProcess;
        results.Add(new TargetResult("1M: a new vsearch search / serve process's first answer < 3 s",
            np is null ? "not measured" : F($"search {np.SearchFirstAnswerMs / 1000:F2} s, serve {np.ServeFirstAnswerMs / 1000:F2} s"),
            np is null ? null : Math.Max(np.SearchFirstAnswerMs, np.ServeFirstAnswerMs) < 3000));
        results.Add(new TargetResult("1M: graph build < 333 s on 2 cores (half of 666 s on one thread)",
            million is null ? "not measured" : F($"{million.GraphBuildSeconds:F0} s on {million.BuildThreads} thread(s)"),
            million is null || Environment.ProcessorCount != 2 ? null : million.GraphBuildSeconds < 333));
        results.Add(new TargetResult("1M: peak resident memory per record < 1.5 KB (vsearch serve, minus the same on an empty index)",
            np is null ? "not measured" : F($"{np.PeakBytesPerRecord(million!.Count):F0} B"), np is null || np.ServePeakBytes == 0 ? null : np.PeakBytesPerRecord(million!.Count) < 1536));
        var hundred = report.Index.FirstOrDefault(i => i.Count == 100_000);
        var hundredDefault = hundred is null ? null : hundred.DefaultMode == "hnsw" ? hundred.Graph : hundred.Exact;
        results.Add(new TargetResult("100k vectors: search p50 < 5 ms (default mode)",
            hundred is null ? "not measured" : F($"{hundred.DefaultMode}: by vector {hundredDefault!.ByVector.P50:F2} ms, by id {hundredDefault.ById.P50:F2} ms"),
            hundred is null ? null : Math.Max(hundredDefault!.ByVector.P50, hundredDefault.ById.P50) < 5));
        return results;
    }

    private static TargetResult Ratio(string target, double? ours, double? peer, double needed, PerCoreResult? run)
    {
        if (run is null || ours is null) return new TargetResult(target, "not measured", null);
        if (peer is null) return new TargetResult(target, F($"{ours:F2} images/s; peer not run ({run.PeerError})"), null);
        var measured = F($"{ours:F2} vs {peer:F2} images/s = {ours / peer:F2}x ({run.Images} 12 MP JPEGs, median of {run.Rounds})");
        return run.Pinned
            ? new TargetResult(target, measured, ours / peer >= needed)
            : new TargetResult(target, measured + "; not pinned (no taskset): not a per-core comparison", null);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
