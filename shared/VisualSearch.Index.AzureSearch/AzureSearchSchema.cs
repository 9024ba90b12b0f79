namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// The index definitions this backend creates (REST api-version 2024-07-01, <see cref="IndexDefinitionClient"/>): one
/// index per model with a key, the original item id, the vector (the model's dimension, one vector profile over HNSW or
/// exhaustive k-NN, cosine, with int8 scalar quantization unless <see cref="AzureSearchVectorCompression.None"/>; stored
/// for retrieval only with <see cref="AzureSearchOptions.StoreOriginalVectors"/>, otherwise a compact copy in
/// <see cref="VectorCopy"/>), the model id, and the metadata with the fields <see cref="Indexing.SearchFilter"/> filters
/// on marked filterable. An index made with regions on (issue 14) also holds one document per region vector of an item:
/// it carries the item's id in <see cref="ItemId"/> (filterable there), <see cref="IsRegion"/> true and the box in
/// <see cref="RegionX"/>..<see cref="RegionHeight"/>, beside a copy of the item's metadata so that filters apply to it
/// alike; the presence of <see cref="IsRegion"/> is how an index records that regions are on. And the small "-meta" index holding the pointer to the current model's index.
/// </summary>
public static class AzureSearchSchema
{
    public const string Key = "key";
    public const string ItemId = "itemId";
    public const string Vector = "vector";
    public const string ModelId = "modelId";
    public const string Source = "source";
    public const string Name = "name";
    public const string ETag = "etag";
    public const string ContentHash = "contentHash";
    public const string Size = "size";
    public const string ContentType = "contentType";
    public const string Width = "width";
    public const string Height = "height";
    public const string UploadedAt = "uploadedAt";
    public const string IndexedAt = "indexedAt";
    public const string Album = "album";
    public const string Owner = "owner";
    public const string Tag = "tag";
    public const string Tags = "tags";

    /// <summary>True on a region's document, false on the item's own (indexes made with regions on only).</summary>
    public const string IsRegion = "isRegion";
    public const string RegionX = "regionX";
    public const string RegionY = "regionY";
    public const string RegionWidth = "regionWidth";
    public const string RegionHeight = "regionHeight";

    /// <summary>The fields an index with regions adds to a search result's.</summary>
    public static readonly IReadOnlyList<string> RegionFields = [IsRegion, RegionX, RegionY, RegionWidth, RegionHeight];

    /// <summary>The float16 copy of the vector that search by id reads when the originals are not retrievable (<see cref="VectorCopyCodec"/>).</summary>
    public const string VectorCopy = "vectorCopy";

    public const string ProfileName = "vector-profile";
    public const string CompressionName = "sq8";
    public const string HnswName = "hnsw";
    public const string ExhaustiveName = "exhaustive-knn";

    /// <summary>Fields read back for search results (everything but the vector and its copy).</summary>
    public static readonly IReadOnlyList<string> MetadataFields =
        [Key, ItemId, ModelId, Source, Name, ETag, ContentHash, Size, ContentType, Width, Height, UploadedAt, IndexedAt, Album, Owner, Tag, Tags];

    /// <summary>Fields read back for search results of an index with or without regions.</summary>
    public static IReadOnlyList<string> ResultFields(bool regions) => regions ? [.. MetadataFields, .. RegionFields] : MetadataFields;

    /// <summary>Fields read back by a lookup: the metadata and the vector, or its copy when the originals are not retrievable.</summary>
    public static IReadOnlyList<string> LookupFields(VectorLayout layout) =>
        [.. MetadataFields, layout.StoreOriginals ? Vector : VectorCopy];

    /// <summary>
    /// Whether the key field of an index is sortable: what listing its items in pages needs (<c>$orderby=key</c> with
    /// <c>key gt</c> the last key seen). Indexes made before listing existed have an unsortable key, and the service
    /// cannot make an existing field sortable.
    /// </summary>
    public static bool KeySortable(IndexDefinition index) => index?.Fields.FirstOrDefault(f => f.Key == true) is { } key && key.Sortable != false;

    /// <summary>Whether an existing index was made with regions on (it has the <see cref="IsRegion"/> field).</summary>
    public static bool HasRegions(IndexDefinition index) => index?.Fields.Any(f => f.Name == IsRegion) ?? false;

    /// <summary>
    /// The definition of a model's index with <paramref name="layout"/>. A compression already in
    /// <paramref name="existing"/> keeps its name; its re-ranking and oversampling follow the options (query-time
    /// settings, updated in place).
    /// </summary>
    /// <param name="regions">Documents per region (issue 14): <see cref="ItemId"/> filterable and the region fields added.</param>
    public static IndexDefinition VectorIndex(string name, int dimension, AzureSearchOptions options, VectorLayout layout, IndexDefinition? existing = null, bool regions = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(layout);
        var algorithm = options.Algorithm == AzureSearchAlgorithm.ExhaustiveKnn
            ? new AlgorithmDefinition { Name = ExhaustiveName, Kind = "exhaustiveKnn", ExhaustiveKnnParameters = new() { Metric = "cosine" } }
            : new AlgorithmDefinition
            {
                Name = HnswName,
                Kind = "hnsw",
                HnswParameters = new() { M = options.HnswM, EfConstruction = options.HnswEfConstruction, EfSearch = options.HnswEfSearch, Metric = "cosine" },
            };
        var kept = ExistingCompression(existing);
        var compression = layout.Compression == AzureSearchVectorCompression.None ? null
            : new CompressionDefinition
            {
                Name = kept?.Name ?? CompressionName,
                Kind = "scalarQuantization",
                ScalarQuantizationParameters = new() { QuantizedDataType = "int8" },
                // Query-time settings: an existing index takes a change in place.
                RerankWithOriginalVectors = options.RerankWithOriginalVectors,
                // The service takes an oversampling only with re-ranking.
                DefaultOversampling = options.RerankWithOriginalVectors ? options.DefaultOversampling : null,
            };
        var fields = new List<FieldDefinition>
        {
            // Sortable so that a scan can page by key (orderby key plus "key gt last"); an existing index keeps what it has.
            Field(Key, "Edm.String", key: true, filterable: true, sortable: existing is null || KeySortable(existing)),
            Field(ItemId, "Edm.String", filterable: regions),
            new()
            {
                Name = Vector,
                Type = "Collection(Edm.Single)",
                Searchable = true,
                Retrievable = layout.StoreOriginals,
                Stored = layout.StoreOriginals,
                Dimensions = dimension,
                VectorSearchProfile = ProfileName,
            },
        };
        if (!layout.StoreOriginals) fields.Add(Field(VectorCopy, "Edm.String"));
        fields.AddRange(
        [
            Field(ModelId, "Edm.String", filterable: true),
            Field(Source, "Edm.String", filterable: true),
            Field(Name, "Edm.String"),
            Field(ETag, "Edm.String"),
            Field(ContentHash, "Edm.String"),
            Field(Size, "Edm.Int64"),
            Field(ContentType, "Edm.String", filterable: true),
            Field(Width, "Edm.Int32"),
            Field(Height, "Edm.Int32"),
            Field(UploadedAt, "Edm.DateTimeOffset", filterable: true, sortable: true),
            Field(IndexedAt, "Edm.DateTimeOffset"),
            Field(Album, "Edm.String", filterable: true),
            Field(Owner, "Edm.String", filterable: true),
            Field(Tag, "Edm.String", filterable: true),
            Field(Tags, "Edm.String"),
        ]);
        if (regions)
        {
            fields.AddRange(
            [
                Field(IsRegion, "Edm.Boolean", filterable: true),
                Field(RegionX, "Edm.Int32"),
                Field(RegionY, "Edm.Int32"),
                Field(RegionWidth, "Edm.Int32"),
                Field(RegionHeight, "Edm.Int32"),
            ]);
        }

        return new IndexDefinition
        {
            Name = name,
            Fields = fields,
            VectorSearch = new VectorSearchDefinition
            {
                Algorithms = [algorithm],
                Profiles = [new ProfileDefinition { Name = ProfileName, Algorithm = algorithm.Name, Compression = compression?.Name }],
                Compressions = compression is null ? null : [compression],
            },
        };
    }

    /// <summary>The pointer index: one document, key "current", naming the current model and its index.</summary>
    public static IndexDefinition MetaIndex(string name) => new()
    {
        Name = name,
        Fields =
        [
            Field(Key, "Edm.String", key: true, filterable: true),
            Field(ModelId, "Edm.String"),
            Field("indexName", "Edm.String"),
            Field("dimension", "Edm.Int32"),
            Field("switchedAt", "Edm.DateTimeOffset"),
        ],
    };

    /// <summary>The vector dimension of an existing index definition, or null if it has no vector field.</summary>
    public static int? DimensionOf(IndexDefinition index) => index?.Fields.FirstOrDefault(f => f.Name == Vector)?.Dimensions;

    /// <summary>
    /// True if <paramref name="existing"/> already has every field of <paramref name="wanted"/> with the same type,
    /// flags and storage, and the same vector search configuration: then nothing needs to be sent.
    /// </summary>
    public static bool Satisfies(IndexDefinition existing, IndexDefinition wanted)
    {
        ArgumentNullException.ThrowIfNull(existing);
        ArgumentNullException.ThrowIfNull(wanted);
        foreach (var field in wanted.Fields)
        {
            var have = existing.Fields.FirstOrDefault(f => f.Name == field.Name);
            if (have is null || have.Type != field.Type || (have.Key ?? false) != (field.Key ?? false)
                || (have.Filterable ?? false) != (field.Filterable ?? false)
                || (have.Retrievable ?? true) != (field.Retrievable ?? true) || (have.Stored ?? true) != (field.Stored ?? true)
                || have.Dimensions != field.Dimensions || have.VectorSearchProfile != field.VectorSearchProfile)
                return false;
        }

        if (wanted.VectorSearch is null) return true;
        if (existing.VectorSearch is null) return false;
        var profile = existing.VectorSearch.Profiles.FirstOrDefault(p => p.Name == ProfileName);
        var wantedProfile = wanted.VectorSearch.Profiles[0];
        if (profile is null || profile.Compression != wantedProfile.Compression) return false;
        var wantedCompression = wanted.VectorSearch.Compressions?.FirstOrDefault(c => c.Name == wantedProfile.Compression);
        var compression = existing.VectorSearch.Compressions?.FirstOrDefault(c => c.Name == profile.Compression);
        if (wantedCompression is not null && !SameCompression(compression, wantedCompression)) return false;
        var w = wanted.VectorSearch.Algorithms[0];
        var a = existing.VectorSearch.Algorithms.FirstOrDefault(x => x.Name == profile.Algorithm);
        if (a is null || a.Name != w.Name || a.Kind != w.Kind) return false;
        return w.Kind == "hnsw"
            ? a.HnswParameters?.M == w.HnswParameters!.M && a.HnswParameters?.EfConstruction == w.HnswParameters.EfConstruction
              && a.HnswParameters?.EfSearch == w.HnswParameters.EfSearch && a.HnswParameters?.Metric == w.HnswParameters.Metric
            : a.ExhaustiveKnnParameters?.Metric == w.ExhaustiveKnnParameters?.Metric;
    }

    private static bool SameCompression(CompressionDefinition? a, CompressionDefinition b) =>
        a is not null && a.Kind == b.Kind && a.RerankWithOriginalVectors == b.RerankWithOriginalVectors
        && a.DefaultOversampling == b.DefaultOversampling
        && a.ScalarQuantizationParameters?.QuantizedDataType == b.ScalarQuantizationParameters?.QuantizedDataType;

    /// <summary>The compression the vector field's profile of <paramref name="existing"/> names, or null.</summary>
    internal static CompressionDefinition? ExistingCompression(IndexDefinition? existing)
    {
        var profileName = existing?.Fields.FirstOrDefault(f => f.Name == Vector)?.VectorSearchProfile;
        var compressionName = existing?.VectorSearch?.Profiles.FirstOrDefault(p => p.Name == profileName)?.Compression;
        return compressionName is null ? null : existing!.VectorSearch!.Compressions?.FirstOrDefault(c => c.Name == compressionName);
    }

    private static FieldDefinition Field(string name, string type, bool key = false, bool filterable = false, bool sortable = false) => new()
    {
        Name = name,
        Type = type,
        Key = key,
        Retrievable = true,
        Searchable = false,
        Filterable = filterable,
        Sortable = sortable,
        Facetable = false,
    };
}

/// <summary>
/// How a version keeps its vectors: the compression and whether the float32 originals are retrievable. Both are fixed
/// when the index is created (the service refuses to change <c>stored</c> or a field's profile in place), so each
/// layout is its own version, named with <see cref="NameSuffix"/>.
/// </summary>
public sealed record VectorLayout(AzureSearchVectorCompression Compression, bool StoreOriginals)
{
    /// <summary>What the options ask new versions to use.</summary>
    public static VectorLayout From(AzureSearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(options.VectorCompression, options.StoreOriginalVectors);
    }

    /// <summary>What an existing index was built with (an index made before compression existed: None, stored).</summary>
    public static VectorLayout Of(IndexDefinition existing)
    {
        ArgumentNullException.ThrowIfNull(existing);
        var vector = existing.Fields.FirstOrDefault(f => f.Name == AzureSearchSchema.Vector);
        var compression = AzureSearchSchema.ExistingCompression(existing);
        var kind = compression is null ? AzureSearchVectorCompression.None
            : compression is { Kind: "scalarQuantization", ScalarQuantizationParameters.QuantizedDataType: "int8" } ? AzureSearchVectorCompression.ScalarInt8
            : throw new NotSupportedException($"The index '{existing.Name}' compresses its vectors with '{compression.Kind}', which this version does not use; build a new version with vsearch reindex.");
        return new(kind, vector is null || (vector.Stored ?? true) && (vector.Retrievable ?? true));
    }

    /// <summary>"" for the layout of earlier releases (None, stored), so their indexes keep their names; "-sq8" for int8, "-ns" for not stored.</summary>
    public string NameSuffix => (Compression == AzureSearchVectorCompression.ScalarInt8 ? "-sq8" : "") + (StoreOriginals ? "" : "-ns");

    public override string ToString() =>
        $"{(Compression == AzureSearchVectorCompression.None ? "uncompressed" : "int8 scalar quantization")}, originals {(StoreOriginals ? "retrievable" : "not stored for retrieval")}";
}
