using System.Globalization;

namespace VisualSearch.Cli.Bench;

/// <summary>The human-readable table of a <see cref="BenchReport"/>.</summary>
internal static class BenchTable
{
    public static void Write(TextWriter w, BenchReport r)
    {
        var m = r.Machine;
        Line(w, $"machine: {m.Cores} cores, {m.Cpu}, {m.MemoryGb} GB RAM, {m.Os}, {m.Runtime}; load average {m.LoadAverage} at start, {m.LoadAverageAtEnd} at end");
        Line(w, $"model: {r.ModelId}");
        w.WriteLine();
        Line(w, $"{"decode + resize + preprocess (1 thread)",-58} {"bytes",10} {"p50 ms",8} {"p99 ms",8}");
        foreach (var d in r.Decode) Line(w, $"{d.Input,-58} {d.Bytes,10} {d.P50Ms,8:F1} {d.P99Ms,8:F1}");
        if (r.DecodeStages is { } st)
            Line(w, $"jpeg-12mp.jpg by stage (p50 ms): codec {st.CodecMs:F1}, entropy + IDCT + colour at {st.DecodedWidth}x{st.DecodedHeight} {st.DecodeAtScaleMs:F1}, resize + crop to RGB {st.ResizeCropMs:F1} (by Skia's draw as before: {st.SkiaResizeCropMs:F1}), mean subtraction {st.PreprocessMs:F1}");
        if (r.ScaledDecodeCosine is { } c) Line(w, $"scaled vs full-size decode, embedding cosine: min {c.Min:F4}, mean {c.Mean:F4} ({c.Images} photos)");
        w.WriteLine();
        foreach (var e in r.Embed) Line(w, $"embed (ResNet18 {e.Precision}, IntraOpNumThreads {e.IntraOpThreads}): {e.P50Ms:F1} ms p50{(e.ModelAloneP50Ms is { } alone ? " (the model alone: " + alone.ToString("F1", CultureInfo.InvariantCulture) + " ms)" : "")}");
        foreach (var l in r.ModelLoad) Line(w, $"model load (ResNet18 {l.Precision}, session from file): {l.P50Ms:F0} ms p50");
        foreach (var i in r.Ingest) Line(w, $"ingest, {i.Workers} worker(s) x {i.IntraOpThreadsPerWorker} inference thread(s), {i.What}: {i.ImagesPerSecond:F1} images/s ({i.Images} 12 MP JPEGs, read + hash + decode + embed + fsynced upsert)");
        if (r.Peer is { } p)
        {
            if (p.Error is not null) Line(w, $"peer stack: not run: {p.Error}");
            else
            {
                Line(w, $"peer stack ({p.Stack}, 1 thread): embed {p.EmbedMs:F1} ms, ingest {p.IngestImagesPerSecond:F1} images/s; embedding cosine with ours {p.EmbeddingCosineWithOurs:F4}");
                foreach (var (name, ms) in p.DecodeMs.OrderBy(kv => kv.Key, StringComparer.Ordinal)) Line(w, $"  peer decode + resize + preprocess {name,-20} {ms,8:F1} ms");
            }
        }

        if (r.PerCore is { } pc)
        {
            w.WriteLine();
            Line(w, $"ingest like for like: whole processes (start-up and model load included), {pc.Images} 12 MP JPEGs, median of {pc.Rounds} interleaved rounds{(pc.Pinned ? ", pinned with taskset" : ", NOT pinned (no taskset)")}");
            foreach (var (name, rate) in pc.ImagesPerSecond) Line(w, $"  {name,-60} {rate,7:F2} images/s");
            if (pc.PeerError is not null) Line(w, $"  peer: not run: {pc.PeerError}");
        }

        w.WriteLine();
        Line(w, $"{"index",10} {"mode",-6} {"by id p50/p99",16} {"by vector p50/p99",18} {"by image p50/p99",17} {"recall@10",9} {"B/vector",9} {"heap B/rec",10}");
        foreach (var i in r.Index)
        {
            Row(w, i.Count, "exact" + (i.DefaultMode == "exact" ? "*" : ""), i.Exact);
            Row(w, i.Count, "hnsw" + (i.DefaultMode == "hnsw" ? "*" : ""), i.Graph);
            Line(w, $"{"",10} graph: {i.Quantization} vectors, M {i.Connectivity}, ef {i.ExpansionSearch}; insert {i.InsertSeconds:F1} s; graph build {i.GraphBuildSeconds:F1} s on {i.BuildThreads} thread(s) (check: {i.BuildCheck}); open: exact {i.ExactOpenSeconds:F1} s, with snapshot + saved graph {i.GraphLoadOpenSeconds:F2} s, with saved graph and the whole log replayed {i.GraphReplayOpenSeconds:F1} s; log {i.LogBytes / (double)i.Count:F0} B/record");
            foreach (var line in i.BuildLog) Line(w, $"{"",10} build: {line}");
            foreach (var f in i.Filtered)
            {
                Line(w, $"{"",10} filter admitting {f.Selectivity,4:P0}: exact mode p50/p99 {f.Exact.P50:F2}/{f.Exact.P99:F2} ms; graph mode, planner chose {f.Chosen} (estimated {f.EstimatedShare:P1}): p50/p99 {f.Graph.P50:F2}/{f.Graph.P99:F2} ms, recall@10 {f.RecallAt10:F4}");
                if (f.GraphPath is { } g && f.ExactPath is { } e)
                    Line(w, $"{"",10}   forced: graph path p50/p99 {g.P50:F2}/{g.P99:F2} ms, recall@10 {f.GraphPathRecallAt10:F4}; exact path over the matching records p50/p99 {e.P50:F2}/{e.P99:F2} ms, recall@10 {f.ExactPathRecallAt10:F4}");
            }

            if (i.NewProcess is { } np)
                Line(w, $"{"",10} new process: vsearch search answered in {np.SearchFirstAnswerMs:F0} ms, vsearch serve in {np.ServeFirstAnswerMs:F0} ms; serve peak resident memory (VmHWM) {np.ServePeakBytes / 1e6:F0} MB - {np.BasePeakBytes / 1e6:F0} MB on an empty index = {np.PeakBytesPerRecord(i.Count):F0} B/record");
        }

        Line(w, $"{"",10} * the default at that size (LocalIndex:AnnThreshold 50,000)");
        foreach (var i in r.Index)
            foreach (var point in i.Sweep)
                Line(w, $"{i.Count,10:N0} ef {point.ExpansionSearch,-5} by vector p50/p99 {point.ByVector.P50:F2}/{point.ByVector.P99:F2} ms, recall@10 {point.RecallAt10:F4}");
        if (r.RealRecall is { } real)
        {
            var synthetic = string.Join(", ", r.Index.Select(i => FormattableString.Invariant($"{i.Graph.RecallAt10:F4} at {i.Count:N0}")));
            Line(w, $"real embeddings: {real.Indexed:N0} augmented views of {real.Images:N0} images ({real.Dataset}; {real.Embedded:N0} embedded of {real.Requested + real.Queries:N0} wanted, {real.FromCache:N0} from the cache, {real.Refused} refused, {real.EmbedSeconds:F0} s{(real.BudgetRanOut ? "; the time budget ran out" : "")}); graph built in {real.GraphBuildSeconds:F1} s on {real.BuildThreads} thread(s)");
            Line(w, $"{"",10} recall@10 of the default graph vs exact, {real.Queries} held-out views: {real.RecallAt10:F4} (by vector p50/p99 {real.GraphByVector.P50:F2}/{real.GraphByVector.P99:F2} ms); synthetic in this run: {(synthetic.Length > 0 ? synthetic : "not run")}");
        }
        foreach (var g in r.RegionIndex)
        {
            w.WriteLine();
            Line(w, $"regional index: {g.Items:N0} items x (1 + {g.RegionsPerItem} regions) = {g.Vectors:N0} vectors; insert {g.InsertSeconds:F1} s; graph build {g.GraphBuildSeconds:F1} s on {g.BuildThreads} thread(s) (check: {g.BuildCheck}); open with snapshot + saved graph {g.OpenSeconds:F2} s");
            foreach (var line in g.BuildLog) Line(w, $"  build: {line}");
            Line(w, $"  on disk: log {g.LogBytes / 1e6:F0} MB ({g.LogBytes / (double)g.Items:F0} B/item), snapshot {g.SnapshotBytes / 1e6:F1} MB ({g.SnapshotBytes / (double)g.Items:F0} B/item), saved graph {g.GraphFileBytes / 1e6:F0} MB ({g.GraphFileBytes / (double)g.Items:F0} B/item)");
            Line(w, $"  memory: graph {g.GraphMemoryBytes / 1e6:F0} MB ({g.GraphMemoryBytes / (double)g.Items:F0} B/item), exact float32 copies {g.ExactMemoryBytes / 1e6:F0} MB; managed heap {g.ManagedBytesPerItem:F0} B/item");
            Line(w, $"  exact by vector p50/p99 {g.ExactByVector.P50:F2}/{g.ExactByVector.P99:F2} ms; hnsw by vector {g.GraphByVector.P50:F2}/{g.GraphByVector.P99:F2} ms, by id {g.GraphById.P50:F2}/{g.GraphById.P99:F2} ms, by region (partial copy) {g.GraphByRegion.P50:F2}/{g.GraphByRegion.P99:F2} ms; hnsw recall@10 (items) {g.RecallAt10:F4}; partial-copy item first {g.RegionTop1:F4} ({g.Queries} queries)");
            if (g.ExactByRegion is { } er)
                Line(w, $"  exact by region (partial copy, first {Math.Min(g.Queries, RegionIndexBench.ExactQueries)} queries) p50/p99 {er.P50:F2}/{er.P99:F2} ms; partial-copy item first {g.ExactRegionTop1:F4}");
            if (g.WholeFirst is { } wf)
            {
                Line(w, $"  whole-first (threshold {wf.Threshold:F2}, margin {wf.Margin:F2}; {g.Stage} stage): plans own {wf.OwnPlan.Path} (share {wf.OwnPlan.Share:P2}, fetch {wf.OwnPlan.Fetch}), regions {wf.RegionsPlan.Path} (fetch {wf.RegionsPlan.Fetch}), every vector {wf.AllPlan.Path} (fetch {wf.AllPlan.Fetch})");
                foreach (var k in new[] { wf.OwnQueries, wf.RegionQueries })
                    Line(w, $"    {k.Kind} queries ({k.Queries}): whole-first p50/p99 {k.WholeFirst.P50:F2}/{k.WholeFirst.P99:F2} ms (own step {k.OwnStep.P50:F2}/{k.OwnStep.P99:F2}), regions asked {k.AskedRegions:P0}, item first {k.WholeFirstTop1:F4} (exact {k.ExactWholeFirstTop1:F4}); every vector {k.EveryVector.P50:F2}/{k.EveryVector.P99:F2} ms, item first {k.EveryVectorTop1:F4} (exact {k.ExactEveryVectorTop1:F4}, first {k.ExactQueries})");
                if (wf.OwnStepExactPath is { } ex)
                    Line(w, $"    own step on the exact path (forced): own queries p50/p99 {ex.OwnQueries.P50:F2}/{ex.OwnQueries.P99:F2} ms (item first {ex.OwnQueriesTop1:F4}), region queries {ex.RegionQueries.P50:F2}/{ex.RegionQueries.P99:F2} ms");
                Line(w, $"  opened in this process: graph {g.OpenedGraphMemoryBytes / 1e6:F0} MB ({g.OpenedGraphMemoryBytes / (double)g.Items:F0} B/item), managed heap {g.OpenedManagedBytesPerItem:F0} B/item, resident memory grown over the open {g.OpenResidentBytes / 1e6:F0} MB ({g.OpenResidentBytes / (double)g.Items:F0} B/item)");
            }

            if (g.NewProcess is { } np)
                Line(w, $"  new process (regions on): vsearch search answered in {np.SearchFirstAnswerMs:F0} ms, vsearch serve in {np.ServeFirstAnswerMs:F0} ms; serve peak resident memory (VmHWM) {np.ServePeakBytes / 1e6:F0} MB - {np.BasePeakBytes / 1e6:F0} MB on an empty regional index = {np.PeakBytesPerRecord(g.Items):F0} B/item");
        }

        foreach (var b in r.RegionBuild)
        {
            w.WriteLine();
            Line(w, $"regional index built (kept for --region-stage search): {b.Items:N0} items x (1 + {b.RegionsPerItem} regions); insert {b.InsertSeconds:F1} s; log {b.LogBytes / 1e6:F0} MB; graph build {b.GraphBuildSeconds:F1} s on {b.BuildThreads} thread(s) (check: {b.BuildCheck}), graph {b.GraphMemoryBytes / 1e6:F0} MB");
            foreach (var line in b.BuildLog) Line(w, $"  build: {line}");
        }

        w.WriteLine();
        foreach (var cs in r.ColdStart) Line(w, $"cold start, {cs.Command}, {cs.IndexRecords:N0} records: {cs.Milliseconds:F0} ms");
        w.WriteLine();
        foreach (var t in r.Targets) Line(w, $"[{(t.Met is null ? "n/a " : t.Met.Value ? "met " : "MISS")}] {t.Target}: {t.Measured}");
        foreach (var e in r.Errors) Line(w, $"failed: {e}");
    }

    private static void Row(TextWriter w, int count, string mode, ModeResult m) =>
        Line(w, $"{count,10:N0} {mode,-6} {m.ById.P50,7:F2}/{m.ById.P99,-8:F2} {m.ByVector.P50,8:F2}/{m.ByVector.P99,-9:F2} {m.ByImage.P50,7:F1}/{m.ByImage.P99,-9:F1} {m.RecallAt10,9:F4} {m.VectorBytesPerRecord,9:F0} {m.ManagedBytesPerRecord,10:F0}");

    private static void Line(TextWriter w, FormattableString s) => w.WriteLine(s.ToString(CultureInfo.InvariantCulture));
}
