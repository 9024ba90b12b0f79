using VisualSearch.Indexing;

namespace VisualSearch.Imaging;

/// <summary>
/// An <see cref="IImageStore"/> that can also delete an original at its source (the blob, the file), so that the
/// index follows the source instead of the source following the index.
/// </summary>
public interface IDeletableImageStore : IImageStore
{
    /// <summary>Deletes the item's original; false when this store does not hold the item's source or it was already gone.</summary>
    Task<bool> DeleteAsync(ItemMetadata item, CancellationToken cancellationToken = default);
}
