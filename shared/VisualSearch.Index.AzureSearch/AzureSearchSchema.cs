using Azure.Search.Documents.Indexes.Models;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// The index definitions this backend creates (REST api-version 2023-11-01): one index per model with a key,
/// the original item id, the vector (the model's dimension, one vector profile over HNSW or exhaustive k-NN,
/// cosine), the model id, and the metadata with the fields <see cref="Indexing.SearchFilter"/> filters on marked
/// filterable; and the small "-meta" index holding the pointer to the current model's index.
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

    public const string ProfileName = "vector-profile";
    public const string HnswName = "hnsw";
    public const string ExhaustiveName = "exhaustive-knn";

    /// <summary>Fields read back for search results (everything but the vector).</summary>
    public static readonly IReadOnlyList<string> MetadataFields =
        [Key, ItemId, ModelId, Source, Name, ETag, ContentHash, Size, ContentType, Width, Height, UploadedAt, IndexedAt, Album, Owner, Tag, Tags];

    /// <summary>Fields read back by a lookup (everything).</summary>
    public static readonly IReadOnlyList<string> AllFields = [.. MetadataFields, Vector];

    public static SearchIndex VectorIndex(string name, int dimension, AzureSearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        VectorSearchAlgorithmConfiguration algorithm = options.Algorithm == AzureSearchAlgorithm.ExhaustiveKnn
            ? new ExhaustiveKnnAlgorithmConfiguration(ExhaustiveName)
            {
                Parameters = new ExhaustiveKnnParameters { Metric = VectorSearchAlgorithmMetric.Cosine },
            }
            : new HnswAlgorithmConfiguration(HnswName)
            {
                Parameters = new HnswParameters
                {
                    M = options.HnswM,
                    EfConstruction = options.HnswEfConstruction,
                    EfSearch = options.HnswEfSearch,
                    Metric = VectorSearchAlgorithmMetric.Cosine,
                },
            };
        var index = new SearchIndex(name)
        {
            Fields =
            {
                Field(Key, SearchFieldDataType.String, key: true, filterable: true),
                Field(ItemId, SearchFieldDataType.String),
                new SearchField(Vector, SearchFieldDataType.Collection(SearchFieldDataType.Single))
                {
                    IsSearchable = true,
                    IsHidden = false,
                    VectorSearchDimensions = dimension,
                    VectorSearchProfileName = ProfileName,
                },
                Field(ModelId, SearchFieldDataType.String, filterable: true),
                Field(Source, SearchFieldDataType.String, filterable: true),
                Field(Name, SearchFieldDataType.String),
                Field(ETag, SearchFieldDataType.String),
                Field(ContentHash, SearchFieldDataType.String),
                Field(Size, SearchFieldDataType.Int64),
                Field(ContentType, SearchFieldDataType.String, filterable: true),
                Field(Width, SearchFieldDataType.Int32),
                Field(Height, SearchFieldDataType.Int32),
                Field(UploadedAt, SearchFieldDataType.DateTimeOffset, filterable: true, sortable: true),
                Field(IndexedAt, SearchFieldDataType.DateTimeOffset),
                Field(Album, SearchFieldDataType.String, filterable: true),
                Field(Owner, SearchFieldDataType.String, filterable: true),
                Field(Tag, SearchFieldDataType.String, filterable: true),
                Field(Tags, SearchFieldDataType.String),
            },
            VectorSearch = new VectorSearch
            {
                Algorithms = { algorithm },
                Profiles = { new VectorSearchProfile(ProfileName, algorithm.Name) },
            },
        };
        return index;
    }

    /// <summary>The pointer index: one document, key "current", naming the current model and its index.</summary>
    public static SearchIndex MetaIndex(string name) => new(name)
    {
        Fields =
        {
            Field(Key, SearchFieldDataType.String, key: true, filterable: true),
            Field(ModelId, SearchFieldDataType.String),
            Field("indexName", SearchFieldDataType.String),
            Field("dimension", SearchFieldDataType.Int32),
            Field("switchedAt", SearchFieldDataType.DateTimeOffset),
        },
    };

    /// <summary>The vector dimension of an existing index definition, or null if it has no vector field.</summary>
    public static int? DimensionOf(SearchIndex index) =>
        index?.Fields.FirstOrDefault(f => f.Name == Vector)?.VectorSearchDimensions;

    /// <summary>
    /// True if <paramref name="existing"/> already has every field of <paramref name="wanted"/> with the same type
    /// and flags, and the same vector search configuration: then nothing needs to be sent.
    /// </summary>
    public static bool Satisfies(SearchIndex existing, SearchIndex wanted)
    {
        ArgumentNullException.ThrowIfNull(existing);
        ArgumentNullException.ThrowIfNull(wanted);
        foreach (var field in wanted.Fields)
        {
            var have = existing.Fields.FirstOrDefault(f => f.Name == field.Name);
            if (have is null || have.Type != field.Type || (have.IsKey ?? false) != (field.IsKey ?? false)
                || (have.IsFilterable ?? false) != (field.IsFilterable ?? false)
                || have.VectorSearchDimensions != field.VectorSearchDimensions
                || have.VectorSearchProfileName != field.VectorSearchProfileName)
                return false;
        }

        if (wanted.VectorSearch is null) return true;
        if (existing.VectorSearch is null) return false;
        var profile = existing.VectorSearch.Profiles.FirstOrDefault(p => p.Name == ProfileName);
        var wantedAlgorithm = wanted.VectorSearch.Algorithms[0];
        var algorithm = existing.VectorSearch.Algorithms.FirstOrDefault(a => a.Name == profile?.AlgorithmConfigurationName);
        return (wantedAlgorithm, algorithm) switch
        {
            (HnswAlgorithmConfiguration w, HnswAlgorithmConfiguration h) =>
                h.Name == w.Name && h.Parameters?.M == w.Parameters.M && h.Parameters?.EfConstruction == w.Parameters.EfConstruction
                && h.Parameters?.EfSearch == w.Parameters.EfSearch && h.Parameters?.Metric == w.Parameters.Metric,
            (ExhaustiveKnnAlgorithmConfiguration w, ExhaustiveKnnAlgorithmConfiguration e) => e.Name == w.Name && e.Parameters?.Metric == w.Parameters.Metric,
            _ => false,
        };
    }

    private static SearchField Field(string name, SearchFieldDataType type, bool key = false, bool filterable = false, bool sortable = false) => new(name, type)
    {
        IsKey = key,
        IsHidden = false,
        IsSearchable = false,
        IsFilterable = filterable,
        IsSortable = sortable,
        IsFacetable = false,
    };
}
