namespace VisualSearch.Evaluation;

/// <summary>The scores of one query, for the cut-offs it was scored at.</summary>
/// <param name="RecallAtK">Per cut-off: 1 when a relevant item is within the top K, else 0 (the metric-learning Recall@K).</param>
/// <param name="PrecisionAtK">Per cut-off: relevant items within the top K, divided by K.</param>
/// <param name="AveragePrecisionAtR">AP@R (Musgrave et al. 2020): (1/R) * sum over i = 1..R of P(i) * rel(i).</param>
/// <param name="ReciprocalRank">1 / rank of the first relevant item; 0 when there is none.</param>
public sealed record QueryScores(double[] RecallAtK, double[] PrecisionAtK, double AveragePrecisionAtR, double ReciprocalRank);

/// <summary>Means of <see cref="QueryScores"/> over a group of queries (all, or one class).</summary>
public sealed record MetricSummary(int Queries, IReadOnlyList<int> Ks, double[] RecallAtK, double[] PrecisionAtK, double MapAtR, double Mrr)
{
    public static MetricSummary Average(IReadOnlyList<int> ks, IReadOnlyCollection<QueryScores> scores)
    {
        ArgumentNullException.ThrowIfNull(ks);
        ArgumentNullException.ThrowIfNull(scores);
        var recall = new double[ks.Count];
        var precision = new double[ks.Count];
        double map = 0, mrr = 0;
        foreach (var s in scores)
        {
            for (var j = 0; j < ks.Count; j++)
            {
                recall[j] += s.RecallAtK[j];
                precision[j] += s.PrecisionAtK[j];
            }

            map += s.AveragePrecisionAtR;
            mrr += s.ReciprocalRank;
        }

        var n = Math.Max(1, scores.Count);
        for (var j = 0; j < ks.Count; j++)
        {
            recall[j] /= n;
            precision[j] /= n;
        }

        return new MetricSummary(scores.Count, ks, recall, precision, map / n, mrr / n);
    }
}

/// <summary>
/// Retrieval metrics as pure functions of one ranked list. The list is the collection ranked for a query,
/// best first, with the query itself left out; an entry is true when it is relevant (same class).
/// </summary>
public static class RetrievalMetrics
{
    /// <summary>Scores a ranking given as labels: relevant = equal to the query's label; R = how many the ranking holds.</summary>
    public static QueryScores Score(string queryLabel, IReadOnlyList<string> rankedLabels, IReadOnlyList<int> ks)
    {
        ArgumentNullException.ThrowIfNull(queryLabel);
        ArgumentNullException.ThrowIfNull(rankedLabels);
        var relevant = new bool[rankedLabels.Count];
        var r = 0;
        for (var i = 0; i < relevant.Length; i++)
        {
            relevant[i] = string.Equals(rankedLabels[i], queryLabel, StringComparison.Ordinal);
            if (relevant[i]) r++;
        }

        return Score(relevant, r, ks);
    }

    /// <param name="ranked">Relevance of the ranked items, best first.</param>
    /// <param name="relevantCount">R: the number of relevant items in the whole collection (the query excluded).</param>
    /// <param name="ks">The cut-offs for Recall@K and Precision@K.</param>
    public static QueryScores Score(ReadOnlySpan<bool> ranked, int relevantCount, IReadOnlyList<int> ks)
    {
        ArgumentNullException.ThrowIfNull(ks);
        var recall = new double[ks.Count];
        var precision = new double[ks.Count];
        for (var j = 0; j < ks.Count; j++)
        {
            recall[j] = RecallAtK(ranked, ks[j]);
            precision[j] = PrecisionAtK(ranked, ks[j]);
        }

        return new QueryScores(recall, precision, AveragePrecisionAtR(ranked, relevantCount), ReciprocalRank(ranked));
    }

    /// <summary>1 when a relevant item is within the first <paramref name="k"/>, else 0.</summary>
    public static double RecallAtK(ReadOnlySpan<bool> ranked, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        return ranked[..Math.Min(k, ranked.Length)].Contains(true) ? 1 : 0;
    }

    /// <summary>Relevant items within the first <paramref name="k"/>, divided by k (a short list counts its missing places as misses).</summary>
    public static double PrecisionAtK(ReadOnlySpan<bool> ranked, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        return (double)Count(ranked[..Math.Min(k, ranked.Length)]) / k;
    }

    /// <summary>
    /// AP@R: (1/R) * sum over i = 1..R of P(i) * rel(i), where P(i) is the precision of the first i items and
    /// R the number of relevant items. 1 when the R relevant items fill the first R places. 0 when R is 0.
    /// </summary>
    public static double AveragePrecisionAtR(ReadOnlySpan<bool> ranked, int relevantCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(relevantCount);
        if (relevantCount == 0) return 0;
        var hits = 0;
        double sum = 0;
        var n = Math.Min(relevantCount, ranked.Length);
        for (var i = 0; i < n; i++)
        {
            if (!ranked[i]) continue;
            hits++;
            sum += (double)hits / (i + 1);
        }

        return sum / relevantCount;
    }

    /// <summary>1 / (1-based rank of the first relevant item), 0 when none is relevant.</summary>
    public static double ReciprocalRank(ReadOnlySpan<bool> ranked)
    {
        var first = ranked.IndexOf(true);
        return first < 0 ? 0 : 1.0 / (first + 1);
    }

    private static int Count(ReadOnlySpan<bool> values)
    {
        var n = 0;
        foreach (var v in values) if (v) n++;
        return n;
    }
}
