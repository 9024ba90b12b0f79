using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// The index's append-only log (records.log) and the lock file that makes one process its only user. Each entry
/// is checksummed (<see cref="LogFormat"/>) and flushed before <see cref="Append"/> returns. <see cref="Replay"/>
/// reads the entries back and cuts a torn or corrupt tail (a write interrupted by a crash), so every acknowledged
/// entry survives. <see cref="Compact"/> writes the live records to a temporary file and renames it over the log.
/// Not thread-safe: the index serialises every call except <see cref="ReadVector"/>, which may run beside reads.
/// </summary>
internal sealed class RecordLog : IDisposable
{
    public const string FileName = "records.log";
    public const string LockFileName = "LOCK";

    private readonly bool _flushToDisk;
    private readonly ILogger _logger;
    private readonly string _path;
    private readonly FileStream _lock;
    private FileStream? _append;
    private SafeFileHandle? _reader;

    private RecordLog(string directory, FileStream lockHandle, bool flushToDisk, ILogger logger)
    {
        Directory = directory;
        _path = Path.Combine(directory, FileName);
        _lock = lockHandle;
        _flushToDisk = flushToDisk;
        _logger = logger;
    }

    /// <summary>The index directory the log lives in.</summary>
    public string Directory { get; }

    /// <summary>Entries in the file (live records, replaced ones and deletes): what compaction is measured by.</summary>
    public long Entries { get; private set; }

    /// <summary>Bytes of whole entries: where the next entry starts.</summary>
    public long Length { get; private set; }

    /// <summary>
    /// Takes the directory's lock (the directory must exist). Fails with <see cref="IndexInUseException"/> while
    /// another instance, in this process or another, holds it. Call <see cref="Replay"/> next.
    /// </summary>
    public static RecordLog Open(string directory, bool flushToDisk, ILogger logger)
    {
        FileStream lockHandle;
        try
        {
            lockHandle = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new IndexInUseException($"The index at {directory} is in use by another process (for example a running 'vsearch serve'). Stop it, or use its HTTP API, or point this command at another index with --index.", ex);
        }

        return new RecordLog(directory, lockHandle, flushToDisk, logger);
    }

    /// <summary>
    /// Hands every whole entry, in order, to <paramref name="apply"/> with the file offset of its vector (-1 for a
    /// delete). Stops at the first entry that does not verify, or that <paramref name="apply"/> refuses by
    /// returning false, and cuts the file there so that new entries follow the last good one. Then opens the log
    /// for appending and for reading vectors back.
    /// </summary>
    public void Replay(Func<LogFormat.Entry, long, bool> apply)
    {
        ArgumentNullException.ThrowIfNull(apply);
        Entries = 0;
        Length = 0;
        if (File.Exists(_path)) ReplayFile(apply);
        OpenHandles();
    }

    /// <summary>Appends and flushes one entry (see <see cref="LogFormat.Encode"/>); returns the file offset it starts at.</summary>
    public long Append(byte[] entry)
    {
        var append = _append ?? throw new InvalidOperationException("The log is not open: call Replay first.");
        var start = Length;
        append.Write(entry);
        append.Flush(flushToDisk: _flushToDisk);
        Entries++;
        Length += entry.Length;
        return start;
    }

    /// <summary>Reads the float32 vector of <paramref name="id"/> stored at <paramref name="offset"/> back from the file.</summary>
    public void ReadVector(long offset, Span<float> destination, string id)
    {
        var reader = _reader ?? throw new InvalidOperationException("The log is not open: call Replay first.");
        var bytes = MemoryMarshal.AsBytes(destination);
        if (RandomAccess.Read(reader, bytes, offset) != bytes.Length)
            throw new InvalidDataException($"The log of {Directory} ends inside the vector of '{id}' (offset {offset}).");
    }

    /// <summary>Whether the file holds more than <paramref name="ratio"/> entries per live record (and over 1,000).</summary>
    public bool NeedsCompaction(int liveRecords, double ratio) => Entries > 1000 && Entries > ratio * Math.Max(1, liveRecords);

    /// <summary>
    /// Writes <paramref name="live"/> (each record's vector may be a buffer reused between records) to a new file,
    /// calls <paramref name="beforeSwap"/> (whatever must be gone before the new file can be seen), renames the new
    /// file over the log and reopens it. Returns each record's vector offset in the new file, in order. On a
    /// failure before the rename the old log stays and stays open.
    /// </summary>
    public long[] Compact(IEnumerable<(string Id, float[] Vector, ItemMetadata Metadata)> live, Action beforeSwap)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(beforeSwap);
        var temp = _path + ".compact";
        var before = Entries;
        var offsets = new List<long>();
        long length = 0;
        _append?.Dispose();
        _append = null;
        try
        {
            using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                foreach (var (id, vector, metadata) in live)
                {
                    var entry = LogFormat.Encode(LogFormat.OpUpsert, id, vector, metadata);
                    offsets.Add(length + LogFormat.VectorOffset(id));
                    output.Write(entry);
                    length += entry.Length;
                }

                output.Flush(flushToDisk: true);
            }

            beforeSwap();
            File.Move(temp, _path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            OpenHandles();
            throw;
        }

        DurableFiles.FsyncDirectory(Directory);
        Entries = offsets.Count;
        Length = length;
        OpenHandles();
        LocalIndexLog.Compacted(_logger, Directory, before, Entries);
        return [.. offsets];
    }

    /// <summary>Closes the log and gives the directory back.</summary>
    public void Dispose()
    {
        _append?.Dispose();
        _reader?.Dispose();
        _lock.Dispose();
    }

    private void ReplayFile(Func<LogFormat.Entry, long, bool> apply)
    {
        long good = 0;
        using (var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            while (true)
            {
                var start = stream.Position;
                if (LogFormat.TryRead(stream) is not { } entry) break;
                var vectorOffset = entry.Op == LogFormat.OpUpsert ? start + LogFormat.VectorOffset(entry.Id) : -1;
                if (!apply(entry, vectorOffset)) break;
                Entries++;
                good = stream.Position;
            }

            Length = good;
            if (good == stream.Length) return;
            LocalIndexLog.Recovered(_logger, Directory, stream.Length - good, good);
        }

        // Cut the torn tail so that new entries follow the last whole one.
        using var truncate = new FileStream(_path, FileMode.Open, FileAccess.Write, FileShare.None);
        truncate.SetLength(good);
        truncate.Flush(flushToDisk: true);
    }

    private void OpenHandles()
    {
        _append?.Dispose();
        _reader?.Dispose();
        _append = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16);
        _reader = File.OpenHandle(_path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }
}

/// <summary>Another <see cref="LocalVectorIndex"/>, in this process or another, has the directory open.</summary>
internal sealed class IndexInUseException(string message, Exception innerException) : IOException(message, innerException);
