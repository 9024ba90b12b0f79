using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using VisualSearch.Evaluation;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch compare-precision &lt;folder-or-manifest&gt; [--subset NAME] [--task T] [--pairs N] [--json]</c>: the same
/// images embedded by the float32 and the int8 encoder (through the embedding cache), and how far apart they are:
/// cosine between each image's two vectors (mean, min, 1st percentile) and how much the similarity of image pairs
/// moves (mean and max |int8 − float32| over N seeded random pairs). docs/quality.md section 6.
/// </summary>
public static class ComparePrecisionCommand
{
    public const string Usage = "Usage: vsearch compare-precision <folder-or-manifest> [--subset NAME] [--task T] [--pairs 20000] [--json] [--cache DIR | --no-cache] [--workers N]";

    public static Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        args.RejectUnknown("subset", "task", "pairs", "json", "cache", "no-cache", "workers", "verbose");
        var set = Quality.LoadSet(args, Usage);
        var pairs = args.GetInt("pairs", 20_000, 0, 10_000_000);
        var jobs = set.Items.Select(i => EmbeddingJob.ForFile(i.Path)).ToList();

        (string Model, IReadOnlyList<Embedding.Embedding?> Vectors) EmbedWith(string precision)
        {
            using var engine = QualityEngine.Create(args, allowHead: false, new Dictionary<string, string?> { ["Encoder:Precision"] = precision });
            return (engine.ModelId, engine.Embed(jobs, $"{precision}", stderr, cancellationToken).Results);
        }

        var f32 = EmbedWith("Float32");
        var i8 = EmbedWith("Int8");
        var both = Enumerable.Range(0, jobs.Count).Where(i => f32.Vectors[i] is not null && i8.Vectors[i] is not null).ToList();
        if (both.Count == 0)
        {
            stderr.WriteLine("error: no image could be embedded.");
            return Task.FromResult(1);
        }

        var cosines = both.Select(i => (double)TensorPrimitives.CosineSimilarity(f32.Vectors[i]!.Value.Vector, i8.Vectors[i]!.Value.Vector)).Order().ToList();
        var random = new Random(1);
        var shifts = new List<double>(pairs);
        for (var p = 0; p < pairs && both.Count > 1; p++)
        {
            var a = both[random.Next(both.Count)];
            var b = both[random.Next(both.Count)];
            if (a == b) continue;
            var s32 = TensorPrimitives.CosineSimilarity(f32.Vectors[a]!.Value.Vector, f32.Vectors[b]!.Value.Vector);
            var s8 = TensorPrimitives.CosineSimilarity(i8.Vectors[a]!.Value.Vector, i8.Vectors[b]!.Value.Vector);
            shifts.Add(Math.Abs(s8 - s32));
        }

        var report = new
        {
            float32 = f32.Model,
            int8 = i8.Model,
            images = cosines.Count,
            meanCosine = Math.Round(cosines.Average(), 5),
            minCosine = Math.Round(cosines[0], 5),
            p1Cosine = Math.Round(cosines[(int)(0.01 * (cosines.Count - 1))], 5),
            pairs = shifts.Count,
            meanPairShift = shifts.Count == 0 ? 0 : Math.Round(shifts.Average(), 5),
            maxPairShift = shifts.Count == 0 ? 0 : Math.Round(shifts.Max(), 5),
        };
        if (args.Has("json"))
        {
            stdout.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
        }
        else
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{report.int8} against {report.float32}, {report.images} images:"));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  cosine between the two vectors of an image: mean {report.meanCosine:F4}, 1st percentile {report.p1Cosine:F4}, min {report.minCosine:F4}"));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  similarity of {report.pairs} random pairs moves by: mean {report.meanPairShift:F4}, max {report.maxPairShift:F4}"));
        }

        return Task.FromResult(0);
    }
}
