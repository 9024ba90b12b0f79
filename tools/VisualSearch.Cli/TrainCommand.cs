using System.Globalization;
using System.Text.Json;
using VisualSearch.Evaluation;
using VisualSearch.Training;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch train &lt;labelled-folder-or-manifest&gt; --out FILE [--dim 128] [--epochs N] ...</c>: learns a projection head on
/// frozen encoder embeddings with the Proxy-Anchor loss. By default it trains on the first half of the sorted
/// classes and scores the base encoder and the head on the second half, which the head never saw.
/// </summary>
public static class TrainCommand
{
    public const string Usage = "Usage: vsearch train <labelled-folder-or-manifest> --out FILE [--dim 128] [--epochs 20] [--subset NAME] [--task T] [--classes all|train|test] [--all-classes] [--whiten [--shrink 1]] [--lr 0.001] [--batch 128] [--seed 1] [--json] [--cache DIR | --no-cache] [--workers N]";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        args.RejectUnknown("out", "dim", "epochs", "subset", "task", "classes", "all-classes", "whiten", "shrink", "lr", "batch", "seed", "json", "cache", "no-cache", "workers", "verbose");
        var output = args.Get("out") ?? throw new UsageException("--out FILE is required.\n" + Usage);
        var defaults = new ProxyAnchorOptions();
        var options = defaults with
        {
            Dimension = args.GetInt("dim", defaults.Dimension, 2, 4096),
            Epochs = args.GetInt("epochs", defaults.Epochs, 0, 10000),
            BatchSize = args.GetInt("batch", defaults.BatchSize, 2, 100000),
            LearningRate = args.GetFloat("lr", 1e-7f, 10f) ?? defaults.LearningRate,
            Whiten = args.Has("whiten"),
            WhiteningShrinkage = args.GetFloat("shrink", 0, 1000) ?? defaults.WhiteningShrinkage,
            Seed = args.GetInt("seed", defaults.Seed, 0, int.MaxValue),
        };
        var set = Quality.LoadSet(args, Usage);

        // Classes are per subset: the same label in two subsets is two classes.
        var items = set.Items.GroupBy(i => i.Subset, StringComparer.Ordinal)
            .SelectMany(g => Quality.SelectClasses(g.ToList(), args.Get("classes")))
            .Select(i => i with { Label = set.Subsets.Count > 1 ? $"{i.Subset}:{i.Label}" : i.Label })
            .ToList();
        var (train, heldOut) = args.Has("all-classes") ? (items, (IReadOnlyList<LabelledItem>)[]) : LabelledSet.SplitByClass(items);
        if (LabelledSet.Classes(train).Count < 2)
        {
            stderr.WriteLine($"error: training needs at least two classes with images; {args.Positionals[0]} gives {LabelledSet.Classes(train).Count}.");
            return Task.FromResult(1);
        }

        using var engine = QualityEngine.Create(args, allowHead: false);
        if (engine.Encoder.Model.Head is not null)
            throw new UsageException("The configured encoder already has a head (Encoder__HeadPath): a head is trained on the backbone; unset it.");

        var all = train.Concat(heldOut).ToList();
        var embedded = engine.Embed(all.Select(i => EmbeddingJob.ForFile(i.Path)).ToList(), "embedding", stderr, cancellationToken);
        var vectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (var i = 0; i < all.Count; i++)
            if (embedded.Results[i] is { } e) vectors[all[i].Path] = e.Vector;
        train = train.Where(i => vectors.ContainsKey(i.Path)).ToList();
        heldOut = heldOut.Where(i => vectors.ContainsKey(i.Path)).ToList();

        var classes = LabelledSet.Classes(train);
        var classIndex = classes.Select((c, j) => (c, j)).ToDictionary(x => x.c, x => x.j, StringComparer.Ordinal);
        var progress = new EpochProgress(stderr, options.Epochs);
        var result = ProxyAnchorTrainer.Train(
            train.Select(i => vectors[i.Path]).ToList(),
            train.Select(i => classIndex[i.Label]).ToList(),
            engine.Encoder.Model.Id,
            options,
            progress,
            cancellationToken);
        result.Head.Save(output);
        var modelId = (engine.Encoder.Model with { Dimension = result.Head.OutputDimension, Head = result.Head.Info }).Id;

        var rows = new List<(string Split, string Model, CategoryReport Report)>();
        foreach (var (split, part) in new[] { ("train classes", train), ("held-out classes", heldOut) })
        {
            if (part.Count == 0) continue;
            var labels = part.Select(i => i.Label).ToList();
            var baseVectors = part.Select(i => vectors[i.Path]).ToList();
            rows.Add((split, "base", CategoryEvaluator.Evaluate(baseVectors, labels, [1], cancellationToken: cancellationToken)));
            var headVectors = baseVectors.Select(v => result.Head.Apply(v).Vector).ToList();
            rows.Add((split, "head", CategoryEvaluator.Evaluate(headVectors, labels, [1], cancellationToken: cancellationToken)));
        }

        if (args.Has("json"))
        {
            stdout.WriteLine(JsonSerializer.Serialize(new
            {
                head = Path.GetFullPath(output),
                model = modelId,
                backbone = engine.Encoder.Model.Id,
                options = new { options.Dimension, options.Epochs, options.BatchSize, options.LearningRate, options.ProxyLearningRate, options.Alpha, options.Delta, options.Whiten, options.Seed },
                trainClasses = classes,
                heldOutClasses = LabelledSet.Classes(heldOut),
                trainImages = train.Count,
                heldOutImages = heldOut.Count,
                pcaComponents = result.Components,
                seconds = Math.Round(result.Elapsed.TotalSeconds, 1),
                loss = result.EpochLoss,
                evaluation = rows.Select(r => new { split = r.Split, model = r.Model, images = r.Report.Items, classes = r.Report.Classes, metrics = EvalCommand.Metrics(r.Report.Overall) }),
            }, Json));
        }
        else
        {
            stdout.WriteLine($"trained on {classes.Count} classes ({train.Count} images)" +
                (heldOut.Count > 0 ? $"; held out {LabelledSet.Classes(heldOut).Count} classes ({heldOut.Count} images)" : "; no classes held out (--all-classes)"));
            stdout.WriteLine($"Proxy-Anchor (alpha {options.Alpha}, delta {options.Delta}), {(options.Whiten ? "PCA-whitened" : "PCA")} input ({result.Components} components) -> {options.Dimension}, " +
                $"{options.Epochs} epochs in {result.Elapsed.TotalSeconds:F1} s" +
                (result.EpochLoss.Count > 0 ? $"; loss epoch 1 {Quality.F(result.EpochLoss[0])}, epoch {result.EpochLoss.Count} {Quality.F(result.EpochLoss[^1])}" : "; no training steps (--epochs 0): the PCA start alone"));
            stdout.WriteLine($"  {"classes",-17} {"model",-5} {"images",6} {"R@1",6} {"MAP@R",6} {"MRR",6}");
            foreach (var (split, model, report) in rows)
                stdout.WriteLine($"  {split,-17} {model,-5} {report.Items,6} {Quality.F(report.Overall.RecallAtK[0]),6} {Quality.F(report.Overall.MapAtR),6} {Quality.F(report.Overall.Mrr),6}");
            stdout.WriteLine($"saved {output} ({result.Head.Bytes.Length.ToString("N0", CultureInfo.InvariantCulture)} bytes): model id {modelId}");
            stdout.WriteLine($"use it: vsearch eval ... --head {output}, or Encoder__HeadPath={Path.GetFullPath(output)} for index, search and serve");
        }

        return Task.FromResult(0);
    }

    /// <summary>Epoch losses on stderr, about ten lines per run.</summary>
    private sealed class EpochProgress(TextWriter stderr, int epochs) : IProgress<(int Epoch, double Loss)>
    {
        public void Report((int Epoch, double Loss) value)
        {
            if (value.Epoch == 1 || value.Epoch == epochs || value.Epoch % Math.Max(1, epochs / 10) == 0)
                stderr.WriteLine($"epoch {value.Epoch}/{epochs}: loss {Quality.F(value.Loss, 4)}");
        }
    }
}
