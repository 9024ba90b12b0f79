using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Api;

/// <summary>
/// POST /api/uploads: validates what a client wants to upload and returns a short-lived URL for a direct PUT
/// into Blob Storage (the image bytes never pass through the API). GET /api/uploads/{id}: processing,
/// indexed, or rejected with the reason. Errors are application/problem+json: 400 bad JSON or metadata,
/// 413 request too large, 415 a content type or file extension that is not a supported image.
/// </summary>
public static class ClientUploadsApi
{
    /// <summary>Largest accepted request body (the JSON description, not the image).</summary>
    public const int MaxRequestBytes = 16 * 1024;

    /// <summary>Longest accepted file name (only its extension is used).</summary>
    public const int MaxFileNameLength = 255;

    /// <summary>Media types clients may upload: the formats the decoder reads. Content is judged by magic bytes at ingestion.</summary>
    public static readonly IReadOnlyList<string> ContentTypes = [.. ImageFormats.Supported.Select(f => f.ContentType())];

    private static readonly string[] Fields = ["contentType", "fileName", "metadata"];

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>POST /api/uploads with an optional JSON body {"contentType","fileName","metadata":{...}}.</summary>
    public static async Task<IResult> CreateAsync(HttpRequest request, IUploadStore uploads, IOptions<ImagingOptions> imaging, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(uploads);
        ArgumentNullException.ThrowIfNull(imaging);
        if (!IsJsonOrNone(request.ContentType))
            return ApiHttp.Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", $"Send the upload request as application/json (or no body), not '{request.ContentType}'.");
        if (request.ContentLength > MaxRequestBytes)
            return ApiHttp.Problem(StatusCodes.Status413PayloadTooLarge, "Request too large", $"The upload request is at most {MaxRequestBytes} bytes of JSON; the image itself goes to the upload URL.");

        var (body, readProblem) = await ApiHttp.ReadBodyAsync(request, MaxRequestBytes, cancellationToken).ConfigureAwait(false);
        if (readProblem is not null) return readProblem;
        if (body is null)
            return ApiHttp.Problem(StatusCodes.Status413PayloadTooLarge, "Request too large", $"The upload request is at most {MaxRequestBytes} bytes of JSON; the image itself goes to the upload URL.");
        if (!TryParseRequest(body, out var intent, out var problem)) return problem;

        var grant = await uploads.IssueAsync(intent with { Owner = Caller.Of(request.HttpContext).Owner }, cancellationToken).ConfigureAwait(false);
        return Results.Ok(new UploadDto(grant.Id, grant.Url.AbsoluteUri, grant.ExpiresOn.ToUniversalTime(), "PUT", grant.Headers, imaging.Value.MaxBytes));
    }

    /// <summary>GET /api/uploads/{id}: "processing", "indexed" (with the record) or "rejected" (with the reason); 404 while nothing has arrived.</summary>
    public static async Task<IResult> GetStatusAsync(string? id, HttpContext context, IUploadStore uploads, SearchService search, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uploads);
        ArgumentNullException.ThrowIfNull(search);
        if (!ItemIds.IsValid(id, out var idError)) return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid id", idError);
        var scope = Caller.Of(context).OwnedScope; // an upload is its owner's alone, shared album or not
        // Another owner's upload (its name carries the owner) answers exactly like one that never arrived, unread.
        if (scope.Owner is { } owner && OwnerIds.FromBlobName(id![(id!.IndexOf('/', StringComparison.Ordinal) + 1)..]) != owner)
            return UnknownUpload(id!);

        // The blob first: a rejection is remembered per version, and a rejected overwrite outranks an older record.
        var state = await uploads.GetStateAsync(id!, cancellationToken).ConfigureAwait(false);
        if (state.Progress == UploadProgress.Rejected)
            return Results.Ok(new UploadStatusDto(id!, "rejected", state.Reason, state.Detail, null));

        var metadata = await search.GetItemAsync(id!, scope, cancellationToken).ConfigureAwait(false);
        if (metadata is not null) return Results.Ok(new UploadStatusDto(id!, "indexed", null, null, metadata));
        return state.Progress == UploadProgress.Uploaded
            ? Results.Ok(new UploadStatusDto(id!, "processing", null, null, null))
            : UnknownUpload(id!);
    }

    private static IResult UnknownUpload(string id) =>
        ApiHttp.Problem(StatusCodes.Status404NotFound, "Unknown upload", $"Nothing has been uploaded as '{id}' (yet).");

    /// <summary>Validates the JSON description of an upload. An empty body asks for an upload with no type and no metadata.</summary>
    public static bool TryParseRequest(ReadOnlySpan<byte> body, out UploadIntent intent, out IResult problem)
    {
        try
        {
            return TryParse(body, out intent, out problem);
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json refuses to turn an unpaired surrogate escape (in a property name) into a string.
            intent = null!;
            problem = BadRequest("Invalid JSON", "A string in the request is not valid Unicode (an unpaired surrogate escape).");
            return false;
        }
    }

    private static bool TryParse(ReadOnlySpan<byte> body, out UploadIntent intent, out IResult problem)
    {
        intent = null!;
        problem = null!;
        var empty = new Dictionary<string, string>(StringComparer.Ordinal);
        if (IsBlank(body))
        {
            intent = new UploadIntent(null, "", empty);
            return true;
        }

        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            root = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            problem = BadRequest("Invalid JSON", ex.Message);
            return false;
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            problem = BadRequest("Invalid upload request", "Send a JSON object: {\"contentType\":\"image/jpeg\",\"fileName\":\"IMG_0001.jpg\",\"metadata\":{\"album\":\"...\"}}.");
            return false;
        }

        string? contentType = null, fileName = null;
        var metadata = empty;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in root.EnumerateObject())
        {
            var field = Array.Find(Fields, f => f.Equals(property.Name, StringComparison.OrdinalIgnoreCase));
            if (field is null)
            {
                problem = BadRequest("Unknown field", $"'{property.Name}' is not a field of an upload request; the fields are {string.Join(", ", Fields)}.");
                return false;
            }

            if (!seen.Add(field))
            {
                problem = BadRequest("Duplicate field", $"'{field}' appears more than once.");
                return false;
            }

            var value = property.Value;
            if (value.ValueKind == JsonValueKind.Null) continue;
            if (field == "metadata")
            {
                if (!TryParseMetadata(value, out metadata, out problem)) return false;
                continue;
            }

            if (value.ValueKind != JsonValueKind.String)
            {
                problem = BadRequest($"Invalid {field}", $"'{field}' is a string.");
                return false;
            }

            if (!TryGetString(value, out var text))
            {
                problem = BadRequest($"Invalid {field}", $"'{field}' is not valid Unicode (an unpaired surrogate escape).");
                return false;
            }

            if (field == "contentType") contentType = text;
            else fileName = text;
        }

        string? type = null;
        if (!string.IsNullOrWhiteSpace(contentType))
        {
            type = NormaliseContentType(contentType);
            if (type is null)
            {
                problem = Unsupported($"'{contentType}' is not an image type this service indexes.");
                return false;
            }
        }

        if (fileName is not null)
        {
            if (fileName.Length > MaxFileNameLength || fileName.Any(char.IsControl))
            {
                problem = BadRequest("Invalid fileName", $"fileName is at most {MaxFileNameLength} characters, without control characters.");
                return false;
            }

            // The name is never used as a path: only its extension, and only when no content type was given.
            if (type is null)
            {
                var extension = Path.GetExtension(fileName.Replace('\\', '/').Split('/')[^1]);
                if (extension.Length > 0)
                {
                    var format = ImageFormats.FromExtension(extension);
                    type = format == ImageFormat.Unknown ? null : format.ContentType();
                    if (type is null)
                    {
                        problem = Unsupported($"'{fileName}' does not have the extension of an image type this service indexes (convert HEIC and RAW photos to JPEG first).");
                        return false;
                    }
                }
            }
        }

        intent = new UploadIntent(type, type is null ? "" : ImageFormats.FromContentType(type).Extension(), metadata);
        return true;
    }

    private static bool TryParseMetadata(JsonElement value, out Dictionary<string, string> metadata, out IResult problem)
    {
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        problem = null!;
        if (value.ValueKind != JsonValueKind.Object)
        {
            problem = BadRequest("Invalid metadata", "metadata is a JSON object of strings, e.g. {\"album\":\"Holiday 2024\"}.");
            return false;
        }

        foreach (var entry in value.EnumerateObject())
        {
            var key = entry.Name.ToLowerInvariant();
            if (!SearchFilter.TagFields.Contains(key))
            {
                problem = BadRequest("Invalid metadata key", $"'{entry.Name}' is not allowed; metadata keys are {string.Join(", ", SearchFilter.TagFields)}.");
                return false;
            }

            if (metadata.ContainsKey(key))
            {
                problem = BadRequest("Invalid metadata key", $"'{key}' appears more than once.");
                return false;
            }

            if (entry.Value.ValueKind == JsonValueKind.Null) continue;
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                problem = BadRequest("Invalid metadata value", $"metadata.{key} is a string.");
                return false;
            }

            if (!TryGetString(entry.Value, out var raw))
            {
                problem = BadRequest("Invalid metadata value", $"metadata.{key}: the value is not valid Unicode (an unpaired surrogate escape).");
                return false;
            }

            var text = raw.Trim();
            if (!IsValidValue(text, out var error))
            {
                problem = BadRequest("Invalid metadata value", $"metadata.{key}: {error}");
                return false;
            }

            metadata[key] = text;
        }

        return true;
    }

    /// <summary>The rules ingestion applies again (IngestionService keeps only such tags): 1-128 characters of valid Unicode, no control characters.</summary>
    private static bool IsValidValue(string value, out string error)
    {
        error = "";
        if (value.Length == 0) error = "the value is empty.";
        else if (value.Length > IngestionService.MaxTagLength) error = $"the value is longer than {IngestionService.MaxTagLength} characters.";
        else if (value.Any(char.IsControl)) error = "the value contains a control character.";
        else
        {
            try
            {
                _ = StrictUtf8.GetByteCount(value);
            }
            catch (EncoderFallbackException)
            {
                error = "the value is not valid Unicode (an unpaired surrogate).";
            }
        }

        return error.Length == 0;
    }

    private static bool TryGetString(JsonElement value, out string text)
    {
        try
        {
            text = value.GetString() ?? "";
            return true;
        }
        catch (InvalidOperationException)
        {
            text = "";
            return false;
        }
    }

    private static string? NormaliseContentType(string contentType)
    {
        var media = contentType.Split(';')[0].Trim().ToLowerInvariant();
        if (media == "image/jpg" || media == "image/pjpeg") media = "image/jpeg";
        return ImageFormats.FromContentType(media) == ImageFormat.Unknown ? null : media;
    }

    private static bool IsJsonOrNone(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) return true;
        var media = contentType.Split(';')[0].Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsBlank(ReadOnlySpan<byte> body)
    {
        foreach (var b in body)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')) return false;
        }

        return true;
    }

    private static IResult BadRequest(string title, string detail) => ApiHttp.Problem(StatusCodes.Status400BadRequest, title, detail);

    private static IResult Unsupported(string detail) =>
        ApiHttp.Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported image type", $"{detail} Allowed: {string.Join(", ", ContentTypes)}.");
}

/// <summary>The answer to POST /api/uploads: PUT the image to <see cref="UploadUrl"/> with <see cref="Headers"/> before <see cref="ExpiresOn"/>.</summary>
public sealed record UploadDto(string Id, string UploadUrl, DateTimeOffset ExpiresOn, string Method, IReadOnlyDictionary<string, string> Headers, long MaxBytes);

/// <summary>The answer to GET /api/uploads/{id}.</summary>
public sealed record UploadStatusDto(
    string Id,
    string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ItemMetadata? Metadata);
