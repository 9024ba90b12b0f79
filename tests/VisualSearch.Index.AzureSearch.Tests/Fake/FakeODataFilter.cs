using System.Globalization;
using System.Text;

namespace VisualSearch.Index.AzureSearch.Tests.Fake;

/// <summary>One comparison of a filter: <c>field op literal</c>.</summary>
public sealed record FilterClause(string Field, string Operator, object? Value);

/// <summary>A parsed $filter: comparisons joined by <c>and</c> and <c>or</c> (and binds tighter), with parentheses.</summary>
public abstract record FilterExpression
{
    /// <summary>Every comparison in the expression (for the field checks).</summary>
    public abstract IEnumerable<FilterClause> Clauses { get; }

    public abstract bool Evaluate(Func<FilterClause, bool> matches);
}

public sealed record ClauseExpression(FilterClause Clause) : FilterExpression
{
    public override IEnumerable<FilterClause> Clauses => [Clause];

    public override bool Evaluate(Func<FilterClause, bool> matches) => matches(Clause);
}

public sealed record AndExpression(IReadOnlyList<FilterExpression> Parts) : FilterExpression
{
    public override IEnumerable<FilterClause> Clauses => Parts.SelectMany(p => p.Clauses);

    public override bool Evaluate(Func<FilterClause, bool> matches) => Parts.All(p => p.Evaluate(matches));
}

public sealed record OrExpression(IReadOnlyList<FilterExpression> Parts) : FilterExpression
{
    public override IEnumerable<FilterClause> Clauses => Parts.SelectMany(p => p.Clauses);

    public override bool Evaluate(Func<FilterClause, bool> matches) => Parts.Any(p => p.Evaluate(matches));
}

/// <summary>
/// A strict parser for the OData $filter subset the backend emits: comparisons (eq, ne, gt, ge, lt, le) of a
/// field with a literal (a string with quotes doubled, an ISO 8601 timestamp, a number, true, false, null).
/// <see cref="Parse"/> takes comparisons joined by <c>and</c> only (what a client filter becomes);
/// <see cref="ParseExpression"/> also <c>or</c> and parentheses (the server's owner scope with shared albums), with
/// OData's precedence (and before or). Anything else (not, functions, an unterminated string, a bare word, an
/// unbalanced parenthesis) is a syntax error, as a value that escaped its quotes would produce.
/// </summary>
public static class FakeODataFilter
{
    private static readonly string[] Operators = ["eq", "ne", "gt", "ge", "lt", "le"];

    public static IReadOnlyList<FilterClause> Parse(string text) => ParseExpression(text) switch
    {
        ClauseExpression one => [one.Clause],
        AndExpression all when all.Parts.All(p => p is ClauseExpression) => [.. all.Clauses],
        _ => throw new FormatException($"Invalid expression: only 'and' may join comparisons here: '{text}'."),
    };

    public static FilterExpression ParseExpression(string text)
    {
        var tokens = Tokenize(text);
        var i = 0;
        var expression = ParseOr(tokens, ref i, text);
        if (i != tokens.Count) throw new FormatException($"Invalid expression: unexpected '{tokens[i].Text}' at token {i} of '{text}'.");
        return expression;
    }

    private static FilterExpression ParseOr(List<(TokenKind Kind, string Text)> tokens, ref int i, string text)
    {
        var parts = new List<FilterExpression> { ParseAnd(tokens, ref i, text) };
        while (i < tokens.Count && tokens[i] == (TokenKind.Word, "or"))
        {
            i++;
            parts.Add(ParseAnd(tokens, ref i, text));
        }

        return parts.Count == 1 ? parts[0] : new OrExpression(parts);
    }

    private static FilterExpression ParseAnd(List<(TokenKind Kind, string Text)> tokens, ref int i, string text)
    {
        var parts = new List<FilterExpression> { ParsePrimary(tokens, ref i, text) };
        while (i < tokens.Count && tokens[i] == (TokenKind.Word, "and"))
        {
            i++;
            parts.Add(ParsePrimary(tokens, ref i, text));
        }

        return parts.Count == 1 ? parts[0] : new AndExpression(parts);
    }

    private static FilterExpression ParsePrimary(List<(TokenKind Kind, string Text)> tokens, ref int i, string text)
    {
        if (i < tokens.Count && tokens[i] == (TokenKind.Paren, "("))
        {
            i++;
            var inner = ParseOr(tokens, ref i, text);
            if (i >= tokens.Count || tokens[i] != (TokenKind.Paren, ")")) throw new FormatException($"Invalid expression: ')' expected at token {i} of '{text}'.");
            i++;
            return inner;
        }

        if (i + 3 > tokens.Count) throw new FormatException($"Invalid expression: a comparison is incomplete at token {i} of '{text}'.");
        var (fieldKind, field) = tokens[i];
        var (opKind, op) = tokens[i + 1];
        var (valueKind, raw) = tokens[i + 2];
        if (fieldKind != TokenKind.Word || Operators.Contains(field) || field is "and" or "or" or "not")
            throw new FormatException($"Invalid expression: expected a field name, found '{field}'.");
        if (opKind != TokenKind.Word || !Operators.Contains(op))
            throw new FormatException($"Invalid expression: expected a comparison operator after '{field}', found '{op}'.");
        i += 3;
        return new ClauseExpression(new FilterClause(field, op, Literal(valueKind, raw)));
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
        Paren,
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
            else if (c is '(' or ')')
            {
                tokens.Add((TokenKind.Paren, c.ToString()));
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

                if (pos < text.Length && text[pos] is not (' ' or ')')) throw new FormatException($"Invalid expression: unexpected '{text[pos]}' after a string literal.");
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
                while (pos < text.Length && text[pos] is not (' ' or ')')) pos++;
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
