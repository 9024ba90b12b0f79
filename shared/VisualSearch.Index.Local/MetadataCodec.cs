using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// An item's metadata in binary for the snapshot (format 3), every field of <see cref="ItemMetadata"/> in order:
/// source | name | ETag | content hash | size (8) | content type | width (4) | height (4) | uploaded at | indexed at |
/// model id | tags. A string is a 7-bit-encoded UTF-8 length and its bytes (<see cref="BinaryWriter.Write(string)"/>)
/// after a presence byte; a time is its clock ticks (8) and offset in minutes (2). The values records repeat
/// (source, content type, model id: by value; the tag set: by instance, which <see cref="MetadataPool"/> shares)
/// are references: a 7-bit-encoded number, 0 for null, 1 for a new value that follows (it takes the next number),
/// n for the value numbered n - 2. One codec per file, written and read in the same order.
/// A field added to <see cref="ItemMetadata"/> needs a place here (and a new snapshot format): the unit tests list
/// the fields this codec knows and fail on any other.
/// </summary>
internal sealed class MetadataCodec
{
    private readonly Dictionary<string, int> _stringNumbers = new(StringComparer.Ordinal);
    private readonly Dictionary<IReadOnlyDictionary<string, string>, int> _tagNumbers = new(ReferenceEqualityComparer.Instance);
    private readonly List<string> _strings = [];
    private readonly List<IReadOnlyDictionary<string, string>> _tagSets = [];

    /// <summary>The properties of <see cref="ItemMetadata"/> that <see cref="Write"/> and <see cref="Read"/> carry.</summary>
    public static IReadOnlyList<string> Fields { get; } =
        [nameof(ItemMetadata.Source), nameof(ItemMetadata.Name), nameof(ItemMetadata.ETag), nameof(ItemMetadata.ContentHash), nameof(ItemMetadata.Size),
         nameof(ItemMetadata.ContentType), nameof(ItemMetadata.Width), nameof(ItemMetadata.Height), nameof(ItemMetadata.UploadedAt),
         nameof(ItemMetadata.IndexedAt), nameof(ItemMetadata.ModelId), nameof(ItemMetadata.Tags)];

    public void Write(BinaryWriter w, ItemMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(metadata);
        WriteShared(w, metadata.Source);
        WriteString(w, metadata.Name);
        WriteString(w, metadata.ETag);
        WriteString(w, metadata.ContentHash);
        w.Write(metadata.Size);
        WriteShared(w, metadata.ContentType);
        w.Write(metadata.Width);
        w.Write(metadata.Height);
        WriteTime(w, metadata.UploadedAt);
        WriteTime(w, metadata.IndexedAt);
        WriteShared(w, metadata.ModelId);
        WriteTags(w, metadata.Tags);
    }

    /// <summary>Reads what <see cref="Write"/> wrote; the repeated values come through <paramref name="pool"/>, once each.</summary>
    public ItemMetadata Read(BinaryReader r, MetadataPool pool)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(pool);
        return new ItemMetadata
        {
            Source = ReadShared(r, pool)!,
            Name = ReadString(r)!,
            ETag = ReadString(r),
            ContentHash = ReadString(r)!,
            Size = r.ReadInt64(),
            ContentType = ReadShared(r, pool)!,
            Width = r.ReadInt32(),
            Height = r.ReadInt32(),
            UploadedAt = ReadTime(r),
            IndexedAt = ReadTime(r),
            ModelId = ReadShared(r, pool)!,
            Tags = ReadTags(r, pool),
        };
    }

    private static void WriteString(BinaryWriter w, string? value)
    {
        w.Write(value is not null);
        if (value is not null) w.Write(value);
    }

    private static string? ReadString(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    private static void WriteTime(BinaryWriter w, DateTimeOffset time)
    {
        w.Write(time.Ticks);
        w.Write(checked((short)time.Offset.TotalMinutes));
    }

    private static DateTimeOffset ReadTime(BinaryReader r)
    {
        var ticks = r.ReadInt64();
        return new DateTimeOffset(ticks, TimeSpan.FromMinutes(r.ReadInt16()));
    }

    private void WriteShared(BinaryWriter w, string? value)
    {
        if (value is null)
        {
            w.Write7BitEncodedInt(0);
        }
        else if (_stringNumbers.TryGetValue(value, out var number))
        {
            w.Write7BitEncodedInt(number + 2);
        }
        else
        {
            _stringNumbers[value] = _stringNumbers.Count;
            w.Write7BitEncodedInt(1);
            w.Write(value);
        }
    }

    private string? ReadShared(BinaryReader r, MetadataPool pool)
    {
        var n = r.Read7BitEncodedInt();
        if (n == 0) return null;
        if (n == 1)
        {
            var value = pool.String(r.ReadString());
            _strings.Add(value);
            return value;
        }

        return (uint)(n - 2) < (uint)_strings.Count ? _strings[n - 2] : throw new InvalidDataException($"A snapshot refers to value {n - 2} of {_strings.Count}.");
    }

    private void WriteTags(BinaryWriter w, IReadOnlyDictionary<string, string> tags)
    {
        if (_tagNumbers.TryGetValue(tags, out var number))
        {
            w.Write7BitEncodedInt(number + 2);
            return;
        }

        _tagNumbers[tags] = _tagNumbers.Count;
        w.Write7BitEncodedInt(1);
        w.Write7BitEncodedInt(tags.Count);
        foreach (var (key, value) in tags)
        {
            w.Write(key);
            w.Write(value);
        }
    }

    private IReadOnlyDictionary<string, string> ReadTags(BinaryReader r, MetadataPool pool)
    {
        var n = r.Read7BitEncodedInt();
        if (n == 1)
        {
            var count = r.Read7BitEncodedInt();
            var tags = new Dictionary<string, string>(count);
            for (var i = 0; i < count; i++)
            {
                var key = r.ReadString();
                if (!tags.TryAdd(key, r.ReadString())) throw new InvalidDataException($"A snapshot's tag set repeats '{key}'.");
            }

            var shared = pool.Tags(tags);
            _tagSets.Add(shared);
            return shared;
        }

        return n >= 2 && n - 2 < _tagSets.Count ? _tagSets[n - 2] : throw new InvalidDataException($"A snapshot refers to tag set {n - 2} of {_tagSets.Count}.");
    }
}
