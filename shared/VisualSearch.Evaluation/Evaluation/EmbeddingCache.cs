using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace VisualSearch.Evaluation;

/// <summary>
/// Embeddings of one model kept on disk, so repeated evaluation, training and benchmark runs do not embed the
/// same images again. A key names what was embedded (see <see cref="FileKey"/>); a changed file gets a new key.
/// <para>
/// Safe for several processes at once: no file is ever written in place. New entries are written in segments of up
/// to <see cref="SegmentEntries"/> (<c>&lt;model id&gt;.&lt;guid&gt;.seg</c>: a temporary file, flushed to disk, then
/// renamed, so a reader sees a whole segment or none), when that many are pending and on <see cref="Flush"/> /
/// <see cref="Dispose"/>. An open reads the main file (<c>&lt;model id&gt;.vec</c>) and every segment; past
/// <see cref="CompactAbove"/> segments it merges them into a new main file (temporary file, rename) and deletes the
/// segments it merged. Two processes compacting at once may each drop the other's newest entries from the main
/// file: those are embedded again later, never read torn. A main file from an earlier release, which was appended
/// to, may end in a torn entry (a run killed mid-write): the tail is ignored.
/// </para>
/// </summary>
/// <remarks>
/// Format of the main file and of each segment (little-endian): "VSEMB001", int32 dimension, int32 L + L bytes
/// UTF-8 model id; then entries of int32 K + K bytes UTF-8 key, float32 raw norm, dimension x float32 (the
/// L2-normalised vector). A cache with regions (<c>&lt;model id&gt;.regions.vec</c> and <c>&lt;model id&gt;.regions.&lt;guid&gt;.seg</c>,
/// "VSEMR001") adds to each entry int32 R, then R x (int32 x, y, width, height, dimension x float32): the
/// embedding's <see cref="Embedding.Embedding.Regions"/>.
/// </remarks>
public sealed class EmbeddingCache : IDisposable
{
    /// <summary>New entries written per segment.</summary>
    public const int SegmentEntries = 1000;

    /// <summary>An open with more segments than this merges them into the main file.</summary>
    public const int CompactAbove = 32;

    private const string SegmentExtension = ".seg";
    private static readonly byte[] Magic = "VSEMB001"u8.ToArray();
    private static readonly byte[] RegionsMagic = "VSEMR001"u8.ToArray();
    private readonly Dictionary<string, Embedding.Embedding> _entries = new(StringComparer.Ordinal);
    private readonly List<KeyValuePair<string, Embedding.Embedding>> _pending = [];
    private readonly Lock _gate = new();
    private readonly string _directory;

    private EmbeddingCache(string directory, string modelId, int dimension, bool regions)
    {
        _directory = directory;
        Regions = regions;
        Path = System.IO.Path.Combine(directory, FilePrefix(modelId, regions) + "vec");
        ModelId = modelId;
        Dimension = dimension;
    }

    /// <summary>The main file (segments lie beside it).</summary>
    public string Path { get; }

    public string ModelId { get; }

    public int Dimension { get; }

    /// <summary>Whether entries keep their regions' vectors (files of their own, beside those without).</summary>
    public bool Regions { get; }

    /// <summary>Always true: every process may add entries (each writes its own segments).</summary>
    public bool Writable => true;

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

    /// <param name="regions">Keep the embeddings' regions too (files of their own: <c>&lt;model id&gt;.regions.vec</c> and its segments).</param>
    public static EmbeddingCache Open(string directory, string modelId, int dimension, bool regions = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        Directory.CreateDirectory(directory);
        var cache = new EmbeddingCache(directory, modelId, dimension, regions);
        if (File.Exists(cache.Path)) cache.Load(cache.Path);
        var segments = cache.Segments();
        foreach (var segment in segments)
        {
            try
            {
                cache.Load(segment);
            }
            catch (FileNotFoundException)
            {
                // Merged and deleted by another process's compaction after the listing: its entries are in the main file it wrote.
            }
        }

        if (segments.Count > CompactAbove) cache.Compact(segments);
        return cache;
    }

    public bool TryGet(string key, out Embedding.Embedding embedding)
    {
        lock (_gate) return _entries.TryGetValue(key, out embedding);
    }

    /// <summary>Keeps an embedding (in memory, and on disk with the next segment). Thread-safe.</summary>
    public void Add(string key, Embedding.Embedding embedding)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (embedding.Vector.Length != Dimension)
            throw new ArgumentException($"The cache holds {Dimension}-d vectors; got {embedding.Vector.Length}.", nameof(embedding));
        if (Regions && embedding.Regions is null) throw new ArgumentException("This cache keeps regions; the embedding has none.", nameof(embedding));
        if (Regions && embedding.Regions!.Any(r => r.Vector.Length != Dimension))
            throw new ArgumentException($"A region's vector does not have the {Dimension} values expected.", nameof(embedding));
        lock (_gate)
        {
            if (!_entries.TryAdd(key, embedding)) return;
            _pending.Add(new(key, embedding));
            if (_pending.Count >= SegmentEntries) WritePending();
        }
    }

    /// <summary>Writes the entries added since the last segment as a new segment.</summary>
    public void Flush()
    {
        lock (_gate) WritePending();
    }

    public void Dispose() => Flush();

    /// <summary>&lt;model id&gt;. or &lt;model id&gt;.regions.: what the main file and the segments of a cache start with.</summary>
    private static string FilePrefix(string modelId, bool regions) => modelId + (regions ? ".regions." : ".");

    private List<string> Segments()
    {
        var prefix = FilePrefix(ModelId, Regions);
        return Directory.EnumerateFiles(_directory, prefix + "*" + SegmentExtension)
            .Where(f => IsSegmentName(System.IO.Path.GetFileName(f), prefix))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>&lt;prefix&gt;&lt;32 hex digits&gt;.seg: another model whose id starts with this one's (or the other kind of cache) never matches.</summary>
    private static bool IsSegmentName(string name, string prefix)
    {
        if (name.Length != prefix.Length + 32 + SegmentExtension.Length || !name.StartsWith(prefix, StringComparison.Ordinal)) return false;
        return !name.AsSpan(prefix.Length, 32).ContainsAnyExcept("0123456789abcdef");
    }

    private void WritePending()
    {
        if (_pending.Count == 0) return;
        WriteAtomically(System.IO.Path.Combine(_directory, $"{FilePrefix(ModelId, Regions)}{Guid.NewGuid():N}{SegmentExtension}"), _pending);
        _pending.Clear();
    }

    /// <summary>Every entry into a new main file, then the merged segments deleted.</summary>
    private void Compact(List<string> segments)
    {
        lock (_gate)
        {
            WriteAtomically(Path, _entries);
            foreach (var segment in segments) File.Delete(segment);
        }
    }

    /// <summary>A whole file under a unique temporary name, flushed to disk, then renamed into place.</summary>
    private void WriteAtomically(string path, IEnumerable<KeyValuePair<string, Embedding.Embedding>> entries)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var id = Encoding.UTF8.GetBytes(ModelId);
                var header = new byte[16 + id.Length];
                (Regions ? RegionsMagic : Magic).CopyTo(header, 0);
                BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), Dimension);
                BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), id.Length);
                id.CopyTo(header, 16);
                file.Write(header);
                foreach (var (key, embedding) in entries) file.Write(Encode(key, embedding));
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    private byte[] Encode(string key, Embedding.Embedding embedding)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var regions = Regions ? embedding.Regions! : [];
        var entry = new byte[4 + keyBytes.Length + 4 + 4 * Dimension + (Regions ? 4 + regions.Count * (16 + 4 * Dimension) : 0)];
        BinaryPrimitives.WriteInt32LittleEndian(entry, keyBytes.Length);
        keyBytes.CopyTo(entry, 4);
        var offset = 4 + keyBytes.Length;
        BinaryPrimitives.WriteSingleLittleEndian(entry.AsSpan(offset), embedding.RawNorm);
        offset = WriteVector(entry, offset + 4, embedding.Vector);
        if (Regions)
        {
            BinaryPrimitives.WriteInt32LittleEndian(entry.AsSpan(offset), regions.Count);
            offset += 4;
            foreach (var region in regions)
            {
                foreach (var n in (int[])[region.Box.X, region.Box.Y, region.Box.Width, region.Box.Height])
                {
                    BinaryPrimitives.WriteInt32LittleEndian(entry.AsSpan(offset), n);
                    offset += 4;
                }

                offset = WriteVector(entry, offset, region.Vector);
            }
        }

        return entry;
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

    /// <summary>
    /// A finite, non-negative raw norm and a vector of finite length below <see cref="MaxVectorLength"/> (an encoder's
    /// vectors are normalised; garbage bytes read as floats are not).
    /// </summary>
    private static bool IsEmbedding(float rawNorm, float[] vector)
    {
        if (!float.IsFinite(rawNorm) || rawNorm < 0) return false;
        var length = System.Numerics.Tensors.TensorPrimitives.Norm(vector);
        return float.IsFinite(length) && length < MaxVectorLength;
    }

    /// <summary>Longer than this, a cached vector is taken for garbage (the corrupt entry met had a length of 9e38).</summary>
    private const float MaxVectorLength = 1e6f;

    /// <summary>Reads one file's entries; an entry cut short ends the file (the torn tail of an old appended main file).</summary>
    private void Load(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var id = Encoding.UTF8.GetBytes(ModelId);
        var headerLength = 8 + 4 + 4 + id.Length;
        if (bytes.Length < headerLength) return;
        ReadOnlySpan<byte> span = bytes;
        if (!span[..8].SequenceEqual(Regions ? RegionsMagic : Magic) || BinaryPrimitives.ReadInt32LittleEndian(span[8..]) != Dimension
            || BinaryPrimitives.ReadInt32LittleEndian(span[12..]) != id.Length || !span.Slice(16, id.Length).SequenceEqual(id))
            throw new InvalidDataException($"{path} is not an embedding cache of {ModelId}; delete it.");

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

            // An entry whose numbers cannot be an embedding is left out and embedded again: one such entry in a shared main
            // file once put a query at a similarity of -5e33 to its reference.
            if (IsEmbedding(norm, vector)) _entries[key] = new Embedding.Embedding(vector, norm) { Regions = regions };
            position = end;
        }
    }
}
