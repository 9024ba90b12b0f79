namespace VisualSearch.Index.AzureSearch;

/// <summary>A search service tier: per-partition quotas, allowed partition counts, and the list price of one search unit.</summary>
/// <param name="StorageBytes">Storage per partition (GB = 10^9 bytes here).</param>
/// <param name="VectorBytes">Vector index quota per partition.</param>
/// <param name="MonthlyPrice">USD per search unit (one replica of one partition) per month of 730 hours.</param>
/// <param name="MaxReplicas">Replicas the tier allows.</param>
/// <param name="MaxSearchUnits">Replicas x partitions the tier allows.</param>
public sealed record SearchTier(string Name, long StorageBytes, long VectorBytes, IReadOnlyList<int> Partitions, int MaxReplicas, int MaxSearchUnits, double MonthlyPrice);

/// <summary>One tier's answer: the partitions that hold the index (null: it does not fit) and what that costs.</summary>
public sealed record TierFit(SearchTier Tier, int? Partitions, int Replicas, double? MonthlyPrice);

/// <summary>One index's share of the estimate: the vectors each item has there, the bytes it takes, and the totals.</summary>
public sealed record SpaceSize(int VectorsPerItem, int Dimension, double VectorBytesPerItem, double StorageBytesPerItem, long VectorBytes, long StorageBytes);

/// <summary>
/// Bytes one item takes, and the totals for the whole library with one index version. The per-item figures and totals
/// are the category space's; with a copy space (<see cref="Copy"/>) the tiers are fitted to both indexes together.
/// </summary>
/// <param name="VectorBytesPerItem">Vector index quota per item: the vectors as indexed (int8 or float32) plus the HNSW links, with the deleted-document allowance.</param>
/// <param name="StorageBytesPerItem">Storage per item: the vector index, the full-precision originals kept for re-scoring, the retrievable copy or our compact copy, and the metadata.</param>
public sealed record SizingLayout(VectorLayout Layout, double VectorBytesPerItem, double StorageBytesPerItem, long VectorBytes, long StorageBytes, IReadOnlyList<TierFit> Tiers)
{
    /// <summary>The copy space (<c>Encoder__CopyDescriptor=FeatureMap</c>): a second index on the same service; null without one.</summary>
    public SpaceSize? Copy { get; init; }

    /// <summary>Vector quota of every index on the service, one version each.</summary>
    public long TotalVectorBytes => VectorBytes + (Copy?.VectorBytes ?? 0);

    /// <summary>Storage of every index on the service, one version each.</summary>
    public long TotalStorageBytes => StorageBytes + (Copy?.StorageBytes ?? 0);

    /// <summary>The cheapest tier that holds one version (of both spaces, with a copy space).</summary>
    public TierFit? Cheapest => Tiers.Where(t => t.MonthlyPrice is not null).MinBy(t => t.MonthlyPrice);

    /// <summary>The cheapest tier that holds two versions side by side (of both spaces, with a copy space), as during <c>vsearch reindex</c>.</summary>
    public TierFit? CheapestForReindex { get; init; }
}

/// <summary>
/// The size and monthly price of an Azure AI Search service holding <c>items</c> photos (<c>vsearch sizing</c>,
/// docs/deploy.md). The quotas are those of services created after the 2024 capacity increase; the prices are the
/// public pay-as-you-go list prices for East US as known when this was written (<see cref="PriceListDate"/>), not read
/// live: re-check them at https://azure.microsoft.com/pricing/details/search/ before relying on them.
/// </summary>
public static class AzureSearchSizing
{
    /// <summary>When the quotas and prices below were last checked against Microsoft's pages (from memory of them; no internet here).</summary>
    public const string PriceListDate = "2025-06 (recalled, not re-read; re-check before use)";

    public const long GB = 1_000_000_000;

    /// <summary>The documented estimate's allowance for deleted and updated documents not yet purged from the vector index.</summary>
    public const double DeletedAllowance = 0.10;

    /// <summary>Our document's fields beside the vectors (key, ids, names, hash, tags, dates) with their index structures: an estimate.</summary>
    public const int MetadataBytes = 1024;

    /// <summary>A region vector's own document (key, parent id, model id) beside its vector: an estimate.</summary>
    public const int RegionDocumentBytes = 256;

    /// <summary>Quotas of services created after the 2024 capacity increase (April-May 2024 onwards).</summary>
    public static readonly IReadOnlyList<SearchTier> Tiers =
    [
        new("Basic", 15 * GB, 5 * GB, [1, 2, 3], 3, 9, 73.73),
        new("S1", 160 * GB, 35 * GB, [1, 2, 3, 4, 6, 12], 12, 36, 245.28),
        new("S2", 512 * GB, 150 * GB, [1, 2, 3, 4, 6, 12], 12, 36, 981.12),
        new("S3", 1000 * GB, 300 * GB, [1, 2, 3, 4, 6, 12], 12, 36, 1962.24),
        new("L1", 2000 * GB, 150 * GB, [1, 2, 3, 4, 6, 12], 12, 36, 2802.47),
        new("L2", 4000 * GB, 300 * GB, [1, 2, 3, 4, 6, 12], 12, 36, 5604.21),
    ];

    /// <summary>
    /// Quotas of services created before the 2024 increase (and after vector search arrived in 2023), which keep them
    /// until they are re-created: here vector quota is what forces partitions, and compression pays.
    /// </summary>
    public static readonly IReadOnlyList<SearchTier> LegacyTiers =
    [
        new("Basic", 2 * GB, 1 * GB, [1], 3, 3, 73.73),
        new("S1", 25 * GB, 3 * GB, [1, 2, 3, 4, 6, 12], 12, 36, 245.28),
        new("S2", 100 * GB, 12 * GB, [1, 2, 3, 4, 6, 12], 12, 36, 981.12),
        new("S3", 200 * GB, 36 * GB, [1, 2, 3, 4, 6, 12], 12, 36, 1962.24),
        new("L1", 1000 * GB, 12 * GB, [1, 2, 3, 4, 6, 12], 12, 36, 2802.47),
        new("L2", 2000 * GB, 36 * GB, [1, 2, 3, 4, 6, 12], 12, 36, 5604.21),
    ];

    /// <summary>
    /// HNSW links per vector: 2m on the bottom layer and about m/(m-1) on the layers above (a node reaches layer l with
    /// probability m^-l, holding m links there), 4 bytes each. The documentation gives the graph's overhead as a
    /// percentage of the raw vectors (about 1% for 1,536-d float32 at m = 4, i.e. about 60 bytes); links do not shrink with
    /// compression, so a count of links is the better estimate for small int8 vectors.
    /// </summary>
    public static double HnswBytesPerVector(int m)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(m, 2);
        return 4.0 * (2 * m + m / (m - 1.0));
    }

    /// <summary>The estimate for each vector storage this backend can create.</summary>
    /// <param name="legacyQuotas">Use <see cref="LegacyTiers"/> (a service created before the 2024 increase).</param>
    /// <param name="copyRegions">With a value, a copy space beside the category space: a second index on the same service
    /// holding every item again, one vector plus this many detail-region vectors each (0 without detail regions).</param>
    /// <param name="copyDimension">The copy space's vector dimension (0: <paramref name="dimension"/>).</param>
    public static IReadOnlyList<SizingLayout> Estimate(long items, int regions = 0, int dimension = 512, int replicas = 2, int hnswM = 4, bool legacyQuotas = false,
        int? copyRegions = null, int copyDimension = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(items, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(regions);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        if (copyRegions is { } r) ArgumentOutOfRangeException.ThrowIfNegative(r, nameof(copyRegions));
        ArgumentOutOfRangeException.ThrowIfNegative(copyDimension);
        VectorLayout[] layouts =
        [
            new(AzureSearchVectorCompression.None, true),
            new(AzureSearchVectorCompression.ScalarInt8, true),
            new(AzureSearchVectorCompression.ScalarInt8, false),
        ];
        return layouts.Select(layout => Estimate(layout, items, regions, dimension, replicas, hnswM, legacyQuotas ? LegacyTiers : Tiers, copyRegions, copyDimension)).ToList();
    }

    /// <param name="copyRegions">With a value, a copy space of <paramref name="copyDimension"/>-d vectors (0: <paramref name="dimension"/>) on the same service, this many detail regions per item.</param>
    public static SizingLayout Estimate(VectorLayout layout, long items, int regions, int dimension, int replicas, int hnswM, IReadOnlyList<SearchTier> tiers,
        int? copyRegions = null, int copyDimension = 0)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        ArgumentNullException.ThrowIfNull(layout);
        var category = Space(layout, items, regions, dimension, hnswM);
        // The copy space is the same backend's second index: the same storage and document shape, its own vectors.
        var copy = copyRegions is { } r ? Space(layout, items, r, copyDimension == 0 ? dimension : copyDimension, hnswM) : null;
        long vectorBytes = category.VectorBytes + (copy?.VectorBytes ?? 0), storageBytes = category.StorageBytes + (copy?.StorageBytes ?? 0);
        var fits = tiers.Select(t => Fit(t, vectorBytes, storageBytes, replicas)).ToList();
        var twice = tiers.Select(t => Fit(t, 2 * vectorBytes, 2 * storageBytes, replicas)).Where(t => t.MonthlyPrice is not null).MinBy(t => t.MonthlyPrice);
        return new SizingLayout(layout, category.VectorBytesPerItem, category.StorageBytesPerItem, category.VectorBytes, category.StorageBytes, fits)
        {
            Copy = copy, CheapestForReindex = twice,
        };
    }

    private static SpaceSize Space(VectorLayout layout, long items, int regions, int dimension, int hnswM)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(regions);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 2);
        var vectors = 1 + regions;
        var compressed = layout.Compression == AzureSearchVectorCompression.ScalarInt8;
        var indexed = (compressed ? 1.0 : 4.0) * dimension + HnswBytesPerVector(hnswM);
        var vectorPerItem = vectors * indexed * (1 + DeletedAllowance);
        var full = 4.0 * dimension;
        var storagePerItem = vectorPerItem
            + vectors * (compressed ? full : 0)                                 // originals kept on disk for re-scoring
            + vectors * (layout.StoreOriginals ? full : 0)                      // the retrievable copy (stored: true)
            + (layout.StoreOriginals ? 0 : Math.Ceiling((4 + 2.0 * dimension) / 3) * 4) // our float16 copy of the item's vector
            + MetadataBytes + regions * RegionDocumentBytes;
        var vectorBytes = (long)Math.Ceiling(vectorPerItem * items);
        var storageBytes = (long)Math.Ceiling(storagePerItem * items);
        return new SpaceSize(vectors, dimension, vectorPerItem, storagePerItem, vectorBytes, storageBytes);
    }

    private static TierFit Fit(SearchTier tier, long vectorBytes, long storageBytes, int replicas)
    {
        foreach (var partitions in tier.Partitions)
        {
            if (replicas > tier.MaxReplicas || partitions * replicas > tier.MaxSearchUnits) break;
            if (partitions * tier.VectorBytes >= vectorBytes && partitions * tier.StorageBytes >= storageBytes)
                return new TierFit(tier, partitions, replicas, tier.MonthlyPrice * partitions * replicas);
        }

        return new TierFit(tier, null, replicas, null);
    }
}
