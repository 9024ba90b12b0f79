using System.Numerics.Tensors;
using VisualSearch.Search;

namespace VisualSearch.Evaluation;

/// <summary>An edited copy used as a query, with the index of the reference it was made from.</summary>
public sealed record CopyQuery(float[] Vector, int Reference, CopyEdit Edit)
{
    /// <summary>
    /// Several query vectors (the views of a multi-query, <c>Search:QueryViewCombination=Best</c>): an item then scores
    /// the best over them; null: <see cref="Vector"/> alone.
    /// </summary>
    public IReadOnlyList<float[]>? Views { get; init; }

    /// <summary>
    /// The query's crop view (<c>Encoder:QueryBackground=CropView</c>, docs/quality.md 7i), which asks the items' regions in a
    /// whole-first search; null: none. A crop equal to <see cref="Vector"/> (the cache keeps the whole vector where the
    /// detector found no background) scores as no crop: the same vector asks the same regions.
    /// </summary>
    public float[]? Crop { get; init; }

    /// <summary>Whether <see cref="Crop"/> is a view of its own (set, and not the whole vector).</summary>
    public bool HasCrop => Crop is not null && !Crop.AsSpan().SequenceEqual(Vector);

    /// <summary>The query's similarity to an item (the best over the item's vectors, and over <see cref="Views"/> when set).</summary>
    public float Similarity(float[][] item)
    {
        return Views is null ? CopyDetectionEvaluator.BestOf(Vector, item) : CopyDetectionEvaluator.BestOver(Views, item);
    }

    /// <summary>The query's similarity to an item's own vector (the first), the best over <see cref="Views"/> when set.</summary>
    public float OwnSimilarity(float[][] item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return Views is null ? TensorPrimitives.Dot(Vector, item[0]) : CopyDetectionEvaluator.BestOver(Views, [item[0]]);
    }

    /// <summary>
    /// The query's similarity to every item as a whole-first search scores them (<see cref="WholeFirst"/>): by their own
    /// vectors when one of <paramref name="candidates"/> scores at least <paramref name="regionFallbackBelow"/>, else by the
    /// best of all their vectors; null <paramref name="regionFallbackBelow"/>: always the best of all (every vector asked).
    /// Items outside <paramref name="candidates"/> (the indexes left out of a search) keep NaN.
    /// </summary>
    /// <param name="regionMargin">Whole-first only: a region counts when it beats the best own score by this much (<see cref="WholeFirst.RegionCounts"/>).</param>
    /// <param name="cropView">
    /// Whole-first with a <see cref="Crop"/>: which views ask the regions (the whole view alone decides), and what the crop's
    /// regions must beat; null: the crop alone, by <paramref name="regionMargin"/> over the whole view's best own score.
    /// </param>
    public float[] Similarities(IReadOnlyList<float[][]> indexed, float? regionFallbackBelow, Func<int, bool>? candidates = null, float regionMargin = 0, CropViewRule? cropView = null)
    {
        cropView ??= new CropViewRule(CropViewRegions.Crop, CropViewMargin.WholeOwn, regionMargin);
        ArgumentNullException.ThrowIfNull(indexed);
        var similarity = new float[indexed.Count];
        if (regionFallbackBelow is not { } threshold)
        {
            for (var j = 0; j < indexed.Count; j++) similarity[j] = candidates is null || candidates(j) ? Similarity(indexed[j]) : float.NaN;
            return similarity;
        }

        var bestOwn = float.NegativeInfinity;
        for (var j = 0; j < indexed.Count; j++)
        {
            if (candidates is not null && !candidates(j))
            {
                similarity[j] = float.NaN;
                continue;
            }

            similarity[j] = OwnSimilarity(indexed[j]);
            bestOwn = Math.Max(bestOwn, similarity[j]);
        }

        var wholeAsks = WholeFirst.AsksRegions(bestOwn, threshold);
        var hasCrop = HasCrop;
        if (hasCrop && wholeAsks && cropView.Reference == CropViewMargin.CropOnly && Crop is { } alone)
        {
            // No whole image is a copy: the crop answers alone, as a Crop query (its own vectors, then its regions).
            var bestAlone = float.NegativeInfinity;
            for (var j = 0; j < indexed.Count; j++)
            {
                if (candidates is not null && !candidates(j)) continue;
                similarity[j] = TensorPrimitives.Dot(alone, indexed[j][0]);
                bestAlone = Math.Max(bestAlone, similarity[j]);
            }

            if (!WholeFirst.CropAsksRegions(wholeAsks, bestAlone, threshold, cropView.Reference)) return similarity;
            for (var j = 0; j < indexed.Count; j++)
            {
                if (candidates is not null && !candidates(j)) continue;
                var region = CopyDetectionEvaluator.BestOf(alone, indexed[j].AsSpan(1));
                if (region > similarity[j] && WholeFirst.RegionCounts(region, bestAlone, cropView.Margin)) similarity[j] = region;
            }

            return similarity;
        }

        if (wholeAsks && WholeFirst.WholeAsksRegions(hasCrop, cropView.Regions))
        {
            for (var j = 0; j < indexed.Count; j++)
            {
                if (candidates is not null && !candidates(j)) continue;
                var all = Similarity(indexed[j]);
                if (all > similarity[j] && WholeFirst.RegionCounts(all, bestOwn, regionMargin)) similarity[j] = all;
            }
        }

        if (!hasCrop || Crop is not { } crop) return similarity;
        // The crop asks the regions alone (an index's Regions search; every vector with Own), its own scores otherwise only
        // setting the margin's reference and (CropOwn) deciding its own fallback.
        var bestCropOwn = float.NegativeInfinity;
        if (cropView.Reference != CropViewMargin.WholeOwn)
        {
            for (var j = 0; j < indexed.Count; j++)
                if (candidates is null || candidates(j)) bestCropOwn = Math.Max(bestCropOwn, TensorPrimitives.Dot(crop, indexed[j][0]));
        }

        if (!WholeFirst.CropAsksRegions(wholeAsks, bestCropOwn, threshold, cropView.Reference)) return similarity;
        var reference = WholeFirst.MarginReference(bestOwn, bestCropOwn, cropView.Reference);

        for (var j = 0; j < indexed.Count; j++)
        {
            if (candidates is not null && !candidates(j)) continue;
            var region = CopyDetectionEvaluator.BestOf(crop, indexed[j].AsSpan(cropView.Own ? 0 : 1));
            if (region > similarity[j] && WholeFirst.RegionCounts(region, reference, cropView.Margin)) similarity[j] = region;
        }

        return similarity;
    }
}

/// <summary>Copy-detection scores of a group of queries (one edit kind, or all).</summary>
/// <param name="Name">The edit's short name, or "overall".</param>
/// <param name="Queries">Queries in the group.</param>
/// <param name="AccuracyAt1">Share of queries whose first result is their reference.</param>
/// <param name="RecallAt5">Share of queries whose reference is within the first 5 results.</param>
/// <param name="MicroAveragePrecision">
/// μAP (DISC21): every query's top candidates pooled into one list of (query, candidate, score) pairs sorted by
/// score; the average precision of that list, with the number of queries (each has one reference) as the
/// number of positives.
/// </param>
/// <param name="ThresholdAt90">The lowest similarity at which the pooled pairs scoring at or above it are at least 90% copies; null when no threshold reaches it.</param>
/// <param name="RecallAtThreshold">Share of queries whose reference pair scores at or above that threshold.</param>
/// <param name="MeanTrueSimilarity">Mean similarity of a query to its own reference.</param>
public sealed record CopyGroupReport(
    string Name,
    int Queries,
    double AccuracyAt1,
    double RecallAt5,
    double MicroAveragePrecision,
    float? ThresholdAt90,
    double RecallAtThreshold,
    double MeanTrueSimilarity);

/// <summary>Copy detection: per edit kind, and overall over the whole-image edits (the partial ones, <see cref="CopyEdits.IsPartial"/>, are only per edit).</summary>
public sealed record CopyReport(int References, int Distractors, double TargetPrecision, IReadOnlyList<CopyGroupReport> PerEdit, CopyGroupReport Overall);

/// <summary>
/// Scores copy detection by exhaustive cosine search of the indexed references (and distractors), as the exact
/// local index answers it. The near-duplicate threshold is read off the pooled pairs: everything a search
/// returns above it is called a copy.
/// </summary>
public static class CopyDetectionEvaluator
{
    /// <summary>Candidates per query pooled for μAP and the threshold (DISC21 pools many per query; 10 covers what an API returns).</summary>
    public const int CandidatesPerQuery = 10;

    /// <param name="indexed">The indexed vectors: the references first, then the distractors.</param>
    /// <param name="references">How many of <paramref name="indexed"/> are references.</param>
    /// <param name="queries">Edited copies, each with the index of its reference.</param>
    /// <param name="targetPrecision">The precision the reported threshold must reach.</param>
    public static CopyReport Evaluate(IReadOnlyList<float[]> indexed, int references, IReadOnlyList<CopyQuery> queries, double targetPrecision = 0.9, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(indexed);
        return Evaluate([.. indexed.Select(v => new[] { v })], references, queries, targetPrecision, cancellationToken);
    }

    /// <summary>
    /// As <see cref="Evaluate(IReadOnlyList{float[]}, int, IReadOnlyList{CopyQuery}, double, CancellationToken)"/>, with
    /// several vectors per indexed item (its own and its regions' ones): an item scores the best of its vectors.
    /// </summary>
    /// <param name="regionFallbackBelow">
    /// Whole-first (<see cref="WholeFirst"/>): the items' regions count for a query only when no item's own vector scores
    /// this much; null: an item always scores the best of all its vectors.
    /// </param>
    /// <param name="regionMargin">Whole-first only: a region counts when it beats the best own score by this much.</param>
    /// <param name="cropView">Whole-first, queries with a crop view: its rule (<see cref="CopyQuery.Similarities"/>).</param>
    public static CopyReport Evaluate(IReadOnlyList<float[][]> indexed, int references, IReadOnlyList<CopyQuery> queries, double targetPrecision = 0.9, CancellationToken cancellationToken = default, float? regionFallbackBelow = null, float regionMargin = 0,
        CropViewRule? cropView = null)
    {
        ArgumentNullException.ThrowIfNull(indexed);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(references, indexed.Count);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(targetPrecision, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targetPrecision, 1);

        var outcomes = new QueryOutcome[queries.Count];
        Parallel.For(0, queries.Count, new ParallelOptions { CancellationToken = cancellationToken }, q =>
        {
            var query = queries[q];
            if ((uint)query.Reference >= (uint)references) throw new ArgumentException($"Query {q} names reference {query.Reference} of {references}.", nameof(queries));
            var similarity = query.Similarities(indexed, regionFallbackBelow, regionMargin: regionMargin, cropView: cropView);
            var ranked = CategoryEvaluator.Rank(similarity);
            var rank = Array.IndexOf(ranked, query.Reference);
            var top = ranked.Take(CandidatesPerQuery).Select(j => new Pair(similarity[j], j == query.Reference)).ToArray();
            outcomes[q] = new QueryOutcome(query.Edit, rank, similarity[query.Reference], top);
        });

        var perEdit = CopyEdits.All
            .Where(e => outcomes.Any(o => o.Edit == e))
            .Select(e => Score(CopyEdits.Name(e), outcomes.Where(o => o.Edit == e).ToList(), targetPrecision))
            .ToList();
        return new CopyReport(references, indexed.Count - references, targetPrecision, perEdit, Score("overall", outcomes.Where(o => !CopyEdits.IsPartial(o.Edit)).ToList(), targetPrecision));
    }

    /// <summary>The best similarity of a query to any of an item's vectors.</summary>
    public static float BestOf(ReadOnlySpan<float> query, ReadOnlySpan<float[]> vectors)
    {
        var best = float.NegativeInfinity;
        foreach (var v in vectors) best = Math.Max(best, TensorPrimitives.Dot(query, v));
        return best;
    }

    /// <summary>The best similarity of any of several query vectors to any of an item's vectors (a multi-query over a multi-vector item).</summary>
    public static float BestOver(IReadOnlyList<float[]> queries, float[][] vectors)
    {
        ArgumentNullException.ThrowIfNull(queries);
        var best = float.NegativeInfinity;
        foreach (var query in queries) best = Math.Max(best, BestOf(query, vectors));
        return best;
    }

    /// <summary>
    /// Average precision of pooled (score, correct) pairs sorted by score, highest first, over
    /// <paramref name="positives"/> positives: the sum of the precision at each correct pair, divided by positives.
    /// </summary>
    public static double MicroAveragePrecision(IEnumerable<(float Score, bool Correct)> pairs, int positives)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (positives <= 0) return 0;
        var sorted = Sort(pairs);
        double sum = 0;
        var hits = 0;
        for (var i = 0; i < sorted.Count; i++)
        {
            if (!sorted[i].Correct) continue;
            hits++;
            sum += (double)hits / (i + 1);
        }

        return sum / positives;
    }

    /// <summary>
    /// The lowest score t such that, among the pairs scoring at least t, the share of correct ones is at least
    /// <paramref name="targetPrecision"/>; with the number of correct pairs at or above it. Null when none reaches it.
    /// </summary>
    public static (float? Threshold, int CorrectAbove) ThresholdForPrecision(IEnumerable<(float Score, bool Correct)> pairs, double targetPrecision)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var sorted = Sort(pairs);
        float? threshold = null;
        var best = 0;
        var hits = 0;
        for (var i = 0; i < sorted.Count; i++)
        {
            if (sorted[i].Correct) hits++;
            // Only cut between distinct scores: a threshold keeps every pair with the same score.
            if (i + 1 < sorted.Count && sorted[i + 1].Score == sorted[i].Score) continue;
            if ((double)hits / (i + 1) >= targetPrecision)
            {
                threshold = sorted[i].Score;
                best = hits;
            }
        }

        return (threshold, best);
    }

    private static CopyGroupReport Score(string name, IReadOnlyList<QueryOutcome> outcomes, double targetPrecision)
    {
        var n = outcomes.Count;
        if (n == 0) return new CopyGroupReport(name, 0, 0, 0, 0, null, 0, 0);
        var pairs = outcomes.SelectMany(o => o.Top.Select(p => (p.Score, p.Correct))).ToList();
        var (threshold, _) = ThresholdForPrecision(pairs, targetPrecision);
        var recallAtThreshold = threshold is { } t ? (double)outcomes.Count(o => o.TrueSimilarity >= t) / n : 0;
        return new CopyGroupReport(
            name,
            n,
            (double)outcomes.Count(o => o.Rank == 0) / n,
            (double)outcomes.Count(o => o.Rank < 5) / n,
            MicroAveragePrecision(pairs, n),
            threshold,
            recallAtThreshold,
            outcomes.Average(o => (double)o.TrueSimilarity));
    }

    private static List<(float Score, bool Correct)> Sort(IEnumerable<(float Score, bool Correct)> pairs)
    {
        // Highest score first; among equal scores the wrong pairs first (the pessimistic order).
        return pairs.OrderByDescending(p => p.Score).ThenBy(p => p.Correct).ToList();
    }

    private readonly record struct Pair(float Score, bool Correct);

    private sealed record QueryOutcome(CopyEdit Edit, int Rank, float TrueSimilarity, Pair[] Top);
}
