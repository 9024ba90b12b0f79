using System.Numerics.Tensors;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// The embedded index: all vectors in memory for an exact cosine scan (System.Numerics.Tensors), persisted
/// as an append-only log of checksummed entries that is fsynced before a write is acknowledged. On open the
/// log is replayed; a torn or corrupt tail (a crash mid-write) is cut off, so every acknowledged record
/// survives. When most entries are dead the log is rewritten to a temporary file and renamed over the old
/// one (atomic). One process at a time: a lock file guards the directory.
/// </summary>
public sealed partial class LocalVectorIndex : IVectorIndex, IDisposable
{
    private const string MetaFile = "index.json";
    private const string LogFile = "records.log";
    private const string LockFile = "LOCK";

    private readonly LocalIndexOptions _options;
    private readonly ILogger<LocalVectorIndex> _logger;
    private readonly ReaderWriterLockSlim _lock = new();
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly Stack<int> _free = new();
    private ItemMetadata?[] _metadata = [];
    private string?[] _ids = [];
    private float[] _vectors = [];
    private int _used;
    private long _logEntries;
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
                _schema = null;
                _slots.Clear();
                _free.Clear();
                _used = 0;
                _logEntries = 0;
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

            Append(LogFormat.Encode(LogFormat.OpUpsert, record.Id, record.Vector, record.Metadata));
            Apply(record.Id, record.Vector, record.Metadata);
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
            var vector = _vectors.AsSpan(slot * schema.Dimension, schema.Dimension).ToArray();
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

            var q = vector.Span;
            var minScore = query.MinScore ?? float.NegativeInfinity;
            var filter = query.Filter is { IsEmpty: false } f ? f : null;
            var top = new PriorityQueue<int, (float Score, string Id)>(query.K + 1, WorstFirst.Instance);
            for (var slot = 0; slot < _used; slot++)
            {
                var metadata = _metadata[slot];
                if (metadata is null) continue;
                if ((slot & 4095) == 0) cancellationToken.ThrowIfCancellationRequested();
                var id = _ids[slot]!;
                if (query.ExcludeId is not null && id == query.ExcludeId) continue;
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
            _log?.Dispose();
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
            while (LogFormat.TryRead(stream) is { } entry)
            {
                if (entry.Op == LogFormat.OpUpsert)
                {
                    if (entry.Vector!.Length != _schema!.Dimension || entry.Metadata!.ModelId != _schema.ModelId) break;
                    Apply(entry.Id, entry.Vector, entry.Metadata);
                }
                else
                {
                    Remove(entry.Id);
                }

                _logEntries++;
                good = stream.Position;
            }

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

    private void Append(byte[] entry)
    {
        _log!.Write(entry);
        _log.Flush(flushToDisk: _options.FlushToDisk);
        _logEntries++;
    }

    private void Apply(string id, float[] vector, ItemMetadata metadata)
    {
        var dim = _schema!.Dimension;
        if (!_slots.TryGetValue(id, out var slot))
        {
            slot = _free.Count > 0 ? _free.Pop() : _used++;
            EnsureCapacity(slot + 1);
            _slots[id] = slot;
            _ids[slot] = id;
        }

        vector.AsSpan().CopyTo(_vectors.AsSpan(slot * dim, dim));
        _metadata[slot] = metadata;
    }

    private void Remove(string id)
    {
        if (!_slots.Remove(id, out var slot)) return;
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
        Array.Resize(ref _vectors, capacity * _schema!.Dimension);
    }

    private bool NeedsCompaction() => _logEntries > 1000 && _logEntries > _options.CompactionRatio * Math.Max(1, _slots.Count);

    private void CompactIfNeeded()
    {
        if (!NeedsCompaction()) return;
        _log!.Dispose();
        _log = null;
        Compact();
        OpenLogForAppend();
    }

    /// <summary>Writes the live records to a new log and renames it over the old one.</summary>
    private void Compact()
    {
        var path = Path.Combine(Directory, LogFile);
        var temp = path + ".compact";
        var dim = _schema!.Dimension;
        var before = _logEntries;
        using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            foreach (var (id, slot) in _slots)
                output.Write(LogFormat.Encode(LogFormat.OpUpsert, id, _vectors.AsSpan(slot * dim, dim), _metadata[slot]));
            output.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        FsyncDirectory();
        _logEntries = _slots.Count;
        LogCompacted(_logger, Directory, before, _logEntries);
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

    private sealed record IndexMeta(int Format, string ModelId, int Dimension);

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
