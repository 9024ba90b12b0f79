using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;

namespace VisualSearch.Api;

/// <summary>What reading an item's original gave.</summary>
public enum ImageReadStatus
{
    Ok,

    /// <summary>No registered store holds the item's source, or the image is gone.</summary>
    NotStored,

    /// <summary>The stored bytes are not the ones that were indexed (changed since, or over the byte limit).</summary>
    Changed,
}

/// <summary>Bytes of an original or a thumbnail, or why there are none.</summary>
public sealed record ImageBytes(ImageReadStatus Status, byte[]? Bytes = null);

/// <summary>
/// Originals and thumbnails of indexed items for display. Originals come from the <see cref="IImageStore"/>s the
/// host registered and must still hash to the indexed content; thumbnails are made once per content hash and
/// size (<see cref="Thumbnails"/>) and kept in <see cref="ImageServingOptions.ThumbnailCache"/>.
/// </summary>
public sealed partial class ItemImageService
{
    /// <summary>Thumbnail sizes served (longer side, pixels): a small fixed set keeps the cache bounded.</summary>
    public static readonly IReadOnlyList<int> ThumbnailSizes = [64, 128, 256, 512, 1024];

    public const int DefaultThumbnailSize = 256;

    private readonly IImageStore[] _stores;
    private readonly ImagingOptions _imaging;
    private readonly ILogger<ItemImageService> _logger;
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, 16).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public ItemImageService(IEnumerable<IImageStore> stores, IOptions<ImagingOptions> imaging, IOptions<ImageServingOptions> options, ILogger<ItemImageService> logger)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(imaging);
        ArgumentNullException.ThrowIfNull(options);
        _stores = stores.ToArray();
        _imaging = imaging.Value;
        _logger = logger;
        MaxAge = options.Value.MaxAge;
        CacheDirectory = Path.GetFullPath(string.IsNullOrWhiteSpace(options.Value.ThumbnailCache)
            ? Path.Combine(Path.GetTempPath(), "vsearch-thumbnails")
            : options.Value.ThumbnailCache);
    }

    public string CacheDirectory { get; }

    public TimeSpan MaxAge { get; }

    /// <summary>Deletes the original from the store that holds it; false when none deletes it (see <see cref="IDeletableImageStore.DeleteAsync"/>).</summary>
    public async Task<bool> DeleteOriginalAsync(ItemMetadata item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        foreach (var store in _stores.OfType<IDeletableImageStore>())
        {
            if (await store.DeleteAsync(item, cancellationToken).ConfigureAwait(false)) return true;
        }

        return false;
    }

    /// <summary>The original bytes, checked against the indexed content hash and the byte limit.</summary>
    public async Task<ImageBytes> ReadOriginalAsync(string id, ItemMetadata item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        foreach (var store in _stores)
        {
            var stream = await store.OpenReadAsync(item, cancellationToken).ConfigureAwait(false);
            if (stream is null) continue;
            await using (stream.ConfigureAwait(false))
            {
                var bytes = await BoundedRead.ReadAsync(stream, _imaging.MaxBytes, cancellationToken).ConfigureAwait(false);
                if (bytes is null || !string.Equals(Convert.ToHexStringLower(SHA256.HashData(bytes)), item.ContentHash, StringComparison.OrdinalIgnoreCase))
                {
                    LogChanged(_logger, id, item.Source, item.Name);
                    return new ImageBytes(ImageReadStatus.Changed);
                }

                return new ImageBytes(ImageReadStatus.Ok, bytes);
            }
        }

        LogNotStored(_logger, id, item.Source);
        return new ImageBytes(ImageReadStatus.NotStored);
    }

    /// <summary>
    /// A JPEG thumbnail whose longer side is at most <paramref name="size"/> (one of <see cref="ThumbnailSizes"/>):
    /// from the cache, or made from the original and cached. Throws <see cref="ImageRejectedException"/> when the
    /// original cannot be decoded.
    /// </summary>
    public async Task<ImageBytes> GetThumbnailAsync(string id, ItemMetadata item, int size, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (!ThumbnailSizes.Contains(size)) throw new ArgumentOutOfRangeException(nameof(size), size, "Not a served thumbnail size.");
        var cachePath = CachePath(item.ContentHash, size);
        if (cachePath is null) return await MakeThumbnailAsync(id, item, size, null, cancellationToken).ConfigureAwait(false);
        if (await TryReadAsync(cachePath, cancellationToken).ConfigureAwait(false) is { } cached) return new ImageBytes(ImageReadStatus.Ok, cached);

        // One maker per content: a burst of requests for a new item decodes it once.
        var stripe = _stripes[(uint)string.GetHashCode(item.ContentHash, StringComparison.Ordinal) % (uint)_stripes.Length];
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (await TryReadAsync(cachePath, cancellationToken).ConfigureAwait(false) is { } made) return new ImageBytes(ImageReadStatus.Ok, made);
            return await MakeThumbnailAsync(id, item, size, cachePath, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>A strong validator for the served bytes: the indexed content hash (and the thumbnail size).</summary>
    public static string ETag(ItemMetadata item, int? thumbnailSize = null)
    {
        ArgumentNullException.ThrowIfNull(item);
        var hash = item.ContentHash.Length > 32 ? item.ContentHash[..32] : item.ContentHash;
        return thumbnailSize is { } size ? $"\"{hash}-t{size}\"" : $"\"{hash}\"";
    }

    private async Task<ImageBytes> MakeThumbnailAsync(string id, ItemMetadata item, int size, string? cachePath, CancellationToken cancellationToken)
    {
        var original = await ReadOriginalAsync(id, item, cancellationToken).ConfigureAwait(false);
        if (original.Status != ImageReadStatus.Ok) return original;
        var thumbnail = Thumbnails.Create(original.Bytes!, size, _imaging);
        LogMade(_logger, id, size, thumbnail.Length);
        if (cachePath is not null)
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(cachePath)!);
                var temporary = cachePath + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
                await File.WriteAllBytesAsync(temporary, thumbnail, cancellationToken).ConfigureAwait(false);
                File.Move(temporary, cachePath, overwrite: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Still serve it; the next request tries again.
                LogCacheWriteFailed(_logger, cachePath, ex);
            }
        }

        return new ImageBytes(ImageReadStatus.Ok, thumbnail);
    }

    /// <summary>&lt;cache&gt;/ab/abcdef…-256.jpg for a hex SHA-256 content hash; null for anything else (not cached).</summary>
    private string? CachePath(string contentHash, int size) =>
        Sha256Hex().IsMatch(contentHash)
            ? Path.Combine(CacheDirectory, contentHash[..2].ToLowerInvariant(), $"{contentHash.ToLowerInvariant()}-{size}.jpg")
            : null;

    private static async Task<byte[]?> TryReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Sha256Hex();

    [LoggerMessage(500, LogLevel.Information, "Made a {Size}px thumbnail of {Id} ({Bytes} bytes)")]
    private static partial void LogMade(ILogger logger, string id, int size, int bytes);

    [LoggerMessage(501, LogLevel.Information, "No image store holds {Id} (source {Source})")]
    private static partial void LogNotStored(ILogger logger, string id, string source);

    [LoggerMessage(502, LogLevel.Warning, "The stored image of {Id} ({Source}/{Name}) is not the indexed one; re-index it")]
    private static partial void LogChanged(ILogger logger, string id, string source, string name);

    [LoggerMessage(503, LogLevel.Warning, "Could not write the thumbnail cache file {Path}")]
    private static partial void LogCacheWriteFailed(ILogger logger, string path, Exception exception);
}
