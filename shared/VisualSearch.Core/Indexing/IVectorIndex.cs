namespace VisualSearch.Indexing;

/// <summary>
/// A vector index backend. Implementations: embedded on-disk (VisualSearch.Index.Local), Azure AI Search.
/// All of them pass the same conformance suite (tests/).
/// </summary>
public interface IVectorIndex
{
    /// <summary>Short name of the backend, e.g. "local".</summary>
    string Kind { get; }

    /// <summary>
    /// Opens (or creates) the index for vectors of one model. Fails with <see cref="IndexModelMismatchException"/>
    /// if the index holds vectors of another model. Idempotent; other methods call it implicitly.
    /// </summary>
    Task InitializeAsync(IndexSchema schema, CancellationToken cancellationToken = default);

    /// <summary>Inserts or replaces the record with the same id.</summary>
    Task UpsertAsync(VectorRecord record, CancellationToken cancellationToken = default);

    /// <summary>Removes a record; false if there was none.</summary>
    Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>The record, or null.</summary>
    Task<VectorRecord?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// The record if <paramref name="scope"/> allows it, else null: a record of another owner reads exactly like a
    /// missing one (same answer, same work), so callers cannot learn which ids exist. Azure AI Search's document
    /// lookup takes no filter, so every backend reads by key and checks the stored owner.
    /// </summary>
    async Task<VectorRecord?> GetAsync(string id, OwnerScope scope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var record = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        return record is not null && scope.Allows(record.Metadata) ? record : null;
    }

    /// <summary>Nearest neighbours by cosine similarity, best first.</summary>
    Task<IReadOnlyList<SearchHit>> SearchAsync(ReadOnlyMemory<float> vector, VectorQuery query, CancellationToken cancellationToken = default);

    Task<long> CountAsync(CancellationToken cancellationToken = default);
}

/// <summary>The index holds vectors of another model than the configured one.</summary>
public sealed class IndexModelMismatchException(string indexModelId, string configuredModelId, string location)
    : InvalidOperationException(
        $"The index at {location} holds vectors of model '{indexModelId}', but the configured encoder is '{configuredModelId}'. " +
        "Vectors of different models cannot be compared: rebuild the index for the new model (vsearch reindex, or index into a new location) or configure the model it was built with.")
{
    public string IndexModelId { get; } = indexModelId;

    public string ConfiguredModelId { get; } = configuredModelId;
}

/// <summary>
/// The index was made with region vectors on and the encoder has them off, or the other way round (issue 14):
/// its items would not be comparable one to another (an item found by a region it has, another missed for one it lacks).
/// </summary>
public sealed class IndexRegionsMismatchException(bool indexRegions, bool configuredRegions, string location)
    : InvalidOperationException(
        $"The index at {location} was made with region vectors {(indexRegions ? "on" : "off")}, but the configured encoder has them {(configuredRegions ? "on" : "off")} (Encoder__Regions). " +
        "An index never mixes items with and without regions: rebuild it with the new setting (vsearch reindex, or index into a new location) or set Encoder__Regions as it was made.")
{
    public bool IndexRegions { get; } = indexRegions;

    public bool ConfiguredRegions { get; } = configuredRegions;
}
