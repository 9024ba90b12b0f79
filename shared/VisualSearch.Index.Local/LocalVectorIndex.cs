using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local.Ann;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// The embedded index: all vectors in memory for an exact cosine scan (<see cref="ExactScan"/>), persisted as an
/// append-only log of checksummed entries that is fsynced before a write is acknowledged (<see cref="RecordLog"/>).
/// On open the log is replayed; a torn or corrupt tail (a crash mid-write) is cut off, so every acknowledged record
/// survives. When most entries are dead the log is rewritten to a temporary file and renamed over the old one
/// (atomic). One process at a time: a lock file guards the directory.
/// <para>
/// From <see cref="LocalIndexOptions.AnnThreshold"/> records on, search walks an HNSW graph (USearch, int8
/// vectors) for candidates and re-ranks them exactly with the float32 vectors read back from the log (by their
/// offsets), so the float32 copies leave memory (<see cref="GraphLifecycle"/>). The graph is saved next to the log
/// (ann.usearch, ann.json) when it is built and when the index is closed; on open it is loaded if it matches the
/// log exactly (same length, same count), and rebuilt from the log otherwise (a crash, a compaction, other settings).
/// </para>
/// <para>
/// This class holds the parts together (<see cref="SlotTable"/> numbers the records for all of them) and takes
/// the reader/writer lock: one write at a time, searches side by side. It is also the backend's edge for
/// failures: an I/O error or a file this index did not write (a corrupt index.json, a log cut short under an
/// open index) surfaces as <see cref="VectorIndexException"/> (backend "local", the directory, the operation),
/// retriable only when another instance has the directory open.
/// </para>
/// </summary>
public sealed partial class LocalVectorIndex : IVectorIndex, IDisposable
{
    private const string MetaFile = "index.json";

    private readonly LocalIndexOptions _options;
    private readonly ILogger<LocalVectorIndex> _logger;
    private readonly ReaderWriterLockSlim _lock = new();
    private SlotTable _records = new();

    /// <summary>The slots a write frees (reused under the write lock).</summary>
    private readonly List<int> _freed = [];
    private MetadataPool _pool = new();
    private RecordLog? _log;
    private ExactScan? _exact;
    private GraphLifecycle? _graph;
    private bool _graphUnavailable;

    /// <summary>The log length the snapshot on disk was taken at; -1 when there is none this instance knows of.</summary>
    private long _snapshotAt = -1;
    private IndexSchema? _schema;
    private bool _disposed;

    public LocalVectorIndex(IOptions<LocalIndexOptions> options, ILogger<LocalVectorIndex> logger)
    {
        _options = options.Value;
        _logger = logger;
        Directory = Path.GetFullPath(_options.Path);
    }

    public string Kind => "local";

    /// <summary>Absolute directory of the index.</summary>
    public string Directory { get; }

    /// <summary>How the index searches now and what its vectors take in memory.</summary>
    public LocalIndexStatistics Statistics
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                var (count, vectors) = (_records.Count, _records.VectorCount);
                return _graph is { } graph
                    ? new LocalIndexStatistics("hnsw", count, graph.MemoryUsage + OwnMemoryUsage + (long)vectors * sizeof(long)) { Vectors = vectors }
                    : new LocalIndexStatistics("exact", count, (long)vectors * (_schema?.Dimension ?? 0) * sizeof(float)) { Vectors = vectors };
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    public Task InitializeAsync(IndexSchema schema, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentOutOfRangeException.ThrowIfLessThan(schema.Dimension, 1);
        _lock.EnterWriteLock();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_schema is not null)
            {
                if (_schema with { Regions = schema.Regions } != schema) throw new IndexModelMismatchException(_schema.ModelId, schema.ModelId, Directory);
                if (_schema.Regions != schema.Regions) throw new IndexRegionsMismatchException(_schema.Regions, schema.Regions, Directory);
                return Task.CompletedTask;
            }

            System.IO.Directory.CreateDirectory(Directory);
            _log = RecordLog.Open(Directory, _options.FlushToDisk, _logger);
            try
            {
                Open(schema, cancellationToken);
            }
            catch
            {
                // Only a failed open gives the directory back: a mismatch on an index already open (above) must not
                // release the lock it still holds (nor leave a half-opened one looking open).
                _graph?.Dispose();
                _graph = null;
                DisposeOwn();
                _exact = null;
                _records = new SlotTable();
                _pool = new MetadataPool();
                _schema = null;
                _snapshotAt = -1;
                _log.Dispose();
                _log = null;
                throw;
            }

            return Task.CompletedTask;
        }
        catch (Exception ex) when (IsStorageFailure(ex))
        {
            throw StorageFailure("open", ex);
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public Task UpsertAsync(VectorRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        cancellationToken.ThrowIfCancellationRequested();
        _lock.EnterWriteLock();
        try
        {
            var schema = RequireOpen();
            if (record.Vector.Length != schema.Dimension)
                throw new ArgumentException($"The vector has {record.Vector.Length} dimensions; the index holds {schema.Dimension}.", nameof(record));
            if (record.Metadata.ModelId != schema.ModelId)
                throw new IndexModelMismatchException(schema.ModelId, record.Metadata.ModelId, Directory);
            CheckRegions(record, schema);

            var entry = LogFormat.Encode(LogFormat.OpUpsert, record.Id, record.Vector, record.Metadata, record.Regions, out var regionOffsets);
            var start = _log!.Append(entry);
            Apply(record.Id, record.Vector, record.Metadata, start + LogFormat.VectorOffset(record.Id), record.Regions, Array.ConvertAll(regionOffsets, o => start + o));
            if (_graph is null && UseGraph(_records.VectorCount)) EnableGraph(tryLoad: false, cancellationToken);
            CompactIfNeeded();
            return Task.CompletedTask;
        }
        catch (Exception ex) when (IsStorageFailure(ex))
        {
            throw StorageFailure("upsert", ex);
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        _lock.EnterWriteLock();
        try
        {
            RequireOpen();
            if (!_records.TryGetSlot(id, out _)) return Task.FromResult(false);
            _log!.Append(LogFormat.Encode(LogFormat.OpDelete, id, default, null));
            Remove(id);
            CompactIfNeeded();
            return Task.FromResult(true);
        }
        catch (Exception ex) when (IsStorageFailure(ex))
        {
            throw StorageFailure("delete", ex);
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public Task<VectorRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        _lock.EnterReadLock();
        try
        {
            var schema = RequireOpen();
            if (!_records.TryGetSlot(id, out var slot)) return Task.FromResult<VectorRecord?>(null);
            var vector = new float[schema.Dimension];
            ReadVector(slot, vector);
            var regions = new RegionVector[_records.RegionCountAt(slot)];
            for (var i = 0; i < regions.Length; i++)
            {
                var regionVector = new float[schema.Dimension];
                ReadVector(slot + 1 + i, regionVector);
                regions[i] = new RegionVector(regionVector, _records.BoxAt(slot + 1 + i)!.Value);
            }

            return Task.FromResult<VectorRecord?>(new VectorRecord(id, vector, _records.MetadataAt(slot)!) { Regions = regions });
        }
        catch (Exception ex) when (IsStorageFailure(ex))
        {
            throw StorageFailure("get", ex);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public Task<IReadOnlyList<SearchHit>> SearchAsync(ReadOnlyMemory<float> vector, VectorQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.K, 1);
        _lock.EnterReadLock();
        try
        {
            var schema = RequireOpen();
            if (vector.Length != schema.Dimension)
                throw new ArgumentException($"The query vector has {vector.Length} dimensions; the index holds {schema.Dimension}.", nameof(vector));

            if (_graph is null) return Task.FromResult(_exact!.Search(vector.Span, query, _records, cancellationToken));
            if (query.Vectors == VectorSelection.Own && OwnApart) return Task.FromResult(SearchOwn(vector.Span, query, cancellationToken));
            var plan = Plan(query);
            return Task.FromResult(plan.Path == SearchPath.ExactScan
                ? GraphLifecycle.ScanMatching(vector.Span, query, _records, ReadLoggedVector, cancellationToken)
                : _graph.Search(vector.Span, query, _records, _options.AnnOverfetch, ReadLoggedVector, cancellationToken, plan.Fetch));
        }
        catch (Exception ex) when (IsStorageFailure(ex))
        {
            throw StorageFailure("search", ex);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>
    /// The path a search with this query would take now (<see cref="FilterPlanner"/>): in exact mode always the
    /// scan (which checks the filter before it reads a vector); in graph mode the planner's choice.
    /// </summary>
    public SearchPlan PlanSearch(VectorQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        _lock.EnterReadLock();
        try
        {
            RequireOpen();
            if (_graph is null) return new SearchPlan(SearchPath.ExactScan, double.NaN, _records.Count, 0);
            return query.Vectors == VectorSelection.Own && OwnApart ? PlanOwn(query) : Plan(query);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public Task<long> CountAsync(CancellationToken cancellationToken = default)
    {
        _lock.EnterReadLock();
        try
        {
            RequireOpen();
            return Task.FromResult((long)_records.Count);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public void Dispose()
    {
        _lock.EnterWriteLock();
        try
        {
            if (_disposed) return;
            _disposed = true;
            if (_log is not null && _schema is not null)
            {
                _graph?.SaveIfChanged(_log.Length, _records.VectorCount);
                _ownGraph?.SaveIfChanged(_log.Length, _records.Count);
                SaveSnapshot();
            }

            _log?.Dispose();
            _graph?.Dispose();
            DisposeOwn();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>What the local backend wraps in <see cref="VectorIndexException"/>: the file system failing, or a file that is not what this index wrote.</summary>
    private static bool IsStorageFailure(Exception ex) => ex is IOException or UnauthorizedAccessException or InvalidDataException or JsonException;

    /// <summary>
    /// The one exception the backend throws for its files: retriable only when another instance holds the
    /// directory (the same call succeeds once that one closes it); a corrupt file, a permission or a disk
    /// failure needs someone to act first.
    /// </summary>
    private VectorIndexException StorageFailure(string operation, Exception ex) => ex is IndexInUseException
        ? new VectorIndexException(ex.Message, Kind, Directory, operation, retriable: true, innerException: ex)
        : new VectorIndexException($"The local index at {Directory} failed to {operation}: {ex.Message}", Kind, Directory, operation, retriable: false, innerException: ex);

    private IndexSchema RequireOpen()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _schema ?? throw new InvalidOperationException("The index is not initialised: call InitializeAsync with the model's schema first.");
    }

    /// <summary>Checks or writes index.json (a new index), loads the snapshot, replays the log past it and picks the search mode.</summary>
    private void Open(IndexSchema schema, CancellationToken cancellationToken)
    {
        var metaPath = Path.Combine(Directory, MetaFile);
        if (File.Exists(metaPath))
        {
            var stored = JsonSerializer.Deserialize<IndexMeta>(File.ReadAllBytes(metaPath), LogFormat.Json)
                ?? throw new InvalidDataException($"{metaPath} is empty or invalid.");
            if (stored.ModelId != schema.ModelId || stored.Dimension != schema.Dimension)
                throw new IndexModelMismatchException(stored.ModelId, schema.ModelId, Directory);
            // An index.json from before issue 14 has no "regions": its items have none.
            if (stored.Regions != schema.Regions) throw new IndexRegionsMismatchException(stored.Regions, schema.Regions, Directory);
        }
        else
        {
            DurableFiles.WriteAtomically(metaPath, JsonSerializer.SerializeToUtf8Bytes(new IndexMeta(1, schema.ModelId, schema.Dimension, schema.Regions), LogFormat.Json));
        }

        _schema = schema;
        _exact = null;

        // A valid snapshot gives the slots, ids, metadata and offsets up to its log length, and the graph saved
        // beside it at that length holds their vectors: then no vector is read and the log is replayed only past it.
        // The saved graph file (most of an open's bytes) is read on another thread while the snapshot is decoded
        // on this one; it is validated against the records as before, and freed if the open does not take it.
        using var pendingGraph = _options.AnnThreshold > 0 && !_graphUnavailable ? GraphLifecycle.StartLoad(Directory, Settings) : null;
        var from = IndexSnapshot.TryLoad(Directory, schema, _records, _log!, _pool, _logger);
        _snapshotAt = from?.LogLength ?? -1;
        if (from is { } position && UseGraph(_records.VectorCount)) LoadGraph(position.LogLength, pendingGraph);

        _log!.Replay((entry, vectorOffset) =>
        {
            if (!entry.IsUpsert)
            {
                Remove(entry.Id);
                return true;
            }

            // An entry of another model or dimension ends the readable log, as a torn one does (index.json says
            // whether regions are on, so an item with regions in an index without is not one this index wrote).
            if (entry.Vector!.Length != schema.Dimension || entry.Metadata!.ModelId != schema.ModelId || (entry.Regions.Count > 0 && !schema.Regions)) return false;
            Apply(entry.Id, entry.Vector, entry.Metadata, vectorOffset, entry.Regions, entry.RegionOffsets);
            return true;
        }, from?.LogLength ?? 0, from?.LogEntries ?? 0);

        // Nothing below writes unless the graph has to be built (then it and the snapshot are saved): a read-only
        // session (vsearch search, eval) leaves the files as they are while it is open; a compaction that is due
        // waits for the next write, and a missing or stale snapshot is saved when the index is closed.
        if (_graph is null && UseGraph(_records.VectorCount)) EnableGraph(tryLoad: true, cancellationToken, pendingGraph);
        else if (_graph is not null && !OwnApart) EnableOwn(tryLoad: false, _log.Length, cancellationToken);
        if (_graph is null)
        {
            pendingGraph?.Dispose();
            // Exact mode: the float32 copies are read from the log once, by offset, instead of kept from the
            // replay (which would hold them even when a saved graph then makes them unnecessary).
            var exact = new ExactScan(schema.Dimension);
            var buffer = new float[schema.Dimension];
            exact.Reserve(_records.Used);
            for (var slot = 0; slot < _records.Used; slot++)
            {
                // In slot order: after a compaction that is the log's order, so the reads go forwards through it.
                if (_records.IdAt(slot) is null) continue;
                ReadLoggedVector(slot, buffer);
                exact.Set(slot, buffer);
            }

            _exact = exact;
            if (!UseGraph(_records.VectorCount))
            {
                GraphLifecycle.DeleteSaved(Directory);
                GraphLifecycle.DeleteSaved(Directory, VectorSelection.Own);
            }
        }
    }

    /// <summary>Stores an item's vectors in memory (its own at <paramref name="vectorOffset"/> in the log, its regions' at <paramref name="regionOffsets"/>), replacing every vector it had.</summary>
    private void Apply(string id, float[] vector, ItemMetadata metadata, long vectorOffset, IReadOnlyList<RegionVector> regions, long[] regionOffsets)
    {
        var boxes = new RegionBox[regions.Count];
        for (var i = 0; i < boxes.Length; i++) boxes[i] = regions[i].Box;
        _freed.Clear();
        var (slot, added) = _records.Set(id, _pool.Share(metadata), vectorOffset, boxes, regionOffsets, _freed);
        foreach (var freed in _freed)
        {
            _graph?.Remove(freed);
            OwnRemove(freed);
        }

        if (_graph is null)
        {
            // Null only while opening: the vectors are read from the log once the replay is done.
            _exact?.Set(slot, vector);
            for (var i = 0; i < regions.Count; i++) _exact?.Set(slot + 1 + i, regions[i].Vector);
            return;
        }

        if (!added) _graph.Remove(slot);
        _graph.Add(slot, vector);
        OwnAdd(slot, vector, replace: !added);
        for (var i = 0; i < regions.Count; i++) _graph.Add(slot + 1 + i, regions[i].Vector);
    }

    private void Remove(string id)
    {
        _freed.Clear();
        if (!_records.Remove(id, out _, _freed)) return;
        foreach (var freed in _freed)
        {
            _graph?.Remove(freed);
            OwnRemove(freed);
        }
    }

    /// <summary>Regions only where the schema has them on, each of the index's dimension.</summary>
    private void CheckRegions(VectorRecord record, IndexSchema schema)
    {
        if (record.Regions is null || record.Regions.Count == 0) return;
        if (!schema.Regions) throw new IndexRegionsMismatchException(indexRegions: false, configuredRegions: true, Directory);
        foreach (var region in record.Regions)
        {
            if (region.Vector.Length != schema.Dimension)
                throw new ArgumentException($"A region vector of '{record.Id}' has {region.Vector.Length} dimensions; the index holds {schema.Dimension}.", nameof(record));
        }
    }

    /// <summary>A slot's float32 vector: from memory while exact, from the log in graph mode (and while opening).</summary>
    private void ReadVector(int slot, Span<float> destination)
    {
        if (_exact is not null) _exact.Row(slot).Span.CopyTo(destination);
        else ReadLoggedVector(slot, destination);
    }

    private void ReadLoggedVector(int slot, Span<float> destination) => _log!.ReadVector(_records.OffsetAt(slot), destination, _records.IdAt(slot)!);

    private void CompactIfNeeded()
    {
        if (_log!.NeedsCompaction(_records.Count, _options.CompactionRatio)) Compact();
    }

    /// <summary>
    /// Rewrites the log with the live records in slot order, then renumbers the slots 0..n-1, which is the
    /// numbering a replay of the new log gives (the graph's keys are slots: a saved graph goes before the swap).
    /// </summary>
    private void Compact()
    {
        var live = _records.LiveSlots();
        var offsets = _log!.Compact(LiveItems(live), beforeSwap: DeleteSavedGraph);
        _records.Renumber(live, offsets, (from, to) =>
        {
            if (_graph is not null)
            {
                _graph.Rename(from, to);
                OwnRename(from, to);
            }
            else
            {
                _exact?.Move(from, to);
            }
        });
    }

    /// <summary>The live items in slot order, each with its regions (which follow it in <paramref name="live"/>).</summary>
    private IEnumerable<LiveItem> LiveItems(int[] live)
    {
        var buffer = new float[_schema!.Dimension];
        foreach (var slot in live)
        {
            if (_records.IsRegion(slot)) continue;
            ReadVector(slot, buffer);
            var regions = new RegionVector[_records.RegionCountAt(slot)];
            for (var i = 0; i < regions.Length; i++)
            {
                var vector = new float[_schema.Dimension];
                ReadVector(slot + 1 + i, vector);
                regions[i] = new RegionVector(vector, _records.BoxAt(slot + 1 + i)!.Value);
            }

            yield return new LiveItem(_records.IdAt(slot)!, buffer, _records.MetadataAt(slot)!, regions);
        }
    }

    /// <summary>Before the log is rewritten: the saved graph and the snapshot describe the old one.</summary>
    private void DeleteSavedGraph()
    {
        IndexSnapshot.Delete(Directory);
        _snapshotAt = -1;
        if (_graph is null) GraphLifecycle.DeleteSaved(Directory);
        else _graph.DeleteSaved();
        if (_ownGraph is null) GraphLifecycle.DeleteSaved(Directory, VectorSelection.Own);
        else _ownGraph.DeleteSaved();
    }

    /// <summary>Loads the graph saved at <paramref name="logLength"/> if it matches the records; keeps searching exactly where the native library is missing.</summary>
    private void LoadGraph(long logLength, GraphLifecycle.PendingLoad? pending)
    {
        try
        {
            _graph = GraphLifecycle.TryLoad(Directory, Settings, logLength, _records, _logger, pending);
            // The own vectors' graph saved at the same log length, if there is one: the replay after it updates both
            // (the log is read only once the replay has opened it: rows or a new own graph are made after it).
            if (_graph is not null) LoadOwnGraph(logLength);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            LocalIndexLog.GraphUnavailable(_logger, Directory, ex);
            _graphUnavailable = true;
        }
    }

    /// <summary>Saves the snapshot at the log's length; a failure is logged, not thrown (the next open replays more).</summary>
    private void SaveSnapshot()
    {
        if (_snapshotAt == _log!.Length) return;
        try
        {
            IndexSnapshot.Save(Directory, _schema!, _records, _log, _logger);
            _snapshotAt = _log.Length;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            LocalIndexLog.SnapshotNotSaved(_logger, Directory, ex);
        }
    }

    private SearchPlan Plan(VectorQuery query) => FilterPlanner.Plan(
        query.HasConditions ? query.Admits : null, _records.Used, _records.Count, _records.MetadataAt, query.K, _options.AnnOverfetch, GraphLifecycle.MaxCandidates, _options.FilteredSearch,
        VectorShare(query.Vectors));

    /// <summary>The share of the live vectors of the kind <paramref name="selection"/> scores (items' own, or regions').</summary>
    private double VectorShare(VectorSelection selection)
    {
        var (vectors, items) = ((double)_records.VectorCount, (double)_records.Count);
        if (vectors <= 0 || selection == VectorSelection.All) return 1.0;
        return Math.Clamp((selection == VectorSelection.Own ? items : vectors - items) / vectors, 0.0, 1.0);
    }

    private HnswSettings Settings => new(_schema!.Dimension, _options.AnnConnectivity, _options.AnnExpansionAdd, _options.AnnExpansionSearch, _options.AnnQuantization);

    /// <summary>Whether <paramref name="count"/> vectors (items' own and regions') are enough for the graph.</summary>
    private bool UseGraph(int count) => _options.AnnThreshold > 0 && count >= _options.AnnThreshold && !_graphUnavailable;

    /// <summary>
    /// Switches to graph search: loads the saved graph if it matches the log, or builds one from the vectors
    /// in memory (on every core) and saves it; then lets the float32 copies go (the log holds them).
    /// </summary>
    private void EnableGraph(bool tryLoad, CancellationToken cancellationToken, GraphLifecycle.PendingLoad? pending = null)
    {
        var settings = Settings;
        GraphLifecycle graph;
        try
        {
            var loaded = tryLoad ? GraphLifecycle.TryLoad(Directory, settings, _log!.Length, _records, _logger, pending) : null;
            // A graph read ahead that does not match is freed before a new one is built beside it (at 1M, 724 MB).
            pending?.Dispose();
            graph = loaded ?? GraphLifecycle.Build(Directory, settings, _records.LiveSlots(), ReadVector, _options.AnnBuildThreads > 0 ? _options.AnnBuildThreads : Environment.ProcessorCount, _options.AnnBuildCheck, _logger, cancellationToken);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            // No native library for this platform (or libgomp1 missing): keep searching exactly.
            LocalIndexLog.GraphUnavailable(_logger, Directory, ex);
            _graphUnavailable = true;
            return;
        }

        _graph = graph;
        // Before the float32 copies go: the own rows (or graph) are read from them, not from the log.
        EnableOwn(tryLoad, _log!.Length, cancellationToken);
        _exact = null;
        if (graph.SavedAtLogLength == _log.Length && (_ownGraph is null || _ownGraph.SavedAtLogLength == _log.Length)) return;
        graph.SaveIfChanged(_log.Length, _records.VectorCount);
        _ownGraph?.SaveIfChanged(_log.Length, _records.Count);
        SaveSnapshot();
    }

    /// <summary>index.json: the model, and whether the items carry region vectors (absent, false, in an index made before issue 14).</summary>
    private sealed record IndexMeta(int Format, string ModelId, int Dimension, bool Regions = false);
}

/// <summary>What <see cref="LocalVectorIndex"/> holds: the search mode ("exact" or "hnsw"), the records, and the
/// bytes its vectors take in memory (float32 copies for exact; the graph's vectors and links and the log offsets for hnsw).</summary>
public sealed record LocalIndexStatistics(string Mode, int Count, long VectorMemoryBytes)
{
    /// <summary>Vectors held: one per record, plus its region vectors where it has them.</summary>
    public int Vectors { get; init; }
}
