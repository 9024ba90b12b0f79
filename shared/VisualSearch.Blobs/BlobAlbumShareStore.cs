using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VisualSearch.Albums;
using VisualSearch.Ingestion;

namespace VisualSearch.Blobs;

/// <summary>Where the Functions host keeps album shares. Section "AlbumShares".</summary>
public sealed class BlobAlbumShareOptions
{
    public const string SectionName = "AlbumShares";

    /// <summary>A container of the storage account of BlobSource (not the images container: its blobs are ingested).</summary>
    [Required, RegularExpression(ItemIds.ContainerNamePattern)]
    public string Container { get; set; } = "albums";

    [Required, StringLength(256, MinimumLength = 1)]
    public string BlobName { get; set; } = "shares.json";
}

/// <summary>
/// Album shares in one JSON blob of the storage account the host already uses (BlobSource's client, its managed
/// identity). A write is a PUT with If-Match on the ETag read (If-None-Match: * for the first), so two instances
/// never overwrite each other's change: the loser reads again and retries (<see cref="AlbumService"/>).
/// </summary>
public sealed class BlobAlbumShareStore(BlobServiceClient blobs, IOptions<BlobAlbumShareOptions> options) : IAlbumShareStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private BlobClient Blob => blobs.GetBlobContainerClient(options.Value.Container).GetBlobClient(options.Value.BlobName);

    public Task<AlbumShareSnapshot> LoadAsync(CancellationToken cancellationToken = default) =>
        StorageFailures.GuardAsync(async () =>
        {
            try
            {
                var content = await Blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
                var shares = content.Value.Content.ToObjectFromJson<AlbumShare[]>(Json)
                    ?? throw new InvalidDataException($"{options.Value.Container}/{options.Value.BlobName} holds no album shares.");
                return new AlbumShareSnapshot(shares, content.Value.Details.ETag.ToString());
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                return new AlbumShareSnapshot([], null);
            }
        }, "read the album shares", cancellationToken);

    public Task<bool> TrySaveAsync(IReadOnlyList<AlbumShare> shares, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shares);
        return StorageFailures.GuardAsync(async () =>
        {
            var conditions = expectedVersion is null ? new BlobRequestConditions { IfNoneMatch = ETag.All } : new BlobRequestConditions { IfMatch = new ETag(expectedVersion) };
            var upload = new BlobUploadOptions { Conditions = conditions, HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" } };
            try
            {
                await Blob.UploadAsync(BinaryData.FromObjectAsJson(shares.ToArray(), Json), upload, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
                return false; // written by someone else since it was read
            }
            catch (RequestFailedException ex) when (ex.Status == 404 && ex.ErrorCode == BlobErrorCode.ContainerNotFound)
            {
                await blobs.GetBlobContainerClient(options.Value.Container).CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                return false; // read again and retry into the new container
            }
        }, "write the album shares", cancellationToken);
    }
}

public static class BlobAlbumShareExtensions
{
    /// <summary>
    /// Keeps album shares in a blob of BlobSource's storage account (section "AlbumShares") instead of the engine's
    /// default file beside the index: for hosts with several instances (the Functions app). Needs AddBlobIngestion's client.
    /// </summary>
    public static IHostApplicationBuilder AddBlobAlbumShares(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<BlobAlbumShareOptions>()
            .Bind(builder.Configuration.GetSection(BlobAlbumShareOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.Replace(ServiceDescriptor.Singleton<IAlbumShareStore, BlobAlbumShareStore>());
        return builder;
    }
}
