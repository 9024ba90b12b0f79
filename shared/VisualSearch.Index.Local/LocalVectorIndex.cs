using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;
using VisualSearch.Index.Local.Ann;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// The embedded index: all vectors in memory for an exact cosine scan (System.Numerics.Tensors), persisted
/// as an append-only log of checksummed entries that is fsynced before a write is acknowledged. On open the
/// log is replayed; a torn or corrupt tail (a crash mid-write) is cut off, so every acknowledged record
/// survives. When most entries are dead the log is rewritten to a temporary file and renamed over the old
/// one (atomic). One process at a time: a lock file guards the directory.
/// <para>
/// From <see cref="LocalIndexOptions.AnnThreshold"/> records on, search walks an HNSW graph (USearch, int8
/// vectors) for candidates and re-ranks them exactly with the float32 vectors read back from the log (by their
/// offsets), so the float32 copies leave memory. The graph is saved next to the log (ann.usearch, ann.json) when
/// it is built and when the index is closed; on open it is loaded if it matches the log exactly (same length,
/// same count), and rebuilt from the log otherwise (a crash, a compaction, other settings).
/// </para>
/// </summary>
public sealed partial class LocalVectorIndex : IVectorIndex, IDisposable
{
    private const string MetaFile = "index.json";
    private const string LogFile = "records.log";
    private const string LockFile = "LOCK";
    private const string GraphFile = "ann.usearch";
    private const string GraphMetaFile = "ann.json";

    /// <summary>Beyond this many graph candidates a filtered search scans the matching records exactly instead.</summary>
    private const int MaxGraphCandidates = 4096;

    private readonly LocalIndexOptions _options;
    private readonly ILogger<LocalVectorIndex> _logger;
    private readonly ReaderWriterLockSlim _lock = new();
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly Stack<int> _free = new();
    private ItemMetadata?[] _metadata = [];
    private string?[] _ids = [];
    private float[] _vectors = [];
    private long[] _offsets = [];
    private int _used;
    private long _logEntries;
    private long _logLength;
    private long _savedGraphLogLength = -1;
    private HnswGraph? _graph;
    private bool _graphUnavailable;
    private SafeFileHandle? _reader;
    private FileStream? _log;
    private FileStream? _lockHandle;
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
                var dim = _schema?.Dimension ?? 0;
                return _graph is { } graph
                    ? new LocalIndexStatistics("hnsw", _slots.Count, graph.MemoryUsage + (long)_slots.Count * sizeof(long))
                    : new LocalIndexStatistics("exact", _slots.Count, (long)_slots.Count * dim * sizeof(float));
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
        var acquired = false;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_schema is not null)
            {
                if (_schema != schema) throw new IndexModelMismatchException(_schema.ModelId, schema.ModelId, Directory);
                return Task.CompletedTask;
            }

            System.IO.Directory.CreateDirectory(Directory);
            AcquireLock();
            acquired = true;
            var metaPath = Path.Combine(Directory, MetaFile);
            if (File.Exists(metaPath))
            {
                var stored = JsonSerializer.Deserialize<IndexMeta>(File.ReadAllBytes(metaPath), LogFormat.Json)
                    ?? throw new InvalidDataException($"{metaPath} is empty or invalid.");
                if (stored.ModelId != schema.ModelId || stored.Dimension != schema.Dimension)
                    throw new IndexModelMismatchException(stored.ModelId, schema.ModelId, Directory);
            }
            else
            {
                WriteAtomically(metaPath, JsonSerializer.SerializeToUtf8Bytes(new IndexMeta(1, schema.ModelId, schema.Dimension), LogFormat.Json));
            }

            _schema = schema;
            Replay();
            if (NeedsCompaction()) Compact();
            OpenLogForAppend();
            _reader = OpenReader();
            if (UseGraph(_slots.Count)) EnableGraph(tryLoad: true, cancellationToken);
            else DeleteSavedGraph();
            return Task.CompletedTask;
        }
        catch
        {
            // Only a failed open gives the directory back: a mismatch on an index already open must not
            // release the lock it still holds (nor leave a half-opened one looking open).
            if (acquired)
            {
                _log?.Dispose();
                _log = null;
                _reader?.Dispose();
                _reader = null;
                _graph?.Dispose();
                _graph = null;
                _schema = null;
                _slots.Clear();
                _free.Clear();
                _used = 0;
                _logEntries = 0;
                _logLength = 0;
                _vectors = [];
                _lockHandle?.Dispose();
                _lockHandle = null;
            }

            throw;
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

            var start = Append(LogFormat.Encode(LogFormat.OpUpsert, record.Id, record.Vector, record.Metadata));
            Apply(record.Id, record.Vector, record.Metadata, start + LogFormat.VectorOffset(record.Id));
            if (_graph is null && UseGraph(_slots.Count)) EnableGraph(tryLoad: false, cancellationToken);
            CompactIfNeeded();
            return Task.CompletedTask;
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
            if (!_slots.ContainsKey(id)) return Task.FromResult(false);
            Append(LogFormat.Encode(LogFormat.OpDelete, id, default, null));
            Remove(id);
            CompactIfNeeded();
            return Task.FromResult(true);
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
            if (!_slots.TryGetValue(id, out var slot)) return Task.FromResult<VectorRecord?>(null);
            var vector = new float[schema.Dimension];
            if (_graph is null) _vectors.AsSpan(slot * schema.Dimension, schema.Dimension).CopyTo(vector);
            else ReadVector(slot, vector);
            return Task.FromResult<VectorRecord?>(new VectorRecord(id, vector, _metadata[slot]!));
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
            var dim = schema.Dimension;
            if (vector.Length != dim)
                throw new ArgumentException($"The query vector has {vector.Length} dimensions; the index holds {dim}.", nameof(vector));

            if (_graph is not null) return Task.FromResult(SearchGraph(vector.Span, query, cancellationToken));
            var q = vector.Span;
            var minScore = query.MinScore ?? float.NegativeInfinity;
            var filter = query.Filter is { IsEmpty: false } f ? f : null;
            var top = new PriorityQueue<int, (float Score, string Id)>(query.K + 1, WorstFirst.Instance);
            // The excluded item by slot: comparing every id string would read a million strings at 1M records.
            var excluded = query.ExcludeId is not null && _slots.TryGetValue(query.ExcludeId, out var excludedSlot) ? excludedSlot : -1;
            for (var slot = 0; slot < _used; slot++)
            {
                var metadata = _metadata[slot];
                if (metadata is null) continue;
                if ((slot & 4095) == 0) cancellationToken.ThrowIfCancellationRequested();
                if (slot == excluded) continue;
                var id = _ids[slot]!;
                if (filter is not null && !filter.Matches(metadata)) continue;
                var score = TensorPrimitives.Dot(q, _vectors.AsSpan(slot * dim, dim));
                if (score < minScore) continue;
                if (top.Count < query.K) top.Enqueue(slot, (score, id));
                else if (top.TryPeek(out _, out var worst) && WorstFirst.Instance.Compare((score, id), worst) > 0) top.EnqueueDequeue(slot, (score, id));
            }

            var hits = new List<SearchHit>(top.Count);
            while (top.TryDequeue(out var slot, out var key)) hits.Add(new SearchHit(key.Id, key.Score, _metadata[slot]!));
            hits.Reverse();
            return Task.FromResult<IReadOnlyList<SearchHit>>(hits);
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
            return Task.FromResult((long)_slots.Count);
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
            if (_graph is not null && _savedGraphLogLength != _logLength)
            {
                try
                {
                    SaveGraph();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
                {
                    LogGraphNotSaved(_logger, Directory, ex);
                }
            }

            _log?.Dispose();
            _reader?.Dispose();
            _graph?.Dispose();
            _lockHandle?.Dispose();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private IndexSchema RequireOpen()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _schema ?? throw new InvalidOperationException("The index is not initialised: call InitializeAsync with the model's schema first.");
    }

    private void AcquireLock()
    {
        try
        {
            _lockHandle = new FileStream(Path.Combine(Directory, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"The index at {Directory} is in use by another process (for example a running 'vsearch serve'). Stop it, or use its HTTP API, or point this command at another index with --index.", ex);
        }
    }

    private void Replay()
    {
        var path = Path.Combine(Directory, LogFile);
        if (!File.Exists(path)) return;
        long good = 0;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            while (true)
            {
                var start = stream.Position;
                if (LogFormat.TryRead(stream) is not { } entry) break;
                if (entry.Op == LogFormat.OpUpsert)
                {
                    if (entry.Vector!.Length != _schema!.Dimension || entry.Metadata!.ModelId != _schema.ModelId) break;
                    Apply(entry.Id, entry.Vector, entry.Metadata, start + LogFormat.VectorOffset(entry.Id));
                }
                else
                {
                    Remove(entry.Id);
                }

                _logEntries++;
                good = stream.Position;
            }

            _logLength = good;
            if (good == stream.Length) return;
            LogRecovered(_logger, Directory, stream.Length - good, good);
        }

        // Cut the torn tail so that new entries follow the last whole one.
        using var truncate = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None);
        truncate.SetLength(good);
        truncate.Flush(flushToDisk: true);
    }

    private void OpenLogForAppend()
    {
        _log = new FileStream(Path.Combine(Directory, LogFile), FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16);
    }

    /// <summary>Appends and flushes one entry; returns the file offset it starts at.</summary>
    private long Append(byte[] entry)
    {
        var start = _logLength;
        _log!.Write(entry);
        _log.Flush(flushToDisk: _options.FlushToDisk);
        _logEntries++;
        _logLength += entry.Length;
        return start;
    }

    private void Apply(string id, float[] vector, ItemMetadata metadata, long vectorOffset)
    {
        var dim = _schema!.Dimension;
        if (!_slots.TryGetValue(id, out var slot))
        {
            slot = _free.Count > 0 ? _free.Pop() : _used++;
            EnsureCapacity(slot + 1);
            _slots[id] = slot;
            _ids[slot] = id;
        }
        else
        {
            _graph?.Remove((ulong)slot);
        }

        if (_graph is null) vector.AsSpan().CopyTo(_vectors.AsSpan(slot * dim, dim));
        else _graph.Add((ulong)slot, vector);
        _metadata[slot] = metadata;
        _offsets[slot] = vectorOffset;
    }

    private void Remove(string id)
    {
        if (!_slots.Remove(id, out var slot)) return;
        _graph?.Remove((ulong)slot);
        _metadata[slot] = null;
        _ids[slot] = null;
        _free.Push(slot);
    }

    private void EnsureCapacity(int slots)
    {
        if (slots <= _metadata.Length) return;
        var capacity = Math.Max(slots, Math.Max(1024, _metadata.Length * 2));
        Array.Resize(ref _metadata, capacity);
        Array.Resize(ref _ids, capacity);
        Array.Resize(ref _offsets, capacity);
        if (_graph is null) Array.Resize(ref _vectors, capacity * _schema!.Dimension);
    }

    private bool NeedsCompaction() => _logEntries > 1000 && _logEntries > _options.CompactionRatio * Math.Max(1, _slots.Count);

    private void CompactIfNeeded()
    {
        if (!NeedsCompaction()) return;
        _log!.Dispose();
        _log = null;
        Compact();
        OpenLogForAppend();
        _reader?.Dispose();
        _reader = OpenReader();
    }

    /// <summary>
    /// Writes the live records, in slot order, to a new log and renames it over the old one; then renumbers
    /// the slots 0..n-1, which is the numbering a replay of the new log gives (the graph's keys are slots).
    /// </summary>
    private void Compact()
    {
        var path = Path.Combine(Directory, LogFile);
        var temp = path + ".compact";
        var dim = _schema!.Dimension;
        var before = _logEntries;
        var live = _slots.Values.Order().ToArray();
        var offsets = new long[live.Length];
        var buffer = new float[dim];
        long length = 0;
        using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            for (var i = 0; i < live.Length; i++)
            {
                var slot = live[i];
                var id = _ids[slot]!;
                if (_graph is null) _vectors.AsSpan(slot * dim, dim).CopyTo(buffer);
                else ReadVector(slot, buffer);
                var entry = LogFormat.Encode(LogFormat.OpUpsert, id, buffer, _metadata[slot]);
                offsets[i] = length + LogFormat.VectorOffset(id);
                output.Write(entry);
                length += entry.Length;
            }

            output.Flush(flushToDisk: true);
        }

        // A saved graph is keyed by the old numbering: remove it before the new log can be seen.
        DeleteSavedGraph();
        File.Move(temp, path, overwrite: true);
        FsyncDirectory();

        for (var i = 0; i < live.Length; i++)
        {
            var old = live[i];
            if (old != i)
            {
                _ids[i] = _ids[old];
                _metadata[i] = _metadata[old];
                if (_graph is null) _vectors.AsSpan(old * dim, dim).CopyTo(_vectors.AsSpan(i * dim, dim));
                else _graph.Rename((ulong)old, (ulong)i);
                _slots[_ids[i]!] = i;
            }

            _offsets[i] = offsets[i];
        }

        for (var i = live.Length; i < _used; i++)
        {
            _ids[i] = null;
            _metadata[i] = null;
        }

        _used = live.Length;
        _free.Clear();
        _logEntries = _slots.Count;
        _logLength = length;
        LogCompacted(_logger, Directory, before, _logEntries);
    }

    private bool UseGraph(int count) => _options.AnnThreshold > 0 && count >= _options.AnnThreshold && !_graphUnavailable;

    private HnswSettings GraphSettings => new(_schema!.Dimension, _options.AnnConnectivity, _options.AnnExpansionAdd, _options.AnnExpansionSearch, _options.AnnQuantization);

    /// <summary>
    /// Switches to graph search: loads the saved graph if it matches the log, or builds one from the vectors
    /// in memory (on every core) and saves it; then lets the float32 copies go (the log holds them).
    /// </summary>
    private void EnableGraph(bool tryLoad, CancellationToken cancellationToken)
    {
        var sw = Stopwatch.StartNew();
        HnswGraph? graph;
        bool loaded;
        try
        {
            graph = tryLoad ? TryLoadSavedGraph() : null;
            loaded = graph is not null;
            graph ??= HnswGraph.Create(GraphSettings);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            // No native library for this platform (or libgomp1 missing): keep searching exactly.
            LogGraphUnavailable(_logger, Directory, ex);
            _graphUnavailable = true;
            return;
        }

        if (loaded)
        {
            LogGraphLoaded(_logger, Directory, _slots.Count, sw.Elapsed.TotalMilliseconds);
        }
        else
        {
            var dim = _schema!.Dimension;
            var live = _slots.Values.Order().ToArray();
            var keys = Array.ConvertAll(live, s => (ulong)s);
            var vectors = _vectors;
            try
            {
                graph.AddMany(keys, i => vectors.AsMemory(live[i] * dim, dim), cancellationToken);
            }
            catch
            {
                graph.Dispose();
                throw;
            }

            LogGraphBuilt(_logger, Directory, live.Length, sw.Elapsed.TotalMilliseconds);
        }

        _graph = graph;
        _vectors = [];
        if (_savedGraphLogLength != _logLength)
        {
            try
            {
                SaveGraph();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                LogGraphNotSaved(_logger, Directory, ex);
            }
        }
    }

    /// <summary>The saved graph if it was saved at exactly this log length and count with these settings; otherwise null.</summary>
    private HnswGraph? TryLoadSavedGraph()
    {
        var metaPath = Path.Combine(Directory, GraphMetaFile);
        var graphPath = Path.Combine(Directory, GraphFile);
        if (!File.Exists(metaPath) || !File.Exists(graphPath)) return null;
        var settings = GraphSettings;
        try
        {
            var meta = JsonSerializer.Deserialize<GraphMeta>(File.ReadAllBytes(metaPath), LogFormat.Json);
            if (meta is null || meta.Format != 2 || meta.LogLength != _logLength || meta.Count != _slots.Count
                || meta.Dimension != settings.Dimension || meta.Connectivity != settings.Connectivity || meta.Quantization != settings.Quantization)
            {
                LogGraphStale(_logger, Directory);
                return null;
            }

            var graph = HnswGraph.Load(graphPath, settings);
            if (graph.Count != _slots.Count || _slots.Values.Any(slot => !graph.Contains((ulong)slot)))
            {
                graph.Dispose();
                LogGraphStale(_logger, Directory);
                return null;
            }

            _savedGraphLogLength = _logLength;
            return graph;
        }
        catch (Exception ex) when (ex is IOException or JsonException or InvalidDataException or InvalidOperationException)
        {
            LogGraphUnreadable(_logger, Directory, ex);
            return null;
        }
    }

    /// <summary>Saves the graph (temporary file, fsync, rename), then its description; a crash between leaves none valid.</summary>
    private void SaveGraph()
    {
        var graphPath = Path.Combine(Directory, GraphFile);
        var metaPath = Path.Combine(Directory, GraphMetaFile);
        var settings = _graph!.Settings;
        File.Delete(metaPath);
        var temp = graphPath + ".tmp";
        _graph.Save(temp);
        using (var file = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) file.Flush(flushToDisk: true);
        File.Move(temp, graphPath, overwrite: true);
        WriteAtomically(metaPath, JsonSerializer.SerializeToUtf8Bytes(
            new GraphMeta(2, _logLength, _slots.Count, settings.Dimension, settings.Connectivity, settings.Quantization), LogFormat.Json));
        _savedGraphLogLength = _logLength;
    }

    private void DeleteSavedGraph()
    {
        var metaPath = Path.Combine(Directory, GraphMetaFile);
        var graphPath = Path.Combine(Directory, GraphFile);
        if (!File.Exists(metaPath) && !File.Exists(graphPath)) return;
        File.Delete(metaPath);
        File.Delete(graphPath);
        FsyncDirectory();
        _savedGraphLogLength = -1;
    }

    private SafeFileHandle OpenReader() =>
        File.OpenHandle(Path.Combine(Directory, LogFile), FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>Reads a slot's float32 vector back from the log (graph mode keeps no float32 copy in memory).</summary>
    private void ReadVector(int slot, Span<float> destination)
    {
        var bytes = MemoryMarshal.AsBytes(destination);
        var read = RandomAccess.Read(_reader!, bytes, _offsets[slot]);
        if (read != bytes.Length)
            throw new InvalidDataException($"The log of {Directory} ends inside the vector of '{_ids[slot]}' (offset {_offsets[slot]}).");
    }

    /// <summary>
    /// Graph search: candidates from the graph (k x AnnOverfetch, more while a filter or the excluded id
    /// leaves fewer than k), the best k x AnnOverfetch that pass re-scored with exact cosines from the float32 vectors in
    /// the log. When even <see cref="MaxGraphCandidates"/> are not enough, the records the filter admits are
    /// scanned exactly.
    /// </summary>
    private IReadOnlyList<SearchHit> SearchGraph(ReadOnlySpan<float> q, VectorQuery query, CancellationToken cancellationToken)
    {
        var count = _slots.Count;
        if (count == 0) return [];
        var k = query.K;
        var minScore = query.MinScore ?? float.NegativeInfinity;
        var filter = query.Filter is { IsEmpty: false } f ? f : null;
        var buffer = new float[q.Length];
        var top = new PriorityQueue<int, (float Score, string Id)>(k + 1, WorstFirst.Instance);
        var rescore = k * _options.AnnOverfetch;
        var fetch = Math.Min(count, Math.Max(rescore, k + 1));
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var keys = new ulong[fetch];
            var distances = new float[fetch];
            var found = _graph!.Search(q, keys, distances);
            top.Clear();
            // The graph's order (int8 or float16 cosines, within a few thousandths of the exact ones) picks the
            // k x AnnOverfetch best candidates that pass; only those are read back from the log and scored exactly.
            var scored = 0;
            for (var i = 0; i < found && scored < rescore; i++)
            {
                if (1f - distances[i] < minScore - 0.01f) break;
                if (Consider((int)keys[i], q, query, filter, minScore, buffer, top)) scored++;
            }

            // Enough: k results, or k x AnnOverfetch candidates passed (the rest rank lower), or the graph has no more.
            if (top.Count >= k || scored >= rescore || found < fetch || fetch >= count) break;
            // The graph's scores (int8 or float16) are within a few thousandths of the exact ones: nothing further can reach MinScore.
            if (found > 0 && 1f - distances[found - 1] < minScore - 0.01f) break;
            if (fetch >= MaxGraphCandidates)
            {
                top.Clear();
                for (var slot = 0; slot < _used; slot++)
                {
                    if ((slot & 4095) == 0) cancellationToken.ThrowIfCancellationRequested();
                    Consider(slot, q, query, filter, minScore, buffer, top);
                }

                break;
            }

            fetch = Math.Min(count, fetch * 4);
        }

        var hits = new List<SearchHit>(top.Count);
        while (top.TryDequeue(out var slot, out var key)) hits.Add(new SearchHit(key.Id, key.Score, _metadata[slot]!));
        hits.Reverse();
        return hits;
    }

    /// <summary>Scores one live record that passes the filter and exclusion exactly; false when it was skipped unread.</summary>
    private bool Consider(int slot, ReadOnlySpan<float> q, VectorQuery query, SearchFilter? filter, float minScore, float[] buffer, PriorityQueue<int, (float Score, string Id)> top)
    {
        if ((uint)slot >= (uint)_used) return false;
        var metadata = _metadata[slot];
        if (metadata is null) return false;
        var id = _ids[slot]!;
        if (query.ExcludeId is not null && id == query.ExcludeId) return false;
        if (filter is not null && !filter.Matches(metadata)) return false;
        ReadVector(slot, buffer);
        var score = TensorPrimitives.Dot(q, buffer);
        if (score < minScore) return true;
        if (top.Count < query.K) top.Enqueue(slot, (score, id));
        else if (top.TryPeek(out _, out var worst) && WorstFirst.Instance.Compare((score, id), worst) > 0) top.EnqueueDequeue(slot, (score, id));
        return true;
    }

    private void WriteAtomically(string path, byte[] content)
    {
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(content);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        FsyncDirectory();
    }

    private void FsyncDirectory()
    {
        if (OperatingSystem.IsWindows()) return;
        try
        {
            using var dir = File.OpenHandle(Directory, FileMode.Open, FileAccess.Read);
            RandomAccess.FlushToDisk(dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not every file system lets a directory be opened; the rename itself is still atomic.
        }
    }

    [LoggerMessage(100, LogLevel.Warning, "Index {Directory}: cut a torn or corrupt tail of {Bytes} bytes at offset {Offset} (a write interrupted by a crash); every entry before it is intact")]
    private static partial void LogRecovered(ILogger logger, string directory, long bytes, long offset);

    [LoggerMessage(101, LogLevel.Information, "Index {Directory}: compacted the log from {Before} to {After} entries")]
    private static partial void LogCompacted(ILogger logger, string directory, long before, long after);

    [LoggerMessage(102, LogLevel.Information, "Index {Directory}: built the search graph of {Count} vectors in {Milliseconds:F0} ms")]
    private static partial void LogGraphBuilt(ILogger logger, string directory, int count, double milliseconds);

    [LoggerMessage(103, LogLevel.Information, "Index {Directory}: loaded the saved search graph of {Count} vectors in {Milliseconds:F0} ms")]
    private static partial void LogGraphLoaded(ILogger logger, string directory, int count, double milliseconds);

    [LoggerMessage(104, LogLevel.Information, "Index {Directory}: the saved search graph does not match the log (a crash, a compaction or other settings); rebuilding it")]
    private static partial void LogGraphStale(ILogger logger, string directory);

    [LoggerMessage(105, LogLevel.Warning, "Index {Directory}: the saved search graph could not be read; rebuilding it")]
    private static partial void LogGraphUnreadable(ILogger logger, string directory, Exception exception);

    [LoggerMessage(106, LogLevel.Warning, "Index {Directory}: the search graph could not be saved; the next open rebuilds it from the log")]
    private static partial void LogGraphNotSaved(ILogger logger, string directory, Exception exception);

    [LoggerMessage(107, LogLevel.Warning, "Index {Directory}: graph search is unavailable on this machine (USearch's native library, which needs libgomp1, could not be loaded); searching exactly")]
    private static partial void LogGraphUnavailable(ILogger logger, string directory, Exception exception);

    private sealed record IndexMeta(int Format, string ModelId, int Dimension);

    private sealed record GraphMeta(
        int Format,
        long LogLength,
        int Count,
        int Dimension,
        int Connectivity,
        [property: JsonConverter(typeof(JsonStringEnumConverter<AnnQuantization>))] AnnQuantization Quantization);

    /// <summary>Orders (score, id) so the worst result is dequeued first: lower score, then the larger id.</summary>
    private sealed class WorstFirst : IComparer<(float Score, string Id)>
    {
        public static readonly WorstFirst Instance = new();

        public int Compare((float Score, string Id) x, (float Score, string Id) y)
        {
            var c = x.Score.CompareTo(y.Score);
            return c != 0 ? c : string.CompareOrdinal(y.Id, x.Id);
        }
    }
}

/// <summary>What <see cref="LocalVectorIndex"/> holds: the search mode ("exact" or "hnsw"), the records, and the
/// bytes its vectors take in memory (float32 copies for exact; the graph's vectors and links and the log offsets for hnsw).</summary>
public sealed record LocalIndexStatistics(string Mode, int Count, long VectorMemoryBytes);
