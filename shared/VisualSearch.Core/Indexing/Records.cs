namespace VisualSearch.Indexing;

/// <summary>What is stored beside a vector. Every field is filterable or shown in results.</summary>
public sealed record ItemMetadata
{
    /// <summary>Where the image came from: a container name, or "file" for a local folder.</summary>
    public required string Source { get; init; }

    /// <summary>Blob name or relative path.</summary>
    public required string Name { get; init; }

    public string? ETag { get; init; }

    /// <summary>Hex SHA-256 of the encoded bytes.</summary>
    public required string ContentHash { get; init; }

    public long Size { get; init; }

    /// <summary>Media type judged from the bytes (not the declared one).</summary>
    public required string ContentType { get; init; }

    public int Width { get; init; }

    public int Height { get; init; }

    /// <summary>When the source was uploaded or last modified.</summary>
    public DateTimeOffset UploadedAt { get; init; }

    public DateTimeOffset IndexedAt { get; init; }

    /// <summary>The <see cref="Embedding.ModelInfo.Id"/> of the model that made the vector.</summary>
    public required string ModelId { get; init; }

    /// <summary>Client metadata from an allow-list (album, owner, tag).</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
}

/// <summary>A stored item: id, L2-normalised vector and metadata.</summary>
public sealed record VectorRecord(string Id, float[] Vector, ItemMetadata Metadata)
{
    /// <summary>
    /// Extra vectors of regions of the item's image (issue 14), of the same model and dimension as <see cref="Vector"/>;
    /// empty for an item with none. An index whose schema has <see cref="IndexSchema.Regions"/> off refuses them.
    /// The item's score in a search is the best of its own vector and these.
    /// </summary>
    public IReadOnlyList<RegionVector> Regions { get; init; } = [];
}

/// <summary>One search result (an item, never one of its regions); <see cref="Score"/> is the cosine similarity (higher is closer).</summary>
public sealed record SearchHit(string Id, float Score, ItemMetadata Metadata)
{
    /// <summary>The region whose vector gave <see cref="Score"/> (the best of the item's vectors); null when the item's own vector did.</summary>
    public RegionBox? Region { get; init; }
}

/// <summary>A k-NN query against an index.</summary>
/// <param name="K">Number of results wanted (at least 1).</param>
/// <param name="MinScore">Drop results below this cosine similarity.</param>
/// <param name="Filter">Metadata conditions every result meets.</param>
/// <param name="ExcludeId">An id never returned (the query item itself).</param>
public sealed record VectorQuery(int K, float? MinScore = null, SearchFilter? Filter = null, string? ExcludeId = null)
{
    /// <summary>Whose records may be returned (set by the server, never the client); default <see cref="OwnerScope.Everyone"/>.</summary>
    public OwnerScope Scope { get; init; } = OwnerScope.Everyone;

    /// <summary>
    /// Which of an item's vectors are scored (issue 14's whole-first copy search): all of them (default; the item scores
    /// the best of its own and its regions'), its own alone, or its regions alone (an item without regions is then no hit).
    /// </summary>
    public VectorSelection Vectors { get; init => field = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(Vectors), value, "Vectors is All, Own or Regions."); }

    /// <summary>True when a record must pass a condition: a scope other than everyone's, or a client filter.</summary>
    public bool HasConditions => Scope.Owner is not null || Filter is { IsEmpty: false };

    /// <summary>What a backend filters by: the record passes the scope (<see cref="OwnerScope.Allows"/>) AND <see cref="Filter"/>.</summary>
    public bool Admits(ItemMetadata metadata) => Scope.Allows(metadata) && (Filter is null || Filter.Matches(metadata));

    /// <summary>How many neighbours: at least 1 (checked here, on construction and on <c>with</c>, for every caller and backend).</summary>
    public int K { get; init => field = CheckK(value); } = CheckK(K);

    /// <summary>The lowest cosine similarity a hit may have: a finite number from -1 to 1, or null for none (checked here).</summary>
    public float? MinScore { get; init => field = CheckMinScore(value); } = CheckMinScore(MinScore);

    private static int CheckK(int k) => k >= 1 ? k : throw new ArgumentOutOfRangeException(nameof(K), k, "k is at least 1.");

    private static float? CheckMinScore(float? minScore) => minScore is not { } s || (float.IsFinite(s) && s >= -1 && s <= 1)
        ? minScore
        : throw new ArgumentOutOfRangeException(nameof(MinScore), minScore, "minScore is a cosine similarity between -1 and 1.");
}

/// <summary>
/// Which of an item's vectors a search scores (<see cref="VectorQuery.Vectors"/>). Every backend stores an item's own
/// vector and its region vectors apart (the embedded index by slot, Azure AI Search by the isRegion field), so each
/// selection is exact: no migration, and in an index without regions <see cref="Own"/> is <see cref="All"/> and
/// <see cref="Regions"/> finds nothing.
/// </summary>
public enum VectorSelection
{
    /// <summary>Every vector: an item scores the best of its own and its regions' (<see cref="SearchHit.Region"/> set when a region gave it).</summary>
    All,

    /// <summary>The item's own (whole-image) vector only; <see cref="SearchHit.Region"/> is always null.</summary>
    Own,

    /// <summary>The item's region vectors only: it scores the best of them, with that region's box; an item without regions is not returned.</summary>
    Regions,
}

/// <summary>The schema an index is opened for: vectors of one model.</summary>
public sealed record IndexSchema(string ModelId, int Dimension)
{
    /// <summary>
    /// Whether items carry region vectors (<see cref="VectorRecord.Regions"/>; the encoder's <c>Encoder__Regions</c>).
    /// Recorded in the index when it is created: an index is opened only with the setting it was made with
    /// (<see cref="IndexRegionsMismatchException"/>), so one never holds items of both kinds.
    /// </summary>
    public bool Regions { get; init; }
}
