using System.Globalization;
using System.Text.Json;
using VisualSearch.Evaluation;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch eval-copies &lt;refs-folder&gt; [--distractors DIR] [--seed N] [--head FILE] [--json]</c>: copy detection in the
/// Copydays / DISC21 manner. Every reference gets each edit of <see cref="CopyEdits"/>; the references (and
/// distractors) are searched with the edited copies.
/// </summary>
public static class EvalCopiesCommand
{
    public const string Usage = "Usage: vsearch eval-copies <refs-folder> [--distractors DIR] [--categories MANIFEST] [--seed N] [--limit N] [--head FILE] [--query-views LIST] [--view-combination mean|best] [--query-precision Same|Float32] [--json] [--cache DIR | --no-cache] [--workers N]";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        args.RejectUnknown("distractors", "categories", "seed", "limit", "head", "query-views", "view-combination", "query-precision", "json", "cache", "no-cache", "workers", "verbose");
        if (args.Positionals.Count != 1) throw new UsageException(Usage);
        var seed = args.GetInt("seed", 1, 0, int.MaxValue);
        var refsRoot = Path.GetFullPath(args.Positionals[0]);
        if (!Directory.Exists(refsRoot)) throw new UsageException($"No folder at {args.Positionals[0]}.");
        var references = Images(refsRoot);
        if (args.Get("limit") is not null) references = references.Take(args.GetInt("limit", int.MaxValue, 1, int.MaxValue)).ToList();
        var distractors = new List<string>();
        if (args.Get("distractors") is { } d)
        {
            if (!Directory.Exists(d)) throw new UsageException($"--distractors: no folder at {d}.");
            var refSet = references.ToHashSet(StringComparer.Ordinal);
            distractors = Images(Path.GetFullPath(d)).Where(p => !refSet.Contains(p)).ToList();
        }

        if (references.Count < 2)
        {
            stderr.WriteLine($"error: {refsRoot} holds {references.Count} image(s); copy detection needs at least two references.");
            return Task.FromResult(1);
        }

        using var engine = QualityEngine.Create(args);
        if (engine.CopySpaceConfigured)
            stderr.WriteLine($"note: this measures the category vector ({engine.ModelId}); the product's copy search, duplicates and cutoff=auto read the copy space. " +
                "Measure that with Encoder__Descriptor=FeatureMap (the copy space's descriptor, detail regions and query rules in one space; docs/quality.md \"The shipped default\").");
        var indexedFiles = references.Concat(distractors).ToList();
        var indexedEmbeddings = engine.Embed(indexedFiles.Select(EmbeddingJob.ForFile).ToList(), "references and distractors", stderr, cancellationToken, storedItems: true);

        // References the decoder refused cannot be found; they make no queries either.
        var refIndex = new List<int>();
        var indexed = new List<float[][]>();
        for (var i = 0; i < references.Count; i++)
        {
            if (indexedEmbeddings.Results[i] is not { } e) continue;
            refIndex.Add(i);
            indexed.Add(engine.ItemVectors(e));
        }

        var usableRefs = indexed.Count;
        for (var i = references.Count; i < indexedFiles.Count; i++)
            if (indexedEmbeddings.Results[i] is { } e) indexed.Add(engine.ItemVectors(e));

        var jobs = new List<EmbeddingJob>();
        var meta = new List<(int Reference, CopyEdit Edit)>();
        for (var r = 0; r < usableRefs; r++)
        {
            var path = references[refIndex[r]];
            var key = Path.GetRelativePath(refsRoot, path).Replace('\\', '/');
            var contentKey = EmbeddingCache.FileKey(path);
            foreach (var edit in CopyEdits.All)
            {
                // The edit is a function of the reference's bytes, its name (the overlay's seed), the edit and the seed.
                jobs.Add(new EmbeddingJob(
                    $"{contentKey}#copy={CopyEdits.Name(edit)};seed={seed};name={key};v=1",
                    () => CopyEdits.Apply(File.ReadAllBytes(path), edit, seed, key),
                    $"{key} ({CopyEdits.Name(edit)})"));
                meta.Add((r, edit));
            }
        }

        var queryEmbeddings = engine.EmbedQueries(jobs, "edited copies", stderr, cancellationToken);
        // With a crop view (Encoder:QueryBackground=CropView), each copy's crop too: the regions' fallback asks with it.
        var cropEmbeddings = engine.CropViews ? engine.EmbedCropViews(jobs, "edited copies [crop view]", stderr, cancellationToken) : null;
        // With query views, each copy searches with its views' vectors (their mean, or each for the best over them).
        var viewVectors = engine.HasQueryViews ? engine.QueryVectors(jobs, queryEmbeddings, "edited copies", stderr, cancellationToken) : null;
        var queries = new List<CopyQuery>();
        var inputQueries = new List<CopyQuery>();
        for (var q = 0; q < jobs.Count; q++)
        {
            if (queryEmbeddings.Results[q] is not { } e) continue;
            var input = new CopyQuery(engine.Project(e).Vector, meta[q].Reference, meta[q].Edit) { Crop = cropEmbeddings?.Results[q] is { } c ? engine.Project(c).Vector : null };
            inputQueries.Add(input);
            if (viewVectors is null) queries.Add(input);
            else if (viewVectors[q] is { } v) queries.Add(v.Length == 1 ? input with { Vector = v[0] } : input with { Views = v });
        }

        // As the product's search scores them: with detail regions whole-first (engine.RegionFallbackBelow), else the best of an item's vectors.
        var report = CopyDetectionEvaluator.Evaluate(indexed, usableRefs, queries, 0.9, cancellationToken, engine.RegionFallbackBelow, engine.RegionMargin, engine.CropView);
        // With crop views: every rule of Search:CropViewRegions and Search:CropViewMargin, and the whole view alone (no crop
        // view: 7h's search), over the same vectors (docs/quality.md 7i).
        var cropRules = engine.CropViews ? CropViewRules(indexed, usableRefs, queries, engine, cancellationToken) : null;
        // With regions, the same items scored by their own vectors alone too, and (whole-first) by the best of all their
        // vectors for every query: what the regions add, and what asking them first would cost, from one run.
        var ownOnly = engine.Regions ? CopyDetectionEvaluator.Evaluate([.. indexed.Select(v => v[0])], usableRefs, queries, 0.9, cancellationToken) : null;
        var allVectors = engine.RegionFallbackBelow is not null ? CopyDetectionEvaluator.Evaluate(indexed, usableRefs, queries, 0.9, cancellationToken) : null;
        var categories = args.Get("categories") is { } manifest ? CategoryLists(engine, manifest, stderr, cancellationToken) : null;
        // The duplicate measurements are of whole-image copies (a detail is not a duplicate); the groups of the items' own
        // vectors, the open set with detail regions of the items as the index holds them (their regions can answer a copy).
        // Query views do not apply there: the copies are asked with (and grouped by) their input vectors, as stored items are.
        var duplicates = EvalDuplicates.Run([.. indexed.Select(v => v[0])], usableRefs, indexed.Count - usableRefs, [.. inputQueries.Where(q => !CopyEdits.IsPartial(q.Edit))], categories, cancellationToken,
            engine.DetailRegions ? indexed : null, engine.RegionFallbackBelow, engine.RegionMargin, engine.CropView);
        if (args.Has("json"))
        {
            // The copy report's fields stay at the root (as before); the duplicate measurements sit beside them.
            var root = JsonSerializer.SerializeToNode(ToJson(engine.ModelId, seed, report), Json)!.AsObject();
            root["regions"] = engine.Regions;
            root["queryModel"] = (engine.QueryEncoder?.Model ?? engine.Encoder.Model).Id;
            root["queryViews"] = new System.Text.Json.Nodes.JsonArray([.. engine.QueryViews.Select(v => (System.Text.Json.Nodes.JsonNode?)v.Name)]);
            root["viewCombination"] = engine.ViewCombination.ToString();
            if (engine.RegionFallbackBelow is { } below)
            {
                root["regionFallbackBelow"] = Quality.Round(below);
                root["regionMargin"] = Quality.Round(engine.RegionMargin);
            }

            if (ownOnly is not null) root["ownVectorsOnly"] = JsonSerializer.SerializeToNode(ToJson(engine.ModelId, seed, ownOnly), Json);
            if (allVectors is not null) root["allVectors"] = JsonSerializer.SerializeToNode(ToJson(engine.ModelId, seed, allVectors), Json);
            if (cropRules is not null)
            {
                root["cropViewRegions"] = engine.CropView.Regions.ToString();
                root["cropViewMargin"] = engine.CropView.Reference.ToString();
                root["cropViewRegionMargin"] = Quality.Round(engine.CropView.Margin);
                root["cropViews"] = JsonSerializer.SerializeToNode(CopyEdits.All.ToDictionary(CopyEdits.Name, e => inputQueries.Count(q => q.Edit == e && q.HasCrop)), Json);
                root["cropViewRules"] = new System.Text.Json.Nodes.JsonObject(cropRules.Select(r => KeyValuePair.Create(r.Name, JsonSerializer.SerializeToNode(ToJson(engine.ModelId, seed, r.Report), Json))));
            }

            root["vectorsPerItem"] = Quality.Round(VectorsPerItem(indexed), 2);
            root["duplicates"] = JsonSerializer.SerializeToNode(EvalDuplicates.ToJson(duplicates), Json);
            stdout.WriteLine(root.ToJsonString(Json));
        }
        else
        {
            if (ownOnly is not null) WriteTable(stdout, engine.ModelId + " (the items' own vectors only)", seed, ownOnly);
            if (allVectors is not null) WriteTable(stdout, engine.ModelId + $" (the best of all of an item's {VectorsPerItem(indexed):F1} vectors, for every query)", seed, allVectors);
            foreach (var (name, rule) in cropRules ?? []) WriteTable(stdout, engine.ModelId + $" (crop view rule {name})", seed, rule);
            WriteTable(stdout, engine.ModelId + engine.QueryModelLabel + (engine.HasQueryViews ? $", query views {engine.QueryViewsLabel}" : "") + (engine.Regions ? $" with regions ({VectorsPerItem(indexed):F1} vectors per item, scored in memory by the best of an item's vectors"
                + (engine.RegionFallbackBelow is { } t ? $", whole-first: regions only when no own vector scores {t.ToString("F3", CultureInfo.InvariantCulture)}, counted when {engine.RegionMargin.ToString("F3", CultureInfo.InvariantCulture)} above the best own" : "") + ")" : ""), seed, report);
            EvalDuplicates.WriteTable(stdout, duplicates);
        }

        return Task.FromResult(0);
    }

    /// <summary>
    /// The copy report under each crop-view rule (<c>Crop/WholeOwn</c>, ...: Search:CropViewRegions / Search:CropViewMargin, <c>/own</c>
    /// with Search:CropViewOwn, at the
    /// configured crop margin) and with the whole view alone (<c>wholeViewOnly</c>: the queries without their crop, 7h's search).
    /// </summary>
    private static List<(string Name, CopyReport Report)> CropViewRules(List<float[][]> indexed, int references, List<CopyQuery> queries, QualityEngine engine, CancellationToken cancellationToken)
    {
        var rules = new List<(string, CopyReport)>
        {
            ("wholeViewOnly", CopyDetectionEvaluator.Evaluate(indexed, references, [.. queries.Select(q => q with { Crop = null })], 0.9, cancellationToken, engine.RegionFallbackBelow, engine.RegionMargin)),
        };
        foreach (var regions in Enum.GetValues<Search.CropViewRegions>())
            foreach (var margin in Enum.GetValues<Search.CropViewMargin>())
                foreach (var own in new[] { false, true })
                    rules.Add(($"{regions}/{margin}" + (own ? "/own" : ""), CopyDetectionEvaluator.Evaluate(indexed, references, queries, 0.9, cancellationToken, engine.RegionFallbackBelow, engine.RegionMargin, engine.CropView with { Regions = regions, Reference = margin, Own = own })));
        return rules;
    }

    /// <summary>Top-10 lists of every item of the manifest's task-A subsets, each subset searched on its own.</summary>
    private static List<RankedList> CategoryLists(QualityEngine engine, string manifest, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (!File.Exists(manifest)) throw new UsageException($"--categories: no manifest at {manifest}.");
        var set = LabelledSet.FromManifest(manifest, task: "A");
        var embedded = engine.Embed(set.Items.Select(i => EmbeddingJob.ForFile(i.Path)).ToList(), "categories", stderr, cancellationToken);
        var lists = new List<RankedList>();
        foreach (var subset in set.Items.Select((item, i) => (item, i)).GroupBy(x => x.item.Subset, StringComparer.Ordinal))
        {
            var kept = subset.Where(x => embedded.Results[x.i] is not null).ToList();
            lists.AddRange(DuplicateEvaluator.TopLists([.. kept.Select(x => engine.Project(embedded.Results[x.i]!.Value).Vector)], [.. kept.Select(x => x.item.Label)], 10, cancellationToken));
        }

        return lists;
    }

    private static double VectorsPerItem(List<float[][]> indexed) => indexed.Count == 0 ? 0 : indexed.Average(v => v.Length);

    private static List<string> Images(string root) =>
        Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System })
            .Where(f => LabelledSet.ImageExtensions.Contains(Path.GetExtension(f)))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static void WriteTable(TextWriter o, string model, int seed, CopyReport r)
    {
        o.WriteLine($"model {model}");
        var partial = r.PerEdit.Where(g => g.Name.StartsWith("partial", StringComparison.Ordinal)).Sum(g => g.Queries);
        o.WriteLine($"copy detection: {r.References} references, {r.Distractors} distractors, {r.Overall.Queries} queries" + (partial > 0 ? $" and {partial} partial details" : "") + $" (seed {seed})");
        var header = $"  {"edit",-12} {"queries",7} {"acc@1",6} {"R@5",6} {"µAP",6} {"thr@P90",7} {"R@thr",6} {"sim(ref)",8}";
        o.WriteLine(header);
        foreach (var g in r.PerEdit) o.WriteLine(Row(g));
        o.WriteLine("  " + new string('-', header.Length - 2));
        o.WriteLine(Row(r.Overall) + (r.PerEdit.Any(g => g.Name.StartsWith("partial", StringComparison.Ordinal)) ? "  (the whole-image edits; partial details only per edit)" : ""));
        o.WriteLine(r.Overall.ThresholdAt90 is { } t
            ? $"near-duplicate threshold (precision {r.TargetPrecision * 100:F0}% over the pooled top-{CopyDetectionEvaluator.CandidatesPerQuery} pairs): {t.ToString("F3", CultureInfo.InvariantCulture)}; it finds {r.Overall.RecallAtThreshold * 100:F1}% of the copies"
            : $"no similarity threshold reaches {r.TargetPrecision:P0} precision");
    }

    private static string Row(CopyGroupReport g) =>
        $"  {g.Name,-12} {g.Queries,7} {Quality.F(g.AccuracyAt1),6} {Quality.F(g.RecallAt5),6} {Quality.F(g.MicroAveragePrecision),6} " +
        $"{(g.ThresholdAt90 is { } t ? Quality.F(t) : "-"),7} {Quality.F(g.RecallAtThreshold),6} {Quality.F(g.MeanTrueSimilarity),8}";

    private static object ToJson(string model, int seed, CopyReport r) => new
    {
        model,
        seed,
        references = r.References,
        distractors = r.Distractors,
        targetPrecision = r.TargetPrecision,
        candidatesPerQuery = CopyDetectionEvaluator.CandidatesPerQuery,
        overall = Group(r.Overall),
        perEdit = r.PerEdit.Select(Group),
    };

    private static object Group(CopyGroupReport g) => new
    {
        edit = g.Name,
        queries = g.Queries,
        accuracyAt1 = Quality.Round(g.AccuracyAt1),
        recallAt5 = Quality.Round(g.RecallAt5),
        microAveragePrecision = Quality.Round(g.MicroAveragePrecision),
        thresholdAt90 = g.ThresholdAt90 is { } t ? Quality.Round(t) : (double?)null,
        recallAtThreshold = Quality.Round(g.RecallAtThreshold),
        meanTrueSimilarity = Quality.Round(g.MeanTrueSimilarity),
    };
}
