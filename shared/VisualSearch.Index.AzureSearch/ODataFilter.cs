using System.Globalization;
using System.Text;
using VisualSearch.Indexing;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// Translates a <see cref="SearchFilter"/> (and an excluded key) into the OData $filter of Azure AI Search.
/// Field names come from a fixed map, never from input; every value is a string literal with its quotes doubled
/// or a formatted timestamp, so no value can change the expression's structure.
/// </summary>
public static class ODataFilter
{
    /// <param name="excludeKey">A document key no result may have.</param>
    /// <param name="excludeItemId">An item id no result may have (an index with regions: none of the item's documents).</param>
    public static string? Build(SearchFilter? filter, string? excludeKey = null, string? excludeItemId = null)
    {
        var parts = new List<string>();
        if (filter is not null)
        {
            foreach (var condition in filter.Conditions)
                parts.Add($"{FieldFor(condition.Field)} eq {Literal(condition.Value)}");
            if (filter.UploadedFrom is { } from)
                parts.Add($"{AzureSearchSchema.UploadedAt} {(from.Inclusive ? "ge" : "gt")} {Timestamp(from.Value)}");
            if (filter.UploadedTo is { } to)
                parts.Add($"{AzureSearchSchema.UploadedAt} {(to.Inclusive ? "le" : "lt")} {Timestamp(to.Value)}");
        }

        if (excludeKey is not null) parts.Add($"{AzureSearchSchema.Key} ne {Literal(excludeKey)}");
        if (excludeItemId is not null) parts.Add($"{AzureSearchSchema.ItemId} ne {Literal(excludeItemId)}");
        return parts.Count == 0 ? null : string.Join(" and ", parts);
    }

    /// <summary>
    /// The $filter of a query: the server's scope (<see cref="Scope"/>) AND the client's filter AND the excluded key
    /// (or, in an index with regions, the excluded item id: none of its documents); null when there is no condition.
    /// </summary>
    public static string? ForQuery(VectorQuery query, string? excludeKey = null, string? excludeItemId = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        var scope = Scope(query.Scope);
        var rest = Build(query.Filter, excludeKey, excludeItemId);
        return scope is null ? rest : rest is null ? scope : $"{scope} and {rest}";
    }

    /// <summary>
    /// The scope as one parenthesized condition: <c>(owner eq 'me' or (owner eq 'a' and album eq 'trip') or ...)</c>,
    /// or null for everyone. Parenthesized as a whole, so AND-ing it with the client's conditions can only narrow it.
    /// </summary>
    public static string? Scope(OwnerScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        if (scope.Owner is null) return null;
        var own = $"{AzureSearchSchema.Owner} eq {Literal(scope.Owner)}";
        if (scope.SharedAlbums.Count == 0) return own;
        var parts = new List<string>(scope.SharedAlbums.Count + 1) { own };
        foreach (var shared in scope.SharedAlbums)
            parts.Add($"({AzureSearchSchema.Owner} eq {Literal(shared.Owner)} and {AzureSearchSchema.Album} eq {Literal(shared.Album)})");
        return "(" + string.Join(" or ", parts) + ")";
    }

    /// <summary>An OData string literal: single quotes around, every quote inside doubled.</summary>
    public static string Literal(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var sb = new StringBuilder(value.Length + 2);
        sb.Append('\'');
        foreach (var c in value)
        {
            if (c == '\'') sb.Append('\'');
            sb.Append(c);
        }

        return sb.Append('\'').ToString();
    }

    /// <summary>An Edm.DateTimeOffset literal in UTC, e.g. 2024-01-01T00:00:00.000Z (unquoted, as OData wants).</summary>
    public static string Timestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string FieldFor(string field) => field switch
    {
        "contentType" => AzureSearchSchema.ContentType,
        "source" => AzureSearchSchema.Source,
        "album" => AzureSearchSchema.Album,
        "owner" => AzureSearchSchema.Owner,
        "tag" => AzureSearchSchema.Tag,
        _ => throw new ArgumentException($"'{field}' is not a filterable field.", nameof(field)),
    };
}
