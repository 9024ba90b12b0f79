using System.Numerics.Tensors;
using VisualSearch.Duplicates;
using VisualSearch.Search;

namespace VisualSearch.Evaluation;

/// <summary>One threshold of the open-set sweep: precision and recall of "the best match at or above t is a copy".</summary>
public sealed record OpenSetPoint(float Threshold, double Precision, double Recall);

/// <summary>
/// Open-set copy detection: each edited copy is asked twice, once with its reference in the index (a hit at or
/// above t is a true copy) and once with the reference removed (its best match, now always wrong, at or above t
/// is a false alarm). <see cref="Threshold"/> is the lowest t whose precision reaches the target.
/// </summary>
public sealed record OpenSetReport(int Queries, double TargetPrecision, float? Threshold, double Precision, double Recall, IReadOnlyList<OpenSetPoint> Curve);

/// <summary>Groups at one threshold scored against the known copy sets, as pairs of items.</summary>
/// <param name="PredictedPairs">Pairs of items that share a group.</param>
/// <param name="CorrectPairs">Of those, pairs from the same copy set.</param>
/// <param name="TruePairs">Pairs of items from the same copy set (what a perfect grouping joins).</param>
/// <param name="UnrelatedPairs">Pairs joined that are not copies of each other (PredictedPairs - CorrectPairs).</param>
public sealed record GroupingPoint(float MinScore, float Linkage, int Groups, long PredictedPairs, long CorrectPairs, long TruePairs, double PairPrecision, double PairRecall, long UnrelatedPairs);

/// <summary>A cut-off rule scored on copy queries (one relevant item) and category queries (many).</summary>
/// <param name="CopyF1">Mean F1 of the kept list against the relevant items in the top k, over copy queries.</param>
/// <param name="CopySingle">Share of copy queries whose kept list is exactly their reference.</param>
/// <param name="CopyMeanKept">Mean length of the kept list for copy queries.</param>
/// <param name="CategoryF1">Mean F1 over category queries.</param>
/// <param name="CategoryRecall">Share of the relevant items in the top k that the cut-off keeps, over category queries.</param>
public sealed record CutoffPoint(string Rule, double CopyF1, double CopySingle, double CopyMeanKept, double CategoryF1, double CategoryRecall)
{
    /// <summary>What the rule is chosen by: the mean of the two F1s (copies and categories weigh the same).</summary>
    public double Score => (CopyF1 + CategoryF1) / 2;
}

/// <summary>One query's top results: scores best first and whether each is relevant.</summary>
public sealed record RankedList(float[] Scores, bool[] Relevant);

/// <summary>
/// Measurements behind the near-duplicate defaults: the open-set threshold, group precision and recall on known
/// copy sets, and the automatic result cut-off. Exhaustive cosine, as the exact local index answers.
/// </summary>
public static class DuplicateEvaluator
{
    /// <summary>Thresholds swept: 0.500 to 1.000 in steps of 0.005.</summary>
    public static IReadOnlyList<float> Thresholds { get; } = [.. Enumerable.Range(0, 101).Select(i => MathF.Round(0.5f + i * 0.005f, 3))];

    /// <param name="indexed">References first, then distractors.</param>
    /// <param name="references">How many of <paramref name="indexed"/> are references.</param>
    public static OpenSetReport OpenSet(IReadOnlyList<float[]> indexed, int references, IReadOnlyList<CopyQuery> queries, double targetPrecision, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(indexed);
        return OpenSet([.. indexed.Select(v => new[] { v })], references, queries, targetPrecision, cancellationToken);
    }

    /// <summary>
    /// The same over items of several vectors (an item's own and its regions', issue 14): an item scores the best of them,
    /// or with <paramref name="regionFallbackBelow"/> as a whole-first search scores it (<see cref="WholeFirst"/>; the rule
    /// applied to each of the two searches, with the reference and without it; a query's crop view as
    /// <paramref name="cropView"/> says, <see cref="CopyQuery.Similarities"/>).
    /// </summary>
    public static OpenSetReport OpenSet(IReadOnlyList<float[][]> indexed, int references, IReadOnlyList<CopyQuery> queries, double targetPrecision, CancellationToken cancellationToken = default, float? regionFallbackBelow = null, float regionMargin = 0,
        CropViewRule? cropView = null)
    {
        ArgumentNullException.ThrowIfNull(indexed);
        ArgumentNullException.ThrowIfNull(queries);
        var trueScore = new float[queries.Count];
        var bestWrong = new float[queries.Count];
        Parallel.For(0, queries.Count, new ParallelOptions { CancellationToken = cancellationToken }, q =>
        {
            var query = queries[q];
            if ((uint)query.Reference >= (uint)references) throw new ArgumentException($"Query {q} names reference {query.Reference} of {references}.", nameof(queries));
            // Asked with the reference in the index (its score), then without it (the best of the others).
            var with = query.Similarities(indexed, regionFallbackBelow, regionMargin: regionMargin, cropView: cropView);
            trueScore[q] = with[query.Reference];
            var without = regionFallbackBelow is null ? with : query.Similarities(indexed, regionFallbackBelow, j => j != query.Reference, regionMargin, cropView);
            var wrong = float.NegativeInfinity;
            for (var j = 0; j < indexed.Count; j++)
                if (j != query.Reference && without[j] > wrong) wrong = without[j];
            bestWrong[q] = wrong;
        });

        var curve = new List<OpenSetPoint>();
        foreach (var t in Thresholds)
        {
            var tp = trueScore.Count(s => s >= t);
            var fp = bestWrong.Count(s => s >= t);
            curve.Add(new OpenSetPoint(t, tp + fp == 0 ? 1 : (double)tp / (tp + fp), queries.Count == 0 ? 0 : (double)tp / queries.Count));
        }

        var chosen = curve.FirstOrDefault(p => p.Precision >= targetPrecision && p.Recall > 0);
        return new OpenSetReport(queries.Count, targetPrecision, chosen?.Threshold, chosen?.Precision ?? 0, chosen?.Recall ?? 0, curve);
    }

    /// <summary>
    /// Groups <paramref name="vectors"/> (self-join: each item's <paramref name="neighbours"/> nearest others, then
    /// <see cref="DuplicateGrouping"/>) at each of <paramref name="minScores"/> and scores the groups as pairs against
    /// <paramref name="sets"/> (the copy set of each item; a negative set is an item with no copies).
    /// </summary>
    public static IReadOnlyList<GroupingPoint> Grouping(IReadOnlyList<float[]> vectors, IReadOnlyList<int> sets, IReadOnlyList<float> minScores, IReadOnlyList<float> linkages, int neighbours = 10, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(sets);
        ArgumentNullException.ThrowIfNull(minScores);
        if (vectors.Count != sets.Count) throw new ArgumentException("One set per vector.", nameof(sets));
        var floor = minScores.Min();
        var found = new List<DuplicatePair>[vectors.Count];
        Parallel.For(0, vectors.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            var top = new PriorityQueue<int, float>();
            for (var j = 0; j < vectors.Count; j++)
            {
                if (j == i) continue;
                var s = TensorPrimitives.Dot(vectors[i], vectors[j]);
                if (s < floor) continue;
                if (top.Count < neighbours) top.Enqueue(j, s);
                else if (top.TryPeek(out _, out var worst) && s > worst) top.EnqueueDequeue(j, s);
            }

            var list = new List<DuplicatePair>(top.Count);
            while (top.TryDequeue(out var j, out var s)) list.Add(DuplicatePair.Of(Id(i), Id(j), s, DuplicateKind.Near));
            found[i] = list;
        });

        // Every item has its own content: the groups here are near copies only.
        var items = Enumerable.Range(0, vectors.Count).Select(i => new GroupingItem(Id(i), Id(i))).ToList();
        var pairs = found.SelectMany(f => f).ToList();
        var truePairs = sets.Where(s => s >= 0).GroupBy(s => s).Sum(g => Choose2(g.Count()));
        var points = new List<GroupingPoint>();
        foreach (var linkage in linkages)
        foreach (var minScore in minScores)
        {
            var groups = DuplicateGrouping.Group(items, pairs, minScore, linkage: linkage);
            long predicted = 0, correct = 0;
            foreach (var group in groups)
            {
                predicted += Choose2(group.Items.Count);
                correct += group.Items.Select(id => sets[int.Parse(id, System.Globalization.CultureInfo.InvariantCulture)]).Where(s => s >= 0).GroupBy(s => s).Sum(g => Choose2(g.Count()));
            }

            points.Add(new GroupingPoint(minScore, linkage, groups.Count, predicted, correct, truePairs,
                predicted == 0 ? 1 : (double)correct / predicted, truePairs == 0 ? 0 : (double)correct / truePairs, predicted - correct));
        }

        return points;
    }

    /// <summary>Each query's top <paramref name="k"/> others by cosine, with relevance by equal label (the query itself left out).</summary>
    public static IReadOnlyList<RankedList> TopLists(IReadOnlyList<float[]> vectors, IReadOnlyList<string> labels, int k, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(labels);
        var lists = new RankedList[vectors.Count];
        Parallel.For(0, vectors.Count, new ParallelOptions { CancellationToken = cancellationToken }, q =>
        {
            var similarity = new float[vectors.Count];
            for (var j = 0; j < vectors.Count; j++) similarity[j] = j == q ? float.NegativeInfinity : TensorPrimitives.Dot(vectors[q], vectors[j]);
            var ranked = CategoryEvaluator.Rank(similarity).Take(k).ToArray();
            lists[q] = new RankedList([.. ranked.Select(j => similarity[j])], [.. ranked.Select(j => string.Equals(labels[j], labels[q], StringComparison.Ordinal))]);
        });
        return lists;
    }

    /// <summary>Scores each rule on copy lists and category lists (queries with nothing relevant in their list are left out).</summary>
    public static IReadOnlyList<CutoffPoint> Cutoff(IReadOnlyList<RankedList> copies, IReadOnlyList<RankedList> categories, IEnumerable<ResultCutoff.Rule> rules)
    {
        ArgumentNullException.ThrowIfNull(copies);
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(rules);
        var scoredCopies = copies.Where(l => l.Relevant.Contains(true)).ToList();
        var scoredCategories = categories.Where(l => l.Relevant.Contains(true)).ToList();
        return rules.Select(rule =>
        {
            double copyF1 = 0, single = 0, kept = 0, categoryF1 = 0, categoryRecall = 0;
            foreach (var list in scoredCopies)
            {
                var n = ResultCutoff.Apply(list.Scores, rule);
                copyF1 += F1(list, n, out _);
                if (n == 1 && list.Relevant[0]) single++;
                kept += n;
            }

            foreach (var list in scoredCategories)
            {
                var n = ResultCutoff.Apply(list.Scores, rule);
                categoryF1 += F1(list, n, out var recall);
                categoryRecall += recall;
            }

            var c = Math.Max(1, scoredCopies.Count);
            var g = Math.Max(1, scoredCategories.Count);
            return new CutoffPoint(rule.ToString(), copyF1 / c, single / c, kept / c, categoryF1 / g, categoryRecall / g);
        }).ToList();
    }

    /// <summary>The rules swept: each rule alone over a grid, and every pair of the two.</summary>
    public static IReadOnlyList<ResultCutoff.Rule> CutoffRules()
    {
        float?[] gaps = [null, .. Enumerable.Range(1, 15).Select(i => (float?)MathF.Round(i * 0.01f, 2))];
        float?[] fractions = [null, .. Enumerable.Range(0, 10).Select(i => (float?)MathF.Round(0.80f + i * 0.02f, 2))];
        return [.. gaps.SelectMany(g => fractions.Select(f => new ResultCutoff.Rule(g, f)))];
    }

    private static double F1(RankedList list, int kept, out double recall)
    {
        var relevant = list.Relevant.Count(r => r);
        var hits = list.Relevant.Take(kept).Count(r => r);
        recall = (double)hits / relevant;
        var precision = kept == 0 ? 0 : (double)hits / kept;
        return hits == 0 ? 0 : 2 * precision * recall / (precision + recall);
    }

    private static long Choose2(int n) => (long)n * (n - 1) / 2;

    private static string Id(int i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
