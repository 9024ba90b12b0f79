using Microsoft.AspNetCore.Http;
using VisualSearch.Imaging;

namespace VisualSearch.Api;

/// <summary>
/// The HTTP helpers every handler shares: problem details, bounded body reading, and the mapping of an image
/// rejection to its status (415 not an image, 413 too large, 400 empty, 422 damaged).
/// </summary>
internal static class ApiHttp
{
    private static readonly System.Text.Json.JsonSerializerOptions Json = new(System.Text.Json.JsonSerializerDefaults.Web);

    /// <summary>
    /// Reads a JSON body of at most <paramref name="limit"/> bytes into <typeparamref name="T"/>: 413 when longer (announced
    /// or read), 400 when it is not JSON of that shape; a null value when the body is the JSON literal null.
    /// </summary>
    internal static async Task<(T? Value, IResult? Problem)> ReadJsonAsync<T>(HttpRequest request, int limit, CancellationToken cancellationToken)
        where T : class
    {
        var tooLarge = Problem(StatusCodes.Status413PayloadTooLarge, "Too large", $"The body is over {limit} bytes.");
        if (request.ContentLength > limit) return (null, tooLarge);
        var body = await ReadBodyAsync(request, limit, cancellationToken).ConfigureAwait(false);
        if (body.Problem is not null) return (null, body.Problem);
        if (body.Bytes is null) return (null, tooLarge);
        try
        {
            return (System.Text.Json.JsonSerializer.Deserialize<T>(body.Bytes, Json), null);
        }
        catch (System.Text.Json.JsonException ex)
        {
            return (null, Problem(StatusCodes.Status400BadRequest, "Invalid JSON", ex.Message));
        }
    }

    /// <summary>
    /// Reads at most <paramref name="limit"/> bytes of the body (null bytes: longer). The server's own limits
    /// (Kestrel's MaxRequestBodySize on a chunked body, a bad chunk, a stalled client) surface as
    /// BadHttpRequestException while reading: that is the client's error, answered with its status, not a 500.
    /// </summary>
    internal static async Task<(byte[]? Bytes, IResult? Problem)> ReadBodyAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        try
        {
            return (await BoundedRead.ReadAsync(request.Body, limit, cancellationToken, request.ContentLength).ConfigureAwait(false), null);
        }
        catch (BadHttpRequestException ex)
        {
            var title = ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Too large" : "Bad request body";
            return (null, Problem(ex.StatusCode, title, ex.Message));
        }
    }

    /// <summary>
    /// Reads an image body of at most <paramref name="limit"/> bytes (Imaging:MaxBytes) through the one bounded
    /// read: a Content-Length over the limit is refused before reading; 413 over the limit, 400 for an empty body.
    /// Bytes is null exactly when Problem is set.
    /// </summary>
    internal static async Task<(byte[]? Bytes, IResult? Problem)> ReadImageBodyAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        try
        {
            var bytes = await BoundedRead.ReadImageAsync(request.Body, request.ContentLength, limit, cancellationToken).ConfigureAwait(false);
            return bytes.Length == 0 ? (null, Problem(StatusCodes.Status400BadRequest, "Empty body", "POST the image bytes as the request body.")) : (bytes, null);
        }
        catch (ImageRejectedException ex)
        {
            return (null, Rejected(ex));
        }
        catch (BadHttpRequestException ex)
        {
            return (null, Problem(ex.StatusCode, ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Too large" : "Bad request body", ex.Message));
        }
    }

    internal static bool IsAcceptableContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) return true;
        var mediaType = contentType.Split(';')[0].Trim();
        return mediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase);
    }

    internal static IResult Rejected(ImageRejectedException ex) => ex.Reason switch
    {
        ImageRejectionReason.UnsupportedFormat => Problem(StatusCodes.Status415UnsupportedMediaType, "Not a supported image", ex.Message, ex.Reason),
        ImageRejectionReason.TooLarge or ImageRejectionReason.TooManyPixels => Problem(StatusCodes.Status413PayloadTooLarge, "Image too large", ex.Message, ex.Reason),
        ImageRejectionReason.Empty => Problem(StatusCodes.Status400BadRequest, "Empty image", ex.Message, ex.Reason),
        _ => Problem(StatusCodes.Status422UnprocessableEntity, "Damaged image", ex.Message, ex.Reason),
    };

    internal static IResult Problem(int status, string title, string detail, ImageRejectionReason? reason = null) =>
        Results.Problem(detail: detail, statusCode: status, title: title,
            extensions: reason is null ? null : new Dictionary<string, object?> { ["reason"] = reason.ToString() });
}
