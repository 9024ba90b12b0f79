using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// Shares what the records' metadata repeat: the source, content type and model id strings, and whole tag sets
/// (most records of an album carry the same tags). Each record parsed from the log or a snapshot otherwise holds
/// its own copies (a tag dictionary alone is about 200 B): at a million records that is most of the managed heap.
/// Tag sets are shared as <see cref="IReadOnlyDictionary{TKey, TValue}"/>, which nobody writes to. Bounded: past
/// <see cref="MaxEntries"/> distinct values a value is kept as it is. Not thread-safe: the index serialises writes.
/// </summary>
internal sealed class MetadataPool
{
    public const int MaxEntries = 1 << 16;

    private static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();

    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyDictionary<string, string>> _tagSets = new(StringComparer.Ordinal);

    /// <summary>The same metadata with its repeated values shared (the instance itself when nothing changes).</summary>
    public ItemMetadata Share(ItemMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var source = String(metadata.Source);
        var contentType = String(metadata.ContentType);
        var modelId = String(metadata.ModelId);
        var tags = Tags(metadata.Tags);
        return ReferenceEquals(source, metadata.Source) && ReferenceEquals(contentType, metadata.ContentType)
            && ReferenceEquals(modelId, metadata.ModelId) && ReferenceEquals(tags, metadata.Tags)
            ? metadata
            : metadata with { Source = source, ContentType = contentType, ModelId = modelId, Tags = tags };
    }

    /// <summary>The shared instance of a value (itself the first time, and past <see cref="MaxEntries"/>).</summary>
    public string String(string value)
    {
        if (_strings.TryGetValue(value, out var shared)) return shared;
        if (_strings.Count < MaxEntries) _strings[value] = value;
        return value;
    }

    /// <summary>The shared instance of a tag set (an equal one seen before, else this one).</summary>
    public IReadOnlyDictionary<string, string> Tags(IReadOnlyDictionary<string, string> tags)
    {
        if (tags.Count == 0) return Empty;
        if (tags.Count > 8) return tags;
        var key = string.Join('\u0001', tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => t.Key + '\u0002' + t.Value));
        if (_tagSets.TryGetValue(key, out var shared)) return shared;
        if (_tagSets.Count < MaxEntries) _tagSets[key] = tags;
        return tags;
    }
}
