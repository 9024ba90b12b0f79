using System.ComponentModel.DataAnnotations;

namespace VisualSearch.Index.AzureSearch;

/// <summary>The vector search algorithm of the index's vector field.</summary>
public enum AzureSearchAlgorithm
{
    /// <summary>Approximate nearest neighbours over an HNSW graph (the default; m, efConstruction, efSearch configurable).</summary>
    Hnsw,

    /// <summary>Exact brute-force k-NN: every query scans every vector (small indexes, or to measure HNSW recall).</summary>
    ExhaustiveKnn,
}

/// <summary>How the index keeps its vectors for search (REST 2024-07-01 <c>vectorSearch.compressions</c>).</summary>
public enum AzureSearchVectorCompression
{
    /// <summary>Full-precision float32 vectors in the vector index (2,048 bytes of vector quota for 512 dimensions).</summary>
    None,

    /// <summary>
    /// Scalar quantization to int8 (<c>kind: scalarQuantization</c>, <c>quantizedDataType: int8</c>): about a quarter of the
    /// vector quota; the full-precision vectors stay on disk for re-scoring (<see cref="AzureSearchOptions.RerankWithOriginalVectors"/>).
    /// </summary>
    ScalarInt8,
}

/// <summary>
/// Azure AI Search as the vector index. Section "AzureSearch" (environment: AzureSearch__Endpoint, ...).
/// Used when VectorIndex:Provider is AzureSearch.
/// </summary>
public sealed class AzureSearchOptions
{
    public const string SectionName = "AzureSearch";

    /// <summary>The service endpoint, https://&lt;service&gt;.search.windows.net (https only: Azure.Search.Documents refuses http).</summary>
    [Required(ErrorMessage = "AzureSearch:Endpoint is required when VectorIndex:Provider is AzureSearch: the service URL, https://<service>.search.windows.net.")]
    public Uri? Endpoint { get; set; }

    /// <summary>
    /// Base name of the indexes: each model gets &lt;IndexName&gt;-&lt;model id&gt;, and &lt;IndexName&gt;-meta holds the
    /// pointer to the current one. Lowercase letters, digits and single dashes; at most 60 characters.
    /// </summary>
    [Required(ErrorMessage = "AzureSearch:IndexName is required when VectorIndex:Provider is AzureSearch: the base name of the indexes, e.g. images.")]
    [RegularExpression("^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){1,59}$",
        ErrorMessage = "AzureSearch:IndexName must be 2-60 lowercase letters, digits or single dashes, starting and ending with a letter or digit (e.g. images).")]
    public string IndexName { get; set; } = "";

    /// <summary>An admin key. Unset or blank: Microsoft Entra ID (DefaultAzureCredential, or the managed identity <see cref="ClientId"/>).</summary>
    public string? ApiKey { get; set; }

    /// <summary>Client id of a user-assigned managed identity (without an API key); unset: DefaultAzureCredential (honours AZURE_CLIENT_ID).</summary>
    public string? ClientId { get; set; }

    public AzureSearchAlgorithm Algorithm { get; set; } = AzureSearchAlgorithm.Hnsw;

    /// <summary>HNSW: bi-directional links per node (the service allows 4-10).</summary>
    [Range(4, 10, ErrorMessage = "AzureSearch:HnswM must be from 4 to 10 (the service's range).")]
    public int HnswM { get; set; } = 4;

    /// <summary>HNSW: candidate list size while building (100-1000).</summary>
    [Range(100, 1000, ErrorMessage = "AzureSearch:HnswEfConstruction must be from 100 to 1000 (the service's range).")]
    public int HnswEfConstruction { get; set; } = 400;

    /// <summary>HNSW: candidate list size while searching (100-1000).</summary>
    [Range(100, 1000, ErrorMessage = "AzureSearch:HnswEfSearch must be from 100 to 1000 (the service's range).")]
    public int HnswEfSearch { get; set; } = 500;

    /// <summary>
    /// Compression of the vectors of a new index version (default <see cref="AzureSearchVectorCompression.ScalarInt8"/>). An
    /// existing index keeps what it was built with; a change is a new version (<c>vsearch reindex</c>).
    /// </summary>
    public AzureSearchVectorCompression VectorCompression { get; set; } = AzureSearchVectorCompression.ScalarInt8;

    /// <summary>
    /// Keep a retrievable copy of the float32 vectors (<c>stored: true</c>). Default false: the vector field is
    /// <c>stored: false, retrievable: false</c> and a compact float16 copy in a plain string field serves search by id.
    /// A change is a new version, like <see cref="VectorCompression"/>.
    /// </summary>
    public bool StoreOriginalVectors { get; set; }

    /// <summary>
    /// With compression: re-score the oversampled candidates with the full-precision vectors (exact cosine scores). A
    /// query-time setting: an existing index's compression is updated in place, like <see cref="DefaultOversampling"/>.
    /// </summary>
    public bool RerankWithOriginalVectors { get; set; } = true;

    /// <summary>
    /// With compression and re-ranking: candidates fetched per result (k x this) before re-scoring; 1 is none. The service
    /// takes it only with <see cref="RerankWithOriginalVectors"/>.
    /// </summary>
    [Range(1.0, 100.0, ErrorMessage = "AzureSearch:DefaultOversampling must be from 1 to 100.")]
    public double DefaultOversampling { get; set; } = 4;

    /// <summary>Retries of a request that failed with 408, 429, 5xx or a network error (Retry-After is honoured).</summary>
    [Range(0, 10, ErrorMessage = "AzureSearch:MaxRetries must be from 0 to 10.")]
    public int MaxRetries { get; set; } = 5;

    /// <summary>First back-off delay when the service gives no Retry-After; it doubles up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(0.8);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Documents per indexing request (the service takes at most 1,000).</summary>
    [Range(1, 1000, ErrorMessage = "AzureSearch:BatchSize must be from 1 to 1000 (the service takes at most 1,000 documents per request).")]
    public int BatchSize { get; set; } = 1000;

    /// <summary>Bytes of JSON per indexing request (the service takes at most 16 MB; the default leaves a margin).</summary>
    [Range(64 * 1024, 16 * 1024 * 1024, ErrorMessage = "AzureSearch:MaxBatchBytes must be from 65536 to 16777216 (the service takes at most 16 MB per request).")]
    public int MaxBatchBytes { get; set; } = 15 * 1024 * 1024;
}
