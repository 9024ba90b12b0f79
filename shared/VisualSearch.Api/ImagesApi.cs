using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Api;

/// <summary>
/// Images of indexed items for display: GET /api/images/{id} (the original bytes) and
/// GET /api/thumbnails/{id}?size=256 (a JPEG, longer side 64, 128, 256, 512 or 1024). Both carry a strong ETag
/// (the indexed content hash), answer If-None-Match with 304, and may be cached (Cache-Control public, max-age).
/// 404: unknown id, or no stored image for it; 409: the stored image is not the indexed one; 422: it cannot be decoded.
/// </summary>
public static class ImagesApi
{
    /// <summary>GET /api/images/{id}: the original bytes with their media type (judged from the bytes at indexing).</summary>
    public static async Task<IResult> GetImageAsync(string? id, HttpRequest request, SearchService search, ItemImageService images, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(images);
        var (item, problem) = await FindAsync(id, await Caller.ReadScopeAsync(request.HttpContext, cancellationToken).ConfigureAwait(false), search, cancellationToken).ConfigureAwait(false);
        if (item is null) return problem!;

        var etag = ItemImageService.ETag(item);
        if (NotModified(request, etag, images)) return Results.StatusCode(StatusCodes.Status304NotModified);
        var original = await images.ReadOriginalAsync(id!, item, cancellationToken).ConfigureAwait(false);
        if (original.Status != ImageReadStatus.Ok) return Unavailable(id!, item, original.Status);
        SetCaching(request.HttpContext.Response, etag, images);
        return Results.Bytes(original.Bytes!, item.ContentType, lastModified: item.UploadedAt, entityTag: EntityTagHeaderValue.Parse(etag), enableRangeProcessing: true);
    }

    /// <summary>GET /api/thumbnails/{id}?size=256: a JPEG thumbnail, made once per content and size.</summary>
    public static async Task<IResult> GetThumbnailAsync(string? id, HttpRequest request, SearchService search, ItemImageService images, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(images);
        var size = ItemImageService.DefaultThumbnailSize;
        var sizeText = request.Query["size"].ToString();
        if (sizeText.Length > 0 && (!int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out size) || !ItemImageService.ThumbnailSizes.Contains(size)))
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid size", $"size is one of {string.Join(", ", ItemImageService.ThumbnailSizes)} (the longer side in pixels).");

        var (item, problem) = await FindAsync(id, await Caller.ReadScopeAsync(request.HttpContext, cancellationToken).ConfigureAwait(false), search, cancellationToken).ConfigureAwait(false);
        if (item is null) return problem!;

        var etag = ItemImageService.ETag(item, size);
        if (NotModified(request, etag, images)) return Results.StatusCode(StatusCodes.Status304NotModified);
        ImageBytes thumbnail;
        try
        {
            thumbnail = await images.GetThumbnailAsync(id!, item, size, cancellationToken).ConfigureAwait(false);
        }
        catch (ImageRejectedException ex)
        {
            return ApiHttp.Problem(StatusCodes.Status422UnprocessableEntity, "Image cannot be shown", ex.Message, ex.Reason);
        }

        if (thumbnail.Status != ImageReadStatus.Ok) return Unavailable(id!, item, thumbnail.Status);
        SetCaching(request.HttpContext.Response, etag, images);
        return Results.Bytes(thumbnail.Bytes!, "image/jpeg", entityTag: EntityTagHeaderValue.Parse(etag));
    }

    /// <summary>
    /// DELETE /api/items/{id}: deletes the caller's item: its original (the blob, or the local host's upload; the
    /// folder <c>vsearch index</c> read is left alone) and its record, at once rather than waiting for BlobDeleted
    /// (which then finds nothing to remove). 204; 404 for an unknown id and for another owner's, alike.
    /// </summary>
    public static async Task<IResult> DeleteItemAsync(string? id, HttpContext context, SearchService search, ItemImageService images, IngestionService ingestion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(ingestion);
        // Only the caller's own items (never one merely shared with them); another's answers like an unknown id.
        var (item, problem) = await FindAsync(id, Caller.Of(context).OwnedScope, search, cancellationToken).ConfigureAwait(false);
        if (item is null) return problem!;
        await images.DeleteOriginalAsync(item, cancellationToken).ConfigureAwait(false);
        await ingestion.RemoveAsync(id!, cancellationToken).ConfigureAwait(false);
        return Results.NoContent();
    }

    /// <summary>An item inside <paramref name="scope"/>: an unknown id and one outside answer the same 404.</summary>
    private static async Task<(ItemMetadata? Item, IResult? Problem)> FindAsync(string? id, OwnerScope scope, SearchService search, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(search);
        if (!ItemIds.IsValid(id, out var idError)) return (null, ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid id", idError));
        var item = await search.GetItemAsync(id!, scope, cancellationToken).ConfigureAwait(false);
        return item is null ? (null, ApiHttp.Problem(StatusCodes.Status404NotFound, "Unknown id", $"No item '{id}' is indexed.")) : (item, null);
    }

    /// <summary>If-None-Match names the current ETag (or *): answer 304 without reading the store.</summary>
    private static bool NotModified(HttpRequest request, string etag, ItemImageService images)
    {
        var header = request.Headers.IfNoneMatch.ToString();
        if (header.Length == 0) return false;
        var match = header.Split(',').Select(t => t.Trim()).Any(t => t == "*" || t == etag || t == "W/" + etag);
        if (match) SetCaching(request.HttpContext.Response, etag, images);
        return match;
    }

    /// <summary>
    /// Signed-in callers' images are <c>private</c> (a shared cache must never hand A's photo to B) and vary by
    /// Authorization; the single-user host's stay <c>public</c>.
    /// </summary>
    private static void SetCaching(HttpResponse response, string etag, ItemImageService images)
    {
        var signedIn = Caller.Of(response.HttpContext).Owner is not null;
        response.Headers.CacheControl = $"{(signedIn ? "private" : "public")}, max-age={(long)images.MaxAge.TotalSeconds}";
        if (signedIn) response.Headers.Vary = "Authorization";
        response.Headers.ETag = etag;
        response.Headers.XContentTypeOptions = "nosniff";
    }

    private static IResult Unavailable(string id, ItemMetadata item, ImageReadStatus status) => status == ImageReadStatus.Changed
        ? ApiHttp.Problem(StatusCodes.Status409Conflict, "Image changed", $"The stored image of '{id}' is not the one that was indexed; index it again.")
        : ApiHttp.Problem(StatusCodes.Status404NotFound, "Image not stored",
            item.Source == "file"
                ? $"'{id}' was indexed from a folder this host does not know; set Images__Root to the folder that `vsearch index` read."
                : $"No image is stored for '{id}' (source '{item.Source}').");
}
