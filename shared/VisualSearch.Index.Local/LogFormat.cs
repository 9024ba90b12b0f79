using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// One log entry: magic (4) | payload length (4) | CRC-32 of payload (4; IEEE 802.3, System.IO.Hashing) | payload.
/// Payload: op (1: upsert, 2: delete, 3: upsert with regions) | id length (2) | id UTF-8 | [upsert: dimension (4) | floats |
/// metadata JSON length (4) | JSON] | [3 only: region count (4) | per region: x, y, width, height (4 each) | floats].
/// Little-endian. An entry whose header or checksum does not verify ends the readable log.
/// <para>
/// Op 3 (issue 14) came after 1 and 2 and is written only for an item that has region vectors, so an index without
/// regions writes exactly the bytes it always did; an item is one entry whatever its vectors, so a crash leaves all
/// of them or none. A release before op 3 stops reading at the first one (as at a torn tail).
/// </para>
/// </summary>
internal static class LogFormat
{
    public const uint Magic = 0x474C5356; // "VSLG"
    public const int HeaderSize = 12;
    public const byte OpUpsert = 1;
    public const byte OpDelete = 2;
    public const byte OpUpsertRegions = 3;
    public const int MaxPayload = 64 * 1024 * 1024;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static byte[] Encode(byte op, string id, ReadOnlySpan<float> vector, ItemMetadata? metadata) =>
        Encode(op, id, vector, metadata, [], out _);

    /// <summary>
    /// An upsert of an item with its region vectors (op 3; op 1 when it has none) or a delete. <paramref name="regionOffsets"/>
    /// gives where each region's floats start, counted from the entry's first byte.
    /// </summary>
    public static byte[] Encode(byte op, string id, ReadOnlySpan<float> vector, ItemMetadata? metadata, IReadOnlyList<RegionVector> regions, out long[] regionOffsets)
    {
        ArgumentNullException.ThrowIfNull(regions);
        if (op == OpUpsert && regions.Count > 0) op = OpUpsertRegions;
        else if (op == OpUpsertRegions && regions.Count == 0) op = OpUpsert;
        var upsert = op != OpDelete;
        var idBytes = Encoding.UTF8.GetBytes(id);
        var json = metadata is null ? [] : JsonSerializer.SerializeToUtf8Bytes(metadata, Json);
        var regionBytes = op == OpUpsertRegions ? 4 + regions.Count * (RegionHeader + vector.Length * 4) : 0;
        var payloadLength = 1 + 2 + idBytes.Length + (upsert ? 4 + vector.Length * 4 + 4 + json.Length : 0) + regionBytes;
        regionOffsets = new long[op == OpUpsertRegions ? regions.Count : 0];
        var entry = new byte[HeaderSize + payloadLength];
        var payload = entry.AsSpan(HeaderSize);
        payload[0] = op;
        BinaryPrimitives.WriteUInt16LittleEndian(payload[1..], checked((ushort)idBytes.Length));
        idBytes.CopyTo(payload[3..]);
        var pos = 3 + idBytes.Length;
        if (upsert)
        {
            BinaryPrimitives.WriteInt32LittleEndian(payload[pos..], vector.Length);
            pos += 4;
            MemoryMarshal.AsBytes(vector).CopyTo(payload[pos..]);
            pos += vector.Length * 4;
            BinaryPrimitives.WriteInt32LittleEndian(payload[pos..], json.Length);
            pos += 4;
            json.CopyTo(payload[pos..]);
            pos += json.Length;
        }

        if (op == OpUpsertRegions)
        {
            BinaryPrimitives.WriteInt32LittleEndian(payload[pos..], regions.Count);
            pos += 4;
            for (var i = 0; i < regions.Count; i++)
            {
                var (vectorOfRegion, box) = (regions[i].Vector, regions[i].Box);
                if (vectorOfRegion.Length != vector.Length)
                    throw new ArgumentException($"Region {i} of '{id}' has {vectorOfRegion.Length} dimensions; the item's vector has {vector.Length}.", nameof(regions));
                BinaryPrimitives.WriteInt32LittleEndian(payload[pos..], box.X);
                BinaryPrimitives.WriteInt32LittleEndian(payload[(pos + 4)..], box.Y);
                BinaryPrimitives.WriteInt32LittleEndian(payload[(pos + 8)..], box.Width);
                BinaryPrimitives.WriteInt32LittleEndian(payload[(pos + 12)..], box.Height);
                pos += RegionHeader;
                regionOffsets[i] = HeaderSize + pos;
                MemoryMarshal.AsBytes(vectorOfRegion.AsSpan()).CopyTo(payload[pos..]);
                pos += vectorOfRegion.Length * 4;
            }
        }

        BinaryPrimitives.WriteUInt32LittleEndian(entry, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(entry.AsSpan(4), payloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(8), Crc32.HashToUInt32(payload));
        return entry;
    }

    /// <summary>Where the floats of an upsert entry for <paramref name="id"/> start, counted from the entry's first byte.</summary>
    public static int VectorOffset(string id) => HeaderSize + 1 + 2 + Encoding.UTF8.GetByteCount(id) + 4;

    /// <summary>
    /// A decoded entry (vector and metadata only for upserts; regions, and where each region's floats start counted
    /// from the entry's first byte, only for op 3).
    /// </summary>
    public readonly record struct Entry(byte Op, string Id, float[]? Vector, ItemMetadata? Metadata)
    {
        public IReadOnlyList<RegionVector> Regions { get; init; } = [];

        public long[] RegionOffsets { get; init; } = [];

        public bool IsUpsert => Op != OpDelete;
    }

    /// <summary>Bytes before a region's floats: its box.</summary>
    private const int RegionHeader = 16;

    /// <summary>Reads the entry at the stream's position; null at a clean end, a torn tail or a bad checksum.</summary>
    public static Entry? TryRead(Stream stream)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        if (stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false) < HeaderSize) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != Magic) return null;
        var length = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        if (length < 3 || length > MaxPayload) return null;
        var payload = new byte[length];
        if (stream.ReadAtLeast(payload, length, throwOnEndOfStream: false) < length) return null;
        if (Crc32.HashToUInt32(payload) != BinaryPrimitives.ReadUInt32LittleEndian(header[8..])) return null;

        try
        {
            var span = payload.AsSpan();
            var op = span[0];
            var idLength = BinaryPrimitives.ReadUInt16LittleEndian(span[1..]);
            var id = Encoding.UTF8.GetString(span.Slice(3, idLength));
            var pos = 3 + idLength;
            if (op == OpDelete) return new Entry(op, id, null, null);
            if (op != OpUpsert && op != OpUpsertRegions) return null;
            var dimension = BinaryPrimitives.ReadInt32LittleEndian(span[pos..]);
            pos += 4;
            var vector = MemoryMarshal.Cast<byte, float>(span.Slice(pos, dimension * 4)).ToArray();
            pos += dimension * 4;
            var jsonLength = BinaryPrimitives.ReadInt32LittleEndian(span[pos..]);
            pos += 4;
            var metadata = JsonSerializer.Deserialize<ItemMetadata>(span.Slice(pos, jsonLength), Json);
            pos += jsonLength;
            if (metadata is null) return null;
            if (op == OpUpsert) return new Entry(op, id, vector, metadata);
            var count = BinaryPrimitives.ReadInt32LittleEndian(span[pos..]);
            pos += 4;
            if (count < 1 || (long)count * (RegionHeader + dimension * 4) != length - pos) return null;
            var regions = new RegionVector[count];
            var offsets = new long[count];
            for (var i = 0; i < count; i++)
            {
                var box = new RegionBox(
                    BinaryPrimitives.ReadInt32LittleEndian(span[pos..]),
                    BinaryPrimitives.ReadInt32LittleEndian(span[(pos + 4)..]),
                    BinaryPrimitives.ReadInt32LittleEndian(span[(pos + 8)..]),
                    BinaryPrimitives.ReadInt32LittleEndian(span[(pos + 12)..]));
                pos += RegionHeader;
                offsets[i] = HeaderSize + pos;
                regions[i] = new RegionVector(MemoryMarshal.Cast<byte, float>(span.Slice(pos, dimension * 4)).ToArray(), box);
                pos += dimension * 4;
            }

            return new Entry(op, id, vector, metadata) { Regions = regions, RegionOffsets = offsets };
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
