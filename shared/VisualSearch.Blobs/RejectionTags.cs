using System.Text;
using VisualSearch.Ingestion;

namespace VisualSearch.Blobs;

/// <summary>
/// Why ingestion refused a blob, remembered on the blob itself as blob index tags: storage-side (survives
/// restarts, needs no database), set without changing the blob's ETag or raising a BlobCreated event, and out
/// of a client's reach (an upload SAS has no Tags permission). The ETag of the refused version is part of the
/// record, so a later overwrite is never reported with an older verdict.
/// </summary>
public static class RejectionTags
{
    public const string Reason = "vsearch-rejected";
    public const string ETag = "vsearch-etag";
    public const string Detail = "vsearch-detail";

    private const int MaxValueLength = 256;

    /// <summary>The tags to set for a refused version (merged into <paramref name="existing"/>, which is not changed).</summary>
    public static Dictionary<string, string> For(IngestResult result, Azure.ETag etag, IDictionary<string, string>? existing = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        var tags = existing is null ? new Dictionary<string, string>(StringComparer.Ordinal) : new Dictionary<string, string>(existing, StringComparer.Ordinal);
        tags[Reason] = Clean(result.Reason?.ToString() ?? "Rejected");
        tags[ETag] = Clean(Unquote(etag));
        tags[Detail] = Clean(result.Detail ?? "");
        return tags;
    }

    /// <summary>The recorded refusal of the version <paramref name="current"/>, or null (none, or an older version's).</summary>
    public static (string Reason, string? Detail)? Read(IDictionary<string, string> tags, Azure.ETag current)
    {
        ArgumentNullException.ThrowIfNull(tags);
        if (!tags.TryGetValue(Reason, out var reason) || !tags.TryGetValue(ETag, out var etag)) return null;
        if (!string.Equals(etag, Clean(Unquote(current)), StringComparison.Ordinal)) return null;
        return (reason, tags.TryGetValue(Detail, out var detail) && detail.Length > 0 ? detail : null);
    }

    /// <summary>Blob index tag values allow letters, digits, space and + - . / : = _ only, up to 256 characters.</summary>
    public static string Clean(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = new StringBuilder(Math.Min(value.Length, MaxValueLength));
        foreach (var c in value)
        {
            if (text.Length == MaxValueLength) break;
            var allowed = char.IsAsciiLetterOrDigit(c) || c is ' ' or '+' or '-' or '.' or '/' or ':' or '=' or '_';
            var next = allowed ? c : ' ';
            if (next == ' ' && (text.Length == 0 || text[^1] == ' ')) continue;
            text.Append(next);
        }

        return text.ToString().TrimEnd();
    }

    private static string Unquote(Azure.ETag etag) => etag.ToString().Trim('"');
}
