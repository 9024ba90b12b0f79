using VisualSearch.Indexing;

namespace VisualSearch.Imaging;

/// <summary>
/// Where the original bytes of indexed images live, found from a record's <see cref="ItemMetadata.Source"/>
/// and <see cref="ItemMetadata.Name"/>: a folder for "file" items, a blob container for uploads. Hosts
/// register one store per source they can read; a store answers null for sources it does not hold.
/// </summary>
public interface IImageStore
{
    /// <summary>
    /// Opens the original image of an item, or returns null when this store does not hold the item's source
    /// or the image is gone. The caller disposes the stream.
    /// </summary>
    Task<Stream?> OpenReadAsync(ItemMetadata item, CancellationToken cancellationToken = default);

}
