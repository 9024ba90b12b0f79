using System.Diagnostics;
using System.Numerics.Tensors;
using SkiaSharp;
using VisualSearch.Embedding;
using VisualSearch.Evaluation;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.Cli.Bench;

/// <summary>
/// Recall of the default graph against the exact scan on real embeddings (<c>--parts real</c>): what the
/// <c>Requested</c> count asked for, how many views were embedded (fewer when the time budget ran out), how many
/// of them came from the embedding cache, and recall@10 of the held-out queries.
/// </summary>
internal sealed record RealRecallResult(
    string Dataset,
    int Images,
    int ViewsPerImage,
    int Requested,
    int Embedded,
    int FromCache,
    int Refused,
    int Indexed,
    int Queries,
    double EmbedSeconds,
    double GraphBuildSeconds,
    int BuildThreads,
    double RecallAt10,
    Latency GraphByVector,
    bool BudgetRanOut);

/// <summary>
/// Many real embeddings from a few thousand images: every image of a labelled set (the team's dev set,
/// ../shared/datasets/dev) in seeded augmented views (crop, flip, small rotation, colour, size, JPEG quality), each
/// embedded with the product's decoder and encoder through the embedding cache (keyed by the source file's
/// content, the augmentation version and the view, so a second run embeds nothing). The views are taken view by
/// view over all images, so any count is a balanced prefix; the last <c>queries</c> views are held out as queries
/// (new views of images whose other views are indexed, as a new photo of a known subject). The rest go into an
/// embedded index (exact, then reopened in graph mode: the graph built on every core with the bench's settings),
/// and recall@10 is counted against an exact scan of the same vectors.
/// </summary>
internal sealed class RealEmbeddingBench(IImageDecoder decoder, IImageEncoder encoder, AnnQuantization quantization, int connectivity, int expansionSearch, int buildThreads, TextWriter log)
{
    /// <summary>
    /// Part of every cache key: change it when the augmentations change. aug1's colour matrix took its offset in
    /// 0-255 where Skia takes 0-1, so its augmented views were white or black; view 0 (the whole image, no colour
    /// change) is unchanged and keeps its aug1 key.
    /// </summary>
    private const string AugmentationVersion = "aug2";

    private const int Chunk = 1000;

    public async Task<RealRecallResult> RunAsync(string dataset, string root, int count, int queries, TimeSpan? budget, string? cacheDirectory, CancellationToken cancellationToken)
    {
        var files = ListImages(dataset);
        if (files.Count == 0) throw new InvalidOperationException($"No images under {dataset}.");
        var total = count + queries;
        var views = (total + files.Count - 1) / files.Count;
        await log.WriteLineAsync($"real embeddings: {files.Count} images of {dataset}, {views} views each, {total:N0} wanted; cache {cacheDirectory ?? "off"}").ConfigureAwait(false);
        var keys = files.Select(EmbeddingCache.FileKey).ToArray();
        var jobs = new List<EmbeddingJob>(total);
        for (var view = 0; view < views && jobs.Count < total; view++)
        {
            for (var i = 0; i < files.Count && jobs.Count < total; i++)
            {
                var (file, key, v) = (files[i], keys[i], view);
                jobs.Add(new EmbeddingJob($"{(v == 0 ? "aug1" : AugmentationVersion)}:{key}:{v}", () => Augment(file, v, Seed(key, v)), $"{file} view {v}"));
            }
        }

        using var cache = cacheDirectory is null ? null : EmbeddingCache.Open(cacheDirectory, encoder.Model.Id, encoder.Model.Dimension);
        var vectors = new List<float[]>(total);
        int fromCache = 0, refused = 0;
        var budgetRanOut = false;
        var sw = Stopwatch.StartNew();
        for (var start = 0; start < jobs.Count; start += Chunk)
        {
            if (budget is { } b && sw.Elapsed > b)
            {
                budgetRanOut = true;
                break;
            }

            var batch = BatchEmbedder.Embed(decoder, encoder, jobs.GetRange(start, Math.Min(Chunk, jobs.Count - start)), cache, Environment.ProcessorCount, cancellationToken: cancellationToken);
            cache?.Flush();
            fromCache += batch.FromCache;
            refused += batch.Failures.Count;
            vectors.AddRange(batch.Results.OfType<Embedding.Embedding>().Select(e => e.Vector));
            await log.WriteLineAsync($"real embeddings: {vectors.Count:N0} of {total:N0} ({fromCache:N0} from the cache, {refused} refused), {sw.Elapsed.TotalSeconds:F0} s").ConfigureAwait(false);
        }

        var embedSeconds = sw.Elapsed.TotalSeconds;
        if (vectors.Count < 2 * queries) throw new InvalidOperationException($"Only {vectors.Count} views were embedded in the time budget; at least {2 * queries} are needed.");
        var indexed = vectors.Count - queries;
        var queryVectors = vectors.GetRange(indexed, queries);

        var schema = new IndexSchema(encoder.Model.Id, encoder.Model.Dimension);
        var modelId = encoder.Model.Id;
        using (var exactIndex = Catalog(root, annThreshold: 0).OpenVersion(modelId))
        {
            await exactIndex.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < indexed; i++) await exactIndex.UpsertAsync(new VectorRecord($"view/{i:D7}", vectors[i], Metadata(i, modelId)), cancellationToken).ConfigureAwait(false);
        }

        // The exact top 10 of each query over the same vectors, in memory.
        var exactTop = queryVectors.Select(q =>
        {
            var scores = new float[indexed];
            for (var i = 0; i < indexed; i++) scores[i] = TensorPrimitives.Dot(q, vectors[i]);
            return Enumerable.Range(0, indexed).OrderByDescending(i => scores[i]).Take(10).Select(i => $"view/{i:D7}").ToHashSet(StringComparer.Ordinal);
        }).ToList();

        await log.WriteLineAsync($"real embeddings: building the graph of {indexed:N0}").ConfigureAwait(false);
        sw.Restart();
        using var graph = Catalog(root, annThreshold: 1).OpenVersion(modelId);
        await graph.InitializeAsync(schema, cancellationToken).ConfigureAwait(false);
        var build = sw.Elapsed.TotalSeconds;
        if (graph.Statistics.Mode != "hnsw") throw new InvalidOperationException("The real-embedding index did not open in graph mode.");
        var (latency, recall) = await IndexBench.RecallAsync(graph, queryVectors, exactTop, cancellationToken).ConfigureAwait(false);
        await log.WriteLineAsync($"real embeddings: {indexed:N0} indexed, recall@10 {recall:F4}").ConfigureAwait(false);
        return new RealRecallResult(dataset, files.Count, views, count, vectors.Count, fromCache, refused, indexed, queries, embedSeconds, build,
            buildThreads > 0 ? buildThreads : Environment.ProcessorCount, recall, latency, budgetRanOut);
    }

    /// <summary>The set's images (manifest.csv's files when there is one, else every JPEG/PNG below it), in a fixed order.</summary>
    private static List<string> ListImages(string dataset)
    {
        var manifest = Path.Combine(dataset, "manifest.csv");
        IEnumerable<string> files = File.Exists(manifest)
            ? File.ReadLines(manifest).Skip(1).Select(l => l.Split(',', 2)[0].Trim()).Where(f => f.Length > 0).Select(f => Path.Combine(dataset, f))
            : Directory.EnumerateFiles(dataset, "*", SearchOption.AllDirectories).Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase));
        return files.Where(File.Exists).Order(StringComparer.Ordinal).ToList();
    }

    private static int Seed(string key, int view) => unchecked((int)(Convert.ToUInt32(key.Substring(7, 8), 16) * 31 + (uint)view));

    /// <summary>
    /// One view of the image: a crop of 40-100% of its area (aspect 3:4 to 4:3), mirrored half the time, turned
    /// by up to 12 degrees, brightness, contrast and saturation moved by up to 20%, drawn with its shorter side at
    /// 160-400 px and encoded as a JPEG of quality 40-95. View 0 is the whole image, only re-encoded.
    /// </summary>
    internal static byte[] Augment(string file, int view, int seed)
    {
        using var source = SKBitmap.Decode(file) ?? throw new InvalidDataException($"{file} is not an image Skia can decode.");
        var random = new Random(seed);
        var whole = view == 0;
        float area = whole ? 1 : random.NextSingle() * 0.6f + 0.4f, aspect = whole ? 1 : MathF.Exp((random.NextSingle() * 2 - 1) * MathF.Log(4f / 3f));
        var cw = Math.Clamp(MathF.Sqrt(area * aspect) * source.Width, 8, source.Width);
        var ch = Math.Clamp(MathF.Sqrt(area / aspect) * source.Height, 8, source.Height);
        var cx = random.NextSingle() * (source.Width - cw);
        var cy = random.NextSingle() * (source.Height - ch);
        var flip = !whole && random.Next(2) == 1;
        var angle = whole ? 0 : (random.NextSingle() * 2 - 1) * 12f;
        var brightness = whole ? 0 : (random.NextSingle() * 2 - 1) * 0.2f;
        var contrast = whole ? 1 : 1 + (random.NextSingle() * 2 - 1) * 0.2f;
        var saturation = whole ? 1 : 1 + (random.NextSingle() * 2 - 1) * 0.2f;
        var shortSide = whole ? 256 : 160 + random.Next(241);
        var quality = whole ? 90 : 40 + random.Next(56);
        var scale = shortSide / Math.Min(cw, ch);
        var width = Math.Max(16, (int)(cw * scale));
        var height = Math.Max(16, (int)(ch * scale));

        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        using (var image = SKImage.FromBitmap(source))
        using (var paint = new SKPaint { ColorFilter = SKColorFilter.CreateColorMatrix(ColourMatrix(brightness, contrast, saturation)) })
        {
            canvas.Clear(SKColors.White);
            canvas.Translate(width / 2f, height / 2f);
            canvas.RotateDegrees(angle);
            if (flip) canvas.Scale(-1, 1);
            canvas.Scale(scale);
            canvas.Translate(-(cx + cw / 2f), -(cy + ch / 2f));
            canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear), paint);
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, quality);
        return data.ToArray();
    }

    /// <summary>Saturation about the luma axis, then contrast about mid-grey, then brightness, as one 4x5 matrix.</summary>
    private static float[] ColourMatrix(float brightness, float contrast, float saturation)
    {
        const float lr = 0.2126f, lg = 0.7152f, lb = 0.0722f;
        // Skia's colour matrix works on components in 0-1: the offset column is in that range too.
        float s = saturation, c = contrast, o = 0.5f * (1 - c) + brightness;
        float[] sat =
        [
            lr * (1 - s) + s, lg * (1 - s), lb * (1 - s),
            lr * (1 - s), lg * (1 - s) + s, lb * (1 - s),
            lr * (1 - s), lg * (1 - s), lb * (1 - s) + s,
        ];
        return
        [
            c * sat[0], c * sat[1], c * sat[2], 0, o,
            c * sat[3], c * sat[4], c * sat[5], 0, o,
            c * sat[6], c * sat[7], c * sat[8], 0, o,
            0, 0, 0, 1, 0,
        ];
    }

    private static ItemMetadata Metadata(int i, string modelId) => new()
    {
        Source = "augmented",
        Name = $"{i:D7}.jpg",
        ContentHash = i.ToString("x64", System.Globalization.CultureInfo.InvariantCulture),
        ContentType = "image/jpeg",
        UploadedAt = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(i),
        ModelId = modelId,
    };

    private LocalIndexCatalog Catalog(string root, int annThreshold) =>
        IndexBench.Catalog(root, annThreshold, quantization, connectivity, expansionSearch, buildThreads);
}
