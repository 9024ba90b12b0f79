using System.Text.Json.Serialization;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// The part of a REST api-version 2024-07-01 index definition this backend writes and reads (the "Indexes - Create
/// Or Update" body): fields with <c>stored</c>, and <c>vectorSearch</c> with <c>compressions</c> and
/// <c>profiles[].compression</c>, none of which Azure.Search.Documents 11.5.1 (2023-11-01) can express. Unset
/// properties are left out of the JSON; properties the service returns that are not modelled here are ignored.
/// </summary>
public sealed class IndexDefinition
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [JsonPropertyName("fields")]
    public List<FieldDefinition> Fields { get; set; } = [];

    [JsonPropertyName("vectorSearch")]
    public VectorSearchDefinition? VectorSearch { get; set; }

    [JsonPropertyName("@odata.etag")]
    public string? ETag { get; set; }
}

/// <summary>A field. <see cref="Stored"/> (2024-07-01): false drops the copy kept for retrieval; vector fields only.</summary>
public sealed class FieldDefinition
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [JsonPropertyName("type")]
    public string Type { get; set; } = "";

    [JsonPropertyName("key")]
    public bool? Key { get; set; }

    [JsonPropertyName("retrievable")]
    public bool? Retrievable { get; set; }

    [JsonPropertyName("stored")]
    public bool? Stored { get; set; }

    [JsonPropertyName("searchable")]
    public bool? Searchable { get; set; }

    [JsonPropertyName("filterable")]
    public bool? Filterable { get; set; }

    [JsonPropertyName("sortable")]
    public bool? Sortable { get; set; }

    [JsonPropertyName("facetable")]
    public bool? Facetable { get; set; }

    [JsonPropertyName("dimensions")]
    public int? Dimensions { get; set; }

    [JsonPropertyName("vectorSearchProfile")]
    public string? VectorSearchProfile { get; set; }
}

public sealed class VectorSearchDefinition
{
    [JsonPropertyName("algorithms")]
    public List<AlgorithmDefinition> Algorithms { get; set; } = [];

    [JsonPropertyName("profiles")]
    public List<ProfileDefinition> Profiles { get; set; } = [];

    [JsonPropertyName("compressions")]
    public List<CompressionDefinition>? Compressions { get; set; }
}

/// <summary>An algorithm configuration: <c>kind</c> "hnsw" or "exhaustiveKnn".</summary>
public sealed class AlgorithmDefinition
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "";

    [JsonPropertyName("hnswParameters")]
    public HnswParametersDefinition? HnswParameters { get; set; }

    [JsonPropertyName("exhaustiveKnnParameters")]
    public ExhaustiveKnnParametersDefinition? ExhaustiveKnnParameters { get; set; }
}

public sealed class HnswParametersDefinition
{
    [JsonPropertyName("m")]
    public int? M { get; set; }

    [JsonPropertyName("efConstruction")]
    public int? EfConstruction { get; set; }

    [JsonPropertyName("efSearch")]
    public int? EfSearch { get; set; }

    [JsonPropertyName("metric")]
    public string? Metric { get; set; }
}

public sealed class ExhaustiveKnnParametersDefinition
{
    [JsonPropertyName("metric")]
    public string? Metric { get; set; }
}

/// <summary>A vector profile: an algorithm and (2024-07-01) an optional compression, both by name.</summary>
public sealed class ProfileDefinition
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [JsonPropertyName("algorithm")]
    public string Algorithm { get; set; } = "";

    [JsonPropertyName("compression")]
    public string? Compression { get; set; }
}

/// <summary>
/// A compression (2024-07-01): <c>kind</c> "scalarQuantization" (with <c>scalarQuantizationParameters.quantizedDataType</c>
/// "int8") or "binaryQuantization"; <c>rerankWithOriginalVectors</c>; <c>defaultOversampling</c> (at least 1, only with
/// re-ranking).
/// </summary>
public sealed class CompressionDefinition
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "";

    [JsonPropertyName("rerankWithOriginalVectors")]
    public bool? RerankWithOriginalVectors { get; set; }

    [JsonPropertyName("defaultOversampling")]
    public double? DefaultOversampling { get; set; }

    [JsonPropertyName("scalarQuantizationParameters")]
    public ScalarQuantizationParametersDefinition? ScalarQuantizationParameters { get; set; }
}

public sealed class ScalarQuantizationParametersDefinition
{
    [JsonPropertyName("quantizedDataType")]
    public string? QuantizedDataType { get; set; }
}
