using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// What a replay of the log computes, saved beside it (records.snapshot) so that an open reads it instead of the
/// whole log: every slot's id, metadata and vector offset, the free slots in the order new records take them, and
/// the log length and entry count it was taken at. The log is then replayed only past that length. The vectors
/// stay in the log (the saved graph holds its own copy; exact mode reads them back by offset).
/// <para>
/// Never trusted: a snapshot is used only when its own checksum verifies (a torn or foreign file fails), it is of
/// this model and dimension, the log is at least as long as the length it names, and the CRC-32 of the log's last
/// <see cref="TailBytes"/> bytes before that length matches (a log compacted or replaced since fails; the log is
/// otherwise append-only, so its prefix cannot change under a snapshot). Anything else is logged and the log is
/// replayed from the start; the next save replaces the file. Written through <see cref="DurableFiles"/> (temporary
/// file, fsync, rename): a crash mid-write leaves the previous snapshot or none, and the log holds every
/// acknowledged record either way.
/// </para>
/// <para>
/// Format (little-endian): magic "VSSN" | format (4) | dimension (4) | model id (2 + UTF-8) | log length (8) | log
/// entries (8) | tail CRC (4) | used slots (4) | free count (4) | free slots (4 each) | per slot: 0 (free) or 1 (an
/// item's own vector) | offset (8) | id (2 + UTF-8) | metadata JSON (4 + UTF-8), or 2 (a region of the item in the
/// slot before, issue 14) | offset (8) | x, y, width, height (4 each) | trailer: CRC-32 of everything before (4).
/// Format 2 added kind 2; a format 1 snapshot (which has none) still loads.
/// </para>
/// <para>
/// Format 3 (written now; 1 and 2 still load) stores an item's metadata in binary instead of JSON (<see cref="MetadataCodec"/>):
/// each of its fields in order, the values records repeat (source, content type, model id, the tag set) written once
/// and then referred to by number. A load then allocates only what each record keeps (its id, name, hash and
/// metadata object) and no JSON parse's throw-away copies: at a million records those copies were hundreds of
/// megabytes for the collector, and part of the peak resident memory of an open.
/// </para>
/// </summary>
internal static class IndexSnapshot
{
    public const string FileName = "records.snapshot";

    /// <summary>How much of the log's end a snapshot's check covers.</summary>
    public const int TailBytes = 1 << 20;

    private const uint Magic = 0x4E535356; // "VSSN"
    private const int Format = 3;

    /// <summary>Where a valid snapshot leaves the log: replay from <see cref="LogLength"/> with <see cref="LogEntries"/> entries before it.</summary>
    public readonly record struct Position(long LogLength, long LogEntries);

    /// <summary>Saves <paramref name="records"/> as replayed up to the log's current length.</summary>
    public static void Save(string directory, IndexSchema schema, SlotTable records, RecordLog log, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(log);
        var sw = Stopwatch.StartNew();
        var tail = log.TailChecksum(log.Length, TailBytes)
            ?? throw new InvalidDataException($"The log of {directory} is shorter than the {log.Length} bytes the index holds.");
        DurableFiles.WriteAtomically(Path.Combine(directory, FileName), file =>
        {
            using var crc = new CrcStream(file);
            using var w = new BinaryWriter(crc, Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(Format);
            w.Write(schema.Dimension);
            WriteString(w, schema.ModelId);
            w.Write(log.Length);
            w.Write(log.Entries);
            w.Write(tail);
            w.Write(records.Used);
            var free = records.FreeSlots();
            w.Write(free.Length);
            foreach (var slot in free) w.Write(slot);
            var codec = new MetadataCodec();
            for (var slot = 0; slot < records.Used; slot++)
            {
                if (records.IdAt(slot) is not { } id)
                {
                    w.Write((byte)0);
                    continue;
                }

                if (records.BoxAt(slot) is { } box)
                {
                    w.Write((byte)2);
                    w.Write(records.OffsetAt(slot));
                    w.Write(box.X);
                    w.Write(box.Y);
                    w.Write(box.Width);
                    w.Write(box.Height);
                    continue;
                }

                w.Write((byte)1);
                w.Write(records.OffsetAt(slot));
                WriteString(w, id);
                codec.Write(w, records.MetadataAt(slot)!);
            }

            w.Flush();
            Span<byte> trailer = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, crc.Checksum);
            file.Write(trailer);
        });
        LocalIndexLog.SnapshotSaved(logger, directory, records.Count, log.Length, sw.Elapsed.TotalMilliseconds);
    }

    /// <summary>
    /// Fills the empty <paramref name="records"/> from the snapshot and returns where the log's replay goes on;
    /// null (logged, <paramref name="records"/> untouched) when there is no snapshot or it is not valid for
    /// <paramref name="log"/> (see the class remarks). Repeated metadata values are shared through <paramref name="pool"/>.
    /// </summary>
    public static Position? TryLoad(string directory, IndexSchema schema, SlotTable records, RecordLog log, MetadataPool pool, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(log);
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return null;
        var sw = Stopwatch.StartNew();
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            if (file.Length < 8) return Refuse("it is too short to be one");

            // The trailer first: a torn or foreign file is refused before anything in it is believed.
            if (!Verifies(file)) return Refuse("its checksum does not verify (torn or not written by this index)");
            file.Position = 0;
            using var r = new BinaryReader(file, Encoding.UTF8, leaveOpen: true);
            var scratch = new byte[ushort.MaxValue];
            if (r.ReadUInt32() != Magic) return Refuse("it is of another format");
            var format = r.ReadInt32();
            if (format is not (1 or 2 or Format)) return Refuse("it is of another format");
            if (r.ReadInt32() != schema.Dimension || ReadString(r, scratch) != schema.ModelId) return Refuse("it is of another model");
            var logLength = r.ReadInt64();
            var logEntries = r.ReadInt64();
            var tail = r.ReadUInt32();
            if (logLength < 0 || logEntries < 0 || log.TailChecksum(logLength, TailBytes) != tail)
                return Refuse($"the log does not match it (taken at {logLength} bytes; the log was compacted, replaced or cut since)");

            var used = r.ReadInt32();
            var freeCount = r.ReadInt32();
            if (used < 0 || freeCount < 0 || freeCount > used) return Refuse("its slot counts are impossible");
            var free = new int[freeCount];
            for (var i = 0; i < free.Length; i++) free[i] = r.ReadInt32();
            var ids = new string?[used];
            var metadata = new ItemMetadata?[used];
            var offsets = new long[used];
            RegionBox?[]? boxes = null;
            var vectorBytes = (long)schema.Dimension * sizeof(float);
            var json = new byte[4096];
            var codec = new MetadataCodec();
            for (var slot = 0; slot < used; slot++)
            {
                var kind = r.ReadByte();
                if (kind == 0) continue;
                offsets[slot] = r.ReadInt64();
                if (kind == 2)
                {
                    boxes ??= new RegionBox?[used];
                    boxes[slot] = new RegionBox(r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
                    if (slot == 0 || ids[slot - 1] is null) return Refuse($"region slot {slot} follows no item");
                    ids[slot] = ids[slot - 1];
                    if (offsets[slot] < 0 || offsets[slot] + vectorBytes > logLength) return Refuse($"slot {slot}'s vector lies outside the log it was taken at");
                    continue;
                }

                if (kind != 1) return Refuse($"slot {slot} is of an unknown kind {kind}");
                ids[slot] = ReadString(r, scratch);
                if (offsets[slot] < 0 || offsets[slot] + vectorBytes > logLength) return Refuse($"slot {slot}'s vector lies outside the log it was taken at");
                if (format >= 3)
                {
                    metadata[slot] = codec.Read(r, pool);
                    continue;
                }

                // Formats 1 and 2: the metadata as JSON. One buffer for every record's JSON (a million records would otherwise leave a million arrays to collect).
                var length = r.ReadInt32();
                if (length < 0) return Refuse($"slot {slot}'s metadata has a negative length");
                if (length > json.Length) json = new byte[Math.Max(length, json.Length * 2)];
                r.BaseStream.ReadExactly(json, 0, length);
                metadata[slot] = JsonSerializer.Deserialize<ItemMetadata>(json.AsSpan(0, length), LogFormat.Json) is { } parsed ? pool.Share(parsed) : null;
            }

            records.Restore(ids, metadata, offsets, used, free, boxes);
            LocalIndexLog.SnapshotLoaded(logger, directory, records.Count, logLength, sw.Elapsed.TotalMilliseconds);
            return new Position(logLength, logEntries);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or JsonException or ArgumentException or OverflowException or FormatException)
        {
            // EndOfStreamException is an IOException: a file cut short that still verified is not possible, but a bug is.
            return Refuse(ex.Message);
        }

        Position? Refuse(string reason)
        {
            LocalIndexLog.SnapshotIgnored(logger, directory, reason);
            return null;
        }
    }

    /// <summary>Deletes the snapshot (the log is being rewritten); a later save makes a new one.</summary>
    public static void Delete(string directory) => File.Delete(Path.Combine(directory, FileName));

    private static bool Verifies(FileStream file)
    {
        var crc = new Crc32();
        var buffer = new byte[1 << 16];
        var body = file.Length - 4;
        long read = 0;
        file.Position = 0;
        while (read < body)
        {
            var n = file.Read(buffer, 0, (int)Math.Min(buffer.Length, body - read));
            if (n == 0) return false;
            crc.Append(buffer.AsSpan(0, n));
            read += n;
        }

        Span<byte> trailer = stackalloc byte[4];
        file.ReadExactly(trailer);
        return BinaryPrimitives.ReadUInt32LittleEndian(trailer) == crc.GetCurrentHashAsUInt32();
    }

    private static void WriteString(BinaryWriter w, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        w.Write(checked((ushort)bytes.Length));
        w.Write(bytes);
    }

    /// <summary>A string written by <see cref="WriteString"/>, read through <paramref name="scratch"/> (at least <see cref="ushort.MaxValue"/> bytes).</summary>
    private static string ReadString(BinaryReader r, byte[] scratch)
    {
        var span = scratch.AsSpan(0, r.ReadUInt16());
        r.BaseStream.ReadExactly(span);
        return Encoding.UTF8.GetString(span);
    }

    /// <summary>Passes writes through and keeps their CRC-32.</summary>
    private sealed class CrcStream(Stream inner) : Stream
    {
        private readonly Crc32 _crc = new();

        public uint Checksum => _crc.GetCurrentHashAsUInt32();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _crc.Append(buffer);
            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
