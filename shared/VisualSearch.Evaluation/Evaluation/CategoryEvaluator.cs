using System.Numerics.Tensors;

namespace VisualSearch.Evaluation;

/// <summary>The scores of one class's queries.</summary>
public sealed record ClassReport(string Label, int Items, MetricSummary Metrics);

/// <summary>Category retrieval over one labelled set: every item queries all the others.</summary>
/// <param name="Items">Items embedded.</param>
/// <param name="Classes">Distinct labels.</param>
/// <param name="SkippedQueries">Items that are alone in their class (nothing to retrieve): not scored.</param>
/// <param name="Overall">Means over every scored query (so larger classes weigh more).</param>
/// <param name="PerClass">Means over each class's queries, in label order.</param>
public sealed record CategoryReport(int Items, int Classes, int SkippedQueries, MetricSummary Overall, IReadOnlyList<ClassReport> PerClass, EmbeddingSetHealth Health);

/// <summary>
/// Scores category retrieval by exhaustive cosine ranking (what the exact local index does): for each item, the
/// others ranked by similarity, ties broken by position, then <see cref="RetrievalMetrics"/>.
/// </summary>
public static class CategoryEvaluator
{
    public static readonly IReadOnlyList<int> DefaultKs = [1, 5, 10];

    /// <param name="vectors">L2-normalised vectors.</param>
    /// <param name="labels">The class of each vector.</param>
    /// <param name="ks">Cut-offs for Recall@K and Precision@K.</param>
    /// <param name="rawNorms">Norms before normalisation, for the health report.</param>
    /// <param name="itemVectors">
    /// Optional: every item's vectors (its own and its regions'), as a multi-vector index holds them. A query (an
    /// item's own vector) then scores each other item by the best of that item's vectors.
    /// </param>
    /// <param name="queryVectors">
    /// Optional: the vectors each item queries with instead of its own (query-side views: their mean as one vector, or
    /// every view's vector for a multi-query); another item then scores the best over them. The items searched keep
    /// <paramref name="vectors"/> (and <paramref name="itemVectors"/>).
    /// </param>
    public static CategoryReport Evaluate(
        IReadOnlyList<float[]> vectors,
        IReadOnlyList<string> labels,
        IReadOnlyList<int>? ks = null,
        IReadOnlyList<float>? rawNorms = null,
        CancellationToken cancellationToken = default,
        IReadOnlyList<float[][]>? itemVectors = null,
        IReadOnlyList<float[][]>? queryVectors = null)
    {
        if (queryVectors is not null && queryVectors.Count != vectors?.Count) throw new ArgumentException("One set of query vectors per vector.", nameof(queryVectors));
        if (itemVectors is not null && itemVectors.Count != vectors?.Count) throw new ArgumentException("One set of item vectors per vector.", nameof(itemVectors));
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(labels);
        if (vectors.Count != labels.Count) throw new ArgumentException("One label per vector.", nameof(labels));
        ks ??= DefaultKs;
        foreach (var k in ks) ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);

        var n = vectors.Count;
        var classSizes = labels.GroupBy(l => l, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var scores = new QueryScores?[n];
        Parallel.For(0, n, new ParallelOptions { CancellationToken = cancellationToken }, q =>
        {
            var relevantCount = classSizes[labels[q]] - 1;
            if (relevantCount == 0) return;
            var order = new int[n - 1];
            var similarity = new float[n - 1];
            for (int j = 0, p = 0; j < n; j++)
            {
                if (j == q) continue;
                order[p] = j;
                similarity[p] = Similarity(q, j);
                p++;
            }

            var ranked = Rank(similarity);
            var relevant = new bool[n - 1];
            for (var r = 0; r < ranked.Length; r++) relevant[r] = string.Equals(labels[order[ranked[r]]], labels[q], StringComparison.Ordinal);
            scores[q] = RetrievalMetrics.Score(relevant, relevantCount, ks);
        });

        // Query q against item j: the best over q's query vectors (its own vector without views) and j's vectors (its own without regions).
        float Similarity(int q, int j) => (queryVectors, itemVectors) switch
        {
            (null, null) => TensorPrimitives.Dot(vectors[q], vectors[j]),
            (null, { } items) => CopyDetectionEvaluator.BestOf(vectors[q], items[j]),
            ({ } views, null) => CopyDetectionEvaluator.BestOf(vectors[j], views[q]),
            ({ } views, { } items) => CopyDetectionEvaluator.BestOver(views[q], items[j]),
        };

        var scored = Enumerable.Range(0, n).Where(i => scores[i] is not null).ToList();
        var perClass = classSizes.Keys.Order(StringComparer.Ordinal)
            .Select(label => new ClassReport(
                label,
                classSizes[label],
                MetricSummary.Average(ks, scored.Where(i => labels[i] == label).Select(i => scores[i]!).ToList())))
            .ToList();
        return new CategoryReport(
            n,
            classSizes.Count,
            n - scored.Count,
            MetricSummary.Average(ks, scored.Select(i => scores[i]!).ToList()),
            perClass,
            EmbeddingSetHealth.Compute(vectors, rawNorms));
    }

    /// <summary>Positions ordered by similarity, highest first; ties keep position order (deterministic).</summary>
    internal static int[] Rank(float[] similarity)
    {
        var positions = new int[similarity.Length];
        for (var p = 0; p < positions.Length; p++) positions[p] = p;
        Array.Sort(positions, (a, b) =>
        {
            var c = similarity[b].CompareTo(similarity[a]);
            return c != 0 ? c : a.CompareTo(b);
        });
        return positions;
    }
}
