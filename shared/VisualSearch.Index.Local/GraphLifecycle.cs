using System.Diagnostics;
using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using VisualSearch.Index.Local.Ann;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>Copies the float32 vector of a slot into <paramref name="destination"/> (from the log, in graph mode).</summary>
internal delegate void SlotVectorReader(int slot, Span<float> destination);

/// <summary>
/// The HNSW graph of an index in graph mode and its life: built from the vectors (on every core) or loaded from
/// the copy saved next to the log (ann.usearch, ann.json) when that copy matches the log exactly (same length,
/// same count, same settings); saved (temporary file, fsync, rename, then its description) when built and when
/// the index closes; searched for candidates that are re-ranked exactly with the float32 vectors read back from
/// the log. Keys are the <see cref="SlotTable"/>'s slots. Not thread-safe for writes: the index serialises
/// <see cref="Add"/>, <see cref="Remove"/>, <see cref="Rename"/> and saves against searches. Made by <see cref="TryLoad"/>
/// or <see cref="Build"/>, which own the graph they hand over.
/// <para>
/// An index with regions (issue 14) has two: the graph of every vector (<see cref="VectorSelection.All"/>, ann.usearch),
/// and from <see cref="LocalIndexOptions.AnnThreshold"/> items on one of the items' own vectors alone
/// (<see cref="VectorSelection.Own"/>, own.usearch), which a search of the own vectors walks instead of asking the
/// graph of all for 59 times the candidates. Each is saved, validated and rebuilt on its own: a crash between the
/// two saves leaves one of them stale, and only that one is rebuilt.
/// </para>
/// </summary>
internal sealed class GraphLifecycle(string directory, HnswGraph graph, ILogger logger, VectorSelection kind = VectorSelection.All) : IDisposable
{
    public const string GraphFileName = "ann.usearch";
    public const string MetaFileName = "ann.json";

    /// <summary>The saved graph of the items' own vectors alone (<see cref="VectorSelection.Own"/>).</summary>
    public const string OwnGraphFileName = "own.usearch";

    /// <summary>Its description.</summary>
    public const string OwnMetaFileName = "own.json";

    private const int MetaFormat = 2;

    /// <summary>Beyond this many graph candidates a filtered search scans the matching records exactly instead.</summary>
    public const int MaxCandidates = 4096;

    /// <summary>The log length the saved copy on disk was made at; -1 when no saved copy matches this graph.</summary>
    public long SavedAtLogLength { get; private set; } = -1;

    /// <summary>Bytes of the graph's vectors and links.</summary>
    public long MemoryUsage => graph.MemoryUsage;

    /// <summary>The vectors it holds: every live one (<see cref="VectorSelection.All"/>), or the items' own (<see cref="VectorSelection.Own"/>).</summary>
    public VectorSelection Kind => kind;

    /// <summary>The graph file and description of a kind of graph.</summary>
    public static (string Graph, string Meta) FilesOf(string directory, VectorSelection kind) => kind == VectorSelection.Own
        ? (Path.Combine(directory, OwnGraphFileName), Path.Combine(directory, OwnMetaFileName))
        : (Path.Combine(directory, GraphFileName), Path.Combine(directory, MetaFileName));

    /// <summary>What the log messages name: the directory, and which graph when it is the own vectors'.</summary>
    private static string Where(string directory, VectorSelection kind) => kind == VectorSelection.Own ? directory + " (items' own vectors)" : directory;

    /// <summary>How many vectors of <paramref name="records"/> a graph of <paramref name="kind"/> holds.</summary>
    private static int CountOf(SlotTable records, VectorSelection kind) => kind == VectorSelection.Own ? records.Count : records.VectorCount;

    /// <summary>
    /// The saved graph if it was saved at exactly <paramref name="logLength"/> with the live slots of
    /// <paramref name="records"/> and these settings; null (logged) when it is missing, stale or unreadable.
    /// Throws what USearch's native library throws when it cannot be loaded.
    /// </summary>
    /// <param name="kind">
    /// Which graph: of every live vector (<see cref="VectorSelection.All"/>, keys <see cref="SlotTable.LiveSlots"/>), or
    /// of the items' own vectors alone (<see cref="VectorSelection.Own"/>, keys <see cref="SlotTable.Slots"/>).
    /// </param>
    public static GraphLifecycle? TryLoad(string directory, HnswSettings settings, long logLength, SlotTable records, ILogger logger, PendingLoad? pending = null, VectorSelection kind = VectorSelection.All)
    {
        var sw = Stopwatch.StartNew();
        var (graphPath, metaPath) = FilesOf(directory, kind);
        var where = Where(directory, kind);
        var count = CountOf(records, kind);
        if (!File.Exists(metaPath) || !File.Exists(graphPath)) return null;
        try
        {
            var meta = JsonSerializer.Deserialize<GraphMeta>(File.ReadAllBytes(metaPath), LogFormat.Json);
            if (meta is null || meta.Format != MetaFormat || meta.LogLength != logLength || meta.Count != count
                || meta.Dimension != settings.Dimension || meta.Connectivity != settings.Connectivity || meta.Quantization != settings.Quantization)
            {
                LocalIndexLog.GraphStale(logger, where);
                return null;
            }

            var graph = pending?.Take(settings) ?? HnswGraph.Load(graphPath, settings);
            var keys = kind == VectorSelection.Own ? records.Slots : records.LiveSlots();
            if (graph.Count != count || keys.Any(slot => !graph.Contains((ulong)slot)))
            {
                graph.Dispose();
                LocalIndexLog.GraphStale(logger, where);
                return null;
            }

            LocalIndexLog.GraphLoaded(logger, where, count, sw.Elapsed.TotalMilliseconds);
            return new GraphLifecycle(directory, graph, logger, kind) { SavedAtLogLength = logLength };
        }
        catch (Exception ex) when (ex is IOException or JsonException or InvalidDataException or InvalidOperationException)
        {
            LocalIndexLog.GraphUnreadable(logger, where, ex);
            return null;
        }
    }

    /// <summary>
    /// Starts reading the saved graph file on another thread, before the records are known (an open reads the
    /// snapshot meanwhile); null when there is no saved graph of these settings. Nothing is trusted yet:
    /// <see cref="TryLoad"/> validates the graph as it does one it reads itself and takes it only then; the
    /// caller disposes the pending load, which frees a graph nobody took.
    /// </summary>
    public static PendingLoad? StartLoad(string directory, HnswSettings settings)
    {
        var metaPath = Path.Combine(directory, MetaFileName);
        var graphPath = Path.Combine(directory, GraphFileName);
        try
        {
            if (!File.Exists(graphPath) || JsonSerializer.Deserialize<GraphMeta>(File.ReadAllBytes(metaPath), LogFormat.Json) is not { } meta
                || meta.Format != MetaFormat || meta.Dimension != settings.Dimension || meta.Connectivity != settings.Connectivity || meta.Quantization != settings.Quantization)
                return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            // TryLoad reads the description again and logs why it is not usable.
            return null;
        }

        return new PendingLoad(settings, Task.Run(() => HnswGraph.Load(graphPath, settings)));
    }

    /// <summary>
    /// A new graph of the <paramref name="slots"/> with their vectors, added from <paramref name="threads"/>
    /// threads (<paramref name="vectorOfSlot"/> is called from all of them at once) and checked by <paramref name="check"/>
    /// (<see cref="HnswGraph.EnsureReachable"/>). Not saved yet.
    /// Throws what USearch's native library throws when it cannot be loaded.
    /// </summary>
    public static GraphLifecycle Build(string directory, HnswSettings settings, int[] slots, SlotVectorReader vectorOfSlot, int threads, AnnBuildCheck check, ILogger logger, CancellationToken cancellationToken, VectorSelection kind = VectorSelection.All)
    {
        ArgumentNullException.ThrowIfNull(slots);
        ArgumentNullException.ThrowIfNull(vectorOfSlot);
        var sw = Stopwatch.StartNew();
        var where = Where(directory, kind);
        var graph = HnswGraph.Create(settings);
        try
        {
            var stats = graph.AddMany(Array.ConvertAll(slots, s => (ulong)s), (i, destination) => vectorOfSlot(slots[i], destination), threads, check, cancellationToken);
            if (stats.Fallback is not null) LocalIndexLog.GraphLinkCheckFellBack(logger, where, stats.Fallback);
            if (stats.Repaired > 0) LocalIndexLog.GraphRepaired(logger, where, stats.Repaired, slots.Length);
            LocalIndexLog.GraphBuildParts(logger, where, threads, stats.Insert.TotalSeconds, stats.InsertCpu.TotalSeconds, stats.CheckSummary, stats.Check.TotalSeconds, stats.CheckCpu.TotalSeconds);
        }
        catch
        {
            graph.Dispose();
            throw;
        }

        LocalIndexLog.GraphBuilt(logger, where, slots.Length, sw.Elapsed.TotalMilliseconds);
        return new GraphLifecycle(directory, graph, logger, kind);
    }

    /// <summary>Deletes a saved graph of <paramref name="kind"/> (the log is being renumbered, or the index searches exactly); fsyncs the directory.</summary>
    public static void DeleteSaved(string directory, VectorSelection kind = VectorSelection.All)
    {
        var (graphPath, metaPath) = FilesOf(directory, kind);
        if (!File.Exists(metaPath) && !File.Exists(graphPath)) return;
        File.Delete(metaPath);
        File.Delete(graphPath);
        DurableFiles.FsyncDirectory(directory);
    }

    public bool Contains(int slot) => graph.Contains((ulong)slot);

    public void Add(int slot, ReadOnlySpan<float> vector) => graph.Add((ulong)slot, vector);

    public void Remove(int slot) => graph.Remove((ulong)slot);

    public void Rename(int from, int to) => graph.Rename((ulong)from, (ulong)to);

    /// <summary>
    /// Saves the graph as made at <paramref name="logLength"/> with <paramref name="count"/> vectors: graph file
    /// (temporary file, fsync, rename), then its description; a crash between leaves none valid.
    /// </summary>
    public void Save(long logLength, int count)
    {
        var (graphPath, metaPath) = FilesOf(directory, kind);
        var settings = graph.Settings;
        File.Delete(metaPath);
        var temp = graphPath + ".tmp";
        graph.Save(temp);
        using (var file = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) file.Flush(flushToDisk: true);
        File.Move(temp, graphPath, overwrite: true);
        DurableFiles.WriteAtomically(metaPath, JsonSerializer.SerializeToUtf8Bytes(
            new GraphMeta(MetaFormat, logLength, count, settings.Dimension, settings.Connectivity, settings.Quantization), LogFormat.Json));
        SavedAtLogLength = logLength;
    }

    /// <summary>Saves unless the saved copy is already of <paramref name="logLength"/>; a failure is logged, not thrown (the next open rebuilds).</summary>
    public void SaveIfChanged(long logLength, int count)
    {
        if (SavedAtLogLength == logLength) return;
        try
        {
            Save(logLength, count);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            LocalIndexLog.GraphNotSaved(logger, Where(directory, kind), ex);
        }
    }

    /// <summary>Deletes the saved copy; the graph in memory stays and is saved again by the next save.</summary>
    public void DeleteSaved()
    {
        DeleteSaved(directory, kind);
        SavedAtLogLength = -1;
    }

    /// <summary>
    /// Graph search: candidate vectors from the graph (<paramref name="fetch"/> first, as <see cref="FilterPlanner"/>
    /// planned it, or k x <paramref name="overfetch"/>; more while the filter, the excluded id or several vectors of one
    /// item leave fewer than k items), the items of the best k x overfetch that pass re-scored with exact cosines of all
    /// their vectors (own and regions') from the float32 vectors <paramref name="readVector"/> gives; an item scores the
    /// best of them. When even <see cref="MaxCandidates"/> are not enough, every item the filter admits is scored
    /// exactly (<see cref="ScanMatching"/>).
    /// </summary>
    public IReadOnlyList<SearchHit> Search(ReadOnlySpan<float> q, VectorQuery query, SlotTable records, int overfetch, SlotVectorReader readVector, CancellationToken cancellationToken, int fetch = 0)
    {
        var count = CountOf(records, kind);
        if (count == 0) return [];
        var k = query.K;
        var minScore = query.MinScore ?? float.NegativeInfinity;
        var conditioned = query.HasConditions;
        var buffer = new float[q.Length];
        var top = new TopResults(k);
        var seen = new HashSet<int>();
        var rescore = k * overfetch;
        fetch = Math.Min(count, Math.Max(fetch, Math.Max(rescore, k + 1)));
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var keys = new ulong[fetch];
            var distances = new float[fetch];
            var found = graph.Search(q, keys, distances);
            top.Clear();
            seen.Clear();
            // The graph's order (int8 or float16 cosines, within a few thousandths of the exact ones) picks the
            // k x overfetch best candidate items that pass; only those are read back from the log and scored exactly.
            var scored = 0;
            for (var i = 0; i < found && scored < rescore; i++)
            {
                if (1f - distances[i] < minScore - 0.01f) break;
                // A vector of a kind the query does not score (a region for Own, an item's own for Regions) names no candidate.
                if ((uint)keys[i] >= (uint)records.Used || records.MetadataAt((int)keys[i]) is null || !records.Selects((int)keys[i], query.Vectors)
                    || !seen.Add(records.ItemSlot((int)keys[i]))) continue;
                if (Consider(records.ItemSlot((int)keys[i]), q, query, conditioned, minScore, records, readVector, buffer, top)) scored++;
            }

            // Enough: k results, or k x overfetch candidates passed (the rest rank lower), or the graph has no more.
            if (top.Count >= k || scored >= rescore || found < fetch || fetch >= count) break;
            // The graph's scores (int8 or float16) are within a few thousandths of the exact ones: nothing further can reach MinScore.
            if (found > 0 && 1f - distances[found - 1] < minScore - 0.01f) break;
            if (fetch >= MaxCandidates) return ScanMatching(q, query, records, readVector, cancellationToken);
            fetch = Math.Min(count, fetch * 4);
        }

        return top.ToHits(records);
    }

    /// <summary>
    /// Exact search over the items the query's filter admits: the filter is checked on each item's metadata
    /// first, and only the vectors of those that pass (own and regions') are read (from the log) and scored. The path
    /// <see cref="FilterPlanner"/> takes for a selective filter, and the graph search's last resort.
    /// </summary>
    public static IReadOnlyList<SearchHit> ScanMatching(ReadOnlySpan<float> q, VectorQuery query, SlotTable records, SlotVectorReader readVector, CancellationToken cancellationToken)
    {
        var minScore = query.MinScore ?? float.NegativeInfinity;
        var conditioned = query.HasConditions;
        var buffer = new float[q.Length];
        var top = new TopResults(query.K);
        for (var slot = 0; slot < records.Used; slot++)
        {
            if ((slot & 4095) == 0) cancellationToken.ThrowIfCancellationRequested();
            // Items by their own slot: Consider scores an item's region vectors with it.
            if (!records.IsRegion(slot)) Consider(slot, q, query, conditioned, minScore, records, readVector, buffer, top);
        }

        return top.ToHits(records);
    }

    public void Dispose() => graph.Dispose();

    /// <summary>
    /// Scores one live item (by its own slot) that passes the filter and exclusion exactly, by the best of its
    /// vectors the query selects (<see cref="VectorQuery.Vectors"/>); false when it was skipped unread (or has none of them).
    /// </summary>
    private static bool Consider(int slot, ReadOnlySpan<float> q, VectorQuery query, bool conditioned, float minScore, SlotTable records, SlotVectorReader readVector, float[] buffer, TopResults top)
    {
        var metadata = records.MetadataAt(slot);
        if (metadata is null) return false;
        var id = records.IdAt(slot)!;
        if (query.ExcludeId is not null && id == query.ExcludeId) return false;
        if (conditioned && !query.Admits(metadata)) return false;
        var (first, last) = records.VectorsOf(slot, query.Vectors);
        if (last < first) return false;
        var (best, score) = (first, float.NegativeInfinity);
        for (var vector = first; vector <= last; vector++)
        {
            readVector(vector, buffer);
            var vectorScore = TensorPrimitives.Dot(q, buffer);
            if (vectorScore > score) (best, score) = (vector, vectorScore);
        }

        if (score < minScore) return true;
        top.Offer(best, score, id);
        return true;
    }

    /// <summary>A read of the saved graph file under way (<see cref="StartLoad"/>).</summary>
    internal sealed class PendingLoad(HnswSettings settings, Task<HnswGraph> load) : IDisposable
    {
        private bool _taken;

        /// <summary>The graph read (waiting for it; rethrows what the read threw), once; null when taken before or read with other settings.</summary>
        public HnswGraph? Take(HnswSettings wanted)
        {
            if (_taken || wanted != settings) return null;
            _taken = true;
            return load.GetAwaiter().GetResult();
        }

        /// <summary>Waits for the read and frees the graph if nobody took it (a failed read's exception is dropped: nothing used it).</summary>
        public void Dispose()
        {
            if (_taken) return;
            _taken = true;
            try
            {
                load.GetAwaiter().GetResult().Dispose();
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or InvalidOperationException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
            {
                // Not used: the open went on without it (a read of its own reports the same failure).
            }
        }
    }

    private sealed record GraphMeta(
        int Format,
        long LogLength,
        int Count,
        int Dimension,
        int Connectivity,
        [property: JsonConverter(typeof(JsonStringEnumConverter<AnnQuantization>))] AnnQuantization Quantization);
}
