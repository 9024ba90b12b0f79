using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using VisualSearch.Duplicates;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Api;

/// <summary>
/// GET /api/duplicates?minScore=&amp;limit=&amp;cursor=&amp;owner= (groups of copies, largest first) and
/// POST /api/duplicates/decisions (not-duplicates, keep). Both work on the caller's own records only (an
/// administrator: everyone's, or one owner's with <c>owner=</c>); an id outside them answers 404 like an unknown
/// one. Bad parameters are 400 problem details; an index that cannot list its items is 501.
/// </summary>
public static class DuplicatesApi
{
    /// <summary>Largest decisions body read (a keep names at most a group's items).</summary>
    public const int MaxDecisionBytes = 256 * 1024;

    /// <summary>GET /api/duplicates.</summary>
    public static async Task<IResult> GetGroupsAsync(HttpRequest request, DuplicateService duplicates, SearchService search, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(duplicates);
        var q = request.Query;
        float? minScore = null;
        if (q.TryGetValue("minScore", out var sText) && !string.IsNullOrEmpty(sText))
        {
            if (!float.TryParse(sText, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || !float.IsFinite(s) || s < -1 || s > 1)
                return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid minScore", "minScore must be a number from -1 to 1 (cosine similarity).");
            minScore = s;
        }

        var limit = DuplicateQuery.DefaultLimit;
        if (q.TryGetValue("limit", out var lText) && !string.IsNullOrEmpty(lText)
            && (!int.TryParse(lText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > DuplicateQuery.MaxLimit))
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid limit", $"limit must be a whole number from 1 to {DuplicateQuery.MaxLimit}.");

        var offset = 0;
        if (q.TryGetValue("cursor", out var cText) && !string.IsNullOrEmpty(cText)
            && (!int.TryParse(cText, NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset < 0))
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid cursor", "cursor must be the nextCursor of an earlier page.");

        var caller = Caller.Of(request.HttpContext);
        var scope = caller.OwnedScope;
        if (q.TryGetValue("owner", out var oText) && !string.IsNullOrEmpty(oText))
        {
            if (!OwnerIds.IsValid(oText))
                return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid owner", "An owner id is 1-128 characters of ASCII letters, digits and - _ . @ | :.");
            if (!caller.IsAdmin && oText != caller.Owner)
                return ApiHttp.Problem(StatusCodes.Status403Forbidden, "Forbidden", $"Only the {Caller.AdminRole} role chooses another owner's duplicates.");
            scope = OwnerScope.Of(oText!);
        }

        DuplicateGroupsPage page;
        try
        {
            page = await duplicates.GetGroupsAsync(new DuplicateQuery(minScore, limit, offset, scope), cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicateGroupingNotSupportedException ex)
        {
            return ApiHttp.Problem(StatusCodes.Status501NotImplemented, "Not available with this index", ex.Message);
        }

        var groups = new List<DuplicateGroupDto>(page.Groups.Count);
        foreach (var group in page.Groups)
        {
            var items = new List<DuplicateItemDto>(group.Items.Count);
            foreach (var id in group.Items)
                items.Add(new DuplicateItemDto(id, await search.GetItemAsync(id, scope, cancellationToken).ConfigureAwait(false)));
            groups.Add(new DuplicateGroupDto(
                group.Kind == DuplicateKind.Exact ? "exact" : "near",
                items,
                [.. group.Pairs.Select(p => new DuplicatePairDto(p.A, p.B, MathF.Round(p.Score, 6), p.Kind == DuplicateKind.Exact ? "exact" : "near"))]));
        }

        return Results.Ok(new DuplicateGroupsDto(page.MinScore, page.Total, groups, page.NextCursor));
    }

    /// <summary>
    /// POST /api/duplicates/decisions with <c>{"items":[a,b],"decision":"not-duplicates"}</c> or
    /// <c>{"items":[a,b,...],"decision":"keep","keep":a,"delete":true}</c>.
    /// </summary>
    public static async Task<IResult> DecideAsync(HttpRequest request, DuplicateService duplicates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(duplicates);
        var (decision, problem) = await ApiHttp.ReadJsonAsync<DecisionRequest>(request, MaxDecisionBytes, cancellationToken).ConfigureAwait(false);
        if (problem is not null) return problem;

        if (decision?.Items is not { Length: >= 2 } items || items.Any(string.IsNullOrEmpty))
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid items", "items lists two or more item ids.");
        foreach (var id in items)
            if (!ItemIds.IsValid(id, out var idError)) return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid id", idError);
        if (items.Distinct(StringComparer.Ordinal).Count() != items.Length)
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid items", "items names an item twice.");

        // Decisions are about the caller's own records (an administrator: anyone's); other ids answer like unknown ones.
        var scope = Caller.Of(request.HttpContext).OwnedScope;
        switch (decision.Decision)
        {
            case "not-duplicates":
                if (items.Length != 2 || decision.Keep is not null || decision.Delete)
                    return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid decision", "not-duplicates names exactly two items, and no keep or delete.");
                var recorded = await duplicates.MarkNotDuplicatesAsync(items[0], items[1], scope, cancellationToken).ConfigureAwait(false);
                return recorded is { } added
                    ? Results.Ok(new { decision = "not-duplicates", items, recorded = added })
                    : UnknownItems();
            case "keep":
                if (decision.Keep is null || !items.Contains(decision.Keep, StringComparer.Ordinal))
                    return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid decision", "keep names one of items.");
                KeepOutcome? outcome;
                try
                {
                    outcome = await duplicates.KeepAsync(decision.Keep, [.. items.Where(i => i != decision.Keep)], decision.Delete, scope, cancellationToken).ConfigureAwait(false);
                }
                catch (DuplicateGroupingNotSupportedException ex)
                {
                    return ApiHttp.Problem(StatusCodes.Status501NotImplemented, "Not available with this index", ex.Message);
                }

                return outcome is null
                    ? UnknownItems()
                    : Results.Ok(new { decision = "keep", keep = outcome.Kept, others = outcome.Others });
            default:
                return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid decision", "decision is \"not-duplicates\" or \"keep\".");
        }
    }

    private static IResult UnknownItems() =>
        ApiHttp.Problem(StatusCodes.Status404NotFound, "Unknown id", "Not every item of the decision is indexed.");

    private sealed record DecisionRequest(
        [property: JsonPropertyName("items")] string[]? Items,
        [property: JsonPropertyName("decision")] string? Decision,
        [property: JsonPropertyName("keep")] string? Keep,
        [property: JsonPropertyName("delete")] bool Delete);
}

public sealed record DuplicateItemDto(string Id, ItemMetadata? Metadata);

public sealed record DuplicatePairDto(string A, string B, float Score, string Kind);

public sealed record DuplicateGroupDto(string Kind, IReadOnlyList<DuplicateItemDto> Items, IReadOnlyList<DuplicatePairDto> Pairs);

public sealed record DuplicateGroupsDto(float MinScore, int Total, IReadOnlyList<DuplicateGroupDto> Groups, string? NextCursor);
