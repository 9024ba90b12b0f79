using VisualSearch.Evaluation;
using VisualSearch.Search;

namespace VisualSearch.Quality.Tests;

/// <summary>The metrics on rankings small enough to work out by hand (the working is in each comment).</summary>
public sealed class RetrievalMetricsTests
{
    private static readonly int[] Ks = [1, 3, 5];

    [Fact]
    public void RelevantFirstAndThird()
    {
        // ranking: + - + - -, R = 2 relevant in the collection.
        bool[] ranked = [true, false, true, false, false];
        var s = RetrievalMetrics.Score(ranked, 2, Ks);

        Assert.Equal([1.0, 1.0, 1.0], s.RecallAtK);
        // P@1 = 1/1, P@3 = 2/3, P@5 = 2/5.
        Assert.Equal(1.0, s.PrecisionAtK[0], 12);
        Assert.Equal(2.0 / 3, s.PrecisionAtK[1], 12);
        Assert.Equal(0.4, s.PrecisionAtK[2], 12);
        // AP@R, R = 2: only the first 2 places count: P(1)*1 + P(2)*0 = 1, divided by R = 0.5.
        Assert.Equal(0.5, s.AveragePrecisionAtR, 12);
        Assert.Equal(1.0, s.ReciprocalRank, 12);
    }

    [Fact]
    public void RelevantSecondFourthFifth()
    {
        // ranking: - + - + +, R = 3.
        bool[] ranked = [false, true, false, true, true];
        var s = RetrievalMetrics.Score(ranked, 3, Ks);

        Assert.Equal([0.0, 1.0, 1.0], s.RecallAtK);
        Assert.Equal([0.0, 1.0 / 3, 3.0 / 5], s.PrecisionAtK);
        // AP@R over the first R = 3 places: only place 2 is relevant, P(2) = 1/2; (1/3) * 1/2 = 1/6.
        Assert.Equal(1.0 / 6, s.AveragePrecisionAtR, 12);
        // first relevant at rank 2.
        Assert.Equal(0.5, s.ReciprocalRank, 12);
    }

    [Fact]
    public void PerfectRankingScoresOne()
    {
        bool[] ranked = [true, true, true, false, false, false];
        var s = RetrievalMetrics.Score(ranked, 3, Ks);
        Assert.Equal(1.0, s.AveragePrecisionAtR, 12);
        Assert.Equal(1.0, s.ReciprocalRank, 12);
        Assert.Equal([1.0, 1.0, 0.6], s.PrecisionAtK);
    }

    [Fact]
    public void MapAtRDiffersFromPlainAveragePrecision()
    {
        // + + - - + with R = 3: plain AP = (1 + 1 + 3/5) / 3 = 0.8667, but AP@R stops at place 3:
        // (1/1 + 2/2) / 3 = 0.6667 (Musgrave et al.: a relevant item after place R earns nothing).
        bool[] ranked = [true, true, false, false, true];
        Assert.Equal(2.0 / 3, RetrievalMetrics.AveragePrecisionAtR(ranked, 3), 12);
    }

    [Fact]
    public void NoRelevantItem()
    {
        bool[] ranked = [false, false, false];
        var s = RetrievalMetrics.Score(ranked, 0, Ks);
        Assert.Equal([0.0, 0.0, 0.0], s.RecallAtK);
        Assert.Equal(0, s.AveragePrecisionAtR);
        Assert.Equal(0, s.ReciprocalRank);
    }

    [Fact]
    public void ShortListCountsMissingPlacesAsMisses()
    {
        // Two items ranked, P@5 = 1/5 (not 1/2).
        bool[] ranked = [true, false];
        Assert.Equal(0.2, RetrievalMetrics.PrecisionAtK(ranked, 5), 12);
        Assert.Equal(1.0, RetrievalMetrics.RecallAtK(ranked, 5), 12);
    }

    [Fact]
    public void ScoresALabelledRanking()
    {
        // query "cat"; ranked: dog cat cat bird -> R = 2; R@1 = 0, R@3 = 1; P@3 = 2/3;
        // AP@R = (P(1)*0 + P(2)*1) / 2 = (1/2) / 2 = 0.25; RR = 1/2.
        var s = RetrievalMetrics.Score("cat", ["dog", "cat", "cat", "bird"], [1, 3]);
        Assert.Equal([0.0, 1.0], s.RecallAtK);
        Assert.Equal(2.0 / 3, s.PrecisionAtK[1], 12);
        Assert.Equal(0.25, s.AveragePrecisionAtR, 12);
        Assert.Equal(0.5, s.ReciprocalRank, 12);
    }

    [Fact]
    public void SummaryIsTheMeanOverQueries()
    {
        var a = RetrievalMetrics.Score([true, false, true, false, false], 2, Ks);
        var b = RetrievalMetrics.Score([false, true, false, true, true], 3, Ks);
        var m = MetricSummary.Average(Ks, [a, b]);
        Assert.Equal(2, m.Queries);
        Assert.Equal(0.5, m.RecallAtK[0], 12);
        Assert.Equal((0.5 + 1.0 / 6) / 2, m.MapAtR, 12);
        Assert.Equal(0.75, m.Mrr, 12);
    }

    [Fact]
    public void CategoryEvaluatorRanksByCosine()
    {
        // Two tight classes on a circle, far apart: every query's neighbour is its class mate.
        float[][] vectors = [Unit(0), Unit(10), Unit(90), Unit(100), Unit(180)];
        string[] labels = ["a", "a", "b", "b", "c"];
        var report = CategoryEvaluator.Evaluate(vectors, labels, [1, 2]);

        Assert.Equal(5, report.Items);
        Assert.Equal(3, report.Classes);
        Assert.Equal(1, report.SkippedQueries); // "c" has nothing to retrieve
        Assert.Equal(4, report.Overall.Queries);
        Assert.Equal(1.0, report.Overall.RecallAtK[0], 12);
        Assert.Equal(1.0, report.Overall.MapAtR, 12);
        Assert.Equal(0.5, report.Overall.PrecisionAtK[1], 12); // P@2: the class mate, then a stranger
        Assert.Equal(["a", "b", "c"], report.PerClass.Select(c => c.Label));
        Assert.Equal(0, report.PerClass[2].Metrics.Queries);
    }

    [Fact]
    public void CategoryEvaluatorCountsAMisrankedQuery()
    {
        // a1 at 0°, a2 at 80°, b1 at 20°: a1's nearest is b1 (20°), then a2 (80°) -> RR 1/2, AP@R (R = 1) = 0.
        float[][] vectors = [Unit(0), Unit(80), Unit(20), Unit(200)];
        string[] labels = ["a", "a", "b", "b"];
        var report = CategoryEvaluator.Evaluate(vectors, labels, [1]);
        var a = report.PerClass.Single(c => c.Label == "a").Metrics;
        // a1: nearest b1 (20°) -> miss; a2 (80°): nearest b1 (60°) -> miss. Both have RR = 1/2.
        Assert.Equal(0.0, a.RecallAtK[0], 12);
        Assert.Equal(0.5, a.Mrr, 12);
        Assert.Equal(0.0, a.MapAtR, 12);
    }

    [Fact]
    public void MicroAveragePrecisionOfPooledPairs()
    {
        // sorted: 0.9 + , 0.8 - , 0.7 + , 0.6 - ; 3 positives in all (one query's reference was never retrieved).
        // precision at the hits: 1/1 and 2/3 -> (1 + 2/3) / 3 = 5/9.
        (float, bool)[] pairs = [(0.7f, true), (0.6f, false), (0.9f, true), (0.8f, false)];
        Assert.Equal(5.0 / 9, CopyDetectionEvaluator.MicroAveragePrecision(pairs, 3), 6);
    }

    [Fact]
    public void ThresholdForPrecision()
    {
        (float, bool)[] pairs = [(0.9f, true), (0.8f, false), (0.7f, true), (0.6f, false)];
        // At 0.9: 1/1. At 0.8: 1/2. At 0.7: 2/3. At 0.6: 2/4.
        Assert.Equal((0.9f, 1), CopyDetectionEvaluator.ThresholdForPrecision(pairs, 0.9));
        Assert.Equal((0.7f, 2), CopyDetectionEvaluator.ThresholdForPrecision(pairs, 0.6));
        Assert.Equal((0.6f, 2), CopyDetectionEvaluator.ThresholdForPrecision(pairs, 0.5));
        (float, bool)[] allWrong = [(0.9f, false)];
        Assert.Null(CopyDetectionEvaluator.ThresholdForPrecision(allWrong, 0.9).Threshold);
    }

    [Fact]
    public void MultiVectorItemsScoreTheBestOfTheirVectorsAndPartialEditsStayOutOfOverall()
    {
        // Ref 0 is at 0 degrees with a region at 80; ref 1 at 90. A partial query at 80 finds ref 0 only through its region.
        float[][][] indexed = [[Unit(0), Unit(80)], [Unit(90)]];
        CopyQuery[] queries = [new(Unit(80), 0, CopyEdit.PartialSquare), new(Unit(5), 0, CopyEdit.Crop50)];
        var withRegions = CopyDetectionEvaluator.Evaluate(indexed, 2, queries);
        Assert.Equal(["crop50", "partial-sq"], withRegions.PerEdit.Select(g => g.Name));
        Assert.Equal(1.0, withRegions.PerEdit[1].AccuracyAt1);
        Assert.Equal(1.0, withRegions.PerEdit[1].MeanTrueSimilarity, 5);
        Assert.Equal(1, withRegions.Overall.Queries); // the whole-image edits only

        var ownOnly = CopyDetectionEvaluator.Evaluate([Unit(0), Unit(90)], 2, queries);
        Assert.Equal(0.0, ownOnly.PerEdit[1].AccuracyAt1);

        // Category retrieval with item vectors: item 2's region at -3 degrees pulls it to item 0's class.
        float[][] own = [Unit(0), Unit(10), Unit(90), Unit(95)];
        string[] labels = ["a", "a", "b", "b"];
        var plain = CategoryEvaluator.Evaluate(own, labels, [1]);
        var multi = CategoryEvaluator.Evaluate(own, labels, [1], itemVectors: [[Unit(0)], [Unit(10)], [Unit(90), Unit(-3)], [Unit(95)]]);
        Assert.Equal(1.0, plain.Overall.RecallAtK[0]);
        Assert.Equal(0.75, multi.Overall.RecallAtK[0]); // item 0 now finds item 2 first
    }

    [Fact]
    public void QueryViewsScoreTheBestOverTheViewsWhileTheItemsSearchedKeepTheirOwnVectors()
    {
        // Item 0 (class a, 0 degrees) queries with two views, one at 92 degrees: it now finds item 2 (class b, 90) first.
        float[][] own = [Unit(0), Unit(10), Unit(90), Unit(95)];
        string[] labels = ["a", "a", "b", "b"];
        var views = CategoryEvaluator.Evaluate(own, labels, [1], queryVectors: [[Unit(0), Unit(92)], [Unit(10)], [Unit(90)], [Unit(95)]]);
        Assert.Equal(0.75, views.Overall.RecallAtK[0]);
        Assert.Equal(0.5, views.PerClass[0].Metrics.RecallAtK[0], 12); // class a: item 1 still finds item 0
        // Item 2 (90) finds item 3 (95) first: item 0 is searched by its own vector (0), not by its view at 92 (which would win).
        Assert.Equal(1.0, views.PerClass[1].Metrics.RecallAtK[0], 12);

        // A copy at 60 degrees of reference 0 (0) lands nearer reference 1 (90); a second view at -5 finds reference 0.
        float[][] indexed = [Unit(0), Unit(90)];
        var alone = CopyDetectionEvaluator.Evaluate(indexed, 2, [new CopyQuery(Unit(60), 0, CopyEdit.Combined)]);
        var best = CopyDetectionEvaluator.Evaluate(indexed, 2, [new CopyQuery(Unit(60), 0, CopyEdit.Combined) { Views = [Unit(60), Unit(-5)] }]);
        Assert.Equal(0.0, alone.Overall.AccuracyAt1);
        Assert.Equal(1.0, best.Overall.AccuracyAt1);
        Assert.Equal(MathF.Cos(5 * MathF.PI / 180), best.Overall.MeanTrueSimilarity, 5);
    }

    [Fact]
    public void CopyDetectionPerEdit()
    {
        // Two references on the axes; a crop query near ref 0 (found), an overlay query of ref 0 that lands nearer ref 1.
        float[][] indexed = [Unit(0), Unit(90)];
        CopyQuery[] queries = [new(Unit(5), 0, CopyEdit.Crop50), new(Unit(60), 0, CopyEdit.Overlay)];
        var report = CopyDetectionEvaluator.Evaluate(indexed, 2, queries);

        Assert.Equal(["crop50", "overlay"], report.PerEdit.Select(g => g.Name));
        Assert.Equal(1.0, report.PerEdit[0].AccuracyAt1);
        Assert.Equal(0.0, report.PerEdit[1].AccuracyAt1);
        Assert.Equal(1.0, report.PerEdit[1].RecallAt5); // second of two
        Assert.Equal(0.5, report.Overall.AccuracyAt1);
        // pooled pairs: cos5 (+) .996, cos60 (+) .5 and cos30 (-) .866 from the overlay, cos85 (-) .087:
        // sorted + - + - -> AP = (1 + 2/3) / 2 = 5/6.
        Assert.Equal(5.0 / 6, report.Overall.MicroAveragePrecision, 6);
        Assert.Equal(MathF.Cos(5 * MathF.PI / 180), report.Overall.ThresholdAt90!.Value, 5);
        Assert.Equal(0.5, report.Overall.RecallAtThreshold, 12);
    }

    [Fact]
    public void TheOpenSetOverMultiVectorItemsScoresEachItemByItsBestVector()
    {
        // Ref 0 at 0 degrees; ref 1 at 90 with a region at 8: a copy of ref 0 at 4 degrees now meets a wrong item as close
        // as its own (cos 4 degrees both ways), so the wrong item passes the thresholds the copy passes.
        CopyQuery[] queries = [new(Unit(4), 0, CopyEdit.Crop50), new(Unit(88), 1, CopyEdit.Crop50)];
        var own = DuplicateEvaluator.OpenSet([Unit(0), Unit(90)], 2, queries, 0.95);
        var regions = DuplicateEvaluator.OpenSet([[Unit(0)], [Unit(90), Unit(8)]], 2, queries, 0.95);
        Assert.Equal(1.0, own.Curve.First(p => p.Threshold >= 0.99f).Precision);
        Assert.True(regions.Curve.First(p => p.Threshold >= 0.99f).Precision < 1.0);
        // Items of one vector score as the single-vector form does.
        Assert.Equal(own.Curve, DuplicateEvaluator.OpenSet([[Unit(0)], [Unit(90)]], 2, queries, 0.95).Curve);
    }

    [Fact]
    public void WholeFirstAsksTheRegionsOnlyWhenNoOwnVectorReachesTheThreshold()
    {
        // Ref 0 at 0 degrees; ref 1 at 90 with a region at 6. A whole copy of ref 0 at 4 degrees meets ref 1's region
        // closer (2 degrees) than its own reference; a detail of ref 1 at 7 degrees is 1 degree from that region.
        float[][][] indexed = [[Unit(0)], [Unit(90), Unit(6)]];
        CopyQuery[] queries = [new(Unit(4), 0, CopyEdit.Crop50), new(Unit(7), 1, CopyEdit.PartialSquare)];
        var threshold = (float)Math.Cos(5.5 * Math.PI / 180);

        var all = CopyDetectionEvaluator.Evaluate(indexed, 2, queries);
        var wholeFirst = CopyDetectionEvaluator.Evaluate(indexed, 2, queries, regionFallbackBelow: threshold);

        // Every vector: the copy is lost to the region, the detail found by it.
        Assert.Equal(0.0, all.PerEdit.Single(e => e.Name == CopyEdits.Name(CopyEdit.Crop50)).AccuracyAt1);
        Assert.Equal(1.0, all.PerEdit.Single(e => e.Name == CopyEdits.Name(CopyEdit.PartialSquare)).AccuracyAt1);
        // Whole-first: the copy's own match (cos 4 degrees) is above the threshold, so the regions are not asked; the
        // detail's best own score (cos 7 degrees) is below it, so it falls through to the region.
        Assert.Equal(1.0, wholeFirst.PerEdit.Single(e => e.Name == CopyEdits.Name(CopyEdit.Crop50)).AccuracyAt1);
        Assert.Equal(1.0, wholeFirst.PerEdit.Single(e => e.Name == CopyEdits.Name(CopyEdit.PartialSquare)).AccuracyAt1);
        Assert.Equal((float)Math.Cos(4 * Math.PI / 180), wholeFirst.Overall.MeanTrueSimilarity, 5);
        // The detail's region (cos 1 degree) beats the best own score (cos 7 degrees) by 0.0073: not by a margin of 0.01.
        var margin = CopyDetectionEvaluator.Evaluate(indexed, 2, queries, regionFallbackBelow: threshold, regionMargin: 0.01f);
        Assert.Equal(0.0, margin.PerEdit.Single(e => e.Name == CopyEdits.Name(CopyEdit.PartialSquare)).AccuracyAt1);
        Assert.Equal(1.0, CopyDetectionEvaluator.Evaluate(indexed, 2, queries, regionFallbackBelow: threshold, regionMargin: 0.005f)
            .PerEdit.Single(e => e.Name == CopyEdits.Name(CopyEdit.PartialSquare)).AccuracyAt1);
    }

    [Fact]
    public void TheOpenSetWholeFirstScoresTheReferenceByItsOwnVectorWhenThatIsAboveTheThreshold()
    {
        // Ref 0 at 0 degrees with a region at 8; a copy at 10 degrees. Every vector: the reference scores cos 2 degrees
        // (its region); whole-first (threshold cos 12 degrees): its own vector is above it, so cos 10 degrees.
        CopyQuery[] queries = [new(Unit(10), 0, CopyEdit.Crop50)];
        float[][][] indexed = [[Unit(0), Unit(8)], [Unit(90)]];
        var all = DuplicateEvaluator.OpenSet(indexed, 2, queries, 0.95);
        var wholeFirst = DuplicateEvaluator.OpenSet(indexed, 2, queries, 0.95, regionFallbackBelow: (float)Math.Cos(12 * Math.PI / 180));

        Assert.Equal(1.0, all.Curve.Single(p => p.Threshold == 0.99f).Recall);
        Assert.Equal(0.0, wholeFirst.Curve.Single(p => p.Threshold == 0.99f).Recall);
        Assert.Equal(1.0, wholeFirst.Curve.Single(p => p.Threshold == 0.98f).Recall);
    }

    [Fact]
    public void WithACropViewTheWholeViewDecidesAndTheCropAsksTheRegions()
    {
        // Ref 0 at 0 degrees; ref 1 at 90 with a region at 85. A circular detail of ref 1 whose whole view (white corners)
        // lies at 20 degrees, near ref 0, and whose crop lies at 86, a degree from ref 1's region; a whole copy of ref 0 at
        // 2 degrees whose crop (the inscribed square) would lie at 84.
        float[][][] indexed = [[Unit(0)], [Unit(90), Unit(85)]];
        var detail = new CopyQuery(Unit(20), 1, CopyEdit.PartialCircle) { Crop = Unit(86) };
        var copy = new CopyQuery(Unit(2), 0, CopyEdit.Overlay) { Crop = Unit(84) };
        var threshold = (float)Math.Cos(10 * Math.PI / 180);
        double Found(CopyQuery query, CropViewRegions regions = CropViewRegions.Crop, CropViewMargin margin = CropViewMargin.WholeOwn, float cropMargin = 0.05f) =>
            CopyDetectionEvaluator.Evaluate(indexed, 2, [query], regionFallbackBelow: threshold, regionMargin: 0.05f, cropView: new CropViewRule(regions, margin, cropMargin)).PerEdit.Single().AccuracyAt1;

        // The whole view alone: the detail's region (cos 65 degrees) does not beat ref 0's own score (cos 20 degrees).
        Assert.Equal(0.0, Found(detail with { Crop = null }));
        // The crop's region (cos 1 degree) beats the whole view's best own score by more than the margin, with either view set.
        Assert.Equal(1.0, Found(detail));
        Assert.Equal(1.0, Found(detail, CropViewRegions.CropAndWhole));
        // It beats it by 0.060: not by a crop margin of 0.07.
        Assert.Equal(0.0, Found(detail, cropMargin: 0.07f));
        // Against the crop's own best (ref 1's own vector at cos 4 degrees) it does not; the crop's own score is no answer.
        Assert.Equal(0.0, Found(detail, margin: CropViewMargin.ViewOwn));
        // A crop that asks the own vectors too: its own score for ref 1 (cos 4 degrees) beats ref 0's by the margin, without the region.
        float[][][] noRegion = [[Unit(0)], [Unit(90)]];
        Assert.Equal(0.0, CopyDetectionEvaluator.Evaluate(noRegion, 2, [detail], regionFallbackBelow: threshold, regionMargin: 0.05f, cropView: new CropViewRule(CropViewRegions.Crop, CropViewMargin.WholeOwn, 0.05f)).PerEdit.Single().AccuracyAt1);
        Assert.Equal(1.0, CopyDetectionEvaluator.Evaluate(noRegion, 2, [detail], regionFallbackBelow: threshold, regionMargin: 0.05f, cropView: new CropViewRule(CropViewRegions.Crop, CropViewMargin.WholeOwn, 0.05f, Own: true)).PerEdit.Single().AccuracyAt1);
        // The whole copy's own score is above the threshold: its crop never asks the regions (with CropOwn neither: the crop's
        // own best, ref 1 at cos 6 degrees, is above it too).
        Assert.Equal(1.0, Found(copy));
        Assert.Equal(1.0, Found(copy, margin: CropViewMargin.CropOwn));

        // A detail whose whole view finds ref 0 above the threshold (cos 3 degrees, white corners like a cut-out on white) and
        // whose crop (at 61) is far from every own vector: only CropOwn lets the crop ask ref 1's region at 60.
        float[][][] nearRegion = [[Unit(0)], [Unit(90), Unit(60)]];
        var hidden = new CopyQuery(Unit(3), 1, CopyEdit.PartialCircle) { Crop = Unit(61) };
        double FoundHidden(CropViewMargin margin) =>
            CopyDetectionEvaluator.Evaluate(nearRegion, 2, [hidden], regionFallbackBelow: threshold, regionMargin: 0.05f, cropView: new CropViewRule(CropViewRegions.Crop, margin, 0.05f)).PerEdit.Single().AccuracyAt1;
        Assert.Equal(0.0, FoundHidden(CropViewMargin.WholeOwn));
        Assert.Equal(1.0, FoundHidden(CropViewMargin.CropOwn));
        // CropOnly asks the crop only when the whole view found no copy: here it did (ref 0 above the threshold).
        Assert.Equal(0.0, FoundHidden(CropViewMargin.CropOnly));
        // The first detail (whole view below the threshold): the crop alone answers, and its region wins.
        Assert.Equal(1.0, Found(detail, margin: CropViewMargin.CropOnly));
        Assert.Equal(1.0, Found(copy, margin: CropViewMargin.CropOnly));
        // A crop equal to the whole vector (no background found) is no crop view.
        Assert.False((detail with { Crop = Unit(20) }).HasCrop);
        Assert.Equal(0.0, Found(detail with { Crop = Unit(20) }));
    }

    private static float[] Unit(double degrees)
    {
        var a = degrees * Math.PI / 180;
        return [(float)Math.Cos(a), (float)Math.Sin(a)];
    }
}
