using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using VisualSearch.Api;
using VisualSearch.Ingestion;

namespace VisualSearch.Blobs;

/// <summary>Turns blobs and blob events into ingestion calls. Used by the Functions trigger and the local host.</summary>
public sealed partial class BlobIngestor(IngestionService ingestion, BlobServiceClient blobs, ILogger<BlobIngestor> logger) : IBlobEventHandler
{
    /// <summary>Indexes one blob; its properties decide whether it must be read at all.</summary>
    public async Task<IngestResult?> IngestAsync(BlobClient blob, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        BlobProperties properties;
        try
        {
            properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            LogGone(logger, blob.BlobContainerName, blob.Name);
            return null;
        }

        var request = new IngestRequest
        {
            Id = ItemIds.ForBlob(blob.BlobContainerName, blob.Name),
            Source = blob.BlobContainerName,
            Name = blob.Name,
            ETag = properties.ETag.ToString(),
            Length = properties.ContentLength,
            UploadedAt = properties.LastModified,
            Tags = properties.Metadata.ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase),
        };
        try
        {
            // Read the version whose properties were checked: a newer upload raises its own event.
            var conditions = new BlobRequestConditions { IfMatch = properties.ETag };
            return await ingestion.IngestAsync(request, async ct =>
                (await blob.DownloadStreamingAsync(new BlobDownloadOptions { Conditions = conditions }, ct).ConfigureAwait(false)).Value.Content,
                cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            LogGone(logger, blob.BlobContainerName, blob.Name);
            return null;
        }
    }

    public Task BlobCreatedAsync(string container, string blobName, CancellationToken cancellationToken) =>
        IngestAsync(blobs.GetBlobContainerClient(container).GetBlobClient(blobName), cancellationToken);

    public Task BlobDeletedAsync(string container, string blobName, CancellationToken cancellationToken) =>
        ingestion.RemoveAsync(ItemIds.ForBlob(container, blobName), cancellationToken);

    [LoggerMessage(300, LogLevel.Information, "Blob {Container}/{Name} no longer exists (or changed while read); event dropped, a newer event follows")]
    private static partial void LogGone(ILogger logger, string container, string name);
}
