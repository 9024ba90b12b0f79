using System.Globalization;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;

namespace VisualSearch.Blobs;

/// <summary>
/// Client uploads into the images container: a server-chosen name (yyyy/MM/dd/GUID.ext, so clients can never
/// name, and so never overwrite, each other's blobs), a URL signed by <see cref="IUploadUrlSigner"/> for that
/// one blob, and the headers the PUT must carry (blob type, content type, metadata as x-ms-meta-*).
/// </summary>
public sealed partial class BlobUploadStore(
    BlobServiceClient blobs,
    IUploadUrlSigner signer,
    IOptions<BlobSourceOptions> source,
    IOptions<ClientUploadOptions> options,
    TimeProvider time,
    ILogger<BlobUploadStore> logger) : IUploadStore
{
    /// <summary>An upload URL is valid from this long before it is issued: clocks differ.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    public const string MetadataHeaderPrefix = "x-ms-meta-";

    public async Task<UploadGrant> IssueAsync(UploadIntent intent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(intent);
        var now = time.GetUtcNow();
        var container = source.Value.Container;
        // A signed-in caller's uploads go under users/<owner>/, which ingestion reads the owner from (OwnerIds.FromBlobName).
        var prefix = intent.Owner is null ? "" : OwnerIds.BlobPrefix + intent.Owner + "/";
        var name = string.Create(CultureInfo.InvariantCulture, $"{prefix}{now:yyyy}/{now:MM}/{now:dd}/{Guid.NewGuid():N}{intent.Extension}");
        var blob = blobs.GetBlobContainerClient(container).GetBlobClient(name);

        // A SAS carries whole seconds; report the expiry it really has.
        var expiresOn = now + options.Value.UrlLifetime;
        expiresOn = new DateTimeOffset(expiresOn.UtcTicks - (expiresOn.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        var url = await StorageFailures.GuardAsync(() => signer.SignAsync(blob, now - ClockSkew, expiresOn, cancellationToken), "sign an upload URL", cancellationToken).ConfigureAwait(false);

        var headers = new Dictionary<string, string>(StringComparer.Ordinal) { ["x-ms-blob-type"] = "BlockBlob" };
        if (intent.ContentType is not null) headers["Content-Type"] = intent.ContentType;
        foreach (var (key, value) in intent.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            headers[MetadataHeaderPrefix + key] = BlobMetadataValues.Encode(value);

        var id = ItemIds.ForBlob(container, name);
        LogIssued(logger, id, expiresOn);
        return new UploadGrant(id, url, expiresOn, headers);
    }

    public Task<UploadState> GetStateAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var container = source.Value.Container;
        if (!id.StartsWith(container + "/", StringComparison.Ordinal)) return Task.FromResult(new UploadState(UploadProgress.Missing));
        var blob = blobs.GetBlobContainerClient(container).GetBlobClient(id[(container.Length + 1)..]);
        return StorageFailures.GuardAsync(() => ReadStateAsync(blob, cancellationToken), "read the upload's state", cancellationToken);
    }

    private static async Task<UploadState> ReadStateAsync(BlobClient blob, CancellationToken cancellationToken)
    {
        try
        {
            BlobProperties properties = await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            if (properties.TagCount > 0)
            {
                var tags = (await blob.GetTagsAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value.Tags;
                if (RejectionTags.Read(tags, properties.ETag) is { } rejected)
                    return new UploadState(UploadProgress.Rejected, rejected.Reason, rejected.Detail);
            }

            return new UploadState(UploadProgress.Uploaded);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return new UploadState(UploadProgress.Missing);
        }
    }

    [LoggerMessage(320, LogLevel.Information, "Issued an upload URL for {ItemId}, valid until {ExpiresOn:O}")]
    private static partial void LogIssued(ILogger logger, string itemId, DateTimeOffset expiresOn);
}
