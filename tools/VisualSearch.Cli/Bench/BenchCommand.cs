using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using VisualSearch.Diagnostics;
using VisualSearch.Duplicates;
using VisualSearch.Embedding;
using VisualSearch.Embedding.Quantization;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Cli.Bench;

/// <summary>
/// <c>vsearch bench [--json] [--peer DIR] [--sizes 10000,100000,1000000] [--parts decode,ingest,percore,index,cold,real,regions] [--quantization int8|float16|float32] [--region-items N] [--regions N] [--region-stage all|build|search] [--region-dir DIR] [--region-threshold N] [--connectivity M] [--ef N] [--ef-sweep N,N] [--build-threads N] [--build-check links|search] [--images N] [--reps N] [--rounds N] [--queries N] [--dataset DIR] [--real-count N] [--real-minutes M] [--cache DIR|--no-cache] [--work DIR] [--keep]</c>:
/// decode + preprocess by input, embed and model load (int8 and float32), ingest with 1 and 2 workers, ingest like
/// for like against the peer (whole processes, per core and on all cores: <see cref="PerCoreBench"/>), search by id / vector / image at each
/// index size (exact and HNSW), recall, filtered search by the planner and by each path, build time, bytes per
/// vector, a new vsearch search / serve process's first answer and serve's peak resident memory, recall on real
/// embeddings (augmented dev images, <see cref="RealEmbeddingBench"/>), cold start of vsearch search and serve;
/// with --peer, the Node peer stack (bench/peer) on the same images in the same run. Everything it measures
/// it makes itself (images from samples/photos, synthetic clustered vectors). Prints a table (stderr with
/// --json, which prints the JSON document on stdout). See docs/performance.md.
/// </summary>
public static class BenchCommand
{
    private const int InputSize = 224;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        // Plain ">=" in target names rather than \u003E: the document is read by people and scripts, not HTML.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static async Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        args.RejectUnknown("json", "peer", "sizes", "images", "reps", "queries", "work", "keep", "parts", "verbose", "rounds", "quantization", "connectivity", "ef", "ef-sweep", "build-threads", "build-check", "dataset", "real-count", "real-minutes", "cache", "no-cache", "region-items", "regions", "region-stage", "region-dir", "region-threshold");
        var quantizationText = args.Get("quantization") ?? new Index.Local.LocalIndexOptions().AnnQuantization.ToString();
        if (!Enum.TryParse<Index.Local.AnnQuantization>(quantizationText, ignoreCase: true, out var quantization) || !Enum.IsDefined(quantization))
            throw new UsageException("--quantization takes int8, float16 or float32.");
        var defaults = new Index.Local.LocalIndexOptions();
        var connectivity = args.GetInt("connectivity", defaults.AnnConnectivity, 4, 64);
        var expansionSearch = args.GetInt("ef", defaults.AnnExpansionSearch, 8, 4096);
        var sweep = ParseList(args.Get("ef-sweep") ?? "", 8, 4096, "--ef-sweep takes search expansions from 8 to 4096, comma-separated.");
        // 0: every core (the default of LocalIndex:AnnBuildThreads); 1 gives the single-threaded build to compare with.
        var buildThreads = args.GetInt("build-threads", defaults.AnnBuildThreads, 0, 256);
        // How the index part's parallel build checks reachability (LocalIndex:AnnBuildCheck): links (the default) or search.
        var buildCheckText = args.Get("build-check") ?? defaults.AnnBuildCheck.ToString();
        if (!Enum.TryParse<Index.Local.AnnBuildCheck>(buildCheckText, ignoreCase: true, out var buildCheck) || !Enum.IsDefined(buildCheck))
            throw new UsageException("--build-check takes links or search.");
        // The vsearch processes of the cold-start part open the bench's index with the graph settings it was built with.
        var coldStart = new ColdStartBench(new Dictionary<string, string>
        {
            ["LocalIndex__AnnQuantization"] = quantization.ToString(),
            ["LocalIndex__AnnConnectivity"] = connectivity.ToString(CultureInfo.InvariantCulture),
            ["LocalIndex__AnnExpansionSearch"] = expansionSearch.ToString(CultureInfo.InvariantCulture),
        });
        var parts = (args.Get("parts") ?? "decode,ingest,percore,index,cold").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var sizes = ParseList(args.Get("sizes") ?? "10000,100000,1000000", 100, 5_000_000, "--sizes takes index sizes from 100 to 5,000,000, comma-separated.");
        var ingestCount = args.GetInt("images", 24, 2, 10_000);
        // The regional part (issue 14; --parts regions, not in the default set): items, and region vectors per item.
        var regionItems = args.GetInt("region-items", 100_000, 100, 1_000_000);
        var regionsPerItem = args.GetInt("regions", 12, 1, 64);
        // The search stage's LocalIndex:AnnThreshold: 1 (the default) puts the items' own vectors on a graph of their own
        // at any size; the product's 50,000 keeps them in exact rows below 50,000 items (the graph of all vectors either way).
        var regionThreshold = args.GetInt("region-threshold", 1, 1, 100_000_000);
        // Split the regional part so the fill and graph build can run at low priority and the timed searches alone:
        // build keeps the index in --region-dir with its figures, search opens it there (all: both, then deleted).
        var regionStage = args.Get("region-stage") ?? RegionStage.All;
        if (!RegionStage.Values.Contains(regionStage, StringComparer.Ordinal)) throw new UsageException("--region-stage takes all, build or search.");
        var regionDir = args.Get("region-dir") is { } rd ? Path.GetFullPath(rd) : null;
        if (regionStage != RegionStage.All && regionDir is null) throw new UsageException($"--region-stage {regionStage} needs --region-dir DIR (where the build keeps the regional index and the search finds it).");
        if (regionDir is not null && parts.Contains("regions"))
        {
            if (regionStage == RegionStage.Search && !File.Exists(Path.Combine(regionDir, RegionIndexBench.StateFile)))
                throw new UsageException($"No regional index built in {regionDir} ({RegionIndexBench.StateFile} is missing): run the same command with --region-stage build first.");
            if (regionStage != RegionStage.Search && Directory.Exists(regionDir) && Directory.EnumerateFileSystemEntries(regionDir).Any())
                throw new UsageException($"{regionDir} is not empty: the regional part fills a new index there (delete it, or name another --region-dir).");
        }

        var reps = args.GetInt("reps", 15, 3, 10_000);
        var queries = args.GetInt("queries", 200, 10, 100_000);
        var rounds = args.GetInt("rounds", 3, 1, 100);
        var work = Path.GetFullPath(args.Get("work") ?? Path.Combine(Path.GetTempPath(), $"vsearch-bench-{Environment.ProcessId}"));
        var json = args.Has("json");
        var log = stderr;
        var table = json ? stderr : stdout;

        var report = new BenchReport { Machine = MachineInfo.Read(), StartedAt = DateTimeOffset.UtcNow };
        await log.WriteLineAsync($"bench: {report.Machine.Cores} cores, {report.Machine.Cpu}, load average {report.Machine.LoadAverage} at start; work in {work}").ConfigureAwait(false);
        Directory.CreateDirectory(work);
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var metrics = new VisualSearchMetrics(services.GetRequiredService<IMeterFactory>());
        try
        {
            // Images.
            var imagesDir = Path.Combine(work, "images");
            await log.WriteLineAsync($"generating {BenchImages.Inputs.Length} inputs and {ingestCount} 12 MP photos").ConfigureAwait(false);
            var ingestFiles = BenchImages.Generate(imagesDir, ingestCount, cancellationToken);

            // Decode + preprocess, one thread.
            var decoder = new ImageDecoder(Options.Create(new ImagingOptions()));
            // The reference for the scaled JPEG decode: every pixel decoded, then mipmapped down (same code otherwise).
            var fullDecoder = new ImageDecoder(Options.Create(new ImagingOptions { ScaledJpegDecode = false }));
            var preprocessor = new Preprocessor(PreprocessingMode.MeanImageBgr, InputSize, new float[3 * InputSize * InputSize]);
            var tensor = new float[preprocessor.TensorLength];
            foreach (var (name, width, height, _) in parts.Contains("decode") ? BenchImages.Inputs : [])
            {
                var bytes = await File.ReadAllBytesAsync(Path.Combine(imagesDir, name), cancellationToken).ConfigureAwait(false);
                var ms = Repeat(reps, () => preprocessor.Fill(decoder.Prepare(bytes, InputSize).Rgb, tensor));
                report.Decode.Add(new DecodeResult(name, width, height, bytes.Length, ms.P50, ms.P99));
            }

            var photo12 = await File.ReadAllBytesAsync(Path.Combine(imagesDir, "jpeg-12mp.jpg"), cancellationToken).ConfigureAwait(false);
            if (parts.Contains("decode"))
            {
                var full = Repeat(Math.Max(3, reps / 3), () => preprocessor.Fill(fullDecoder.Prepare(photo12, InputSize).Rgb, tensor));
                report.Decode.Add(new DecodeResult("jpeg-12mp.jpg, full-size decode (reference, not used)", 4032, 3024, photo12.Length, full.P50, full.P99));
                report.DecodeStages = DecodeStages.Measure(photo12, preprocessor, reps);
            }

            await log.WriteLineAsync("decode done").ConfigureAwait(false);

            // Embed: 2 inference threads (one image at a time) and 1 (one per parallel worker), float32 (the default) and int8.
            // The encoder settings vsearch index would read (appsettings.json, Encoder__* variables), so a variant set there is what every row measures.
            var configuration = EngineHost.CreateBuilder().Configuration;
            var defaultPrecision = Configured(configuration).Precision;
            using var encoder2 = Encoder(configuration, 2, defaultPrecision, metrics);
            using var encoder1 = Encoder(configuration, 1, defaultPrecision, metrics);
            var prepared = decoder.Prepare(photo12, InputSize);
            encoder2.Embed(prepared);
            encoder1.Embed(prepared);
            report.ModelId = encoder2.Model.Id;
            if (parts.Contains("decode"))
            {
                foreach (var precision in new[] { EncoderPrecision.Int8, EncoderPrecision.Float32 })
                {
                    // Model load: a new session from the file (the int8 one already built), median of three.
                    var loads = Enumerable.Range(0, 3).Select(round =>
                    {
                        using var fresh = Encoder(configuration, 1, precision, metrics);
                        var t = Stopwatch.GetTimestamp();
                        GC.KeepAlive(fresh.Model);
                        return Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                    }).ToList();
                    report.ModelLoad.Add(new ModelLoadResult(precision.ToString(), Latency.Of(loads).P50));
                    foreach (var threads in new[] { 2, 1 })
                    {
                        using var encoder = precision == defaultPrecision ? null : Encoder(configuration, threads, precision, metrics);
                        var e = encoder ?? (threads == 2 ? encoder2 : encoder1);
                        var embed = Repeat(reps, () => e.Embed(prepared)).P50;
                        var settings = EncoderSettings(configuration, threads, precision);
                        // the model alone takes the centre crop's tensor (a FeatureMap descriptor set for float32 runs whole images)
                        var alone = settings.EffectiveDescriptor == DescriptorMode.CentreCrop ? ModelAlone(e.ModelFile, settings, prepared, reps) : (double?)null;
                        report.Embed.Add(new EmbedResult(threads, embed, precision.ToString(), alone));
                    }
                }
            }

            // The scaled decode against a full-size decode, on every ingest photo.
            var cosines = new List<double>();
            foreach (var file in parts.Contains("decode") ? ingestFiles : [])
            {
                var bytes = await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
                var scaled = encoder2.Embed(decoder.Prepare(bytes, InputSize)).Vector;
                var reference = encoder2.Embed(fullDecoder.Prepare(bytes, InputSize)).Vector;
                cosines.Add(TensorPrimitives.CosineSimilarity(scaled, reference));
            }

            if (cosines.Count > 0) report.ScaledDecodeCosine = new CosineResult(cosines.Count, cosines.Min(), cosines.Average());
            await log.WriteLineAsync("embed done").ConfigureAwait(false);

            // Ingest end to end (read, hash, decode, embed, fsynced upsert) into a fresh index.
            string? ingestIndex = null;
            // The centre crop alone (Encoder:CopyDescriptor None, the work the peer does), then with 2 workers the default (the copy space too).
            foreach (var (workers, copySpace) in parts.Contains("ingest") || parts.Contains("cold") ? [(1, false), (2, false), (2, true)] : Array.Empty<(int, bool)>())
            {
                var what = copySpace ? "the default (copy space, detail regions)" : "centre crop only";
                await SectionAsync(report, log, $"ingest with {workers} worker(s), {what}", async () =>
                {
                    var root = Path.Combine(work, $"ingest-index-{workers}{(copySpace ? "-copies" : "")}");
                    // A fresh index each run (a kept --work folder would otherwise answer "unchanged").
                    TryDelete(root);
                    var rate = await IngestAsync(root, ingestFiles, workers, copySpace, cancellationToken).ConfigureAwait(false);
                    report.Ingest.Add(new IngestResult(workers, workers == 1 ? 2 : 1, ingestFiles.Count, rate, what));
                    if (!copySpace) ingestIndex = root;
                    else TryDelete(root);
                    await log.WriteLineAsync($"ingest with {workers} worker(s), {what}: {rate:F1} images/s").ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
            }

            // The Node peer stack on the same images, now.
            if (args.Get("peer") is { } peerDir && parts.Contains("ingest"))
            {
                await SectionAsync(report, log, "peer stack", async () =>
                {
                    report.Peer = await PeerStack.RunAsync(Path.GetFullPath(peerDir), imagesDir, reps, log, cancellationToken).ConfigureAwait(false);
                    if (report.Peer.Embedding12mp is { Length: > 0 } peerVector)
                    {
                        var ours = encoder2.Embed(prepared).Vector;
                        if (ours.Length == peerVector.Length) report.Peer.EmbeddingCosineWithOurs = TensorPrimitives.CosineSimilarity(ours, peerVector);
                    }

                    report.Peer.Embedding12mp = null;
                }, cancellationToken).ConfigureAwait(false);
            }

            // Ingest like for like: whole processes, pinned per core, and on all cores against as many peer processes.
            if (parts.Contains("percore"))
            {
                await SectionAsync(report, log, "ingest like for like", async () =>
                {
                    var options = Configured(configuration);
                    var int8Model = Int8ModelBuilder.GetOrBuild(options.ModelName, Int8ModelBuilder.InputFor(options, OnnxImageEncoder.CreatePreprocessor(options)), decoder, Int8ModelBuilder.SearchDirectories(options), out _);
                    report.PerCore = await PerCoreBench.RunAsync(args.Get("peer") is { } p ? Path.GetFullPath(p) : null, Path.Combine(imagesDir, "ingest"), work, int8Model, rounds, log, cancellationToken).ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
            }

            // Index sizes.
            var query2mp = await File.ReadAllBytesAsync(Path.Combine(imagesDir, "jpeg-2mp.jpg"), cancellationToken).ConfigureAwait(false);
            var bench = new IndexBench(encoder2.Model.Id, encoder2.Model.Dimension, quantization, connectivity, expansionSearch, sweep, () => encoder2.Embed(decoder.Prepare(query2mp, InputSize)).Vector, log, buildThreads,
                new NewProcesses(coldStart, Path.Combine(imagesDir, "jpeg-2mp.jpg"), query2mp), buildCheck);
            string? largestRoot = null;
            int largestSize = 0;
            foreach (var size in parts.Contains("index") ? sizes : [])
            {
                await SectionAsync(report, log, $"index {size}", async () =>
                {
                    var root = Path.Combine(work, $"index-{size}");
                    report.Index.Add(await bench.RunAsync(root, size, Math.Min(queries, size), cancellationToken).ConfigureAwait(false));
                    if (largestRoot is not null && largestRoot != root) TryDelete(largestRoot);
                    largestRoot = root;
                    largestSize = size;
                }, cancellationToken).ConfigureAwait(false);
            }

            // Recall on real embeddings: augmented views of the dev images, embedded through the cache.
            if (parts.Contains("real"))
            {
                await SectionAsync(report, log, "real embeddings", async () =>
                {
                    var dataset = args.Get("dataset") is { } d ? Path.GetFullPath(d) : FindDevImages()
                        ?? throw new UsageException("--parts real needs the labelled images: --dataset DIR (the team's ../shared/datasets/dev was not found above the current directory).");
                    var realCount = args.GetInt("real-count", 50_000, 100, 5_000_000);
                    var minutes = args.GetInt("real-minutes", 0, 0, 10_000);
                    var cache = args.Has("no-cache") ? null : args.Get("cache") ?? Evaluation.EmbeddingCache.DefaultDirectory();
                    var real = new RealEmbeddingBench(decoder, encoder1, quantization, connectivity, expansionSearch, buildThreads, log);
                    report.RealRecall = await real.RunAsync(dataset, Path.Combine(work, "real-index"), realCount, Math.Min(queries, realCount / 10), minutes > 0 ? TimeSpan.FromMinutes(minutes) : null, cache, cancellationToken).ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
            }

            // Regional mode (issue 14): several vectors per item at one size.
            if (parts.Contains("regions"))
            {
                await SectionAsync(report, log, $"regions {regionItems} x {regionsPerItem}", async () =>
                {
                    var root = regionDir ?? Path.Combine(work, $"regions-{regionItems}");
                    // The encoder that makes regions (the feature map, float32): its model id names the index, so that
                    // new vsearch processes started with the same settings open it.
                    var regionalSettings = new Dictionary<string, string>
                    {
                        ["Encoder__Descriptor"] = nameof(DescriptorMode.FeatureMap),
                        ["Encoder__Regions"] = "true",
                        ["Encoder__Precision"] = nameof(EncoderPrecision.Float32),
                        ["Encoder__MaskFlatCells"] = "false",
                    };
                    // R-MAC regions as before the copy space's defaults: no flat-cell mask, no detail regions, no query crop.
                    using var regionalEncoder = new OnnxImageEncoder(
                        Options.Create(new EncoderOptions
                        {
                            Descriptor = DescriptorMode.FeatureMap, Regions = true, Precision = EncoderPrecision.Float32, IntraOpThreads = 2,
                            CopyDescriptor = CopyDescriptorMode.None, MaskFlatCells = false, DetailRegionSide = 0, QueryBackground = QueryBackgroundMode.None,
                        }),
                        NullLogger<OnnxImageEncoder>.Instance, metrics);
                    var model = regionalEncoder.Model;
                    if (!model.Regions) throw new InvalidOperationException($"The encoder for the regional part ({model.Id}) makes no regions.");
                    var regionalProcesses = new NewProcesses(coldStart.With(regionalSettings), Path.Combine(imagesDir, "jpeg-2mp.jpg"), query2mp);
                    // Whole-first search reads the settings SearchService reads (Search__RegionFallbackBelow, Search__RegionMargin, Duplicates__CopyMinScore).
                    var searchOptions = new SearchOptions();
                    configuration.GetSection(SearchOptions.SectionName).Bind(searchOptions);
                    var duplicateOptions = new DuplicateOptions();
                    configuration.GetSection(DuplicateOptions.SectionName).Bind(duplicateOptions);
                    var regional = new RegionIndexBench(model.Id, model.Dimension, quantization, connectivity, expansionSearch, log, buildThreads, regionalProcesses,
                        WholeFirst.Threshold(searchOptions, duplicateOptions), searchOptions.RegionMargin, regionThreshold);
                    var regionQueries = Math.Min(queries, regionItems);
                    if (regionStage == RegionStage.Build)
                        report.RegionBuild.Add(await regional.BuildAsync(root, regionItems, regionsPerItem, regionQueries, cancellationToken).ConfigureAwait(false) with { ExactTop = [] });
                    else if (regionStage == RegionStage.Search)
                        report.RegionIndex.Add(await regional.SearchAsync(root, regionItems, regionsPerItem, regionQueries, regionStage, cancellationToken).ConfigureAwait(false));
                    else
                        report.RegionIndex.Add(await regional.RunAsync(root, regionItems, regionsPerItem, regionQueries, cancellationToken).ConfigureAwait(false));
                    // The index is kept where --region-dir names it (for the search stage, or for the caller to delete).
                    if (regionDir is null) TryDelete(root);
                }, cancellationToken).ConfigureAwait(false);
            }

            // Cold start: process start to first answer.
            await log.WriteLineAsync("cold start").ConfigureAwait(false);
            if (!parts.Contains("cold"))
            {
                ingestIndex = null;
                largestRoot = null;
            }

            if (ingestIndex is { } small)
            {
                await SectionAsync(report, log, "cold start", async () =>
                {
                    var search = new List<double>();
                    var serve = new List<double>();
                    for (var i = 0; i < 3; i++)
                    {
                        search.Add(await coldStart.SearchAsync(small, Path.Combine(imagesDir, "jpeg-2mp.jpg"), cancellationToken).ConfigureAwait(false));
                        serve.Add(await coldStart.ServeAsync(small, query2mp, cancellationToken).ConfigureAwait(false));
                    }

                    report.ColdStart.Add(new ColdStartResult("vsearch search", ingestFiles.Count, Latency.Of(search).P50));
                    report.ColdStart.Add(new ColdStartResult("vsearch serve (first POST /api/search)", ingestFiles.Count, Latency.Of(serve).P50));
                }, cancellationToken).ConfigureAwait(false);
            }

            if (largestRoot is { } big)
            {
                await SectionAsync(report, log, $"cold start at {largestSize}", async () =>
                {
                    report.ColdStart.Add(new ColdStartResult("vsearch search", largestSize, await coldStart.SearchAsync(big, Path.Combine(imagesDir, "jpeg-2mp.jpg"), cancellationToken).ConfigureAwait(false)));
                    report.ColdStart.Add(new ColdStartResult("vsearch serve (first POST /api/search)", largestSize, await coldStart.ServeAsync(big, query2mp, cancellationToken).ConfigureAwait(false)));
                }, cancellationToken).ConfigureAwait(false);
            }

            report.Machine.LoadAverageAtEnd = MachineInfo.ReadLoadAverage();
            report.Targets = Targets.Evaluate(report);
            BenchTable.Write(table, report);
            if (json) await stdout.WriteLineAsync(JsonSerializer.Serialize(report, Json)).ConfigureAwait(false);
            else await stdout.WriteLineAsync(Environment.NewLine + JsonSerializer.Serialize(report, Json)).ConfigureAwait(false);
            return 0;
        }
        finally
        {
            if (!args.Has("keep")) TryDelete(work);
        }
    }

    /// <summary>Runs one part of the bench; a failure is reported (and the rest still runs) rather than losing the run.</summary>
    private static async Task SectionAsync(BenchReport report, TextWriter log, string name, Func<Task> body, CancellationToken cancellationToken)
    {
        try
        {
            await body().ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            report.Errors.Add($"{name}: {ex.GetType().Name}: {ex.Message}");
            await log.WriteLineAsync($"{name} failed: {ex}").ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The settings of one embed or model-load row: the Encoder section of <paramref name="configuration"/> (the bench reads
    /// the one vsearch index reads: appsettings.json and Encoder__* environment variables, so an int8 variant set there
    /// is the model every row and the peer's int8 file measure), with the row's intra-op threads and precision.
    /// </summary>
    public static EncoderOptions EncoderSettings(IConfiguration configuration, int threads, EncoderPrecision precision)
    {
        var options = Configured(configuration);
        options.IntraOpThreads = threads;
        options.Precision = precision;
        return options;
    }

    private static EncoderOptions Configured(IConfiguration configuration)
    {
        var options = new EncoderOptions();
        configuration.GetSection(EncoderOptions.SectionName).Bind(options);
        return options.ApplyDefaults(configuration.GetSection(EncoderOptions.SectionName));
    }

    private static OnnxImageEncoder Encoder(IConfiguration configuration, int threads, EncoderPrecision precision, VisualSearchMetrics metrics) =>
        new(Options.Create(EncoderSettings(configuration, threads, precision)), NullLogger<OnnxImageEncoder>.Instance, metrics);

    /// <summary>
    /// The model alone, p50 ms: a plain session with the encoder's settings on the file it runs, fed the same 224 x 224
    /// tensor (the photo preprocessed once) each time. The embed timed beside it adds what <see cref="OnnxImageEncoder.Embed"/>
    /// does around the run: the tensor's allocation and preprocessing, the cancellation hook, the output's copy and its L2
    /// normalisation.
    /// </summary>
    private static double ModelAlone(string modelFile, EncoderOptions settings, PreparedImage prepared, int reps)
    {
        var preprocessor = OnnxImageEncoder.CreatePreprocessor(settings);
        var tensor = new float[preprocessor.TensorLength];
        preprocessor.Fill(prepared.Rgb, tensor);
        using var sessionOptions = OnnxImageEncoder.CreateSessionOptions(settings);
        using var session = new InferenceSession(modelFile, sessionOptions);
        using var input = OrtValue.CreateTensorValueFromMemory(tensor, [1, 3, preprocessor.Size, preprocessor.Size]);
        using var runOptions = new RunOptions();
        string[] inputNames = [settings.InputName], outputNames = [settings.OutputName];
        OrtValue[] inputs = [input];
        return Repeat(reps, () =>
        {
            using var outputs = session.Run(runOptions, inputNames, inputs, outputNames);
        }).P50;
    }

    private static Latency Repeat(int reps, Action action)
    {
        action();
        var ms = new List<double>(reps);
        for (var i = 0; i < reps; i++)
        {
            var t = Stopwatch.GetTimestamp();
            action();
            ms.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        return Latency.Of(ms);
    }

    /// <summary>What vsearch index does, timed after the model is loaded: images per second.</summary>
    private static async Task<double> IngestAsync(string root, IReadOnlyList<string> files, int workers, bool copySpace, CancellationToken cancellationToken)
    {
        var overrides = new Dictionary<string, string?>
        {
            ["Encoder:WarmUpOnStart"] = "false",
            ["Encoder:IntraOpThreads"] = workers > 1 ? "1" : "2",
        };
        // Without the copy space: the centre crop alone, as the peer embeds (the default adds the copy space and its regions).
        if (!copySpace) overrides["Encoder:CopyDescriptor"] = nameof(CopyDescriptorMode.None);
        using var host = EngineHost.Build(CliArgs.Parse(["--index", root]), overrides);
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        await host.Services.GetRequiredService<IImageEncoder>().WarmUpAsync(cancellationToken).ConfigureAwait(false);
        await host.Services.GetRequiredService<VectorIndexAccessor>().GetAsync(cancellationToken).ConfigureAwait(false);
        var ingestion = host.Services.GetRequiredService<IngestionService>();
        var failures = new ConcurrentBag<string>();
        var sw = Stopwatch.StartNew();
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellationToken }, async (path, ct) =>
        {
            var id = Path.GetFileName(path);
            var result = await ingestion.IngestFileAsync(path, id, ct).ConfigureAwait(false);
            if (result.Outcome != IngestOutcome.Indexed) failures.Add($"{id}: {result.Outcome} {result.Detail}");
        }).ConfigureAwait(false);
        var seconds = sw.Elapsed.TotalSeconds;
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (!failures.IsEmpty) throw new InvalidOperationException("Ingest failed: " + string.Join("; ", failures));
        return files.Count / seconds;
    }

    /// <summary>The team's labelled images (../shared/datasets/dev beside a clone), looked for above the current directory.</summary>
    private static string? FindDevImages()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "datasets", "dev");
            if (Directory.Exists(candidate)) return candidate;
        }

        return null;
    }

    private static List<int> ParseList(string text, int min, int max, string usage)
    {
        var values = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
                throw new UsageException(usage);
            values.Add(n);
        }

        return values;
    }

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: the temp folder's cleaner gets the rest.
        }
    }
}
