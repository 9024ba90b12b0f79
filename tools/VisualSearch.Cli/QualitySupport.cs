using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VisualSearch.Embedding;
using VisualSearch.Evaluation;
using VisualSearch.Imaging;
using VisualSearch.Search;

namespace VisualSearch.Cli;

/// <summary>What eval, eval-copies and train share: the engine's decoder and encoder, the cache, a head, progress.</summary>
internal sealed class QualityEngine : IDisposable
{
    private readonly IHost _host;

    private QualityEngine(IHost host, ProjectionHead? head, string? cacheDirectory, int workers, IReadOnlyList<ImageView> queryViews, QueryViewCombination combination)
    {
        QueryViews = queryViews;
        QueryEncoder = host.Services.GetService<QueryEncoder>()?.Encoder;
        ViewCombination = combination;
        _host = host;
        Decoder = host.Services.GetRequiredService<IImageDecoder>();
        Encoder = host.Services.GetRequiredService<IImageEncoder>();
        var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EncoderOptions>>().Value;
        DetailRegions = Encoder.RegionInput is not null;
        Regions = (options.Regions && options.EffectiveDescriptor == DescriptorMode.FeatureMap) || DetailRegions;
        var search = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<SearchOptions>>().Value;
        RegionFallbackBelow = DetailRegions
            ? WholeFirst.Threshold(search, host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Duplicates.DuplicateOptions>>().Value)
            : null;
        RegionMargin = DetailRegions ? search.RegionMargin : 0;
        CropViews = DetailRegions && Encoder.Model.CropViewId is not null;
        CropView = CropViewRule.Of(search);
        CopySpaceConfigured = options.CopyDescriptor != CopyDescriptorMode.None;
        Head = head;
        CacheDirectory = cacheDirectory;
        Workers = workers;
    }

    public IImageDecoder Decoder { get; }

    /// <summary>
    /// The configuration holds a copy space (Encoder:CopyDescriptor, the default): the product's copy search reads it, while
    /// these commands measure <see cref="Encoder"/>, the category vector (<c>Encoder__Descriptor=FeatureMap</c> makes the
    /// measured encoder the copy space's).
    /// </summary>
    public bool CopySpaceConfigured { get; }

    public IImageEncoder Encoder { get; }

    /// <summary>
    /// The encoder queries are embedded with when it is not <see cref="Encoder"/> (Encoder:QueryPrecision or --query-precision
    /// Float32 with an int8 encoder: float32 queries against int8 items, as a search host embeds them, docs/quality.md
    /// section 6g); null when queries use <see cref="Encoder"/>.
    /// </summary>
    public IImageEncoder? QueryEncoder { get; }

    /// <summary>For tables: the query model when it differs from the items' one, else empty.</summary>
    public string QueryModelLabel => QueryEncoder is null ? "" : $", queries embedded by {QueryEncoder.Model.Id}";

    /// <summary>A head given with --head, applied to the encoder's vectors in C# (the same code the encoder runs when Encoder:HeadPath is set).</summary>
    public ProjectionHead? Head { get; }

    /// <summary>
    /// Encoder:Regions is on: items are scored by the best of their vectors (their own and their regions'), in
    /// memory, as a multi-vector index scores them (issue 14).
    /// </summary>
    public bool Regions { get; }

    /// <summary>
    /// The encoder makes detail regions (Encoder:DetailRegionSide): stored items (<see cref="Embed"/> with storedItems) get
    /// them from a second, larger inference; queries do not.
    /// </summary>
    public bool DetailRegions { get; }

    /// <summary>
    /// With detail regions, the whole-first threshold the product's search uses (<see cref="SearchOptions.RegionFallbackBelow"/>,
    /// else Duplicates:CopyMinScore): the items' regions count for a query only when no item's own vector scores this much.
    /// Null without detail regions.
    /// </summary>
    public float? RegionFallbackBelow { get; }

    /// <summary>With detail regions, <see cref="SearchOptions.RegionMargin"/>: a region counts when it beats the best own score by this much.</summary>
    public float RegionMargin { get; }

    /// <summary>
    /// Queries keep a crop view (Encoder:QueryBackground=CropView with detail regions, docs/quality.md 7i): the whole-first
    /// fallback asks the regions with it as <see cref="CropView"/> says.
    /// </summary>
    public bool CropViews { get; }

    /// <summary>Search:CropViewRegions, Search:CropViewMargin and Search:CropViewRegionMargin: how the crop view asks the regions.</summary>
    public CropViewRule CropView { get; }

    /// <summary>The views a query is embedded from (--query-views, else Search:QueryViews); items are always embedded from the input.</summary>
    public IReadOnlyList<ImageView> QueryViews { get; }

    /// <summary>How a query's views are combined (--view-combination, else Search:QueryViewCombination).</summary>
    public QueryViewCombination ViewCombination { get; }

    /// <summary>True when queries use views other than the input alone.</summary>
    public bool HasQueryViews => !QueryViewSet.IsInputOnly(QueryViews);

    /// <summary>The views in words, for tables: e.g. <c>input+mirror, mean</c>.</summary>
    public string QueryViewsLabel => string.Join('+', QueryViews.Select(v => v.Name)) + (QueryViews.Count > 1 ? ", " + ViewCombination.ToString().ToLowerInvariant() : "");

    public string? CacheDirectory { get; }

    public int Workers { get; }

    /// <summary>The model id the vectors get: the encoder's, or with the head of --head.</summary>
    public string ModelId => Head is null ? Encoder.Model.Id : (Encoder.Model with { Dimension = Head.OutputDimension, Head = Head.Info }).Id;

    /// <summary>Builds the engine from the common options --head, --cache DIR, --no-cache, --workers N (and settings that win over the configuration).</summary>
    public static QualityEngine Create(CliArgs args, bool allowHead = true, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var workers = args.GetInt("workers", Math.Min(2, Environment.ProcessorCount), 1, 64);
        var extra = new Dictionary<string, string?> { ["Encoder:WarmUpOnStart"] = "false" };
        if (settings is not null) foreach (var (k, v) in settings) extra[k] = v;
        if (args.Get("query-precision") is { } queryPrecision)
        {
            if (!Enum.TryParse<QueryPrecision>(queryPrecision, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed) || int.TryParse(queryPrecision, out _))
                throw new UsageException("--query-precision is Same (queries embedded as the items are) or Float32 (float32 queries, e.g. against int8 items).");
            extra[$"{EncoderOptions.SectionName}:{nameof(EncoderOptions.QueryPrecision)}"] = parsed.ToString();
        }

        if (workers > 1 && Environment.GetEnvironmentVariable("Encoder__IntraOpThreads") is null) extra["Encoder:IntraOpThreads"] = "1";
        var host = EngineHost.Build(args, extra);
        try
        {
            var engine = host.Services.GetRequiredService<IImageEncoder>();
            ProjectionHead? head = null;
            if (allowHead && args.Get("head") is { } headPath)
            {
                if (!File.Exists(headPath)) throw new UsageException($"--head: no such file: {headPath}");
                if (engine.Model.Head is not null) throw new UsageException("--head: the configured encoder already has a head (Encoder__HeadPath); give one or the other.");
                try
                {
                    head = ProjectionHead.Load(headPath);
                }
                catch (InvalidDataException ex)
                {
                    throw new UsageException($"--head: {ex.Message}");
                }

                if (host.Services.GetService<QueryEncoder>() is not null)
                    throw new UsageException("--head cannot be combined with float32 queries (--query-precision, Encoder:QueryPrecision): the head is trained on the int8 encoder's vectors.");
                // With detail regions the head is one of the model without them (the whole-image vectors it was trained on);
                // eval-copies then applies it to the regions too, to measure what a head over detail regions would give (7h).
                if (head.BackboneModelId != engine.Model.Id && head.BackboneModelId != engine.Model.WithoutDetailRegions.Id)
                    throw new UsageException($"--head: {headPath} was trained on {head.BackboneModelId}, not on the configured encoder {engine.Model.Id}.");
            }

            var cache = args.Has("no-cache") ? null : args.Get("cache") ?? EmbeddingCache.DefaultDirectory();
            var search = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<SearchOptions>>().Value;
            if (!QueryViewSet.TryParse(args.Get("query-views") ?? search.QueryViews, search.QueryZoom, out var views, out var error))
                throw new UsageException((args.Get("query-views") is null ? "Search:QueryViews: " : "--query-views: ") + error);
            var combination = search.QueryViewCombination;
            if (args.Get("view-combination") is { } c && (!Enum.TryParse(c, ignoreCase: true, out combination) || !Enum.IsDefined(combination) || int.TryParse(c, out _)))
                throw new UsageException("--view-combination is mean (the views' mean vector) or best (each view searches; an item scores its best).");
            return new QualityEngine(host, head, cache, workers, views, combination);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Embeds with the encoder (through the cache), with progress on stderr; failures are listed there too.</summary>
    /// <param name="storedItems">The jobs are stored items (they get the detail regions, when the encoder makes them), not queries.</param>
    public BatchEmbedding Embed(IReadOnlyList<EmbeddingJob> jobs, string what, TextWriter stderr, CancellationToken cancellationToken, bool storedItems = false) =>
        Embed(Encoder, jobs, what, stderr, cancellationToken, storedItems);

    /// <summary>
    /// Embeds queries as a search embeds them (<see cref="IImageEncoder.EmbedQuery"/>, under the model's <see cref="ModelInfo.QueryId"/>):
    /// with <see cref="QueryEncoder"/> when there is one, else with the encoder.
    /// </summary>
    public BatchEmbedding EmbedQueries(IReadOnlyList<EmbeddingJob> jobs, string what, TextWriter stderr, CancellationToken cancellationToken) =>
        Embed(QueryEncoder ?? Encoder, jobs, what, stderr, cancellationToken, storedItems: false, queries: true);

    /// <summary>
    /// The queries' crop views as a search makes them (<see cref="IImageEncoder.EmbedQueryCrop"/>, under <see cref="ModelInfo.CropViewId"/>;
    /// a query without one gets its whole vector, which scores as no crop: <see cref="CopyQuery.Crop"/>).
    /// </summary>
    public BatchEmbedding EmbedCropViews(IReadOnlyList<EmbeddingJob> jobs, string what, TextWriter stderr, CancellationToken cancellationToken) =>
        Embed(Encoder, jobs, what, stderr, cancellationToken, storedItems: false, queries: true, cropViews: true);

    private BatchEmbedding Embed(IImageEncoder encoder, IReadOnlyList<EmbeddingJob> jobs, string what, TextWriter stderr, CancellationToken cancellationToken, bool storedItems, bool queries = false, bool cropViews = false)
    {
        // Queries (and items without detail regions) are the vectors of the model without them: one cache serves every region geometry.
        var withDetail = storedItems && DetailRegions;
        var model = withDetail ? encoder.Model : encoder.Model.WithoutDetailRegions;
        var cacheId = cropViews ? encoder.Model.CropViewId! : queries ? encoder.Model.QueryId : model.Id;
        using var cache = CacheDirectory is null ? null : EmbeddingCache.Open(CacheDirectory, cacheId, model.Dimension, withDetail || (Regions && !DetailRegions));
        var progress = new ProgressLine(stderr, what, jobs.Count);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = BatchEmbedder.Embed(Decoder, encoder, jobs, cache, Workers, progress, cancellationToken, storedItems, queries, cropViews);
        var embeddedNow = jobs.Count - result.FromCache - result.Failures.Count;
        progress.Finish($"{what}: {jobs.Count} images, {result.FromCache} from the cache, {result.Failures.Count} refused" +
            (embeddedNow > 0 ? $"; {embeddedNow} decoded and embedded in {clock.Elapsed.TotalSeconds:F1} s ({clock.Elapsed.TotalMilliseconds * Workers / embeddedNow:F0} ms per image per worker, {Workers} workers)" : ""));
        foreach (var f in result.Failures.Take(20)) stderr.WriteLine($"  refused {f.Name}: {f.Reason}");
        if (result.Failures.Count > 20) stderr.WriteLine($"  ... and {result.Failures.Count - 20} more");
        return result;
    }

    /// <summary>
    /// The vectors each query searches with: its views (<see cref="QueryViews"/>; the input view is
    /// <paramref name="input"/>, the others are embedded here through the cache under keys that name the view),
    /// projected, then combined (the mean as one vector, or every view's vector for <see cref="QueryViewCombination.Best"/>).
    /// Null where the decoder refused a view.
    /// </summary>
    public float[][]?[] QueryVectors(IReadOnlyList<EmbeddingJob> jobs, BatchEmbedding input, string what, TextWriter stderr, CancellationToken cancellationToken)
    {
        var perView = QueryViews
            .Select(v => v.Kind == ImageViewKind.Input ? input : EmbedQueries([.. jobs.Select(j => j.WithView(v))], $"{what} [{v.Name} view]", stderr, cancellationToken))
            .ToList();
        var result = new float[][]?[jobs.Count];
        for (var i = 0; i < jobs.Count; i++)
        {
            if (perView.Any(b => b.Results[i] is null)) continue;
            float[][] vectors = [.. perView.Select(b => Project(b.Results[i]!.Value).Vector)];
            result[i] = vectors.Length > 1 && ViewCombination == QueryViewCombination.Mean ? [QueryViewSet.Mean(vectors)] : vectors;
        }

        return result;
    }

    /// <summary>
    /// An indexed item's vectors as a multi-vector index holds them: its own (projected), then its regions' ones (detail
    /// regions through --head too, which the product refuses today: measurement only, docs/quality.md 7h).
    /// </summary>
    public float[][] ItemVectors(Embedding.Embedding embedding) =>
        [Project(embedding).Vector, .. (embedding.Regions ?? []).Select(r => Head is not null && DetailRegions ? Head.Apply(r.Vector).Vector : r.Vector)];

    /// <summary>The vector as it is compared: the encoder's, or through --head.</summary>
    public Embedding.Embedding Project(Embedding.Embedding embedding) => Head is null ? embedding : Head.Apply(embedding.Vector);

    public void Dispose() => _host.Dispose();
}

/// <summary>Option parsing and formatting shared by the quality commands.</summary>
internal static class Quality
{
    public static IReadOnlyList<int> ParseKs(string? text)
    {
        if (text is null) return CategoryEvaluator.DefaultKs;
        var ks = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, CultureInfo.InvariantCulture, out var k) || k < 1 || k > 1000)
                throw new UsageException("--k takes cut-offs from 1 to 1000, comma-separated, e.g. --k 1,5,10.");
            if (!ks.Contains(k)) ks.Add(k);
        }

        if (ks.Count == 0) throw new UsageException("--k needs at least one cut-off.");
        ks.Sort();
        return ks;
    }

    /// <summary>The labelled set of the first positional, filtered by --subset and --task.</summary>
    public static LabelledSet LoadSet(CliArgs args, string usage)
    {
        if (args.Positionals.Count != 1) throw new UsageException(usage);
        var path = args.Positionals[0];
        if (!File.Exists(path) && !Directory.Exists(path)) throw new UsageException($"No folder or manifest at {path}.");
        try
        {
            return LabelledSet.Load(path, args.Get("subset"), args.Get("task"));
        }
        catch (InvalidDataException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    /// <summary>--classes all|train|test: all classes, or the first or second half (the zero-shot split train uses).</summary>
    public static IReadOnlyList<LabelledItem> SelectClasses(IReadOnlyList<LabelledItem> items, string? which)
    {
        switch (which ?? "all")
        {
            case "all": return items;
            case "train": return LabelledSet.SplitByClass(items).Train;
            case "test": return LabelledSet.SplitByClass(items).Test;
            default: throw new UsageException("--classes is all, train (the first half of the sorted classes) or test (the second half).");
        }
    }

    public static string F(double value, int digits = 3) =>
        double.IsNaN(value) ? "-" : value.ToString("F" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    public static double Round(double value, int digits = 4) => double.IsFinite(value) ? Math.Round(value, digits) : 0;
}

/// <summary>One progress line on stderr: redrawn on a terminal, every 10% otherwise.</summary>
internal sealed class ProgressLine(TextWriter stderr, string what, int total) : IProgress<int>
{
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private readonly Lock _gate = new();
    private long _lastTicks;
    private int _lastDecile = -1;
    private int _done;

    public void Report(int value)
    {
        lock (_gate)
        {
            if (value <= _done) return;
            _done = value;
            var line = $"{what}: {value}/{total}";
            if (_interactive)
            {
                var now = Environment.TickCount64;
                if (now - _lastTicks < 100 && value < total) return;
                _lastTicks = now;
                stderr.Write("\r" + line);
            }
            else
            {
                var decile = total == 0 ? 10 : value * 10 / total;
                if (decile == _lastDecile) return;
                _lastDecile = decile;
                stderr.WriteLine(line);
            }
        }
    }

    public void Finish(string summary)
    {
        lock (_gate)
        {
            if (_interactive && total > 0) stderr.Write("\r" + new string(' ', what.Length + 24) + "\r");
            stderr.WriteLine(summary);
        }
    }
}
