using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.Cli.Bench;

/// <summary>
/// The embedded index in regional mode (issue 14) at one size: items with their own vector and
/// <see cref="RegionsPerItem"/> region vectors each, what that costs on disk and in memory, and how fast and how
/// well items are found, exact and on the graph (the default at that many vectors).
/// </summary>
/// <param name="Vectors">Vectors stored: items x (1 + regions per item).</param>
/// <param name="LogBytes">records.log on disk (every vector float32, the metadata once per item).</param>
/// <param name="GraphMemoryBytes">The graph's vectors and links plus the log offsets (LocalIndexStatistics.VectorMemoryBytes in graph mode).</param>
/// <param name="ExactMemoryBytes">The exact scan's float32 copies of every vector.</param>
/// <param name="ManagedBytesPerItem">Managed heap per item once open in graph mode (ids, metadata, offsets, per-slot tables).</param>
/// <param name="ExactByVector">Search by a new vector of the same clusters, every vector scanned.</param>
/// <param name="GraphByVector">The same queries on the graph.</param>
/// <param name="GraphById">Search by id on the graph: read the item, search with its own vector, itself excluded.</param>
/// <param name="GraphByRegion">Search by a noisy copy of one stored region vector (a partial-copy query) on the graph.</param>
/// <param name="RecallAt10">Items of the exact top 10 that the graph's top 10 holds, over the by-vector queries.</param>
/// <param name="RegionTop1">Share of the by-region queries whose item the graph ranks first.</param>
internal sealed record RegionIndexResult(
    int Items,
    int RegionsPerItem,
    long Vectors,
    double InsertSeconds,
    long LogBytes,
    double GraphBuildSeconds,
    double OpenSeconds,
    long GraphMemoryBytes,
    long ExactMemoryBytes,
    double ManagedBytesPerItem,
    Latency ExactByVector,
    Latency GraphByVector,
    Latency GraphById,
    Latency GraphByRegion,
    double RecallAt10,
    double RegionTop1,
    int Queries)
{
    /// <summary>records.snapshot on disk (written at the close after the graph build): what a new process reads instead of replaying the log.</summary>
    public long SnapshotBytes { get; init; }

    /// <summary>The saved graph on disk (ann.usearch and ann.json).</summary>
    public long GraphFileBytes { get; init; }

    /// <summary>Threads the graph build used (LocalIndex:AnnBuildThreads, 0 being every core).</summary>
    public int BuildThreads { get; init; }

    /// <summary>How the parallel build checked reachability (LocalIndex:AnnBuildCheck).</summary>
    public string BuildCheck { get; init; } = "";

    /// <summary>The index's own lines about the build: its parts' wall and CPU time (inserts, check), re-inserts.</summary>
    public IReadOnlyList<string> BuildLog { get; init; } = [];

    /// <summary>The first by-region (partial-copy) queries in exact mode: every vector scanned.</summary>
    public Latency? ExactByRegion { get; init; }

    /// <summary>Share of those exact by-region queries whose item comes first: what the scoring gives without the graph's misses.</summary>
    public double ExactRegionTop1 { get; init; } = double.NaN;

    /// <summary>New vsearch search / serve processes on the saved regional index (regions on); serve's peak resident memory against an empty regional index.</summary>
    public NewProcessResult? NewProcess { get; init; }
}

/// <summary>
/// Fills one index with synthetic items (the clustered vectors of <see cref="IndexBench"/>, the real model's id and
/// dimension): each item's own vector and its regions' are vectors of random clusters, so an item's regions are as
/// unlike each other as different images are (the hard case: every region competes with every other vector).
/// </summary>
/// <param name="processes">When given, new <c>vsearch search</c> and <c>vsearch serve</c> processes (started with regions on, so with
/// <paramref name="modelId"/> as their model's id) open the saved index: first answers and serve's peak resident memory.</param>
internal sealed class RegionIndexBench(string modelId, int dimension, AnnQuantization quantization, int connectivity, int expansionSearch, TextWriter log, int buildThreads = 0, NewProcesses? processes = null)
{
    /// <summary>Exact queries scan every vector (about 0.1 s each at a million): fewer of them.</summary>
    internal const int ExactQueries = 50;

    public async Task<RegionIndexResult> RunAsync(string root, int items, int regionsPerItem, int queries, CancellationToken cancellationToken)
    {
        var schema = new IndexSchema(modelId, dimension) { Regions = true };
        var vectors = new ClusteredVectors(items * (1 + regionsPerItem), dimension, seed: items);
        var all = (long)items * (1 + regionsPerItem);
        var queryVectors = Enumerable.Range(0, queries).Select(i => vectors.Vector((int)(all + i))).ToArray();
        var random = new Random(items);
        // Partial-copy queries: a stored region's vector with noise (cosine about 0.9 to it).
        var regionQueries = Enumerable.Range(0, queries).Select(_ =>
        {
            var item = random.Next(items);
            var region = random.Next(regionsPerItem);
            return (Id: IndexBench.Id(item), Vector: Noisy(vectors.Vector(VectorIndex(item, 1 + region, regionsPerItem)), random));
        }).ToArray();

        // Exact: fill (one fsync at the end, as a bulk load), then query.
        var sw = Stopwatch.StartNew();
        double insertSeconds;
        long exactMemory;
        var exactTop = new List<string[]>();
        var exactMs = new List<double>();
        var exactRegionMs = new List<double>();
        var exactRegionFirst = 0;
        var exactCatalog = Catalog(root, annThreshold: 0);
        using (var index = exactCatalog.OpenVersion(modelId))
        {
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < items; i++)
            {
                if ((i & 0xFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
                await index.UpsertAsync(Item(vectors, i, regionsPerItem), cancellationToken).ConfigureAwait(false);
            }

            insertSeconds = sw.Elapsed.TotalSeconds;
            exactCatalog.SwitchTo(modelId);
            exactMemory = index.Statistics.VectorMemoryBytes;
            await log.WriteLineAsync($"regions {items:N0} x (1 + {regionsPerItem}): inserted {all:N0} vectors in {insertSeconds:F1} s; exact queries").ConfigureAwait(false);
            foreach (var q in queryVectors.Take(ExactQueries))
            {
                var t = Stopwatch.GetTimestamp();
                var hits = await index.SearchAsync(q, new VectorQuery(10), cancellationToken).ConfigureAwait(false);
                exactMs.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                exactTop.Add([.. hits.Select(h => h.Id)]);
            }

            foreach (var (id, vector) in regionQueries.Take(ExactQueries))
            {
                var t = Stopwatch.GetTimestamp();
                var hits = await index.SearchAsync(vector, new VectorQuery(10), cancellationToken).ConfigureAwait(false);
                exactRegionMs.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                if (IsRegionFirst(hits, id)) exactRegionFirst++;
            }
        }

        var directory = exactCatalog.VersionDirectory(modelId);
        var logBytes = new FileInfo(Path.Combine(directory, "records.log")).Length;

        // Graph: the same directory opened with graph search on (the default from 50,000 vectors): built from the log and saved.
        await log.WriteLineAsync($"regions {items:N0}: building the graph of {all:N0} vectors").ConfigureAwait(false);
        var buildLog = new GraphBuildLog(log);
        var graphCatalog = Catalog(root, annThreshold: 1, buildLog);
        var managedBefore = IndexBench.ManagedBytes();
        sw.Restart();
        double build;
        long graphMemory;
        double managedPerItem;
        var byVector = new List<double>();
        var byId = new List<double>();
        var byRegion = new List<double>();
        var found = 0;
        var regionFirst = 0;
        using (var index = graphCatalog.OpenVersion(modelId))
        {
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            build = sw.Elapsed.TotalSeconds;
            var stats = index.Statistics;
            if (stats.Mode != "hnsw") throw new InvalidOperationException($"The regional index of {stats.Vectors:N0} vectors is not in graph mode.");
            graphMemory = stats.VectorMemoryBytes;
            managedPerItem = (IndexBench.ManagedBytes() - managedBefore) / (double)items;
            await log.WriteLineAsync($"regions {items:N0}: graph built in {build:F1} s; graph queries").ConfigureAwait(false);
            for (var i = 0; i < queryVectors.Length; i++)
            {
                var t = Stopwatch.GetTimestamp();
                var hits = await index.SearchAsync(queryVectors[i], new VectorQuery(10), cancellationToken).ConfigureAwait(false);
                byVector.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                if (i < exactTop.Count) found += hits.Count(h => exactTop[i].Contains(h.Id));
                if (hits.Select(h => h.Id).Distinct(StringComparer.Ordinal).Count() != hits.Count) throw new InvalidOperationException("A search returned an item twice.");
            }

            for (var i = 0; i < queries; i++)
            {
                var id = IndexBench.Id((int)((long)i * 7919 % items));
                var t = Stopwatch.GetTimestamp();
                var record = await index.GetAsync(id, cancellationToken).ConfigureAwait(false) ?? throw new InvalidOperationException($"{id} is missing.");
                await index.SearchAsync(record.Vector, new VectorQuery(10, ExcludeId: id), cancellationToken).ConfigureAwait(false);
                byId.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }

            foreach (var (id, vector) in regionQueries)
            {
                var t = Stopwatch.GetTimestamp();
                var hits = await index.SearchAsync(vector, new VectorQuery(10), cancellationToken).ConfigureAwait(false);
                byRegion.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                if (IsRegionFirst(hits, id)) regionFirst++;
            }
        }

        // Reopen with the snapshot and the saved graph: what a new process does.
        var snapshotBytes = FileLength(directory, "records.snapshot");
        var graphFileBytes = FileLength(directory, "ann.usearch") + FileLength(directory, "ann.json");
        sw.Restart();
        using (var index = graphCatalog.OpenVersion(modelId))
        {
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            if (index.Statistics.Mode != "hnsw") throw new InvalidOperationException("The reopened regional index is not in graph mode.");
        }

        var open = sw.Elapsed.TotalSeconds;

        // New processes, as a user's would start on this index: their first answers, and serve's peak resident memory
        // against the same serve on an empty regional index (the difference is what the items cost).
        NewProcessResult? newProcess = null;
        if (processes is not null)
        {
            var basePeak = await IndexBench.EmptyIndexPeakAsync(Path.Combine(root, "..", $"empty-regional-index-{Environment.ProcessId}"), modelId, schema, processes, cancellationToken).ConfigureAwait(false);
            var search = await processes.Bench.SearchAsync(root, processes.ImagePath, cancellationToken).ConfigureAwait(false);
            var (serve, peak) = await processes.Bench.ServeWithPeakAsync(root, processes.Image, cancellationToken).ConfigureAwait(false);
            newProcess = new NewProcessResult(search, serve, peak, basePeak);
            await log.WriteLineAsync($"regions {items:N0}: new vsearch search answered in {search:F0} ms, serve in {serve:F0} ms; serve peak RSS {peak / 1e6:F0} MB (empty regional index: {basePeak / 1e6:F0} MB)").ConfigureAwait(false);
        }

        var recall = found / (double)Math.Max(1, exactTop.Sum(t => t.Length));
        await log.WriteLineAsync($"regions {items:N0}: recall@10 {recall:F4}, partial-copy top-1 {regionFirst / (double)queries:F4}; reopened in {open:F2} s").ConfigureAwait(false);
        return new RegionIndexResult(items, regionsPerItem, all, insertSeconds, logBytes, build, open, graphMemory, exactMemory, managedPerItem,
            Latency.Of(exactMs), Latency.Of(byVector), Latency.Of(byId), Latency.Of(byRegion), recall, regionFirst / (double)queries, queries)
        {
            ExactByRegion = Latency.Of(exactRegionMs),
            ExactRegionTop1 = exactRegionFirst / (double)Math.Max(1, exactRegionMs.Count),
            SnapshotBytes = snapshotBytes,
            GraphFileBytes = graphFileBytes,
            BuildThreads = buildThreads > 0 ? buildThreads : Environment.ProcessorCount,
            BuildCheck = new LocalIndexOptions().AnnBuildCheck.ToString(),
            BuildLog = buildLog.Lines,
            NewProcess = newProcess,
        };
    }

    /// <summary>Whether the partial copy's item comes first, found by one of its regions (its box named).</summary>
    private static bool IsRegionFirst(IReadOnlyList<SearchHit> hits, string id) => hits.Count > 0 && hits[0].Id == id && hits[0].Region is not null;

    private static long FileLength(string directory, string name)
    {
        var file = new FileInfo(Path.Combine(directory, name));
        return file.Exists ? file.Length : 0;
    }

    private static int VectorIndex(int item, int vector, int regionsPerItem) => item * (1 + regionsPerItem) + vector;

    private VectorRecord Item(ClusteredVectors vectors, int i, int regionsPerItem) =>
        new(IndexBench.Id(i), vectors.Vector(VectorIndex(i, 0, regionsPerItem)), Metadata(i))
        {
            // A grid of regions at two scales over a 4032 x 3024 photo: where they are does not change the cost.
            Regions = [.. Enumerable.Range(0, regionsPerItem).Select(r => new RegionVector(vectors.Vector(VectorIndex(i, 1 + r, regionsPerItem)), new RegionBox(r % 4 * 1008, r / 4 % 3 * 1008, 1008, 1008)))],
        };

    private static float[] Noisy(float[] vector, Random random)
    {
        var v = new float[vector.Length];
        for (var d = 0; d < v.Length; d++) v[d] = vector[d] + (random.NextSingle() * 2 - 1) * 0.03f;
        System.Numerics.Tensors.TensorPrimitives.Divide(v, System.Numerics.Tensors.TensorPrimitives.Norm(v), v);
        return v;
    }

    private LocalIndexCatalog Catalog(string root, int annThreshold, ILoggerFactory? loggers = null) =>
        new(Options.Create(IndexBench.BenchOptions(root, annThreshold, quantization, connectivity, expansionSearch, buildThreads)), loggers ?? NullLoggerFactory.Instance);

    private ItemMetadata Metadata(int i) => IndexBench.SyntheticMetadata(i, modelId, "holiday");
}
