using System.Globalization;
using VisualSearch.Duplicates;
using VisualSearch.Evaluation;
using VisualSearch.Search;

namespace VisualSearch.Cli;

/// <summary>
/// The near-duplicate part of <c>vsearch eval-copies</c>: the open-set threshold, groups of the references mixed
/// with their copies scored as pairs, and (with <c>--categories MANIFEST</c>) the automatic cut-off rules.
/// </summary>
internal static class EvalDuplicates
{
    /// <summary>The pair precision the default threshold is chosen for (issue 17's target).</summary>
    public const double TargetPrecision = 0.95;

    public sealed record Report(OpenSetReport OpenSet, IReadOnlyList<GroupingPoint> Grouping, float Default, IReadOnlyList<CutoffPoint>? Cutoff);

    public static Report Run(
        IReadOnlyList<float[]> indexed,
        int references,
        int distractors,
        IReadOnlyList<CopyQuery> queries,
        IReadOnlyList<RankedList>? categories,
        CancellationToken cancellationToken,
        IReadOnlyList<float[][]>? itemVectors = null,
        float? regionFallbackBelow = null,
        float regionMargin = 0,
        CropViewRule? cropView = null)
    {
        // With regions the open set is asked of the items as the index holds them, as the search scores them (an item the
        // best of its vectors; whole-first with regionFallbackBelow).
        var openSet = itemVectors is null
            ? DuplicateEvaluator.OpenSet(indexed, references, queries, TargetPrecision, cancellationToken)
            : DuplicateEvaluator.OpenSet(itemVectors, references, queries, TargetPrecision, cancellationToken, regionFallbackBelow, regionMargin, cropView);

        // One library: every reference, every copy and the distractors; a copy's set is its reference.
        var vectors = new List<float[]>(indexed);
        var sets = Enumerable.Range(0, indexed.Count).Select(i => i < references ? i : -1).ToList();
        foreach (var q in queries)
        {
            vectors.Add(q.Vector);
            sets.Add(q.Reference);
        }

        var thresholds = DuplicateEvaluator.Thresholds.Where(t => t >= 0.7f && t <= 0.95f).ToList();
        var defaultThreshold = new DuplicateOptions().MinScore;
        foreach (var extra in new[] { defaultThreshold, openSet.Threshold ?? defaultThreshold })
            if (!thresholds.Contains(extra)) thresholds.Add(extra);
        thresholds.Sort();
        float[] linkages = [0f, 0.25f, 0.5f, 0.75f, new DuplicateOptions().Linkage];
        var grouping = DuplicateEvaluator.Grouping(vectors, sets, thresholds, [.. linkages.Distinct().Order()], new DuplicateOptions().Neighbours, cancellationToken);

        IReadOnlyList<CutoffPoint>? cutoff = null;
        if (categories is not null)
        {
            var copyLists = queries.Select(q => TopList(q, indexed, 10)).ToList();
            cutoff = DuplicateEvaluator.Cutoff(copyLists, categories, DuplicateEvaluator.CutoffRules());
        }

        return new Report(openSet, grouping, defaultThreshold, cutoff);
    }

    public static void WriteTable(TextWriter o, Report r)
    {
        var s = r.OpenSet;
        o.WriteLine();
        o.WriteLine($"open set ({s.Queries} copies, each also asked with its reference removed):");
        o.WriteLine(s.Threshold is { } t
            ? $"  threshold at precision {s.TargetPrecision:F2}: {F(t)} (precision {F(s.Precision)}, recall {F(s.Recall)})"
            : $"  no threshold reaches precision {s.TargetPrecision:F2}");
        foreach (var p in s.Curve.Where(p => p.Threshold is >= 0.7f and <= 0.95f && Math.Abs(p.Threshold * 100 - MathF.Round(p.Threshold * 100)) < 1e-3 && (int)MathF.Round(p.Threshold * 100) % 5 == 0))
            o.WriteLine($"  t {F(p.Threshold)}  precision {F(p.Precision)}  recall {F(p.Recall)}");

        o.WriteLine();
        var defaults = new DuplicateOptions();
        o.WriteLine($"groups of the references mixed with their copies (defaults: Duplicates:MinScore {F(r.Default)}, Duplicates:Linkage {F(defaults.Linkage)}):");
        o.WriteLine($"  {"linkage",7} {"minScore",8} {"groups",6} {"pairs",8} {"correct",8} {"P(pair)",7} {"R(pair)",7} {"unrelated",9}");
        foreach (var g in r.Grouping.Where(g => (int)MathF.Round(g.MinScore * 1000) % 10 == 0 || g.MinScore == r.Default || g.MinScore == s.Threshold))
            o.WriteLine($"  {F(g.Linkage),7} {F(g.MinScore),8} {g.Groups,6} {g.PredictedPairs,8} {g.CorrectPairs,8} {F(g.PairPrecision),7} {F(g.PairRecall),7} {g.UnrelatedPairs,9}"
                + (g.MinScore == r.Default && g.Linkage == defaults.Linkage ? "  <- default" : ""));

        if (r.Cutoff is { } cutoff)
        {
            o.WriteLine();
            o.WriteLine("cutoff=auto rules (copies: top 10 over references and distractors; categories: top 10 of the manifest's A subsets):");
            o.WriteLine($"  {"rule",-28} {"score",6} {"copyF1",6} {"single",6} {"kept",5} {"catF1",6} {"catR",6}");
            var best = cutoff.OrderByDescending(c => c.Score).First();
            foreach (var c in cutoff.OrderByDescending(c => c.Score).Take(10).Append(cutoff.First(c => c.Rule == "none")).Append(cutoff.First(c => c.Rule == ResultCutoff.Default.ToString())).Distinct())
                o.WriteLine($"  {c.Rule,-28} {F(c.Score),6} {F(c.CopyF1),6} {F(c.CopySingle),6} {c.CopyMeanKept,5:F2} {F(c.CategoryF1),6} {F(c.CategoryRecall),6}"
                    + (c == best ? "  <- best" : "") + (c.Rule == ResultCutoff.Default.ToString() ? "  <- default" : ""));
        }
    }

    public static object ToJson(Report r) => new
    {
        openSet = new
        {
            queries = r.OpenSet.Queries,
            targetPrecision = r.OpenSet.TargetPrecision,
            threshold = r.OpenSet.Threshold,
            precision = Quality.Round(r.OpenSet.Precision),
            recall = Quality.Round(r.OpenSet.Recall),
            curve = r.OpenSet.Curve.Select(p => new { threshold = p.Threshold, precision = Quality.Round(p.Precision), recall = Quality.Round(p.Recall) }),
        },
        defaultMinScore = r.Default,
        grouping = r.Grouping.Select(g => new
        {
            minScore = g.MinScore,
            linkage = g.Linkage,
            groups = g.Groups,
            predictedPairs = g.PredictedPairs,
            correctPairs = g.CorrectPairs,
            truePairs = g.TruePairs,
            pairPrecision = Quality.Round(g.PairPrecision),
            pairRecall = Quality.Round(g.PairRecall),
            unrelatedPairs = g.UnrelatedPairs,
        }),
        cutoff = r.Cutoff?.OrderByDescending(c => c.Score).Select(c => new
        {
            rule = c.Rule,
            score = Quality.Round(c.Score),
            copyF1 = Quality.Round(c.CopyF1),
            copySingle = Quality.Round(c.CopySingle),
            copyMeanKept = Quality.Round(c.CopyMeanKept),
            categoryF1 = Quality.Round(c.CategoryF1),
            categoryRecall = Quality.Round(c.CategoryRecall),
        }),
    };

    private static RankedList TopList(CopyQuery query, IReadOnlyList<float[]> indexed, int k)
    {
        var similarity = indexed.Select(v => System.Numerics.Tensors.TensorPrimitives.Dot(query.Vector, v)).ToArray();
        var order = Enumerable.Range(0, similarity.Length).OrderByDescending(j => similarity[j]).ThenBy(j => j).Take(k).ToArray();
        return new RankedList([.. order.Select(j => similarity[j])], [.. order.Select(j => j == query.Reference)]);
    }

    private static string F(double value) => value.ToString("F3", CultureInfo.InvariantCulture);
}
