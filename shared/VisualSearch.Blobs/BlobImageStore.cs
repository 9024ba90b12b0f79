using Azure;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Indexing;

namespace VisualSearch.Blobs;

/// <summary>Originals of uploaded items: the blob <see cref="ItemMetadata.Name"/> in the upload container (BlobSource:Container).</summary>
public sealed class BlobImageStore(BlobServiceClient blobs, IOptions<BlobSourceOptions> options) : IImageStore
{
    public async Task<Stream?> OpenReadAsync(ItemMetadata item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (!string.Equals(item.Source, options.Value.Container, StringComparison.Ordinal)) return null;
        return await StorageFailures.GuardAsync(() => OpenAsync(item, cancellationToken), "read the original image", cancellationToken).ConfigureAwait(false);
    }

    private async Task<Stream?> OpenAsync(ItemMetadata item, CancellationToken cancellationToken)
    {
        try
        {
            var download = await blobs.GetBlobContainerClient(item.Source).GetBlobClient(item.Name)
                .DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return download.Value.Content;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }
}
