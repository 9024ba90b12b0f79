using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Search;

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

    /// <summary>The saved graph of the items' own vectors (own.usearch and own.json) once the search stage closed the index; 0 when they are in exact rows (issue 14).</summary>
    public long OwnGraphFileBytes { get; init; }

    /// <summary>The search stage's LocalIndex:AnnThreshold (<c>--region-threshold</c>).</summary>
    public int SearchThreshold { get; init; }

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

    /// <summary>How the run was split (<c>--region-stage</c>): <c>all</c> in one process, or <c>search</c> on an index a <c>build</c> run saved.</summary>
    public string Stage { get; init; } = RegionStage.All;

    /// <summary>
    /// The searching process's resident memory (RSS) grown over the open with the snapshot and the saved graph
    /// (<see cref="RegionIndexResult.OpenSeconds"/>), after a full collection each side.
    /// </summary>
    public long OpenResidentBytes { get; init; }

    /// <summary>The graph's vectors and links plus the log offsets as the searching process holds them (the saved graph loaded, not built).</summary>
    public long OpenedGraphMemoryBytes { get; init; }

    /// <summary>Managed heap per item in the searching process once the index is open (ids, metadata, slot tables).</summary>
    public double OpenedManagedBytesPerItem { get; init; }

    /// <summary>Whole-first search as the copy space runs it (docs/quality.md 7h), beside the every-vector search, on the graph.</summary>
    public WholeFirstResult? WholeFirst { get; init; }
}

/// <summary>The values of <c>vsearch bench --region-stage</c>.</summary>
internal static class RegionStage
{
    /// <summary>Fill, build, save and search in one process, then delete the index (the default).</summary>
    public const string All = "all";

    /// <summary>Fill, search exactly, build and save the graph, and keep the index with the build's figures beside it.</summary>
    public const string Build = "build";

    /// <summary>Open an index a build stage kept, and measure the open, the searches and new processes.</summary>
    public const string Search = "search";

    public static readonly string[] Values = [All, Build, Search];
}

/// <summary>
/// Whole-first search (the copy space's rule, docs/quality.md 7h: the items' own vectors, then their regions only when
/// the best own score is below <see cref="Threshold"/>, a region counting when it beats that score by
/// <see cref="Margin"/>) on two kinds of query, with the planner's choice for each of the two index searches.
/// </summary>
internal sealed record WholeFirstResult(float Threshold, float Margin, PlanResult OwnPlan, PlanResult RegionsPlan, PlanResult AllPlan, QueryKindResult OwnQueries, QueryKindResult RegionQueries)
{
    /// <summary>
    /// Whole-first's first step (the items' own vectors) on the planner's other path, forced (<c>LocalIndex:FilteredSearch=Exact</c>:
    /// every item's own vector read from the log and scored), on the same index reopened: what the graph's path is weighed against.
    /// </summary>
    public OwnStepResult? OwnStepExactPath { get; init; }
}

/// <summary>The own-vector search alone on one path: its latency on each kind of query, and how often an own-vector query's item comes first.</summary>
internal sealed record OwnStepResult(Latency OwnQueries, Latency RegionQueries, double OwnQueriesTop1);

/// <summary>What the embedded index's planner chose for a search of k 10 over one kind of vector (<see cref="VectorSelection"/>).</summary>
/// <param name="Share">The share of the graph's vectors of that kind.</param>
/// <param name="Fetch">Graph candidates asked for (0 on the exact path).</param>
internal sealed record PlanResult(string Path, double Share, int Fetch);

/// <summary>
/// One kind of query, each rule on the same queries in the same process: every vector (one index search, the old rule)
/// and whole-first (one or two); "top-1" is the share of queries whose item the rule ranks first (by any of its vectors).
/// </summary>
/// <param name="Kind">own: a noisy copy of an item's own vector (cosine about 0.93, above the threshold: answered by the own-vector search); region: a noisy copy of one of its regions (its own vector unlike it: the search falls through to the regions).</param>
/// <param name="OwnStep">Whole-first's first index search alone (the items' own vectors).</param>
/// <param name="AskedRegions">Share of the queries whose whole-first search asked the regions (a second index search).</param>
/// <param name="ExactEveryVectorTop1">The same rule's top-1 with every vector scanned exactly (the first <see cref="ExactQueries"/> queries; measured by the build).</param>
internal sealed record QueryKindResult(
    string Kind,
    int Queries,
    Latency EveryVector,
    double EveryVectorTop1,
    Latency WholeFirst,
    Latency OwnStep,
    double AskedRegions,
    double WholeFirstTop1,
    int ExactQueries,
    double ExactEveryVectorTop1,
    double ExactWholeFirstTop1);

/// <summary>
/// What a build stage measured and keeps beside the index (<see cref="RegionIndexBench.StateFile"/>) for the search stage:
/// the fill, the exact scan's answers (the search stage's recall is against them), the graph build.
/// </summary>
internal sealed record RegionBuildState(
    string ModelId,
    string Quantization,
    int Connectivity,
    int Items,
    int RegionsPerItem,
    int Queries,
    double InsertSeconds,
    long LogBytes,
    long ExactMemoryBytes,
    Latency ExactByVector,
    Latency ExactByRegion,
    double ExactRegionTop1,
    double ExactOwnEveryVectorTop1,
    double ExactOwnWholeFirstTop1,
    double ExactRegionEveryVectorTop1,
    double ExactRegionWholeFirstTop1,
    IReadOnlyList<string[]> ExactTop,
    double GraphBuildSeconds,
    long GraphMemoryBytes,
    double ManagedBytesPerItem,
    int BuildThreads,
    string BuildCheck,
    IReadOnlyList<string> BuildLog,
    DateTimeOffset BuiltAt);

/// <summary>
/// Fills one index with synthetic items (the clustered vectors of <see cref="IndexBench"/>, the real model's id and
/// dimension): each item's own vector and its regions' are vectors of random clusters, so an item's regions are as
/// unlike each other as different images are (the hard case: every region competes with every other vector). The run
/// splits in two stages (<see cref="BuildAsync"/>, <see cref="SearchAsync"/>), so that the fill and the graph build can
/// run at low priority in one process and the timed searches in another (<c>--region-stage</c>).
/// </summary>
/// <param name="processes">When given, new <c>vsearch search</c> and <c>vsearch serve</c> processes (started with regions on, so with
/// <paramref name="modelId"/> as their model's id) open the saved index: first answers and serve's peak resident memory.</param>
/// <param name="threshold">Whole-first: below this best own score the regions are asked (<see cref="Search.WholeFirst.Threshold"/>).</param>
/// <param name="margin">Whole-first: a region counts when it beats the best own score by this much (<see cref="SearchOptions.RegionMargin"/>).</param>
/// <param name="searchThreshold">
/// The search stage's <see cref="LocalIndexOptions.AnnThreshold"/> (<c>--region-threshold</c>): every vector is on the graph
/// either way; the items' own vectors are searched on a graph of their own from this many items, in exact rows below.
/// </param>
internal sealed class RegionIndexBench(string modelId, int dimension, AnnQuantization quantization, int connectivity, int expansionSearch, TextWriter log, int buildThreads = 0, NewProcesses? processes = null, float threshold = 0.83f, float margin = 0.05f, int searchThreshold = 1)
{
    /// <summary>Exact queries scan every vector (about 0.1 s each at a million): fewer of them.</summary>
    internal const int ExactQueries = 50;

    /// <summary>The build stage's figures, kept in the index's root for the search stage.</summary>
    internal const string StateFile = "region-bench-build.json";

    /// <summary>Untimed searches of each kind before the timed ones (the first calls compile the search paths).</summary>
    private const int WarmUp = 10;

    private static readonly JsonSerializerOptions StateJson = new(JsonSerializerDefaults.Web) { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Both stages in one process (the index is left in <paramref name="root"/>; the caller deletes it).</summary>
    public async Task<RegionIndexResult> RunAsync(string root, int items, int regionsPerItem, int queries, CancellationToken cancellationToken)
    {
        await BuildAsync(root, items, regionsPerItem, queries, cancellationToken).ConfigureAwait(false);
        return await SearchAsync(root, items, regionsPerItem, queries, RegionStage.All, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Fills the index (exact mode), measures exact search (the answers the graph is checked against, and each rule's
    /// top-1 without the graph's misses), builds and saves the graph, and writes <see cref="StateFile"/> in <paramref name="root"/>.
    /// </summary>
    public async Task<RegionBuildState> BuildAsync(string root, int items, int regionsPerItem, int queries, CancellationToken cancellationToken)
    {
        var schema = new IndexSchema(modelId, dimension) { Regions = true };
        var set = new QuerySet(items, regionsPerItem, dimension, queries);
        var all = set.AllVectors;
        var exactCount = Math.Min(ExactQueries, queries);

        // Exact: fill (one fsync at the end, as a bulk load), then query.
        var sw = Stopwatch.StartNew();
        double insertSeconds;
        long exactMemory;
        var exactTop = new List<string[]>();
        var exactMs = new List<double>();
        var exactRegionMs = new List<double>();
        var exactRegionFirst = 0;
        int ownEvery = 0, ownWholeFirst = 0, regionEvery = 0, regionWholeFirst = 0;
        var exactCatalog = Catalog(root, annThreshold: 0);
        using (var index = exactCatalog.OpenVersion(modelId))
        {
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < items; i++)
            {
                if ((i & 0xFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
                await index.UpsertAsync(Item(set.Vectors, i, regionsPerItem), cancellationToken).ConfigureAwait(false);
            }

            insertSeconds = sw.Elapsed.TotalSeconds;
            exactCatalog.SwitchTo(modelId);
            exactMemory = index.Statistics.VectorMemoryBytes;
            await log.WriteLineAsync($"regions {items:N0} x (1 + {regionsPerItem}): inserted {all:N0} vectors in {insertSeconds:F1} s; exact queries").ConfigureAwait(false);
            foreach (var q in set.ByVector.Take(exactCount))
            {
                var t = Stopwatch.GetTimestamp();
                var hits = await index.SearchAsync(q, new VectorQuery(10), cancellationToken).ConfigureAwait(false);
                exactMs.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                exactTop.Add([.. hits.Select(h => h.Id)]);
            }

            foreach (var (id, vector) in set.ByRegion.Take(exactCount))
            {
                var t = Stopwatch.GetTimestamp();
                var hits = await index.SearchAsync(vector, new VectorQuery(10), cancellationToken).ConfigureAwait(false);
                exactRegionMs.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                if (IsRegionFirst(hits, id)) exactRegionFirst++;
                if (IsFirst(hits, id)) regionEvery++;
                if (IsFirst((await WholeFirstAsync(index, vector, cancellationToken).ConfigureAwait(false)).Hits, id)) regionWholeFirst++;
            }

            foreach (var (id, vector) in set.ByOwn.Take(exactCount))
            {
                if (IsFirst(await index.SearchAsync(vector, new VectorQuery(10), cancellationToken).ConfigureAwait(false), id)) ownEvery++;
                if (IsFirst((await WholeFirstAsync(index, vector, cancellationToken).ConfigureAwait(false)).Hits, id)) ownWholeFirst++;
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
        using (var index = graphCatalog.OpenVersion(modelId))
        {
            await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            build = sw.Elapsed.TotalSeconds;
            var stats = index.Statistics;
            if (stats.Mode != "hnsw") throw new InvalidOperationException($"The regional index of {stats.Vectors:N0} vectors is not in graph mode.");
            graphMemory = stats.VectorMemoryBytes;
            managedPerItem = (IndexBench.ManagedBytes() - managedBefore) / (double)items;
            await log.WriteLineAsync($"regions {items:N0}: graph built and saved in {build:F1} s").ConfigureAwait(false);
        }

        var exactN = (double)Math.Max(1, exactCount);
        var state = new RegionBuildState(modelId, quantization.ToString(), connectivity, items, regionsPerItem, queries, insertSeconds, logBytes, exactMemory,
            Latency.Of(exactMs), Latency.Of(exactRegionMs), exactRegionFirst / exactN, ownEvery / exactN, ownWholeFirst / exactN, regionEvery / exactN, regionWholeFirst / exactN,
            exactTop, build, graphMemory, managedPerItem, buildThreads > 0 ? buildThreads : Environment.ProcessorCount, new LocalIndexOptions().AnnBuildCheck.ToString(), buildLog.Lines,
            DateTimeOffset.UtcNow);
        await File.WriteAllTextAsync(Path.Combine(root, StateFile), JsonSerializer.Serialize(state, StateJson), cancellationToken).ConfigureAwait(false);
        return state;
    }

    /// <summary>
    /// Opens the index <see cref="BuildAsync"/> saved in <paramref name="root"/> (the snapshot and the saved graph, timed),
    /// measures search by vector, by id, and both kinds of query under both rules, then new processes on it.
    /// </summary>
    public async Task<RegionIndexResult> SearchAsync(string root, int items, int regionsPerItem, int queries, string stage, CancellationToken cancellationToken)
    {
        var built = await ReadStateAsync(root, items, regionsPerItem, queries, cancellationToken).ConfigureAwait(false);
        var schema = new IndexSchema(modelId, dimension) { Regions = true };
        var set = new QuerySet(items, regionsPerItem, dimension, queries);
        var graphCatalog = Catalog(root, annThreshold: searchThreshold);
        var directory = graphCatalog.VersionDirectory(modelId);
        var snapshotBytes = FileLength(directory, "records.snapshot");
        var graphFileBytes = FileLength(directory, "ann.usearch") + FileLength(directory, "ann.json");

        // Open with the snapshot and the saved graph: what a new process does.
        var managedBefore = IndexBench.ManagedBytes();
        var residentBefore = Resident();
        var sw = Stopwatch.StartNew();
        using var index = graphCatalog.OpenVersion(modelId);
        await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
        var open = sw.Elapsed.TotalSeconds;
        var stats = index.Statistics;
        if (stats.Mode != "hnsw") throw new InvalidOperationException("The reopened regional index is not in graph mode.");
        if (stats.Vectors != set.AllVectors) throw new InvalidOperationException($"The saved index holds {stats.Vectors:N0} vectors, not {set.AllVectors:N0}.");
        var openedManaged = (IndexBench.ManagedBytes() - managedBefore) / (double)items;
        var openResident = Resident() - residentBefore;
        await log.WriteLineAsync($"regions {items:N0}: opened with the snapshot and saved graph in {open:F2} s; graph queries").ConfigureAwait(false);

        // The first calls of each kind compile the search paths: not timed.
        foreach (var q in set.ByVector.Take(WarmUp))
        {
            await index.SearchAsync(q, new VectorQuery(10), cancellationToken).ConfigureAwait(false);
            await WholeFirstAsync(index, q, cancellationToken, asksRegions: true).ConfigureAwait(false);
        }

        var byVector = new List<double>();
        var found = 0;
        for (var i = 0; i < set.ByVector.Length; i++)
        {
            var t = Stopwatch.GetTimestamp();
            var hits = await index.SearchAsync(set.ByVector[i], new VectorQuery(10), cancellationToken).ConfigureAwait(false);
            byVector.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            if (i < built.ExactTop.Count) found += hits.Count(h => built.ExactTop[i].Contains(h.Id));
            if (hits.Select(h => h.Id).Distinct(StringComparer.Ordinal).Count() != hits.Count) throw new InvalidOperationException("A search returned an item twice.");
        }

        var byId = new List<double>();
        for (var i = 0; i < queries; i++)
        {
            var id = IndexBench.Id((int)((long)i * 7919 % items));
            var t = Stopwatch.GetTimestamp();
            var record = await index.GetAsync(id, cancellationToken).ConfigureAwait(false) ?? throw new InvalidOperationException($"{id} is missing.");
            await index.SearchAsync(record.Vector, new VectorQuery(10, ExcludeId: id), cancellationToken).ConfigureAwait(false);
            byId.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        // The old rule (every vector, one search), then whole-first, on each kind of query.
        var (byRegion, regionEvery, regionFirst) = await EveryVectorAsync(index, set.ByRegion, cancellationToken).ConfigureAwait(false);
        var (ownEveryMs, ownEvery, _) = await EveryVectorAsync(index, set.ByOwn, cancellationToken).ConfigureAwait(false);
        var own = await WholeFirstKindAsync(index, "own", set.ByOwn, ownEveryMs, ownEvery, built.ExactOwnEveryVectorTop1, built.ExactOwnWholeFirstTop1, cancellationToken).ConfigureAwait(false);
        var region = await WholeFirstKindAsync(index, "region", set.ByRegion, byRegion, regionEvery, built.ExactRegionEveryVectorTop1, built.ExactRegionWholeFirstTop1, cancellationToken).ConfigureAwait(false);
        var wholeFirst = new WholeFirstResult(threshold, margin, Plan(index, VectorSelection.Own), Plan(index, VectorSelection.Regions), Plan(index, VectorSelection.All), own, region);
        var openedGraphMemory = stats.VectorMemoryBytes;
        // Closed before new processes open the same directory (disposing twice is harmless).
        index.Dispose();
        var ownGraphFileBytes = FileLength(directory, "own.usearch") + FileLength(directory, "own.json");
        wholeFirst = wholeFirst with { OwnStepExactPath = await OwnStepExactPathAsync(root, schema, set, cancellationToken).ConfigureAwait(false) };
        await log.WriteLineAsync($"regions {items:N0}: whole-first own queries p50/p99 {own.WholeFirst.P50:F2}/{own.WholeFirst.P99:F2} ms (top-1 {own.WholeFirstTop1:F4}), region queries {region.WholeFirst.P50:F2}/{region.WholeFirst.P99:F2} ms (top-1 {region.WholeFirstTop1:F4}, regions asked {region.AskedRegions:P0}); every vector {own.EveryVector.P50:F2} / {region.EveryVector.P50:F2} ms").ConfigureAwait(false);

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

        var recall = found / (double)Math.Max(1, built.ExactTop.Sum(t => t.Length));
        await log.WriteLineAsync($"regions {items:N0}: recall@10 {recall:F4}, partial-copy top-1 {regionFirst / (double)queries:F4}").ConfigureAwait(false);
        return new RegionIndexResult(items, regionsPerItem, set.AllVectors, built.InsertSeconds, built.LogBytes, built.GraphBuildSeconds, open, built.GraphMemoryBytes, built.ExactMemoryBytes, built.ManagedBytesPerItem,
            built.ExactByVector, Latency.Of(byVector), Latency.Of(byId), byRegion, recall, regionFirst / (double)queries, queries)
        {
            ExactByRegion = built.ExactByRegion,
            ExactRegionTop1 = built.ExactRegionTop1,
            SnapshotBytes = snapshotBytes,
            GraphFileBytes = graphFileBytes,
            OwnGraphFileBytes = ownGraphFileBytes,
            SearchThreshold = searchThreshold,
            BuildThreads = built.BuildThreads,
            BuildCheck = built.BuildCheck,
            BuildLog = built.BuildLog,
            NewProcess = newProcess,
            Stage = stage,
            OpenResidentBytes = openResident,
            OpenedGraphMemoryBytes = openedGraphMemory,
            OpenedManagedBytesPerItem = openedManaged,
            WholeFirst = wholeFirst,
        };
    }

    /// <summary>The own-vector search with the exact path forced, on the index reopened that way (see <see cref="WholeFirstResult.OwnStepExactPath"/>).</summary>
    private async Task<OwnStepResult> OwnStepExactPathAsync(string root, IndexSchema schema, QuerySet set, CancellationToken cancellationToken)
    {
        using var index = Catalog(root, annThreshold: searchThreshold, filteredSearch: FilteredSearchMode.Exact).OpenVersion(modelId);
        await index.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
        var own = new VectorQuery(10) { Vectors = VectorSelection.Own };
        if (index.PlanSearch(own).Path != SearchPath.ExactScan) throw new InvalidOperationException("The own-vector search did not take the exact path it was forced to.");
        foreach (var q in set.ByVector.Take(WarmUp)) await index.SearchAsync(q, own, cancellationToken).ConfigureAwait(false);
        var first = 0;
        async Task<Latency> TimeAsync((string Id, float[] Vector)[] queries, bool count)
        {
            var ms = new List<double>(queries.Length);
            foreach (var (id, vector) in queries)
            {
                var t = Stopwatch.GetTimestamp();
                var hits = await index.SearchAsync(vector, own, cancellationToken).ConfigureAwait(false);
                ms.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                if (count && IsFirst(hits, id)) first++;
            }

            return Latency.Of(ms);
        }

        var ownQueries = await TimeAsync(set.ByOwn, count: true).ConfigureAwait(false);
        var regionQueries = await TimeAsync(set.ByRegion, count: false).ConfigureAwait(false);
        return new OwnStepResult(ownQueries, regionQueries, first / (double)Math.Max(1, set.ByOwn.Length));
    }

    /// <summary>The build stage's figures for this index, checked against the settings of this run.</summary>
    private async Task<RegionBuildState> ReadStateAsync(string root, int items, int regionsPerItem, int queries, CancellationToken cancellationToken)
    {
        var path = Path.Combine(root, StateFile);
        var state = JsonSerializer.Deserialize<RegionBuildState>(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false), StateJson)
            ?? throw new InvalidDataException($"{path} is empty.");
        if (state.ModelId != modelId || state.Items != items || state.RegionsPerItem != regionsPerItem || state.Queries != queries
            || state.Quantization != quantization.ToString() || state.Connectivity != connectivity)
            throw new UsageException($"The index in {root} was built for {state.Items} items x {state.RegionsPerItem} regions, {state.Queries} queries, {state.Quantization} M {state.Connectivity} ({state.ModelId}): "
                + $"this run asks {items} x {regionsPerItem}, {queries}, {quantization} M {connectivity} ({modelId}); give the build's --region-items, --regions, --queries, --quantization and --connectivity.");
        return state;
    }

    /// <summary>One index search per query over every vector (the old rule): latency, share whose item is first, share whose item is first by a region.</summary>
    private static async Task<(Latency Latency, double Top1, int RegionFirst)> EveryVectorAsync(LocalVectorIndex index, (string Id, float[] Vector)[] queries, CancellationToken cancellationToken)
    {
        var ms = new List<double>(queries.Length);
        int first = 0, regionFirst = 0;
        foreach (var (id, vector) in queries)
        {
            var t = Stopwatch.GetTimestamp();
            var hits = await index.SearchAsync(vector, new VectorQuery(10), cancellationToken).ConfigureAwait(false);
            ms.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            if (IsFirst(hits, id)) first++;
            if (IsRegionFirst(hits, id)) regionFirst++;
        }

        return (Latency.Of(ms), first / (double)Math.Max(1, queries.Length), regionFirst);
    }

    private async Task<QueryKindResult> WholeFirstKindAsync(LocalVectorIndex index, string kind, (string Id, float[] Vector)[] queries, Latency everyVector, double everyVectorTop1, double exactEvery, double exactWholeFirst, CancellationToken cancellationToken)
    {
        var total = new List<double>(queries.Length);
        var ownStep = new List<double>(queries.Length);
        int first = 0, asked = 0;
        foreach (var (id, vector) in queries)
        {
            var t = Stopwatch.GetTimestamp();
            var answer = await WholeFirstAsync(index, vector, cancellationToken).ConfigureAwait(false);
            total.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            ownStep.Add(answer.OwnMs);
            if (answer.AskedRegions) asked++;
            if (IsFirst(answer.Hits, id)) first++;
        }

        var n = (double)Math.Max(1, queries.Length);
        return new QueryKindResult(kind, queries.Length, everyVector, everyVectorTop1, Latency.Of(total), Latency.Of(ownStep), asked / n, first / n,
            Math.Min(ExactQueries, queries.Length), exactEvery, exactWholeFirst);
    }

    /// <summary>
    /// Whole-first search of k 10 as the copy space's SearchService runs it (the same two index searches and the same rule,
    /// <see cref="Search.WholeFirst"/>, without the service's decode and embed): the items' own vectors; below the threshold
    /// their regions, each counting when it beats the best own score by the margin; merged by item.
    /// </summary>
    /// <param name="asksRegions">Ask the regions whatever the own search gave (the warm-up, so that both paths are compiled).</param>
    private async Task<(IReadOnlyList<SearchHit> Hits, bool AskedRegions, double OwnMs)> WholeFirstAsync(IVectorIndex index, float[] vector, CancellationToken cancellationToken, bool asksRegions = false)
    {
        var t = Stopwatch.GetTimestamp();
        var query = new VectorQuery(10);
        var own = await index.SearchAsync(vector, query with { Vectors = VectorSelection.Own }, cancellationToken).ConfigureAwait(false);
        var ownMs = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        var bestOwn = own.Count > 0 ? own[0].Score : float.NegativeInfinity;
        if (!asksRegions && !Search.WholeFirst.AsksRegions(bestOwn, threshold)) return (own, false, ownMs);
        var regions = await index.SearchAsync(vector, query with { Vectors = VectorSelection.Regions }, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<SearchHit> counted = margin > 0 ? [.. regions.Where(h => Search.WholeFirst.RegionCounts(h.Score, bestOwn, margin))] : regions;
        return (QueryViewSet.BestPerItem([own, counted], query.K), true, ownMs);
    }

    private static PlanResult Plan(LocalVectorIndex index, VectorSelection selection)
    {
        var plan = index.PlanSearch(new VectorQuery(10) { Vectors = selection });
        return new PlanResult(plan.Path.ToString(), plan.EstimatedShare, plan.Fetch);
    }

    /// <summary>This process's resident memory after a full collection.</summary>
    private static long Resident()
    {
        IndexBench.ManagedBytes();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }

    /// <summary>Whether the partial copy's item comes first, found by one of its regions (its box named).</summary>
    private static bool IsRegionFirst(IReadOnlyList<SearchHit> hits, string id) => hits.Count > 0 && hits[0].Id == id && hits[0].Region is not null;

    /// <summary>Whether the query's item comes first, by any of its vectors.</summary>
    private static bool IsFirst(IReadOnlyList<SearchHit> hits, string id) => hits.Count > 0 && hits[0].Id == id;

    private static long FileLength(string directory, string name)
    {
        var file = new FileInfo(Path.Combine(directory, name));
        return file.Exists ? file.Length : 0;
    }

    private VectorRecord Item(ClusteredVectors vectors, int i, int regionsPerItem) =>
        new(IndexBench.Id(i), vectors.Vector(QuerySet.VectorIndex(i, 0, regionsPerItem)), Metadata(i))
        {
            // A grid of regions at two scales over a 4032 x 3024 photo: where they are does not change the cost.
            Regions = [.. Enumerable.Range(0, regionsPerItem).Select(r => new RegionVector(vectors.Vector(QuerySet.VectorIndex(i, 1 + r, regionsPerItem)), new RegionBox(r % 4 * 1008, r / 4 % 3 * 1008, 1008, 1008)))],
        };

    private LocalIndexCatalog Catalog(string root, int annThreshold, ILoggerFactory? loggers = null, FilteredSearchMode filteredSearch = FilteredSearchMode.Auto) =>
        new(Options.Create(IndexBench.BenchOptions(root, annThreshold, quantization, connectivity, expansionSearch, buildThreads, filteredSearch)), loggers ?? NullLoggerFactory.Instance);

    private ItemMetadata Metadata(int i) => IndexBench.SyntheticMetadata(i, modelId, "holiday");

    /// <summary>
    /// The stored vectors and the queries of one size, the same in every process (seeded by the size): new vectors of the
    /// same clusters, noisy copies of a stored region (partial copies), and noisy copies of an item's own vector.
    /// </summary>
    private sealed class QuerySet
    {
        public QuerySet(int items, int regionsPerItem, int dimension, int queries)
        {
            AllVectors = (long)items * (1 + regionsPerItem);
            Vectors = new ClusteredVectors(items * (1 + regionsPerItem), dimension, seed: items);
            ByVector = [.. Enumerable.Range(0, queries).Select(i => Vectors.Vector((int)(AllVectors + i)))];
            // Partial-copy queries: a stored region's vector with noise (cosine about 0.93 to it).
            var random = new Random(items);
            ByRegion = [.. Enumerable.Range(0, queries).Select(_ =>
            {
                var item = random.Next(items);
                var region = random.Next(regionsPerItem);
                return (IndexBench.Id(item), Noisy(Vectors.Vector(VectorIndex(item, 1 + region, regionsPerItem)), random));
            })];
            // Whole-image copies: an item's own vector with the same noise.
            var ownRandom = new Random(items + 1);
            ByOwn = [.. Enumerable.Range(0, queries).Select(_ =>
            {
                var item = ownRandom.Next(items);
                return (IndexBench.Id(item), Noisy(Vectors.Vector(VectorIndex(item, 0, regionsPerItem)), ownRandom));
            })];
        }

        public long AllVectors { get; }

        public ClusteredVectors Vectors { get; }

        public float[][] ByVector { get; }

        public (string Id, float[] Vector)[] ByRegion { get; }

        public (string Id, float[] Vector)[] ByOwn { get; }

        public static int VectorIndex(int item, int vector, int regionsPerItem) => item * (1 + regionsPerItem) + vector;

        private static float[] Noisy(float[] vector, Random random)
        {
            var v = new float[vector.Length];
            for (var d = 0; d < v.Length; d++) v[d] = vector[d] + (random.NextSingle() * 2 - 1) * 0.03f;
            System.Numerics.Tensors.TensorPrimitives.Divide(v, System.Numerics.Tensors.TensorPrimitives.Norm(v), v);
            return v;
        }
    }
}
