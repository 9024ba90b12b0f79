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
    private readonly Func<string, Stream> _openAppend;
    private Stream? _append;
    private SafeFileHandle? _reader;

    /// <summary>An append failed part-way and its bytes may still be in the file: nothing is appended until they are cut.</summary>
    private bool _damaged;

    private RecordLog(string directory, FileStream lockHandle, bool flushToDisk, ILogger logger, Func<string, Stream> openAppend)
    {
        Directory = directory;
        _path = Path.Combine(directory, FileName);
        _lock = lockHandle;
        _flushToDisk = flushToDisk;
        _logger = logger;
        _openAppend = openAppend;
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
    /// <paramref name="openAppend"/> opens the file for appending (tests inject failing streams); by default an
    /// unbuffered <see cref="FileStream"/>, so that a failed write leaves nothing buffered to be written later.
    /// </summary>
    public static RecordLog Open(string directory, bool flushToDisk, ILogger logger, Func<string, Stream>? openAppend = null)
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

        return new RecordLog(directory, lockHandle, flushToDisk, logger,
            openAppend ?? (path => new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0)));
    }

    /// <summary>
    /// Hands every whole entry from <paramref name="from"/> on (0, or the log length a snapshot was taken at, with
    /// <paramref name="entriesBefore"/> entries before it), in order, to <paramref name="apply"/> with the file
    /// offset of its vector (-1 for a delete; an item's region vectors are at the entry's <see cref="LogFormat.Entry.RegionOffsets"/>,
    /// file offsets here too). Stops at the first entry that does not verify, or that
    /// <paramref name="apply"/> refuses by returning false, and cuts the file there so that new entries follow the
    /// last good one. Then opens the log for appending and for reading vectors back.
    /// </summary>
    public void Replay(Func<LogFormat.Entry, long, bool> apply, long from = 0, long entriesBefore = 0)
    {
        ArgumentNullException.ThrowIfNull(apply);
        ArgumentOutOfRangeException.ThrowIfNegative(from);
        Entries = entriesBefore;
        Length = from;
        _damaged = false;
        if (File.Exists(_path)) ReplayFile(apply, from);
        else if (from > 0) throw new InvalidDataException($"The log of {Directory} is missing but a replay was to start at offset {from}.");
        OpenHandles();
    }

    /// <summary>
    /// CRC-32 of the <paramref name="bytes"/> bytes before offset <paramref name="length"/> (fewer when the log is
    /// shorter); null when the file is shorter than <paramref name="length"/>. What a snapshot is checked against.
    /// </summary>
    public uint? TailChecksum(long length, int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (!File.Exists(_path)) return length == 0 ? System.IO.Hashing.Crc32.HashToUInt32([]) : null;
        using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (RandomAccess.GetLength(handle) < length) return null;
        var count = (int)Math.Min(bytes, length);
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = RandomAccess.Read(handle, buffer.AsSpan(read), length - count + read);
            if (n == 0) return null;
            read += n;
        }

        return System.IO.Hashing.Crc32.HashToUInt32(buffer);
    }

    /// <summary>
    /// Appends and flushes one entry (see <see cref="LogFormat.Encode"/>); returns the file offset it starts at.
    /// When the write or the flush fails (disk full, an I/O error) part of the entry may be in the file: it is
    /// cut back to the last whole entry before the failure is rethrown, so that later acknowledged entries never
    /// land behind a torn one (which the next replay would cut off with them). Until that cut succeeds every
    /// append first retries it and fails if it still cannot be made.
    /// </summary>
    public long Append(byte[] entry)
    {
        if (_damaged) CutToLength();
        if (_append is null) throw new InvalidOperationException("The log is not open: call Replay first.");
        var start = Length;
        try
        {
            _append!.Write(entry);
            if (_append is FileStream file) file.Flush(flushToDisk: _flushToDisk);
            else _append.Flush();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _damaged = true;
            try
            {
                CutToLength();
            }
            catch (Exception cut) when (cut is IOException or UnauthorizedAccessException)
            {
                LocalIndexLog.AppendNotUndone(_logger, Directory, Length, cut);
            }

            throw;
        }

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
    public long[] Compact(IEnumerable<(string Id, float[] Vector, ItemMetadata Metadata)> live, Action beforeSwap) =>
        Compact(live.Select(r => new LiveItem(r.Id, r.Vector, r.Metadata, [])), beforeSwap);

    /// <summary>
    /// As above for items with region vectors: the offsets returned are of every vector, in order, each item's own
    /// vector followed by its regions'.
    /// </summary>
    public long[] Compact(IEnumerable<LiveItem> live, Action beforeSwap)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(beforeSwap);
        var temp = _path + ".compact";
        var before = Entries;
        var offsets = new List<long>();
        long entries = 0;
        long length = 0;
        _append?.Dispose();
        _append = null;
        try
        {
            using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                foreach (var (id, vector, metadata, regions) in live)
                {
                    var entry = LogFormat.Encode(LogFormat.OpUpsert, id, vector, metadata, regions, out var regionOffsets);
                    offsets.Add(length + LogFormat.VectorOffset(id));
                    foreach (var offset in regionOffsets) offsets.Add(length + offset);
                    output.Write(entry);
                    length += entry.Length;
                    entries++;
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
        _damaged = false;
        Entries = entries;
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

    private void ReplayFile(Func<LogFormat.Entry, long, bool> apply, long from)
    {
        var good = from;
        using (var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            if (from > stream.Length) throw new InvalidDataException($"The log of {Directory} is shorter ({stream.Length} bytes) than where the replay was to start ({from}).");
            stream.Position = from;
            while (true)
            {
                var start = stream.Position;
                if (LogFormat.TryRead(stream) is not { } entry) break;
                var vectorOffset = entry.IsUpsert ? start + LogFormat.VectorOffset(entry.Id) : -1;
                if (!apply(entry.RegionOffsets.Length == 0 ? entry : entry with { RegionOffsets = Array.ConvertAll(entry.RegionOffsets, o => start + o) }, vectorOffset)) break;
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
        _append = _openAppend(_path);
        _reader = File.OpenHandle(_path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }

    /// <summary>Cuts whatever a failed append left after <see cref="Length"/> (fsynced) and reopens the append stream.</summary>
    private void CutToLength()
    {
        try
        {
            _append?.Dispose();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Unbuffered: nothing of the failed entry is left to write; the handle is closed either way.
        }

        _append = null;
        using (var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            RandomAccess.SetLength(handle, Length);
            RandomAccess.FlushToDisk(handle);
        }

        _append = _openAppend(_path);
        _damaged = false;
    }
}

/// <summary>A live item as compaction writes it: its own vector (a buffer that may be reused between items) and its regions.</summary>
internal readonly record struct LiveItem(string Id, float[] Vector, ItemMetadata Metadata, IReadOnlyList<RegionVector> Regions);

/// <summary>Another <see cref="LocalVectorIndex"/>, in this process or another, has the directory open.</summary>
internal sealed class IndexInUseException(string message, Exception innerException) : IOException(message, innerException);
