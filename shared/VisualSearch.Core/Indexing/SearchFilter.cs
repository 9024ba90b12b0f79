using System.Globalization;
using System.Text;

namespace VisualSearch.Indexing;

/// <summary>A string field that must equal a value.</summary>
public sealed record FieldEquals(string Field, string Value);

/// <summary>A bound on the upload time.</summary>
public sealed record TimeBound(DateTimeOffset Value, bool Inclusive);

/// <summary>
/// Metadata conditions, all of which must hold. Text form (an OData subset, so it maps 1:1 onto Azure AI Search):
/// <c>contentType eq 'image/png' and album eq 'O''Brien' and uploadedAt ge 2024-01-01T00:00:00Z</c>.
/// String fields: contentType, source, album, owner, tag (eq only); uploadedAt takes ge, gt, le, lt.
/// </summary>
public sealed record SearchFilter
{
    /// <summary>String fields a filter may name; album and tag are client metadata, owner is set by the server (all in <see cref="ItemMetadata.Tags"/>).</summary>
    public static readonly IReadOnlyList<string> StringFields = ["contentType", "source", "album", OwnerIds.Field, "tag"];

    /// <summary>Client metadata keys that are stored in <see cref="ItemMetadata.Tags"/>; the owner is not one (see <see cref="OwnerIds"/>).</summary>
    public static readonly IReadOnlyList<string> TagFields = ["album", "tag"];

    public IReadOnlyList<FieldEquals> Conditions { get; init; } = [];

    public TimeBound? UploadedFrom { get; init; }

    public TimeBound? UploadedTo { get; init; }

    public bool IsEmpty => Conditions.Count == 0 && UploadedFrom is null && UploadedTo is null;

    public bool Matches(ItemMetadata metadata)
    {
        foreach (var condition in Conditions)
        {
            if (!string.Equals(FieldValue(metadata, condition.Field), condition.Value, StringComparison.Ordinal)) return false;
        }

        if (UploadedFrom is { } from && (from.Inclusive ? metadata.UploadedAt < from.Value : metadata.UploadedAt <= from.Value)) return false;
        if (UploadedTo is { } to && (to.Inclusive ? metadata.UploadedAt > to.Value : metadata.UploadedAt >= to.Value)) return false;
        return true;
    }

    public static string? FieldValue(ItemMetadata metadata, string field) => field switch
    {
        "contentType" => metadata.ContentType,
        "source" => metadata.Source,
        _ => metadata.Tags.TryGetValue(field, out var v) ? v : null,
    };

    /// <summary>Parses the text form; null or blank gives null. Throws <see cref="FormatException"/> with the position.</summary>
    public static SearchFilter? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (text.Length > 2000) throw new FormatException("The filter is longer than 2000 characters.");
        var equals = new List<FieldEquals>();
        TimeBound? from = null, to = null;
        var reader = new Reader(text);
        while (true)
        {
            var fieldPos = reader.Position;
            var field = reader.Word() ?? throw reader.Error("a field name");
            var op = reader.Word() ?? throw reader.Error("an operator (eq, ge, gt, le, lt)");
            if (field == "uploadedAt")
            {
                var value = reader.Timestamp();
                switch (op)
                {
                    case "ge" or "gt":
                        if (from is not null) throw new FormatException($"uploadedAt has two lower bounds (at {fieldPos}).");
                        from = new TimeBound(value, op == "ge");
                        break;
                    case "le" or "lt":
                        if (to is not null) throw new FormatException($"uploadedAt has two upper bounds (at {fieldPos}).");
                        to = new TimeBound(value, op == "le");
                        break;
                    case "eq":
                        if (from is not null || to is not null) throw new FormatException($"uploadedAt is bounded twice (at {fieldPos}).");
                        from = new TimeBound(value, true);
                        to = new TimeBound(value, true);
                        break;
                    default:
                        throw new FormatException($"uploadedAt takes ge, gt, le, lt or eq, not '{op}' (at {fieldPos}).");
                }
            }
            else if (StringFields.Contains(field))
            {
                if (op != "eq") throw new FormatException($"{field} takes only eq, not '{op}' (at {fieldPos}).");
                equals.Add(new FieldEquals(field, reader.QuotedString()));
            }
            else
            {
                throw new FormatException($"Unknown filter field '{field}' (at {fieldPos}); use {string.Join(", ", StringFields)} or uploadedAt.");
            }

            if (reader.AtEnd) break;
            var conjunction = reader.Word();
            if (conjunction != "and") throw reader.Error("'and' (only 'and' joins conditions)");
        }

        return new SearchFilter { Conditions = equals, UploadedFrom = from, UploadedTo = to };
    }

    public override string ToString()
    {
        var parts = Conditions.Select(e => $"{e.Field} eq '{e.Value.Replace("'", "''", StringComparison.Ordinal)}'").ToList();
        if (UploadedFrom is { } f) parts.Add($"uploadedAt {(f.Inclusive ? "ge" : "gt")} {f.Value.UtcDateTime:yyyy-MM-ddTHH:mm:ss.FFFFFFFZ}");
        if (UploadedTo is { } t) parts.Add($"uploadedAt {(t.Inclusive ? "le" : "lt")} {t.Value.UtcDateTime:yyyy-MM-ddTHH:mm:ss.FFFFFFFZ}");
        return string.Join(" and ", parts);
    }

    private sealed class Reader(string text)
    {
        private int _pos;

        public int Position => _pos;

        public bool AtEnd
        {
            get
            {
                SkipSpace();
                return _pos >= text.Length;
            }
        }

        public FormatException Error(string expected) =>
            new($"Expected {expected} at position {_pos} of the filter.");

        public string? Word()
        {
            SkipSpace();
            var start = _pos;
            while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '_')) _pos++;
            return _pos > start ? text[start.._pos] : null;
        }

        public string QuotedString()
        {
            SkipSpace();
            if (_pos >= text.Length || text[_pos] != '\'') throw Error("a quoted string ('...')");
            _pos++;
            var sb = new StringBuilder();
            while (true)
            {
                if (_pos >= text.Length) throw new FormatException("A quoted string in the filter is not closed.");
                var c = text[_pos++];
                if (c == '\'')
                {
                    if (_pos < text.Length && text[_pos] == '\'') { sb.Append('\''); _pos++; continue; }
                    break;
                }

                if (char.IsControl(c)) throw new FormatException($"Control character in a filter string at position {_pos - 1}.");
                sb.Append(c);
                if (sb.Length > 256) throw new FormatException("A filter value is longer than 256 characters.");
            }

            return sb.ToString();
        }

        public DateTimeOffset Timestamp()
        {
            SkipSpace();
            var start = _pos;
            while (_pos < text.Length && !char.IsWhiteSpace(text[_pos])) _pos++;
            var token = text[start.._pos].Trim('\'');
            if (!DateTimeOffset.TryParse(token, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
                throw new FormatException($"Expected an ISO 8601 time at position {start} of the filter, found '{token}'.");
            return value;
        }

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }
    }
}
