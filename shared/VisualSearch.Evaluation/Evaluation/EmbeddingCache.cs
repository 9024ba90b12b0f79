using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace VisualSearch.Evaluation;

/// <summary>
/// Embeddings of one model kept on disk, so repeated evaluation and training runs do not embed the same
/// images again. One append-only file per model id: <c>&lt;directory&gt;/&lt;model id&gt;.vec</c>. A key names
/// what was embedded (see <see cref="FileKey"/>); a changed file gets a new key. A torn tail (a run killed
/// mid-write) is cut off on open. When another process holds the file, this one reads it and writes nothing.
/// </summary>
/// <remarks>
/// Format (little-endian): "VSEMB001", int32 dimension, int32 L + L bytes UTF-8 model id; then entries of
/// int32 K + K bytes UTF-8 key, float32 raw norm, dimension x float32 (the L2-normalised vector). A cache with
/// regions (<c>&lt;model id&gt;.regions.vec</c>, "VSEMR001") adds to each entry int32 R, then R x (int32 x, y, width,
/// height, dimension x float32): the embedding's <see cref="Embedding.Embedding.Regions"/>.
/// </remarks>
public sealed class EmbeddingCache : IDisposable
{
    private static readonly byte[] Magic = "VSEMB001"u8.ToArray();
    private static readonly byte[] RegionsMagic = "VSEMR001"u8.ToArray();
    private readonly Dictionary<string, Embedding.Embedding> _entries = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly FileStream? _writer;

    private EmbeddingCache(string path, string modelId, int dimension, bool regions, FileStream? writer)
    {
        Path = path;
        Regions = regions;
        ModelId = modelId;
        Dimension = dimension;
        _writer = writer;
    }

    public string Path { get; }

    public string ModelId { get; }

    public int Dimension { get; }

    /// <summary>Whether entries keep their regions' vectors (a separate file from the one without).</summary>
    public bool Regions { get; }

    /// <summary>False when another process holds the file: entries are read, new ones are not kept.</summary>
    public bool Writable => _writer is not null;

    public int Count
    {
        get
        {
            lock (_gate) return _entries.Count;
        }
    }

    /// <summary>The default location: $XDG_CACHE_HOME/vsearch/embeddings, else ~/.cache/vsearch/embeddings.</summary>
    public static string DefaultDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var baseDir = !string.IsNullOrEmpty(xdg) ? xdg : !string.IsNullOrEmpty(home) ? System.IO.Path.Combine(home, ".cache") : System.IO.Path.GetTempPath();
        return System.IO.Path.Combine(baseDir, "vsearch", "embeddings");
    }

    /// <summary>
    /// A key for a file's content, its SHA-256: a moved, copied or symlinked file is still found, a changed one
    /// is embedded again. Hashing is far cheaper than embedding.
    /// </summary>
    public static string FileKey(string path)
    {
        using var stream = File.OpenRead(path);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <param name="regions">Keep the embeddings' regions too (a file of its own: <c>&lt;model id&gt;.regions.vec</c>).</param>
    public static EmbeddingCache Open(string directory, string modelId, int dimension, bool regions = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        Directory.CreateDirectory(directory);
        var path = System.IO.Path.Combine(directory, modelId + (regions ? ".regions.vec" : ".vec"));

        FileStream? writer;
        try
        {
            writer = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        }
        catch (IOException)
        {
            writer = null;
        }

        var cache = new EmbeddingCache(path, modelId, dimension, regions, writer);
        try
        {
            if (writer is not null) cache.Load(writer);
            else
            {
                using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                cache.Load(reader);
            }
        }
        catch
        {
            cache.Dispose();
            throw;
        }

        return cache;
    }

    public bool TryGet(string key, out Embedding.Embedding embedding)
    {
        lock (_gate) return _entries.TryGetValue(key, out embedding);
    }

    /// <summary>Keeps an embedding (in memory, and appended to the file when writable). Thread-safe.</summary>
    public void Add(string key, Embedding.Embedding embedding)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (embedding.Vector.Length != Dimension)
            throw new ArgumentException($"The cache holds {Dimension}-d vectors; got {embedding.Vector.Length}.", nameof(embedding));
        if (Regions && embedding.Regions is null) throw new ArgumentException("This cache keeps regions; the embedding has none.", nameof(embedding));
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var regions = Regions ? embedding.Regions! : [];
        var entry = new byte[4 + keyBytes.Length + 4 + 4 * Dimension + (Regions ? 4 + regions.Count * (16 + 4 * Dimension) : 0)];
        BinaryPrimitives.WriteInt32LittleEndian(entry, keyBytes.Length);
        keyBytes.CopyTo(entry, 4);
        var offset = 4 + keyBytes.Length;
        BinaryPrimitives.WriteSingleLittleEndian(entry.AsSpan(offset), embedding.RawNorm);
        offset += 4;
        offset = WriteVector(entry, offset, embedding.Vector);
        if (Regions)
        {
            BinaryPrimitives.WriteInt32LittleEndian(entry.AsSpan(offset), regions.Count);
            offset += 4;
            foreach (var region in regions)
            {
                if (region.Vector.Length != Dimension) throw new ArgumentException($"A region's vector has {region.Vector.Length} values; {Dimension} expected.", nameof(embedding));
                foreach (var n in (int[])[region.Box.X, region.Box.Y, region.Box.Width, region.Box.Height])
                {
                    BinaryPrimitives.WriteInt32LittleEndian(entry.AsSpan(offset), n);
                    offset += 4;
                }

                offset = WriteVector(entry, offset, region.Vector);
            }
        }

        lock (_gate)
        {
            if (!_entries.TryAdd(key, embedding)) return;
            _writer?.Write(entry);
        }
    }

    private static int WriteVector(byte[] entry, int offset, float[] vector)
    {
        foreach (var v in vector)
        {
            BinaryPrimitives.WriteSingleLittleEndian(entry.AsSpan(offset), v);
            offset += 4;
        }

        return offset;
    }

    private float[] ReadVector(ReadOnlySpan<byte> span)
    {
        var vector = new float[Dimension];
        for (var i = 0; i < Dimension; i++) vector[i] = BinaryPrimitives.ReadSingleLittleEndian(span[(4 * i)..]);
        return vector;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _writer?.Flush();
            _writer?.Dispose();
        }
    }

    private void Load(FileStream stream)
    {
        var id = Encoding.UTF8.GetBytes(ModelId);
        var headerLength = 8 + 4 + 4 + id.Length;
        if (stream.Length < headerLength)
        {
            if (_writer is null) return;
            var header = new byte[headerLength];
            (Regions ? RegionsMagic : Magic).CopyTo(header, 0);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), Dimension);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), id.Length);
            id.CopyTo(header, 16);
            stream.SetLength(0);
            stream.Write(header);
            stream.Flush();
            return;
        }

        var bytes = new byte[stream.Length];
        stream.Position = 0;
        stream.ReadExactly(bytes);
        ReadOnlySpan<byte> span = bytes;
        if (!span[..8].SequenceEqual(Regions ? RegionsMagic : Magic) || BinaryPrimitives.ReadInt32LittleEndian(span[8..]) != Dimension
            || BinaryPrimitives.ReadInt32LittleEndian(span[12..]) != id.Length || !span.Slice(16, id.Length).SequenceEqual(id))
            throw new InvalidDataException($"{Path} is not an embedding cache of {ModelId}; delete it.");

        var position = headerLength;
        var valueBytes = 4 + 4 * Dimension;
        while (position + 4 <= bytes.Length)
        {
            var keyLength = BinaryPrimitives.ReadInt32LittleEndian(span[position..]);
            if (keyLength <= 0 || keyLength > 65536 || position + 4 + keyLength + valueBytes > bytes.Length) break;
            var key = Encoding.UTF8.GetString(span.Slice(position + 4, keyLength));
            var offset = position + 4 + keyLength;
            var norm = BinaryPrimitives.ReadSingleLittleEndian(span[offset..]);
            var vector = ReadVector(span[(offset + 4)..]);
            var end = offset + valueBytes;
            List<Indexing.RegionVector>? regions = null;
            if (Regions)
            {
                if (end + 4 > bytes.Length) break;
                var count = BinaryPrimitives.ReadInt32LittleEndian(span[end..]);
                var regionBytes = 16 + 4 * Dimension;
                if (count < 0 || count > 100_000 || end + 4 + (long)count * regionBytes > bytes.Length) break;
                regions = new List<Indexing.RegionVector>(count);
                for (var r = 0; r < count; r++)
                {
                    var at = end + 4 + r * regionBytes;
                    var box = new Indexing.RegionBox(
                        BinaryPrimitives.ReadInt32LittleEndian(span[at..]), BinaryPrimitives.ReadInt32LittleEndian(span[(at + 4)..]),
                        BinaryPrimitives.ReadInt32LittleEndian(span[(at + 8)..]), BinaryPrimitives.ReadInt32LittleEndian(span[(at + 12)..]));
                    regions.Add(new Indexing.RegionVector(ReadVector(span[(at + 16)..]), box));
                }

                end += 4 + count * regionBytes;
            }

            _entries[key] = new Embedding.Embedding(vector, norm) { Regions = regions };
            position = end;
        }

        if (_writer is not null)
        {
            if (position != bytes.Length) stream.SetLength(position);
            stream.Position = position;
        }
    }
}
