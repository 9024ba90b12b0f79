using System.Text.Json.Serialization;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Api;

/// <summary>
/// The HTTP handlers. Every host maps the same routes onto these methods:
/// POST /api/search (image body), GET /api/search?id=, GET /api/items/{id}, GET /api/health.
/// Bad input never gives a 5xx: 400 bad parameters, 404 unknown id, 413 too large, 415 not an image,
/// 422 a damaged image; all errors are application/problem+json.
/// </summary>
public static class SearchApi
{
    /// <summary>POST /api/search?k=&amp;minScore=&amp;filter=&amp;cutoff=&amp;space= with the image as the body.</summary>
    public static async Task<IResult> SearchByImageAsync(HttpRequest request, SearchService search, IOptions<ImagingOptions> imaging, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(search);
        if (!TryParseQuery(request.Query, search.HasCopySpace, out var query, out var problem)) return problem;
        if (!ApiHttp.IsAcceptableContentType(request.ContentType))
            return ApiHttp.Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", $"Send the image bytes with an image/* or application/octet-stream Content-Type, not '{request.ContentType}'.");

        var body = await ApiHttp.ReadImageBodyAsync(request, imaging.Value.MaxBytes, cancellationToken).ConfigureAwait(false);
        if (body.Bytes is null) return body.Problem!;

        try
        {
            var response = await search.SearchByImageAsync(body.Bytes, query, await Caller.ReadScopeAsync(request.HttpContext, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            return Results.Ok(ToDto(response, search.HasCopySpace));
        }
        catch (ImageRejectedException ex)
        {
            return ApiHttp.Rejected(ex);
        }
    }

    /// <summary>GET /api/search?id=&amp;k=&amp;minScore=&amp;filter=&amp;cutoff=&amp;space=: neighbours of an indexed item.</summary>
    public static async Task<IResult> SearchByIdAsync(HttpRequest request, SearchService search, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(search);
        var id = request.Query["id"].ToString();
        if (string.IsNullOrEmpty(id))
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Missing id", "GET /api/search needs ?id= of an indexed item; to search by image, POST the image.");
        if (!ItemIds.IsValid(id, out var idError)) return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid id", idError);
        if (!TryParseQuery(request.Query, search.HasCopySpace, out var query, out var problem)) return problem;

        var response = await search.SearchByIdAsync(id, query, await Caller.ReadScopeAsync(request.HttpContext, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        return response is null
            ? ApiHttp.Problem(StatusCodes.Status404NotFound, "Unknown id", $"No item '{id}' is indexed.")
            : Results.Ok(ToDto(response, search.HasCopySpace));
    }

    /// <summary>GET /api/items/{id}: the stored metadata; 404 for an unknown id and for another owner's, alike.</summary>
    public static async Task<IResult> GetItemAsync(string? id, HttpContext context, SearchService search, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(search);
        if (!ItemIds.IsValid(id, out var idError)) return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid id", idError);
        var metadata = await search.GetItemAsync(id!, await Caller.ReadScopeAsync(context, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        return metadata is null
            ? ApiHttp.Problem(StatusCodes.Status404NotFound, "Unknown id", $"No item '{id}' is indexed.")
            : Results.Ok(new ItemDto(id!, metadata));
    }

    /// <summary>
    /// GET /api/health: <c>{"status":"ok"}</c> once the index opens; <paramref name="detailed"/> (a caller with the
    /// key) adds model, index kind, record count, cold start and embedding health.
    /// </summary>
    /// <summary>
    /// GET /api/health/details: model, index and count of every owner's records, so administrators only (the
    /// <see cref="Caller.AdminRole"/> role, or the single user of a host without sign-in); 403 for anyone else.
    /// </summary>
    public static Task<IResult> HealthDetailsAsync(HttpContext context, SearchService search, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Caller.Of(context).IsAdmin
            ? HealthAsync(search, detailed: true, cancellationToken)
            : Task.FromResult(ApiHttp.Problem(StatusCodes.Status403Forbidden, "Forbidden", $"The health details need the {Caller.AdminRole} role."));
    }

    public static async Task<IResult> HealthAsync(SearchService search, bool detailed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(search);
        var health = await search.GetHealthAsync(cancellationToken).ConfigureAwait(false);
        return detailed
            ? Results.Ok(new HealthDto("ok", health.Model, health.Dimension, health.IndexKind, health.Count, health.ColdStart, health.Embeddings, health.Copies))
            : Results.Ok(new HealthStatusDto("ok"));
    }

    /// <param name="hasCopySpace">Whether the host has a copy space: <c>space=copies</c> is refused (400) without one.</param>
    internal static bool TryParseQuery(IQueryCollection q, bool hasCopySpace, out SearchQuery query, out IResult problem)
    {
        query = null!;
        problem = null!;
        var k = SearchQuery.DefaultK;
        if (q.TryGetValue("k", out var kText) && !string.IsNullOrEmpty(kText))
        {
            if (!int.TryParse(kText, NumberStyles.Integer, CultureInfo.InvariantCulture, out k) || k < 1 || k > SearchQuery.MaxK)
            {
                problem = ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid k", $"k must be a whole number from 1 to {SearchQuery.MaxK}.");
                return false;
            }
        }

        float? minScore = null;
        if (q.TryGetValue("minScore", out var sText) && !string.IsNullOrEmpty(sText))
        {
            if (!float.TryParse(sText, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || !float.IsFinite(s) || s < -1 || s > 1)
            {
                problem = ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid minScore", "minScore must be a number from -1 to 1 (cosine similarity).");
                return false;
            }

            minScore = s;
        }

        SearchFilter? filter;
        try
        {
            filter = SearchFilter.Parse(q["filter"].ToString());
        }
        catch (FormatException ex)
        {
            problem = ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid filter", ex.Message);
            return false;
        }

        var cutoff = CutoffMode.None;
        switch (q["cutoff"].ToString())
        {
            case "" or "none":
                break;
            case "auto":
                cutoff = CutoffMode.Auto;
                break;
            default:
                problem = ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid cutoff", "cutoff is auto (stop where the scores fall away) or none.");
                return false;
        }

        SearchSpace? space;
        switch (q["space"].ToString())
        {
            case "":
                space = null;
                break;
            case "category":
                space = SearchSpace.Category;
                break;
            case "copies" when hasCopySpace:
                space = SearchSpace.Copies;
                break;
            case "copies":
                problem = ApiHttp.Problem(StatusCodes.Status400BadRequest, "No copy space",
                    "This host has no copy space (Encoder__CopyDescriptor is None): search with space=category, or leave space out.");
                return false;
            default:
                problem = ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid space",
                    "space is category (pictures like this one) or copies (copies of this one); left out, cutoff=auto searches the copies when the host has a copy space.");
                return false;
        }

        query = new SearchQuery(k, minScore, filter, cutoff) { Space = space };
        return true;
    }

    /// <summary>The response; it names the space only on a host with a copy space (elsewhere the answer is as before issue 14's dual design).</summary>
    private static SearchResultsDto ToDto(SearchResponse response, bool hasCopySpace) =>
        new(response.Model, response.Results.Select(h => new SearchResultDto(h.Id, MathF.Round(h.Score, 6), h.Metadata, h.Region)).ToList(),
            !hasCopySpace ? null : response.Space == SearchSpace.Copies ? "copies" : "category");
}

/// <summary>
/// One result: an item with its score, and when one of its region vectors gave the score (issue 14), that region
/// as <c>region: {x, y, width, height}</c> in the item's pixel coordinates (left out otherwise).
/// </summary>
public sealed record SearchResultDto(
    string Id,
    float Score,
    ItemMetadata Metadata,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] RegionBox? Region = null);

/// <summary>
/// The results and the model that made the query vector; on a host with a copy space (issue 14), the space searched
/// (<c>category</c> or <c>copies</c>).
/// </summary>
public sealed record SearchResultsDto(
    string Model,
    IReadOnlyList<SearchResultDto> Results,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Space = null);

public sealed record ItemDto(string Id, ItemMetadata Metadata);

/// <summary>What anonymous callers of /api/health learn.</summary>
public sealed record HealthStatusDto(string Status);

/// <summary>The health details; <see cref="Copies"/> (the copy space's model and count, issue 14) only on a host with a copy space.</summary>
public sealed record HealthDto(
    string Status,
    string Model,
    int Dimension,
    string Index,
    long Count,
    ColdStartReport ColdStart,
    VisualSearch.Diagnostics.EmbeddingHealthSnapshot? Embeddings,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] CopySpaceReport? Copies = null);
