using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Indexing;

namespace VisualSearch.Blobs;

/// <summary>Originals of uploaded items: the blob <see cref="ItemMetadata.Name"/> in the upload container (BlobSource:Container).</summary>
public sealed class BlobImageStore(BlobServiceClient blobs, IOptions<BlobSourceOptions> options) : IDeletableImageStore
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

    /// <summary>
    /// Deletes the blob (and its snapshots); the BlobDeleted event, or the caller, then removes the record. Only a
    /// blob whose content is still the indexed one is deleted (If-Match on the indexed ETag when there is one), so
    /// a re-upload made meanwhile survives.
    /// </summary>
    public async Task<bool> DeleteAsync(ItemMetadata item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (!string.Equals(item.Source, options.Value.Container, StringComparison.Ordinal)) return false;
        var conditions = item.ETag is { Length: > 0 } etag ? new Azure.Storage.Blobs.Models.BlobRequestConditions { IfMatch = new ETag(etag) } : null;
        try
        {
            var response = await blobs.GetBlobContainerClient(item.Source).GetBlobClient(item.Name)
                .DeleteIfExistsAsync(Azure.Storage.Blobs.Models.DeleteSnapshotsOption.IncludeSnapshots, conditions, cancellationToken).ConfigureAwait(false);
            return response.Value;
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            return false; // changed since it was indexed
        }
    }
}
