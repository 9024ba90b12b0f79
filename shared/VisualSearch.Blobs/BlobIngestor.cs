using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;

namespace VisualSearch.Blobs;

/// <summary>Turns blobs and blob events into ingestion calls. Used by the Functions trigger and the local host.</summary>
public sealed partial class BlobIngestor(IngestionService ingestion, BlobServiceClient blobs, IOptions<BlobSourceOptions> source, ILogger<BlobIngestor> logger) : IBlobEventHandler
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
            SkipOlderVersions = true,
            Tags = properties.Metadata.ToDictionary(p => p.Key, p => BlobMetadataValues.Decode(p.Value), StringComparer.OrdinalIgnoreCase),
            // The owner comes from the name the server chose and signed into the upload URL, never from metadata.
            Owner = OwnerIds.FromBlobName(blob.Name),
        };
        if (await RecordedRejectionAsync(blob, properties, cancellationToken).ConfigureAwait(false) is { } refused)
        {
            // A redelivered or duplicate event for a version already refused: its reason was logged and recorded once.
            LogAlreadyRejected(logger, blob.BlobContainerName, blob.Name, refused.Reason);
            return new IngestResult(request.Id, IngestOutcome.Rejected, Enum.TryParse<ImageRejectionReason>(refused.Reason, out var reason) ? reason : null, refused.Detail);
        }

        try
        {
            // Read the version whose properties were checked: a newer upload raises its own event.
            var conditions = new BlobRequestConditions { IfMatch = properties.ETag };
            var result = await ingestion.IngestAsync(request, async ct =>
                (await blob.DownloadStreamingAsync(new BlobDownloadOptions { Conditions = conditions }, ct).ConfigureAwait(false)).Value.Content,
                cancellationToken).ConfigureAwait(false);
            if (result.Outcome == IngestOutcome.Rejected) await RecordRejectionAsync(blob, properties, result, cancellationToken).ConfigureAwait(false);
            if (result.Outcome == IngestOutcome.Indexed)
            {
                // Deleted while it was being embedded? Its delete event may already have been handled: undo the write.
                await ingestion.RemoveIfAsync(request.Id, ct => IsGoneAsync(blob, ct), cancellationToken).ConfigureAwait(false);
            }

            return result;
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            LogGone(logger, blob.BlobContainerName, blob.Name);
            return null;
        }
    }

    /// <summary>
    /// Remembers why this version was refused, beside the blob (<see cref="RejectionTags"/>), so a client can learn
    /// it (GET /api/uploads/{id}). Best effort: the refusal stands and is logged even if it cannot be recorded.
    /// </summary>
    private async Task RecordRejectionAsync(BlobClient blob, BlobProperties properties, IngestResult result, CancellationToken cancellationToken)
    {
        try
        {
            IDictionary<string, string>? existing = null;
            if (properties.TagCount > 0) existing = (await blob.GetTagsAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value.Tags;
            await blob.SetTagsAsync(RejectionTags.For(result, properties.ETag, existing), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            LogRejectionNotRecorded(logger, blob.BlobContainerName, blob.Name, ex.Status, ex.ErrorCode ?? "");
        }
    }

    /// <summary>
    /// A BlobCreated event: ingests the blob if it is in the configured container (BlobSource:Container); an event
    /// about any other container is logged and touches nothing. Storage outages become <see cref="ServiceUnavailableException"/>.
    /// </summary>
    public async Task BlobCreatedAsync(string container, string blobName, CancellationToken cancellationToken)
    {
        if (!IsWatched(container, blobName)) return;
        await StorageFailures.GuardAsync(() => IngestAsync(blobs.GetBlobContainerClient(container).GetBlobClient(blobName), cancellationToken),
            "index the created blob", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A BlobDeleted event (configured container only): removes the record only if it came from that container and
    /// the blob is gone when checked (under the id's write lock). Events arrive out of order: a BlobDeleted handled
    /// after the re-upload that followed it finds the blob present, and the current content is indexed instead.
    /// </summary>
    public async Task BlobDeletedAsync(string container, string blobName, CancellationToken cancellationToken)
    {
        if (!IsWatched(container, blobName)) return;
        var blob = blobs.GetBlobContainerClient(container).GetBlobClient(blobName);
        await StorageFailures.GuardAsync(async () =>
        {
            var gone = false;
            await ingestion.RemoveIfAsync(ItemIds.ForBlob(container, blobName), container, async ct => gone = await IsGoneAsync(blob, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            if (gone) return;
            LogDeletedButPresent(logger, container, blobName);
            await IngestAsync(blob, cancellationToken).ConfigureAwait(false);
        }, "check the deleted blob", cancellationToken).ConfigureAwait(false);
    }

    private bool IsWatched(string container, string blobName)
    {
        if (string.Equals(container, source.Value.Container, StringComparison.Ordinal)) return true;
        LogOtherContainer(logger, container, blobName, source.Value.Container);
        return false;
    }

    private static async Task<bool> IsGoneAsync(BlobClient blob, CancellationToken cancellationToken)
    {
        try
        {
            await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return false;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return true;
        }
    }

    /// <summary>The refusal recorded in the blob's index tags for this very version, if any (one tag read, only when it has tags).</summary>
    private async Task<(string Reason, string? Detail)?> RecordedRejectionAsync(BlobClient blob, BlobProperties properties, CancellationToken cancellationToken)
    {
        if (properties.TagCount == 0) return null;
        try
        {
            var tags = (await blob.GetTagsAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value.Tags;
            return RejectionTags.Read(tags, properties.ETag);
        }
        catch (RequestFailedException ex) when (ex.Status is 403 or 404)
        {
            return null;
        }
    }

    [LoggerMessage(300, LogLevel.Information, "Blob {Container}/{Name} no longer exists (or changed while read); event dropped, a newer event follows")]
    private static partial void LogGone(ILogger logger, string container, string name);

    [LoggerMessage(302, LogLevel.Information, "Blob {Container}/{Name} was refused before ({Reason}); duplicate event dropped")]
    private static partial void LogAlreadyRejected(ILogger logger, string container, string name, string reason);

    [LoggerMessage(303, LogLevel.Information, "BlobDeleted for {Container}/{Name}, but the blob exists again (re-uploaded; events out of order): indexing its current content")]
    private static partial void LogDeletedButPresent(ILogger logger, string container, string name);

    [LoggerMessage(304, LogLevel.Warning, "Ignored an event for {Container}/{Name}: this host indexes container {Watched} only")]
    private static partial void LogOtherContainer(ILogger logger, string container, string name, string watched);

    [LoggerMessage(301, LogLevel.Warning, "Could not record the rejection of blob {Container}/{Name} in its index tags ({Status} {ErrorCode})")]
    private static partial void LogRejectionNotRecorded(ILogger logger, string container, string name, int status, string errorCode);
}
