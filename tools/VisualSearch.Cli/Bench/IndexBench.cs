using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.Cli.Bench;

/// <summary>Search latency, recall, build time and memory of the embedded index at one size, exact and graph.</summary>
internal sealed record IndexSizeResult(
    int Count,
    string DefaultMode,
    string Quantization,
    double InsertSeconds,
    ModeResult Exact,
    ModeResult Graph,
    double GraphBuildSeconds,
    double GraphLoadOpenSeconds,
    double ExactOpenSeconds,
    long LogBytes,
    int Connectivity,
    int ExpansionSearch,
    IReadOnlyList<SweepPoint> Sweep,
    int BuildThreads,
    double GraphReplayOpenSeconds,
    IReadOnlyList<FilteredResult> Filtered,
    NewProcessResult? NewProcess = null)
{
    /// <summary>How the parallel build checked reachability (LocalIndex:AnnBuildCheck).</summary>
    public string BuildCheck { get; init; } = "";

    /// <summary>The index's own lines about the build: its parts' wall and CPU time, the check's counts, re-inserts.</summary>
    public IReadOnlyList<string> BuildLog { get; init; } = [];
}

/// <summary>
/// Search by vector with a filter that admits <see cref="Selectivity"/> of the records (uploadedAt before a
/// cut-off; the synthetic records' upload times are spread evenly over the clusters). <see cref="Exact"/>: the
/// index in exact mode (float32 vectors in memory). In graph mode: <see cref="Graph"/> and <see cref="RecallAt10"/>
/// as the planner chose (<see cref="Chosen"/>, from <see cref="EstimatedShare"/>), and each path forced
/// (LocalIndex:FilteredSearch Graph / Exact): the graph over-fetched, and the exact scan over the matching records
/// (vectors read from the log). Recall against the exact filtered top 10.
/// </summary>
internal sealed record FilteredResult(
    double Selectivity,
    Latency Exact,
    Latency Graph,
    double RecallAt10,
    string Chosen = "",
    double EstimatedShare = double.NaN,
    Latency? GraphPath = null,
    double GraphPathRecallAt10 = double.NaN,
    Latency? ExactPath = null,
    double ExactPathRecallAt10 = double.NaN);

/// <summary>
/// New processes on the saved index (graph mode): <c>vsearch search</c> from start to its printed answer, and
/// <c>vsearch serve</c> from start to its first search answered, whose peak resident memory (VmHWM) is then read;
/// the base is the same serve on an empty index of the same model, so the difference is what the records cost.
/// </summary>
internal sealed record NewProcessResult(double SearchFirstAnswerMs, double ServeFirstAnswerMs, long ServePeakBytes, long BasePeakBytes)
{
    public double PeakBytesPerRecord(int count) => (ServePeakBytes - BasePeakBytes) / (double)Math.Max(1, count);
}

/// <summary>Search by vector on the same saved graph with another search expansion (ef).</summary>
internal sealed record SweepPoint(int ExpansionSearch, Latency ByVector, double RecallAt10);

/// <param name="ById">Search by id: read the stored vector, search excluding the item itself.</param>
/// <param name="ByVector">Search by a query vector (the index part of a search by image).</param>
/// <param name="ByImage">Search by image end to end: decode + embed a 2 MP JPEG, then the index search.</param>
/// <param name="RecallAt10">Share of the exact top 10 found in the top 10 (1 for exact).</param>
/// <param name="VectorBytesPerRecord">Memory the vectors (and graph links) take, per record.</param>
/// <param name="ManagedBytesPerRecord">Managed heap per record once open (ids, metadata, offsets; float32 vectors when exact).</param>
internal sealed record ModeResult(Latency ById, Latency ByVector, Latency ByImage, double RecallAt10, double VectorBytesPerRecord, double ManagedBytesPerRecord);

internal sealed record Latency(double P50, double P99)
{
    public static Latency Of(List<double> ms)
    {
        ms.Sort();
        return new Latency(Percentile(ms, 0.50), Percentile(ms, 0.99));
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}

/// <summary>How the index bench starts vsearch processes on an index, and the query image they search with.</summary>
internal sealed record NewProcesses(ColdStartBench Bench, string ImagePath, byte[] Image);

/// <summary>
/// Fills indexes of synthetic clustered unit vectors (the real model's id and dimension, so vsearch can open
/// them) and measures the exact scan and the HNSW graph on the same records and queries.
/// </summary>
internal sealed class IndexBench(string modelId, int dimension, AnnQuantization quantization, int connectivity, int expansionSearch, IReadOnlyList<int> sweep, Func<ReadOnlyMemory<float>> embedQueryImage, TextWriter log, int buildThreads = 0, NewProcesses? processes = null, AnnBuildCheck buildCheck = AnnBuildCheck.Links)
{
    private long? _basePeak;

    private static readonly DateTimeOffset Start = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Shares of the records the filtered searches admit.</summary>
    private static readonly double[] Selectivities = [0.01, 0.10, 0.50];

    public async Task<IndexSizeResult> RunAsync(string root, int count, int queries, CancellationToken cancellationToken)
    {
        var schema = new IndexSchema(modelId, dimension);
        // Vectors are made when inserted (not held: 1M x 512 floats would be 2 GB of heap in this process).
        var vectors = new ClusteredVectors(count, dimension, seed: count);
        var queryVectors = Enumerable.Range(count, queries).Select(vectors.Vector).ToArray();
        var byIdIds = Enumerable.Range(0, queries).Select(i => Id((int)((long)i * 7919 % count))).ToArray();

        // Exact: fill (one fsync at the end, as a bulk load), then query.
        var exactCatalog = Catalog(root, annThreshold: 0);
        long managedBefore = ManagedBytes();
        var sw = Stopwatch.StartNew();
        ModeResult exact;
        double insertSeconds;
        var exactTop = new List<string[]>();
        var exactFiltered = new List<Latency>();
        var exactFilteredTop = new List<List<string[]>>();
        using (var index = exactCatalog.OpenVersion(modelId))
        {
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < count; i++)
            {
                if ((i & 0xFFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
                await index.UpsertAsync(new VectorRecord(Id(i), vectors.Vector(i), Metadata(i)), cancellationToken).ConfigureAwait(false);
            }

            insertSeconds = sw.Elapsed.TotalSeconds;
            exactCatalog.SwitchTo(modelId);
            await log.WriteLineAsync($"index {count:N0}: inserted in {insertSeconds:F1} s; exact queries").ConfigureAwait(false);
            var managed = (ManagedBytes() - managedBefore) / (double)count;
            exact = await MeasureAsync(index, queryVectors, byIdIds, exactTop, null, managed, cancellationToken).ConfigureAwait(false);
            foreach (var selectivity in Selectivities)
            {
                var (latency, top) = await MeasureFilteredAsync(index, queryVectors, Filter(count, selectivity), cancellationToken).ConfigureAwait(false);
                exactFiltered.Add(latency);
                exactFilteredTop.Add(top);
            }
        }

        // Reopen exact: replaying the log is most of a cold open.
        sw.Restart();
        using (var index = exactCatalog.OpenVersion(modelId)) await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
        var exactOpen = sw.Elapsed.TotalSeconds;

        // Graph: the same directory opened with graph search on; the graph is built from the log and saved.
        var buildLog = new GraphBuildLog(log);
        var graphCatalog = Catalog(root, annThreshold: 1, loggers: buildLog);
        await log.WriteLineAsync($"index {count:N0}: building the graph").ConfigureAwait(false);
        managedBefore = ManagedBytes();
        sw.Restart();
        ModeResult graph;
        double build;
        var filtered = new List<FilteredResult>();
        using (var index = graphCatalog.OpenVersion(modelId))
        {
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            build = sw.Elapsed.TotalSeconds - exactOpen;
            var managed = (ManagedBytes() - managedBefore) / (double)count;
            await log.WriteLineAsync($"index {count:N0}: graph built in about {build:F1} s; graph queries").ConfigureAwait(false);
            graph = await MeasureAsync(index, queryVectors, byIdIds, null, exactTop, managed, cancellationToken).ConfigureAwait(false);
            for (var s = 0; s < Selectivities.Length; s++)
            {
                var filter = Filter(count, Selectivities[s]);
                var plan = index.PlanSearch(new VectorQuery(10, Filter: filter));
                var (latency, top) = await MeasureFilteredAsync(index, queryVectors, filter, cancellationToken).ConfigureAwait(false);
                var recall = Recall(top, exactFilteredTop[s]);
                filtered.Add(new FilteredResult(Selectivities[s], exactFiltered[s], latency, recall, plan.Path.ToString(), plan.EstimatedShare));
                await log.WriteLineAsync($"index {count:N0}: filter {Selectivities[s]:P0}: planner chose {plan.Path} (estimated share {plan.EstimatedShare:P2}): p50 {latency.P50:F2} ms, recall@10 {recall:F4}").ConfigureAwait(false);
            }
        }

        // Each path forced on the same saved graph: what the planner chose between.
        foreach (var mode in new[] { FilteredSearchMode.Graph, FilteredSearchMode.Exact })
        {
            using var index = Catalog(root, annThreshold: 1, filteredSearch: mode).OpenVersion(modelId);
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            for (var s = 0; s < Selectivities.Length; s++)
            {
                var (latency, top) = await MeasureFilteredAsync(index, queryVectors, Filter(count, Selectivities[s]), cancellationToken).ConfigureAwait(false);
                var recall = Recall(top, exactFilteredTop[s]);
                filtered[s] = mode == FilteredSearchMode.Graph
                    ? filtered[s] with { GraphPath = latency, GraphPathRecallAt10 = recall }
                    : filtered[s] with { ExactPath = latency, ExactPathRecallAt10 = recall };
                await log.WriteLineAsync($"index {count:N0}: filter {Selectivities[s]:P0}, {mode} path: p50 {latency.P50:F2} ms, recall@10 {recall:F4}").ConfigureAwait(false);
            }
        }

        // Reopen with the saved graph and the snapshot (what a new vsearch process does), then without the
        // snapshot (the whole log replayed, as before snapshots or after a bad one).
        sw.Restart();
        using (var index = graphCatalog.OpenVersion(modelId))
        {
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            if (index.Statistics.Mode != "hnsw") throw new InvalidOperationException("The reopened index is not in graph mode.");
        }

        var loadOpen = sw.Elapsed.TotalSeconds;
        File.Delete(Path.Combine(graphCatalog.VersionDirectory(modelId), "records.snapshot"));
        sw.Restart();
        using (var index = graphCatalog.OpenVersion(modelId))
        {
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            if (index.Statistics.Mode != "hnsw") throw new InvalidOperationException("The reopened index is not in graph mode.");
        }

        var replayOpen = sw.Elapsed.TotalSeconds;

        // New processes: the replay above saved the snapshot again at its close, so they open as a user's would.
        NewProcessResult? newProcess = null;
        if (processes is not null)
        {
            _basePeak ??= await EmptyIndexPeakAsync(Path.Combine(root, "..", $"empty-index-{Environment.ProcessId}"), modelId, schema, processes, cancellationToken).ConfigureAwait(false);
            var search = await processes.Bench.SearchAsync(root, processes.ImagePath, cancellationToken).ConfigureAwait(false);
            var (serve, peak) = await processes.Bench.ServeWithPeakAsync(root, processes.Image, cancellationToken).ConfigureAwait(false);
            newProcess = new NewProcessResult(search, serve, peak, _basePeak.Value);
            await log.WriteLineAsync($"index {count:N0}: new vsearch search answered in {search:F0} ms, serve in {serve:F0} ms; serve peak RSS {peak / 1e6:F0} MB (empty index: {_basePeak.Value / 1e6:F0} MB)").ConfigureAwait(false);
        }

        // Other search expansions on the same saved graph (ef is not part of the file): the recall/latency curve.
        var points = new List<SweepPoint>();
        foreach (var ef in sweep)
        {
            using var index = Catalog(root, annThreshold: 1, ef).OpenVersion(modelId);
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            var (latency, recall) = await RecallAsync(index, queryVectors, exactTop, cancellationToken).ConfigureAwait(false);
            points.Add(new SweepPoint(ef, latency, recall));
            await log.WriteLineAsync($"index {count:N0}: ef {ef}: recall@10 {points[^1].RecallAt10:F4}").ConfigureAwait(false);
        }
        var logBytes = new FileInfo(Path.Combine(exactCatalog.VersionDirectory(modelId), "records.log")).Length;
        var defaultMode = count >= new LocalIndexOptions().AnnThreshold ? "hnsw" : "exact";
        return new IndexSizeResult(count, defaultMode, quantization.ToString(), insertSeconds, exact, graph, build, loadOpen, exactOpen, logBytes, connectivity, expansionSearch, points,
            buildThreads > 0 ? buildThreads : Environment.ProcessorCount, replayOpen, filtered, newProcess)
        {
            BuildCheck = buildCheck.ToString(),
            BuildLog = buildLog.Lines,
        };
    }

    /// <summary>The peak resident memory of vsearch serve (as <paramref name="processes"/> start it) answering one search on an empty index of the same model and schema.</summary>
    internal static async Task<long> EmptyIndexPeakAsync(string root, string modelId, IndexSchema schema, NewProcesses processes, CancellationToken cancellationToken)
    {
        root = Path.GetFullPath(root);
        try
        {
            var catalog = new LocalIndexCatalog(Options.Create(new LocalIndexOptions { Path = root, FlushToDisk = false }), NullLoggerFactory.Instance);
            using (var index = catalog.OpenVersion(modelId)) await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            catalog.SwitchTo(modelId);
            var (_, peak) = await processes.Bench.ServeWithPeakAsync(root, processes.Image, cancellationToken).ConfigureAwait(false);
            return peak;
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Search by vector (k 10) for each query, one after another: the latency, and the share of each query's exact top 10 found.</summary>
    internal static async Task<(Latency Latency, double RecallAt10)> RecallAsync(LocalVectorIndex index, IReadOnlyList<float[]> queries, IReadOnlyList<ICollection<string>> exactTop, CancellationToken cancellationToken)
    {
        var found = 0;
        var ms = new List<double>();
        for (var i = 0; i < queries.Count; i++)
        {
            var t = Stopwatch.GetTimestamp();
            var hits = await index.SearchAsync(queries[i], new VectorQuery(10), cancellationToken).ConfigureAwait(false);
            ms.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            found += hits.Count(h => exactTop[i].Contains(h.Id));
        }

        return (Latency.Of(ms), found / (double)Math.Max(1, exactTop.Sum(t => t.Count)));
    }

    private static double Recall(List<string[]> top, List<string[]> expected) =>
        top.Select((ids, i) => ids.Count(expected[i].Contains)).Sum() / (double)Math.Max(1, expected.Sum(t => t.Length));

    /// <summary>uploadedAt before the cut-off that admits <paramref name="selectivity"/> of <paramref name="count"/> records.</summary>
    private static SearchFilter Filter(int count, double selectivity) =>
        new() { UploadedTo = new TimeBound(Start.AddMinutes(Math.Max(1, (int)(count * selectivity))), Inclusive: false) };

    /// <summary>Filtered search latency, and the top 10 ids of each query.</summary>
    private static async Task<(Latency Latency, List<string[]> Top)> MeasureFilteredAsync(LocalVectorIndex index, float[][] queryVectors, SearchFilter filter, CancellationToken cancellationToken)
    {
        var ms = new List<double>();
        var top = new List<string[]>();
        foreach (var q in queryVectors)
        {
            var t = Stopwatch.GetTimestamp();
            var hits = await index.SearchAsync(q, new VectorQuery(10, Filter: filter), cancellationToken).ConfigureAwait(false);
            ms.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            top.Add([.. hits.Select(h => h.Id)]);
        }

        return (Latency.Of(ms), top);
    }

    private async Task<ModeResult> MeasureAsync(LocalVectorIndex index, float[][] queryVectors, string[] byIdIds, List<string[]>? recordTop, List<string[]>? exactTop, double managedBytes, CancellationToken cancellationToken)
    {
        var stats = index.Statistics;
        var byVector = new List<double>();
        var found = 0;
        for (var i = 0; i < queryVectors.Length; i++)
        {
            var t = Stopwatch.GetTimestamp();
            var hits = await index.SearchAsync(queryVectors[i], new VectorQuery(10), cancellationToken).ConfigureAwait(false);
            byVector.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            var ids = hits.Select(h => h.Id).ToArray();
            recordTop?.Add(ids);
            if (exactTop is not null) found += ids.Count(exactTop[i].Contains);
        }

        var byId = new List<double>();
        foreach (var id in byIdIds)
        {
            var t = Stopwatch.GetTimestamp();
            var record = await index.GetAsync(id, cancellationToken).ConfigureAwait(false) ?? throw new InvalidOperationException($"{id} is missing.");
            await index.SearchAsync(record.Vector, new VectorQuery(10, ExcludeId: id), cancellationToken).ConfigureAwait(false);
            byId.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        var byImage = new List<double>();
        for (var i = 0; i < 15; i++)
        {
            var t = Stopwatch.GetTimestamp();
            var vector = embedQueryImage();
            await index.SearchAsync(vector, new VectorQuery(10), cancellationToken).ConfigureAwait(false);
            byImage.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        var recall = exactTop is null ? 1.0 : found / (double)exactTop.Sum(t => t.Length);
        return new ModeResult(Latency.Of(byId), Latency.Of(byVector), Latency.Of(byImage), recall, stats.VectorMemoryBytes / (double)Math.Max(1, stats.Count), managedBytes);
    }

    internal static long ManagedBytes()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private LocalIndexCatalog Catalog(string root, int annThreshold, int? ef = null, FilteredSearchMode filteredSearch = FilteredSearchMode.Auto, ILoggerFactory? loggers = null)
    {
        var options = BenchOptions(root, annThreshold, quantization, connectivity, ef ?? expansionSearch, buildThreads, filteredSearch);
        options.AnnBuildCheck = buildCheck;
        return new(Options.Create(options), loggers ?? NullLoggerFactory.Instance);
    }

    /// <summary>A catalog of the bench's indexes: no fsync per write (a bulk load), the graph settings under test.</summary>
    internal static LocalIndexCatalog Catalog(string root, int annThreshold, AnnQuantization quantization, int connectivity, int ef, int buildThreads, FilteredSearchMode filteredSearch = FilteredSearchMode.Auto) =>
        new(Options.Create(BenchOptions(root, annThreshold, quantization, connectivity, ef, buildThreads, filteredSearch)), NullLoggerFactory.Instance);

    /// <summary>The bench's index settings: no fsync per write (a bulk load), the graph settings under test.</summary>
    internal static LocalIndexOptions BenchOptions(string root, int annThreshold, AnnQuantization quantization, int connectivity, int ef, int buildThreads, FilteredSearchMode filteredSearch = FilteredSearchMode.Auto) => new()
    {
        Path = root,
        FlushToDisk = false,
        AnnThreshold = annThreshold,
        AnnQuantization = quantization,
        AnnConnectivity = connectivity,
        AnnExpansionSearch = ef,
        AnnBuildThreads = buildThreads,
        FilteredSearch = filteredSearch,
    };

    internal static string Id(int i) => $"synthetic/{i:D7}.jpg";

    private static string[] Albums { get; } = ["holiday", "family", "work", "pets"];

    private ItemMetadata Metadata(int i) => SyntheticMetadata(i, modelId, Albums[i % Albums.Length], Start.AddMinutes(i));

    /// <summary>A synthetic record's metadata (12 MP JPEG, its album tag); upload and index times only when given.</summary>
    internal static ItemMetadata SyntheticMetadata(int i, string modelId, string album, DateTimeOffset at = default) => new()
    {
        Source = "synthetic",
        Name = $"{i:D7}.jpg",
        ContentHash = i.ToString("x64", System.Globalization.CultureInfo.InvariantCulture),
        ContentType = "image/jpeg",
        Size = 3_000_000,
        Width = 4032,
        Height = 3024,
        UploadedAt = at,
        IndexedAt = at,
        ModelId = modelId,
        Tags = new Dictionary<string, string> { ["album"] = album },
    };

}

/// <summary>
/// Unit vectors around count/100 random centres (noise 0.6 of a centre's scale, in all 512 directions: a
/// record's nearest neighbours have cosines of about 0.7-0.8, and the top 10 within a cluster differ by
/// little, which makes this a hard case for an approximate index). Vector i is the same on every call.
/// </summary>
internal sealed class ClusteredVectors
{
    private readonly float[][] _centres;
    private readonly int _dimension;
    private readonly int _seed;

    public ClusteredVectors(int count, int dimension, int seed)
    {
        _dimension = dimension;
        _seed = seed;
        var random = new Random(seed);
        _centres = new float[Math.Max(10, count / 100)][];
        for (var c = 0; c < _centres.Length; c++)
        {
            _centres[c] = new float[dimension];
            for (var d = 0; d < dimension; d++) _centres[c][d] = random.NextSingle() * 2 - 1;
        }
    }

    public float[] Vector(int i)
    {
        var random = new Random(unchecked(_seed * 1_000_003 + i));
        var centre = _centres[(int)((uint)(i * 2654435761u) % (uint)_centres.Length)];
        var v = new float[_dimension];
        for (var d = 0; d < v.Length; d++) v[d] = centre[d] + (random.NextSingle() * 2 - 1) * 0.6f;
        TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
        return v;
    }
}
