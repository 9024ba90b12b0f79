using System.Text.Json;
using VisualSearch.Evaluation;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch eval &lt;folder-or-manifest&gt; [--k 1,5,10] [--subset NAME] [--task T] [--classes all|train|test] [--head FILE] [--json]</c>:
/// category retrieval on a labelled set, every image querying all the others of its subset.
/// </summary>
public static class EvalCommand
{
    public const string Usage = "Usage: vsearch eval <folder-or-manifest> [--k 1,5,10] [--subset NAME] [--task T] [--classes all|train|test] [--head FILE] [--query-views LIST] [--view-combination mean|best] [--query-precision Same|Float32] [--json] [--cache DIR | --no-cache] [--workers N]";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        args.RejectUnknown("k", "subset", "task", "classes", "head", "query-views", "view-combination", "query-precision", "json", "cache", "no-cache", "workers", "verbose");
        var ks = Quality.ParseKs(args.Get("k"));
        var set = Quality.LoadSet(args, Usage);
        var groups = set.Items.GroupBy(i => i.Subset, StringComparer.Ordinal)
            .Select(g => (Name: g.Key, Items: Quality.SelectClasses(g.ToList(), args.Get("classes"))))
            .Where(g => g.Items.Count > 0)
            .ToList();
        if (groups.Count == 0)
        {
            stderr.WriteLine($"error: no labelled images in {args.Positionals[0]}" + (args.Get("subset") is { } s ? $" (subset {s})" : "") + ".");
            return Task.FromResult(1);
        }

        using var engine = QualityEngine.Create(args);
        var all = groups.SelectMany(g => g.Items).ToList();
        var jobs = all.Select(i => EmbeddingJob.ForFile(i.Path)).ToList();
        var embedded = engine.Embed(jobs, "embedding", stderr, cancellationToken);
        // With query views, each image queries with its views' vectors; the images searched keep their input vectors.
        // With a query encoder of its own (--query-precision), each image queries with its vector from that encoder.
        var queryInput = engine.QueryEncoder is null ? embedded : engine.EmbedQueries(jobs, "queries", stderr, cancellationToken);
        var queryVectors = engine.HasQueryViews ? engine.QueryVectors(jobs, queryInput, "query views", stderr, cancellationToken)
            : engine.QueryEncoder is null ? null
            : queryInput.Results.Select(r => r is { } q ? new[] { engine.Project(q).Vector } : null).ToArray();
        var byPath = new Dictionary<string, Embedding.Embedding>(StringComparer.Ordinal);
        var itemVectors = new Dictionary<string, float[][]>(StringComparer.Ordinal);
        var queryByPath = new Dictionary<string, float[][]>(StringComparer.Ordinal);
        for (var i = 0; i < all.Count; i++)
        {
            if (embedded.Results[i] is not { } e) continue;
            if (queryVectors is not null)
            {
                if (queryVectors[i] is not { } q) continue;
                queryByPath[all[i].Path] = q;
            }

            byPath[all[i].Path] = engine.Project(e);
            if (engine.Regions) itemVectors[all[i].Path] = engine.ItemVectors(e);
        }

        var reports = new List<SetReport>();
        foreach (var (name, items) in groups)
        {
            var kept = items.Where(i => byPath.ContainsKey(i.Path)).ToList();
            var vectors = kept.Select(i => byPath[i.Path].Vector).ToList();
            var norms = kept.Select(i => byPath[i.Path].RawNorm).ToList();
            var report = CategoryEvaluator.Evaluate(vectors, kept.Select(i => i.Label).ToList(), ks, norms, cancellationToken,
                engine.Regions ? [.. kept.Select(i => itemVectors[i.Path])] : null,
                queryVectors is null ? null : [.. kept.Select(i => queryByPath[i.Path])]);
            reports.Add(new SetReport(name, items.Count - kept.Count, report));
            // With regions, the set scored by the items' own vectors alone too (what the regions add, from one run).
            if (engine.Regions) reports.Add(new SetReport(name + " (own vectors only)", items.Count - kept.Count, CategoryEvaluator.Evaluate(vectors, kept.Select(i => i.Label).ToList(), ks, norms, cancellationToken)));
        }

        if (args.Has("json"))
        {
            stdout.WriteLine(JsonSerializer.Serialize(ToJson(engine, args, ks, reports), Json));
        }
        else
        {
            stdout.WriteLine($"model {engine.ModelId}" + engine.QueryModelLabel + (args.Get("classes") is { } c and not "all" ? $", classes: {c} half" : "") +
                (engine.HasQueryViews ? $", query views {engine.QueryViewsLabel} (the images searched: their input vectors)" : "") +
                (engine.Regions ? $", with regions ({itemVectors.Values.DefaultIfEmpty([]).Average(v => v.Length):F1} vectors per item; an item scores the best of its vectors, in memory)" : ""));
            foreach (var r in reports) WriteTable(stdout, r, ks);
        }

        return Task.FromResult(reports.Any(r => r.Report.Overall.Queries > 0) ? 0 : 1);
    }

    private sealed record SetReport(string Name, int Refused, CategoryReport Report);

    private static void WriteTable(TextWriter o, SetReport set, IReadOnlyList<int> ks)
    {
        var r = set.Report;
        o.WriteLine();
        o.WriteLine($"{set.Name}: {r.Items} images, {r.Classes} classes, {r.Overall.Queries} queries" +
            (r.SkippedQueries > 0 ? $" ({r.SkippedQueries} alone in their class, not scored)" : "") +
            (set.Refused > 0 ? $", {set.Refused} refused by the decoder" : ""));
        if (r.Overall.Queries == 0)
        {
            o.WriteLine("  no class has two images: nothing to score.");
            return;
        }

        var labelWidth = Math.Max(12, r.PerClass.Max(c => c.Label.Length));
        var header = $"  {"class".PadRight(labelWidth)} {"n",5}" +
            string.Concat(ks.Select(k => $" {"R@" + k,6}")) + string.Concat(ks.Select(k => $" {"P@" + k,6}")) + $" {"MAP@R",6} {"MRR",6}";
        o.WriteLine(header);
        foreach (var c in r.PerClass) o.WriteLine(Row(c.Label, c.Items, c.Metrics, labelWidth));
        o.WriteLine("  " + new string('-', header.Length - 2));
        o.WriteLine(Row("overall", r.Items, r.Overall, labelWidth));
        var h = r.Health;
        o.WriteLine($"  embedding health: mean norm before normalisation {Quality.F(h.MeanRawNorm, 2)}; per-dimension variance mean {h.MeanVariance:E2} " +
            $"(min {h.MinVariance:E2}, max {h.MaxVariance:E2}); near-dead dimensions {Quality.F(h.NearDeadShare * 100, 1)}%; effective dimension {Quality.F(h.EffectiveDimension, 1)} of {h.Dimension}; " +
            $"mean cosine between images {Quality.F(h.MeanCosine)}");
    }

    private static string Row(string label, int n, MetricSummary m, int labelWidth) =>
        $"  {label.PadRight(labelWidth)} {n,5}" +
        string.Concat(m.RecallAtK.Select(v => $" {Quality.F(v),6}")) +
        string.Concat(m.PrecisionAtK.Select(v => $" {Quality.F(v),6}")) +
        $" {Quality.F(m.MapAtR),6} {Quality.F(m.Mrr),6}";

    private static object ToJson(QualityEngine engine, CliArgs args, IReadOnlyList<int> ks, List<SetReport> reports) => new
    {
        model = engine.ModelId,
        queryModel = (engine.QueryEncoder?.Model ?? engine.Encoder.Model).Id,
        queryViews = engine.QueryViews.Select(v => v.Name),
        viewCombination = engine.ViewCombination.ToString(),
        head = args.Get("head"),
        classes = args.Get("classes") ?? "all",
        k = ks,
        sets = reports.Select(s => new
        {
            name = s.Name,
            items = s.Report.Items,
            classes = s.Report.Classes,
            refused = s.Refused,
            skipped = s.Report.SkippedQueries,
            overall = Metrics(s.Report.Overall),
            perClass = s.Report.PerClass.Select(c => new { label = c.Label, items = c.Items, metrics = Metrics(c.Metrics) }),
            health = new
            {
                meanRawNorm = Quality.Round(s.Report.Health.MeanRawNorm),
                meanVariance = s.Report.Health.MeanVariance,
                minVariance = s.Report.Health.MinVariance,
                maxVariance = s.Report.Health.MaxVariance,
                nearDeadShare = Quality.Round(s.Report.Health.NearDeadShare),
                effectiveDimension = Quality.Round(s.Report.Health.EffectiveDimension, 2),
                dimension = s.Report.Health.Dimension,
                meanCosine = Quality.Round(s.Report.Health.MeanCosine),
            },
        }),
    };

    internal static object Metrics(MetricSummary m) => new
    {
        queries = m.Queries,
        recall = m.Ks.Select((k, j) => (k, j)).ToDictionary(x => x.k.ToString(System.Globalization.CultureInfo.InvariantCulture), x => Quality.Round(m.RecallAtK[x.j])),
        precision = m.Ks.Select((k, j) => (k, j)).ToDictionary(x => x.k.ToString(System.Globalization.CultureInfo.InvariantCulture), x => Quality.Round(m.PrecisionAtK[x.j])),
        mapAtR = Quality.Round(m.MapAtR),
        mrr = Quality.Round(m.Mrr),
    };
}
