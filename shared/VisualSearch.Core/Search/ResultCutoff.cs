namespace VisualSearch.Search;

/// <summary>How a result list is cut beyond <c>k</c> and <c>minScore</c>.</summary>
public enum CutoffMode
{
    /// <summary>k results (those at or above minScore).</summary>
    None,

    /// <summary>Stop where the scores fall away (<see cref="ResultCutoff.Auto"/>); k stays the upper bound.</summary>
    Auto,
}

/// <summary>
/// The relative cut-off of <c>cutoff=auto</c>: a query that matches one item returns one item, not k. Two rules,
/// whichever cuts first: a <b>gap</b> rule (the largest drop between neighbouring scores, when it is at least
/// <see cref="Rule.MinGap"/>, ends the list) and a <b>fraction</b> rule (a score below <see cref="Rule.Fraction"/>
/// of a positive best score ends it). The defaults were chosen by measurement on the dev copies and categories
/// (<c>vsearch eval-copies</c>, <c>vsearch eval</c>: docs/quality.md, "Automatic cut-off").
/// </summary>
public static class ResultCutoff
{
    /// <summary>Cut-off parameters; either rule may be off (null).</summary>
    public sealed record Rule(float? MinGap, float? Fraction)
    {
        public override string ToString() => (MinGap, Fraction) switch
        {
            (null, null) => "none",
            ({ } g, null) => FormattableString.Invariant($"gap {g:0.###}"),
            (null, { } f) => FormattableString.Invariant($"fraction {f:0.###}"),
            ({ } g, { } f) => FormattableString.Invariant($"gap {g:0.###} + fraction {f:0.###}"),
        };
    }

    /// <summary>The rule <c>cutoff=auto</c> uses.</summary>
    public static Rule Default { get; } = new(MinGap: 0.04f, Fraction: 0.90f);

    /// <summary>How many of <paramref name="scores"/> (best first) to keep under <see cref="Default"/>.</summary>
    public static int Auto(ReadOnlySpan<float> scores) => Apply(scores, Default);

    /// <summary>How many of <paramref name="scores"/> (best first) to keep: at least one when there is one.</summary>
    public static int Apply(ReadOnlySpan<float> scores, Rule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (scores.Length <= 1) return scores.Length;
        var keep = scores.Length;
        if (rule.Fraction is { } fraction && scores[0] > 0)
        {
            var floor = scores[0] * fraction;
            for (var i = 1; i < keep; i++)
            {
                if (scores[i] < floor)
                {
                    keep = i;
                    break;
                }
            }
        }

        if (rule.MinGap is { } minGap)
        {
            var cut = -1;
            var largest = 0f;
            for (var i = 0; i + 1 < keep; i++)
            {
                var gap = scores[i] - scores[i + 1];
                if (gap > largest)
                {
                    largest = gap;
                    cut = i + 1;
                }
            }

            if (cut > 0 && largest >= minGap) keep = cut;
        }

        return keep;
    }
}
