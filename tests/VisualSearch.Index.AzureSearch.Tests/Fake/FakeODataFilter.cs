using System.Globalization;
using System.Text;

namespace VisualSearch.Index.AzureSearch.Tests.Fake;

/// <summary>One comparison of a filter: <c>field op literal</c>.</summary>
public sealed record FilterClause(string Field, string Operator, object? Value);

/// <summary>
/// A strict parser for the OData $filter subset the backend emits: comparisons (eq, ne, gt, ge, lt, le) of a
/// field with a literal (a string with quotes doubled, an ISO 8601 timestamp, a number, true, false, null),
/// joined by <c>and</c>. Anything else (or, not, functions, an unterminated string, a bare word) is a syntax
/// error, as a value that escaped its quotes would produce.
/// </summary>
public static class FakeODataFilter
{
    private static readonly string[] Operators = ["eq", "ne", "gt", "ge", "lt", "le"];

    public static IReadOnlyList<FilterClause> Parse(string text)
    {
        var tokens = Tokenize(text);
        var clauses = new List<FilterClause>();
        var i = 0;
        while (true)
        {
            if (i + 3 > tokens.Count) throw new FormatException($"Invalid expression: a comparison is incomplete at token {i} of '{text}'.");
            var (fieldKind, field) = tokens[i];
            var (opKind, op) = tokens[i + 1];
            var (valueKind, raw) = tokens[i + 2];
            if (fieldKind != TokenKind.Word || Operators.Contains(field) || field is "and" or "or" or "not")
                throw new FormatException($"Invalid expression: expected a field name, found '{field}'.");
            if (opKind != TokenKind.Word || !Operators.Contains(op))
                throw new FormatException($"Invalid expression: expected a comparison operator after '{field}', found '{op}'.");
            clauses.Add(new FilterClause(field, op, Literal(valueKind, raw)));
            i += 3;
            if (i == tokens.Count) return clauses;
            if (tokens[i] != (TokenKind.Word, "and"))
                throw new FormatException($"Invalid expression: only 'and' may join comparisons here, found '{tokens[i].Text}'.");
            i++;
        }
    }

    private static object? Literal(TokenKind kind, string raw)
    {
        switch (kind)
        {
            case TokenKind.String:
                return raw;
            case TokenKind.Word when raw is "true" or "false":
                return raw == "true";
            case TokenKind.Word when raw == "null":
                return null;
            case TokenKind.Atom when raw.Contains('T', StringComparison.Ordinal):
                if (DateTimeOffset.TryParseExact(raw, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
                    return time;
                throw new FormatException($"Invalid expression: '{raw}' is not an Edm.DateTimeOffset literal.");
            case TokenKind.Atom when double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var number):
                return number;
            default:
                throw new FormatException($"Invalid expression: expected a literal, found '{raw}'.");
        }
    }

    private enum TokenKind
    {
        Word,
        String,
        Atom,
    }

    private static List<(TokenKind Kind, string Text)> Tokenize(string text)
    {
        var tokens = new List<(TokenKind, string)>();
        var pos = 0;
        while (pos < text.Length)
        {
            var c = text[pos];
            if (c == ' ')
            {
                pos++;
            }
            else if (c == '\'')
            {
                var sb = new StringBuilder();
                pos++;
                while (true)
                {
                    if (pos >= text.Length) throw new FormatException("Invalid expression: unterminated string literal.");
                    if (text[pos] == '\'')
                    {
                        if (pos + 1 < text.Length && text[pos + 1] == '\'')
                        {
                            sb.Append('\'');
                            pos += 2;
                            continue;
                        }

                        pos++;
                        break;
                    }

                    sb.Append(text[pos++]);
                }

                if (pos < text.Length && text[pos] != ' ') throw new FormatException($"Invalid expression: unexpected '{text[pos]}' after a string literal.");
                tokens.Add((TokenKind.String, sb.ToString()));
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                var start = pos;
                while (pos < text.Length && (char.IsAsciiLetterOrDigit(text[pos]) || text[pos] == '_')) pos++;
                tokens.Add((TokenKind.Word, text[start..pos]));
            }
            else if (char.IsAsciiDigit(c) || c == '-')
            {
                var start = pos;
                while (pos < text.Length && text[pos] != ' ') pos++;
                tokens.Add((TokenKind.Atom, text[start..pos]));
            }
            else
            {
                throw new FormatException($"Invalid expression: unexpected '{c}' at position {pos}.");
            }
        }

        return tokens;
    }
}
