namespace VisualSearch.Indexing;

/// <summary>An indexed item without its vector: what a scan of the whole index yields.</summary>
public sealed record IndexedItem(string Id, ItemMetadata Metadata);

/// <summary>
/// An index that can list what it holds (ids and metadata, no vectors), for work over the whole library such as
/// near-duplicate grouping. A separate capability, not part of <see cref="IVectorIndex"/>: the embedded index
/// implements it; a backend that cannot list cheaply does not, and callers say so instead of guessing.
/// </summary>
public interface IVectorScan
{
    /// <summary>Every live item that <paramref name="filter"/> admits (all of them when null), in no particular order.</summary>
    IAsyncEnumerable<IndexedItem> ScanAsync(SearchFilter? filter = null, CancellationToken cancellationToken = default);
}
