using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// One log entry: magic (4) | payload length (4) | CRC-32 of payload (4; IEEE 802.3, System.IO.Hashing) | payload.
/// Payload: op (1: upsert, 2: delete) | id length (2) | id UTF-8 | [upsert: dimension (4) | floats | metadata JSON length (4) | JSON].
/// Little-endian. An entry whose header or checksum does not verify ends the readable log.
/// </summary>
internal static class LogFormat
{
    public const uint Magic = 0x474C5356; // "VSLG"
    public const int HeaderSize = 12;
    public const byte OpUpsert = 1;
    public const byte OpDelete = 2;
    public const int MaxPayload = 64 * 1024 * 1024;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static byte[] Encode(byte op, string id, ReadOnlySpan<float> vector, ItemMetadata? metadata)
    {
        var idBytes = Encoding.UTF8.GetBytes(id);
        var json = metadata is null ? [] : JsonSerializer.SerializeToUtf8Bytes(metadata, Json);
        var payloadLength = 1 + 2 + idBytes.Length + (op == OpUpsert ? 4 + vector.Length * 4 + 4 + json.Length : 0);
        var entry = new byte[HeaderSize + payloadLength];
        var payload = entry.AsSpan(HeaderSize);
        payload[0] = op;
        BinaryPrimitives.WriteUInt16LittleEndian(payload[1..], checked((ushort)idBytes.Length));
        idBytes.CopyTo(payload[3..]);
        var pos = 3 + idBytes.Length;
        if (op == OpUpsert)
        {
            BinaryPrimitives.WriteInt32LittleEndian(payload[pos..], vector.Length);
            pos += 4;
            MemoryMarshal.AsBytes(vector).CopyTo(payload[pos..]);
            pos += vector.Length * 4;
            BinaryPrimitives.WriteInt32LittleEndian(payload[pos..], json.Length);
            pos += 4;
            json.CopyTo(payload[pos..]);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(entry, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(entry.AsSpan(4), payloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(8), Crc32.HashToUInt32(payload));
        return entry;
    }

    /// <summary>Where the floats of an upsert entry for <paramref name="id"/> start, counted from the entry's first byte.</summary>
    public static int VectorOffset(string id) => HeaderSize + 1 + 2 + Encoding.UTF8.GetByteCount(id) + 4;

    /// <summary>A decoded entry (vector and metadata only for upserts).</summary>
    public readonly record struct Entry(byte Op, string Id, float[]? Vector, ItemMetadata? Metadata);

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
            if (op != OpUpsert) return null;
            var dimension = BinaryPrimitives.ReadInt32LittleEndian(span[pos..]);
            pos += 4;
            var vector = MemoryMarshal.Cast<byte, float>(span.Slice(pos, dimension * 4)).ToArray();
            pos += dimension * 4;
            var jsonLength = BinaryPrimitives.ReadInt32LittleEndian(span[pos..]);
            pos += 4;
            var metadata = JsonSerializer.Deserialize<ItemMetadata>(span.Slice(pos, jsonLength), Json);
            return metadata is null ? null : new Entry(op, id, vector, metadata);
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
