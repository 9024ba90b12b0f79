using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Api;

/// <summary>The local host's folder of images added through the web page (source "uploads").</summary>
public sealed class LocalUploads(FolderImageStore store)
{
    public const string Source = "uploads";

    // One upload of the same content key at a time (a duplicate posted concurrently waits and finds the first).
    private readonly SemaphoreSlim[] _locks = [.. Enumerable.Range(0, 32).Select(_ => new SemaphoreSlim(1, 1))];

    public FolderImageStore Store { get; } = store;

    internal SemaphoreSlim LockFor(string key) => _locks[(StringComparer.Ordinal.GetHashCode(key) & int.MaxValue) % _locks.Length];

    /// <summary>
    /// The folder an upload is kept in: the first 128 bits of SHA-256(owner, NUL, bytes) in hex, so the same bytes
    /// posted again by the same owner land in the same folder (deduplicated), and another owner's never do.
    /// </summary>
    internal static string ContentKey(string owner, ReadOnlySpan<byte> bytes)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(owner));
        hash.AppendData([0]);
        hash.AppendData(bytes);
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..32];
    }
}

/// <summary>
/// POST /api/images?name=&amp;album=&amp;tag= with the image as the body (local host only): keeps the bytes
/// in the uploads folder and indexes them directly as <c>uploads/&lt;content key&gt;/&lt;name&gt;.&lt;ext&gt;</c>, owned by the
/// signed-in caller (the single user may name an <c>owner=</c>, as <c>vsearch index --owner</c> does). Same checks
/// and errors as a search (400, 413, 415, 422), plus 403 for another origin's page and 415 without a Content-Type;
/// 201 with the item and its Location on success; 200 with the first item when the same owner posts the same bytes again.
/// </summary>
public static class LocalUploadsApi
{
    private const int MaxNameLength = 64;

    public static async Task<IResult> UploadAsync(HttpRequest request, IngestionService ingestion, SearchService search, LocalUploads uploads, IOptions<ImagingOptions> imaging, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(ingestion);
        ArgumentNullException.ThrowIfNull(search);
        ArgumentNullException.ThrowIfNull(uploads);
        ArgumentNullException.ThrowIfNull(imaging);
        ArgumentNullException.ThrowIfNull(time);
        // Only this host's own page may add images: another site's page in the same browser cannot (its Origin
        // differs), and a request without a Content-Type (the one kind another origin can send without a CORS
        // preflight) is refused.
        if (RequestOrigin.IsForeign(request, out var origin))
            return ApiHttp.Problem(StatusCodes.Status403Forbidden, "Forbidden", $"Images are added from this host's own page only, not from {origin}.");
        if (string.IsNullOrWhiteSpace(request.ContentType))
            return ApiHttp.Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", "Send the image bytes with an image/* or application/octet-stream Content-Type.");
        if (!ApiHttp.IsAcceptableContentType(request.ContentType))
            return ApiHttp.Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", $"Send the image bytes with an image/* or application/octet-stream Content-Type, not '{request.ContentType}'.");
        var (bytes, readProblem) = await ApiHttp.ReadImageBodyAsync(request, imaging.Value.MaxBytes, cancellationToken).ConfigureAwait(false);
        if (bytes is null) return readProblem!;

        var caller = Caller.Of(request.HttpContext);
        var owner = caller.Owner;
        if (request.Query["owner"].ToString() is { Length: > 0 } named)
        {
            if (caller.Owner is not null && named != caller.Owner)
                return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid owner", "The owner of an image is the signed-in caller; leave owner out.");
            if (!OwnerIds.IsValid(named))
                return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid owner", "An owner id is 1-128 characters of ASCII letters, digits and - _ . @ | :.");
            owner = named;
        }

        var format = ImageFormats.Detect(bytes);
        if (format == ImageFormat.Unknown)
            return ApiHttp.Rejected(new ImageRejectedException(ImageRejectionReason.UnsupportedFormat, "Not a supported image (JPEG, PNG, WebP, GIF, BMP or TIFF), judged by its first bytes."));

        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in SearchFilter.TagFields)
        {
            var value = request.Query[key].ToString();
            if (!string.IsNullOrWhiteSpace(value)) tags[key] = value;
        }

        // The same bytes from the same owner (the server-derived one, never client metadata) are kept and indexed
        // once: a repeat answers 200 with the first item, read under the caller's scope.
        var contentKey = LocalUploads.ContentKey(owner ?? "", bytes);
        var gate = uploads.LockFor(contentKey);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (uploads.Store.FindFirst(contentKey) is { } kept
                && await search.GetItemAsync(ItemIds.ForBlob(LocalUploads.Source, kept), caller.OwnedScope, cancellationToken).ConfigureAwait(false) is { } existing
                && OwnerIds.OwnerOf(existing) == owner)
                return Results.Ok(new ItemDto(ItemIds.ForBlob(LocalUploads.Source, kept), existing));

            return await StoreAndIndexAsync(request, ingestion, search, uploads, time, caller, owner, bytes, format, contentKey, tags, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private static async Task<IResult> StoreAndIndexAsync(HttpRequest request, IngestionService ingestion, SearchService search, LocalUploads uploads, TimeProvider time,
        Caller caller, string? owner, byte[] bytes, ImageFormat format, string contentKey, Dictionary<string, string> tags, CancellationToken cancellationToken)
    {
        var name = $"{contentKey}/{SafeStem(request.Query["name"].ToString())}{format.Extension()}";
        var id = ItemIds.ForBlob(LocalUploads.Source, name);
        await uploads.Store.SaveAsync(name, bytes, cancellationToken).ConfigureAwait(false);
        IngestResult result;
        try
        {
            result = await ingestion.IngestAsync(new IngestRequest
            {
                Id = id,
                Source = LocalUploads.Source,
                Name = name,
                Length = bytes.Length,
                UploadedAt = time.GetUtcNow(),
                Tags = tags,
                Owner = owner,
            }, new MemoryStream(bytes, writable: false), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            uploads.Store.Delete(name);
            throw;
        }

        if (result.Outcome == IngestOutcome.Rejected)
        {
            uploads.Store.Delete(name);
            return ApiHttp.Rejected(new ImageRejectedException(result.Reason ?? ImageRejectionReason.Corrupt, result.Detail ?? "The image was refused."));
        }

        var metadata = await search.GetItemAsync(id, caller.OwnedScope, cancellationToken).ConfigureAwait(false);
        return metadata is null
            ? ApiHttp.Problem(StatusCodes.Status409Conflict, "Removed", $"'{id}' was indexed and removed again before it could be read.")
            : Results.Created($"/api/items/{id}", new ItemDto(id, metadata));
    }

    /// <summary>The file name's stem in letters, digits, '-', '_' and '.', at most 64 characters; "image" if nothing is left.</summary>
    internal static string SafeStem(string? fileName)
    {
        var stem = Path.GetFileNameWithoutExtension((fileName ?? "").Replace('\\', '/').Split('/')[^1]);
        var clean = new StringBuilder(Math.Min(stem.Length, MaxNameLength));
        foreach (var c in stem)
        {
            if (clean.Length == MaxNameLength) break;
            clean.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-');
        }

        var text = clean.ToString().Trim('.', '-');
        return text.Length == 0 ? "image" : text;
    }
}
