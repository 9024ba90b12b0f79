using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
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

    public async Task<bool> DeleteAsync(ItemMetadata item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (!string.Equals(item.Source, options.Value.Container, StringComparison.Ordinal)) return false;
        // Snapshots go with the blob; BlobDeleted then reaches every host that indexed it.
        return (await blobs.GetBlobContainerClient(item.Source).GetBlobClient(item.Name)
            .DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
    }
}
