using System.Text.Json;
using System.Text.Json.Serialization;
using VisualSearch.Indexing;

namespace VisualSearch.Index.AzureSearch;

/// <summary>One stored item as an Azure AI Search document (field names: <see cref="AzureSearchSchema"/>).</summary>
public sealed class AzureSearchDocument
{
    private static readonly JsonSerializerOptions TagsJson = new(JsonSerializerDefaults.Web);

    [JsonPropertyName(AzureSearchSchema.Key)]
    public string Key { get; set; } = "";

    [JsonPropertyName(AzureSearchSchema.ItemId)]
    public string? ItemId { get; set; }

    [JsonPropertyName(AzureSearchSchema.Vector)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public float[]? Vector { get; set; }

    /// <summary>The compact copy of <see cref="Vector"/> (<see cref="VectorCopyCodec"/>), only where the originals are not retrievable.</summary>
    [JsonPropertyName(AzureSearchSchema.VectorCopy)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? VectorCopy { get; set; }

    [JsonPropertyName(AzureSearchSchema.ModelId)]
    public string? ModelId { get; set; }

    [JsonPropertyName(AzureSearchSchema.Source)]
    public string? Source { get; set; }

    [JsonPropertyName(AzureSearchSchema.Name)]
    public string? Name { get; set; }

    [JsonPropertyName(AzureSearchSchema.ETag)]
    public string? ETag { get; set; }

    [JsonPropertyName(AzureSearchSchema.ContentHash)]
    public string? ContentHash { get; set; }

    [JsonPropertyName(AzureSearchSchema.Size)]
    public long? Size { get; set; }

    [JsonPropertyName(AzureSearchSchema.ContentType)]
    public string? ContentType { get; set; }

    [JsonPropertyName(AzureSearchSchema.Width)]
    public int? Width { get; set; }

    [JsonPropertyName(AzureSearchSchema.Height)]
    public int? Height { get; set; }

    [JsonPropertyName(AzureSearchSchema.UploadedAt)]
    public DateTimeOffset? UploadedAt { get; set; }

    [JsonPropertyName(AzureSearchSchema.IndexedAt)]
    public DateTimeOffset? IndexedAt { get; set; }

    [JsonPropertyName(AzureSearchSchema.Album)]
    public string? Album { get; set; }

    [JsonPropertyName(AzureSearchSchema.Owner)]
    public string? Owner { get; set; }

    [JsonPropertyName(AzureSearchSchema.Tag)]
    public string? Tag { get; set; }

    /// <summary>Every client tag as JSON (the filterable ones are also in their own fields).</summary>
    [JsonPropertyName(AzureSearchSchema.Tags)]
    public string? Tags { get; set; }

    /// <summary>Set only in an index with regions: true on a region's document, false on the item's own.</summary>
    [JsonPropertyName(AzureSearchSchema.IsRegion)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? IsRegion { get; set; }

    [JsonPropertyName(AzureSearchSchema.RegionX)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? RegionX { get; set; }

    [JsonPropertyName(AzureSearchSchema.RegionY)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? RegionY { get; set; }

    [JsonPropertyName(AzureSearchSchema.RegionWidth)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? RegionWidth { get; set; }

    [JsonPropertyName(AzureSearchSchema.RegionHeight)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? RegionHeight { get; set; }

    /// <summary>The region this document stands for; null for an item's own document.</summary>
    [JsonIgnore]
    public RegionBox? Region => IsRegion == true ? new RegionBox(RegionX ?? 0, RegionY ?? 0, RegionWidth ?? 0, RegionHeight ?? 0) : null;

    /// <summary>
    /// An item's documents in an index with regions: its own (<see cref="IsRegion"/> false) and one per region,
    /// keyed <see cref="DocumentKeys.Region"/>, each with the item's id and metadata (so filters apply to it alike).
    /// </summary>
    public static List<AzureSearchDocument> WithRegions(VectorRecord record, bool withCopy = false)
    {
        ArgumentNullException.ThrowIfNull(record);
        var item = From(record, withCopy);
        item.IsRegion = false;
        var documents = new List<AzureSearchDocument>(1 + record.Regions.Count) { item };
        for (var i = 0; i < record.Regions.Count; i++)
        {
            var (vector, box) = (record.Regions[i].Vector, record.Regions[i].Box);
            var region = From(record with { Vector = vector }, withCopy);
            region.Key = DocumentKeys.Region(item.Key, i);
            region.IsRegion = true;
            (region.RegionX, region.RegionY, region.RegionWidth, region.RegionHeight) = (box.X, box.Y, box.Width, box.Height);
            documents.Add(region);
        }

        return documents;
    }

    /// <param name="withCopy">Add the compact copy of the vector (an index whose originals are not retrievable).</param>
    public static AzureSearchDocument From(VectorRecord record, bool withCopy = false)
    {
        ArgumentNullException.ThrowIfNull(record);
        var m = record.Metadata;
        return new AzureSearchDocument
        {
            Key = DocumentKeys.Encode(record.Id),
            ItemId = record.Id,
            Vector = record.Vector,
            VectorCopy = withCopy ? VectorCopyCodec.Encode(record.Vector) : null,
            ModelId = m.ModelId,
            Source = m.Source,
            Name = m.Name,
            ETag = m.ETag,
            ContentHash = m.ContentHash,
            Size = m.Size,
            ContentType = m.ContentType,
            Width = m.Width,
            Height = m.Height,
            UploadedAt = m.UploadedAt,
            IndexedAt = m.IndexedAt,
            Album = m.Tags.GetValueOrDefault("album"),
            Owner = m.Tags.GetValueOrDefault("owner"),
            Tag = m.Tags.GetValueOrDefault("tag"),
            Tags = JsonSerializer.Serialize(m.Tags, TagsJson),
        };
    }

    public ItemMetadata ToMetadata() => new()
    {
        Source = Source ?? "",
        Name = Name ?? "",
        ETag = ETag,
        ContentHash = ContentHash ?? "",
        Size = Size ?? 0,
        ContentType = ContentType ?? "",
        Width = Width ?? 0,
        Height = Height ?? 0,
        UploadedAt = UploadedAt ?? default,
        IndexedAt = IndexedAt ?? default,
        ModelId = ModelId ?? "",
        Tags = string.IsNullOrEmpty(Tags)
            ? new Dictionary<string, string>()
            : JsonSerializer.Deserialize<Dictionary<string, string>>(Tags, TagsJson) ?? new Dictionary<string, string>(),
    };

    /// <summary>The record: the vector read back, or else decoded from its copy (<paramref name="dimension"/> components).</summary>
    public VectorRecord ToRecord(int dimension) =>
        new(ItemId ?? "", Vector ?? (VectorCopy is null ? [] : VectorCopyCodec.Decode(VectorCopy, dimension)), ToMetadata());
}
