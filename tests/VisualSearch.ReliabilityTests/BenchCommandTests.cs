using System.Text.Json;
using Microsoft.Extensions.Configuration;
using VisualSearch.Cli;
using VisualSearch.Cli.Bench;
using VisualSearch.Embedding;

namespace VisualSearch.ReliabilityTests;

/// <summary>
/// <c>vsearch bench</c> runs from a fresh clone with nothing but what it makes itself, and what it reports is
/// consistent: a small run (1,000 vectors, two photos) checked for content, never for speed (numbers belong
/// in docs/performance.md, not in tests).
/// </summary>
public sealed class BenchCommandTests
{
    [Fact]
    public async Task A_small_bench_run_reports_decode_recall_and_graph_settings_and_cleans_up()
    {
        using var temp = new TempDirectory("vs-bench-");
        var work = Path.Combine(temp.Path, "work");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exitCode = await BenchCommand.RunAsync(
            CliArgs.Parse(["--parts", "decode,index", "--sizes", "1000", "--queries", "20", "--images", "2", "--reps", "3",
                "--ef-sweep", "16", "--work", work, "--json"], "json", "keep", "verbose"),
            stdout, stderr, CancellationToken.None);

        Assert.True(exitCode == 0, stderr.ToString());
        using var report = JsonDocument.Parse(stdout.ToString());
        var root = report.RootElement;
        Assert.Empty(root.GetProperty("errors").EnumerateArray());
        Assert.Matches("^resnet18-[0-9a-f]{12}-512$", root.GetProperty("modelId").GetString());

        // Every input decoded (and the full-decode reference), each with a positive time and the size it was made at.
        var decode = root.GetProperty("decode").EnumerateArray().ToList();
        Assert.Equal(6, decode.Count);
        Assert.All(decode, d => Assert.True(d.GetProperty("p50Ms").GetDouble() > 0));
        var jpeg12 = decode.Single(d => d.GetProperty("input").GetString() == "jpeg-12mp.jpg");
        Assert.Equal(4032, jpeg12.GetProperty("width").GetInt32());
        Assert.True(root.GetProperty("scaledDecodeCosine").GetProperty("min").GetDouble() >= 0.99);

        var index = Assert.Single(root.GetProperty("index").EnumerateArray());
        Assert.Equal(1000, index.GetProperty("count").GetInt32());
        Assert.Equal("exact", index.GetProperty("defaultMode").GetString());
        Assert.Equal("Int8", index.GetProperty("quantization").GetString());
        Assert.Equal(24, index.GetProperty("connectivity").GetInt32());
        Assert.Equal(256, index.GetProperty("expansionSearch").GetInt32());
        Assert.Equal(1.0, index.GetProperty("exact").GetProperty("recallAt10").GetDouble());
        var graphRecall = index.GetProperty("graph").GetProperty("recallAt10").GetDouble();
        Assert.InRange(graphRecall, 0.9, 1.0);
        Assert.Equal(2048, index.GetProperty("exact").GetProperty("vectorBytesPerRecord").GetDouble());
        Assert.True(index.GetProperty("logBytes").GetInt64() > 1000 * 2048);
        // The graph was built on every core and checked by its links (the default); the index's own lines say how.
        Assert.Equal("Links", index.GetProperty("buildCheck").GetString());
        var buildLog = index.GetProperty("buildLog").EnumerateArray().Select(l => l.GetString()!).ToList();
        Assert.Contains(buildLog, l => l.Contains("inserts", StringComparison.Ordinal)
            && l.Contains(Environment.ProcessorCount > 1 ? "reachability check (links: " : "reachability check (none)", StringComparison.Ordinal));
        var sweep = Assert.Single(index.GetProperty("sweep").EnumerateArray());
        Assert.Equal(16, sweep.GetProperty("expansionSearch").GetInt32());
        Assert.InRange(sweep.GetProperty("recallAt10").GetDouble(), 0.0, 1.0);

        // Filtered search: the planner's choice (1% of 1,000 is counted exactly: 10 records, scanned), and both paths
        // forced; the exact path over the matching records finds the exact top 10.
        var filtered = index.GetProperty("filtered").EnumerateArray().ToList();
        Assert.Equal([0.01, 0.10, 0.50], filtered.Select(f => f.GetProperty("selectivity").GetDouble()));
        Assert.Equal("ExactScan", filtered[0].GetProperty("chosen").GetString());
        Assert.Equal(0.01, filtered[0].GetProperty("estimatedShare").GetDouble(), 6);
        Assert.Equal("Graph", filtered[2].GetProperty("chosen").GetString());
        Assert.All(filtered, f =>
        {
            Assert.Equal(1.0, f.GetProperty("exactPathRecallAt10").GetDouble());
            Assert.InRange(f.GetProperty("graphPathRecallAt10").GetDouble(), 0.5, 1.0);
            Assert.True(f.GetProperty("exactPath").GetProperty("p50").GetDouble() > 0);
        });

        // New processes on the saved index: vsearch search's answer and serve's, serve's peak resident memory and the base.
        var process = index.GetProperty("newProcess");
        Assert.True(process.GetProperty("searchFirstAnswerMs").GetDouble() > 0);
        Assert.True(process.GetProperty("serveFirstAnswerMs").GetDouble() > 0);
        Assert.True(process.GetProperty("servePeakBytes").GetInt64() > 50_000_000);
        Assert.True(process.GetProperty("basePeakBytes").GetInt64() > 50_000_000);

        // Parts not run are reported as not measured, not as met or missed.
        var targets = root.GetProperty("targets").EnumerateArray().ToList();
        Assert.Equal(14, targets.Count);
        var million = targets.Where(t => t.GetProperty("target").GetString()!.StartsWith("1M", StringComparison.Ordinal)).ToList();
        Assert.Equal(7, million.Count);
        Assert.All(million, t => Assert.Equal(JsonValueKind.Null, t.GetProperty("met").ValueKind));
        var decodeTarget = targets.Single(t => t.GetProperty("target").GetString()!.StartsWith("12 MP JPEG", StringComparison.Ordinal));
        Assert.NotEqual(JsonValueKind.Null, decodeTarget.GetProperty("met").ValueKind);
        // Embed and model load are measured for both precisions, and their int8 targets decided; the like-for-like
        // ingest part did not run, so its targets are not measured.
        Assert.Equal(["Float32", "Int8"], root.GetProperty("modelLoad").EnumerateArray().Select(l => l.GetProperty("precision").GetString()).Order(StringComparer.Ordinal));
        Assert.Equal(4, root.GetProperty("embed").GetArrayLength());
        // Each embed row also has the model alone: the same file and session settings run on the same tensor.
        Assert.All(root.GetProperty("embed").EnumerateArray(), e => Assert.True(e.GetProperty("modelAloneP50Ms").GetDouble() > 0));
        Assert.Contains("(the model alone ", targets.Single(t => t.GetProperty("target").GetString()!.StartsWith("embed, int8", StringComparison.Ordinal)).GetProperty("measured").GetString(), StringComparison.Ordinal);
        foreach (var prefix in new[] { "embed, int8", "model load, int8" })
            Assert.NotEqual(JsonValueKind.Null, targets.Single(t => t.GetProperty("target").GetString()!.StartsWith(prefix, StringComparison.Ordinal)).GetProperty("met").ValueKind);
        Assert.All(targets.Where(t => t.GetProperty("target").GetString()!.StartsWith("ingest", StringComparison.Ordinal)),
            t => Assert.Equal(JsonValueKind.Null, t.GetProperty("met").ValueKind));
        Assert.Equal(JsonValueKind.Null, root.GetProperty("perCore").ValueKind);

        Assert.False(Directory.Exists(work), "the bench deletes its work folder unless --keep");
    }

    [Fact]
    public void The_embed_rows_run_the_configured_encoder_with_their_own_threads_and_precision()
    {
        // An int8 variant set the way vsearch index reads it (Encoder__* variables) is the model the embed rows measure.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Encoder:Int8KeepFloat"] = "",
            ["Encoder:Int8CompensatedRounding"] = "all",
            ["Encoder:IntraOpThreads"] = "4",
            ["Encoder:Precision"] = "Float32",
        }).Build();

        var settings = BenchCommand.EncoderSettings(configuration, 1, EncoderPrecision.Int8);

        Assert.Equal("", settings.Int8KeepFloat);
        Assert.Equal("all", settings.Int8CompensatedRounding);
        Assert.Equal(1, settings.IntraOpThreads);
        Assert.Equal(EncoderPrecision.Int8, settings.Precision);
        Assert.Equal("first-conv", BenchCommand.EncoderSettings(new ConfigurationBuilder().Build(), 2, EncoderPrecision.Int8).Int8KeepFloat);
    }

    [Fact]
    public async Task The_regional_part_reports_disk_memory_build_and_new_processes_of_an_index_with_regions()
    {
        using var temp = new TempDirectory("vs-bench-regions-");
        var work = Path.Combine(temp.Path, "work");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exitCode = await BenchCommand.RunAsync(
            CliArgs.Parse(["--parts", "regions", "--region-items", "300", "--regions", "3", "--queries", "20", "--images", "2", "--reps", "3",
                "--work", work, "--json"], "json", "keep", "verbose"),
            stdout, stderr, CancellationToken.None);

        Assert.True(exitCode == 0, stderr.ToString());
        using var report = JsonDocument.Parse(stdout.ToString());
        Assert.Empty(report.RootElement.GetProperty("errors").EnumerateArray());
        var regional = Assert.Single(report.RootElement.GetProperty("regionIndex").EnumerateArray());
        Assert.Equal(300, regional.GetProperty("items").GetInt32());
        Assert.Equal(1200, regional.GetProperty("vectors").GetInt64());

        // On disk: every vector's float32 in the log, and the snapshot and the saved graph a new process reads.
        Assert.True(regional.GetProperty("logBytes").GetInt64() > 1200 * 2048);
        Assert.True(regional.GetProperty("snapshotBytes").GetInt64() > 0);
        Assert.True(regional.GetProperty("graphFileBytes").GetInt64() > 0);

        // The build: its threads, its check (the default, links) and the index's own lines on where the time went.
        Assert.Equal(Environment.ProcessorCount, regional.GetProperty("buildThreads").GetInt32());
        Assert.Equal("Links", regional.GetProperty("buildCheck").GetString());
        Assert.Contains(regional.GetProperty("buildLog").EnumerateArray(), l => l.GetString()!.Contains("inserts", StringComparison.Ordinal));

        // Items are found: the graph's top 10 items against the exact scan's, and a partial copy's item first.
        Assert.InRange(regional.GetProperty("recallAt10").GetDouble(), 0.9, 1.0);
        Assert.InRange(regional.GetProperty("regionTop1").GetDouble(), 0.9, 1.0);
        Assert.Equal(1.0, regional.GetProperty("exactRegionTop1").GetDouble());
        Assert.True(regional.GetProperty("exactByRegion").GetProperty("p50").GetDouble() > 0);
        AssertWholeFirst(regional, items: 300, regions: 3);
        Assert.Equal("all", regional.GetProperty("stage").GetString());

        // New processes started with regions on open the saved index (its directory is the regional model's id) and answer.
        var process = regional.GetProperty("newProcess");
        Assert.True(process.GetProperty("searchFirstAnswerMs").GetDouble() > 0);
        Assert.True(process.GetProperty("serveFirstAnswerMs").GetDouble() > 0);
        Assert.True(process.GetProperty("servePeakBytes").GetInt64() > 50_000_000);
        Assert.True(process.GetProperty("basePeakBytes").GetInt64() > 50_000_000);
        Assert.False(Directory.Exists(work), "the bench deletes its work folder unless --keep");
    }

    [Fact]
    public async Task The_regional_part_builds_in_one_run_and_searches_the_kept_index_in_another()
    {
        using var temp = new TempDirectory("vs-bench-stages-");
        var dir = Path.Combine(temp.Path, "regional");
        string[] Args(string stage, int regions = 4) =>
            ["--parts", "regions", "--region-items", "400", "--regions", regions.ToString(System.Globalization.CultureInfo.InvariantCulture), "--queries", "20", "--images", "2", "--reps", "3",
                "--region-stage", stage, "--region-dir", dir, "--work", Path.Combine(temp.Path, "work-" + stage), "--json"];
        async Task<JsonDocument> RunAsync(string[] args)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var exitCode = await BenchCommand.RunAsync(CliArgs.Parse(args, "json", "keep", "verbose"), stdout, stderr, CancellationToken.None);
            Assert.True(exitCode == 0, stderr.ToString());
            return JsonDocument.Parse(stdout.ToString());
        }

        // A search before any build, and a stage without a directory, are refused before anything runs.
        await Assert.ThrowsAsync<UsageException>(() => BenchCommand.RunAsync(CliArgs.Parse(Args("search"), "json", "keep", "verbose"), new StringWriter(), new StringWriter(), CancellationToken.None));
        await Assert.ThrowsAsync<UsageException>(() => BenchCommand.RunAsync(CliArgs.Parse(["--parts", "regions", "--region-stage", "build"], "json", "keep", "verbose"), new StringWriter(), new StringWriter(), CancellationToken.None));

        // The build: filled, searched exactly, graph built and saved; the index and its figures kept.
        using var built = await RunAsync(Args("build"));
        Assert.Empty(built.RootElement.GetProperty("errors").EnumerateArray());
        Assert.Empty(built.RootElement.GetProperty("regionIndex").EnumerateArray());
        var build = Assert.Single(built.RootElement.GetProperty("regionBuild").EnumerateArray());
        Assert.Equal(400, build.GetProperty("items").GetInt32());
        Assert.True(build.GetProperty("graphBuildSeconds").GetDouble() > 0);
        Assert.Empty(build.GetProperty("exactTop").EnumerateArray());
        Assert.True(File.Exists(Path.Combine(dir, "region-bench-build.json")), "the build keeps its figures beside the index");
        // A second build into the same directory is refused rather than mixed with the first.
        await Assert.ThrowsAsync<UsageException>(() => BenchCommand.RunAsync(CliArgs.Parse(Args("build"), "json", "keep", "verbose"), new StringWriter(), new StringWriter(), CancellationToken.None));

        // The search: another run opens the kept index and reports the build's figures beside its own.
        using var searched = await RunAsync(Args("search"));
        Assert.Empty(searched.RootElement.GetProperty("errors").EnumerateArray());
        var regional = Assert.Single(searched.RootElement.GetProperty("regionIndex").EnumerateArray());
        Assert.Equal("search", regional.GetProperty("stage").GetString());
        Assert.Equal(2000, regional.GetProperty("vectors").GetInt64());
        Assert.Equal(build.GetProperty("logBytes").GetInt64(), regional.GetProperty("logBytes").GetInt64());
        Assert.Equal(build.GetProperty("graphBuildSeconds").GetDouble(), regional.GetProperty("graphBuildSeconds").GetDouble());
        Assert.True(regional.GetProperty("openSeconds").GetDouble() > 0);
        // Recall is against the build's exact answers, kept in its figures.
        Assert.InRange(regional.GetProperty("recallAt10").GetDouble(), 0.9, 1.0);
        AssertWholeFirst(regional, items: 400, regions: 4);
        Assert.True(Directory.Exists(dir), "the kept index stays for the caller to delete");

        // A search with other settings than the build's is reported, not measured on the wrong index.
        using var mismatched = await RunAsync(Args("search", regions: 5));
        Assert.Contains(mismatched.RootElement.GetProperty("errors").EnumerateArray(), e => e.GetString()!.Contains("was built for 400 items x 4 regions", StringComparison.Ordinal));
        Assert.Empty(mismatched.RootElement.GetProperty("regionIndex").EnumerateArray());
    }

    /// <summary>
    /// Whole-first search as the copy space runs it: a noisy copy of an item's own vector is answered by the own-vector
    /// search alone, a noisy copy of a region falls through to the regions; both find their item; each index search's plan.
    /// </summary>
    private static void AssertWholeFirst(JsonElement regional, int items, int regions)
    {
        var wholeFirst = regional.GetProperty("wholeFirst");
        Assert.Equal(0.83, wholeFirst.GetProperty("threshold").GetDouble(), 3);
        Assert.Equal(0.05, wholeFirst.GetProperty("margin").GetDouble(), 3);
        // The own step searches the items' own vectors on a structure of their own (rows or the own graph, issue 14g), so
        // every vector it holds qualifies; before it, the graph of every vector was filtered to 1 / (1 + regions) of it.
        Assert.Equal(1.0, wholeFirst.GetProperty("ownPlan").GetProperty("share").GetDouble(), 6);
        Assert.Equal(regions / (1.0 + regions), wholeFirst.GetProperty("regionsPlan").GetProperty("share").GetDouble(), 6);
        Assert.Equal(1.0, wholeFirst.GetProperty("allPlan").GetProperty("share").GetDouble());
        var own = wholeFirst.GetProperty("ownQueries");
        var region = wholeFirst.GetProperty("regionQueries");
        Assert.Equal("own", own.GetProperty("kind").GetString());
        Assert.Equal(0.0, own.GetProperty("askedRegions").GetDouble());
        Assert.Equal(1.0, region.GetProperty("askedRegions").GetDouble());
        foreach (var kind in new[] { own, region })
        {
            Assert.Equal(20, kind.GetProperty("queries").GetInt32());
            Assert.InRange(kind.GetProperty("wholeFirstTop1").GetDouble(), 0.9, 1.0);
            Assert.InRange(kind.GetProperty("everyVectorTop1").GetDouble(), 0.9, 1.0);
            Assert.Equal(1.0, kind.GetProperty("exactWholeFirstTop1").GetDouble());
            Assert.Equal(1.0, kind.GetProperty("exactEveryVectorTop1").GetDouble());
            Assert.True(kind.GetProperty("wholeFirst").GetProperty("p50").GetDouble() > 0);
            Assert.True(kind.GetProperty("ownStep").GetProperty("p50").GetDouble() > 0);
            Assert.True(kind.GetProperty("everyVector").GetProperty("p50").GetDouble() > 0);
        }

        // The own step on the planner's other path (forced exact): every own vector scored, so an own-vector query's item comes first.
        var exactPath = wholeFirst.GetProperty("ownStepExactPath");
        Assert.Equal(1.0, exactPath.GetProperty("ownQueriesTop1").GetDouble());
        Assert.True(exactPath.GetProperty("ownQueries").GetProperty("p50").GetDouble() > 0);
        Assert.True(exactPath.GetProperty("regionQueries").GetProperty("p50").GetDouble() > 0);

        // The every-vector row of the partial copies is the old by-region row.
        Assert.Equal(regional.GetProperty("graphByRegion").GetProperty("p50").GetDouble(), region.GetProperty("everyVector").GetProperty("p50").GetDouble());
        Assert.True(regional.GetProperty("openedGraphMemoryBytes").GetInt64() > 0);
        Assert.True(regional.GetProperty("openedManagedBytesPerItem").GetDouble() > 0);
        Assert.Equal(items, regional.GetProperty("items").GetInt32());
    }

    [Fact]
    public async Task The_real_embedding_part_embeds_augmented_views_once_through_the_cache_and_measures_recall()
    {
        using var temp = new TempDirectory("vs-bench-real-");
        var cache = Path.Combine(temp.Path, "cache");

        async Task<JsonElement> RunAsync()
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var exitCode = await BenchCommand.RunAsync(
                CliArgs.Parse(["--parts", "real", "--dataset", Repo.Photos, "--real-count", "100", "--queries", "100", "--images", "2", "--reps", "3",
                    "--cache", cache, "--work", Path.Combine(temp.Path, "work"), "--json"], "json", "keep", "verbose", "no-cache"),
                stdout, stderr, CancellationToken.None);
            Assert.True(exitCode == 0, stderr.ToString());
            using var report = JsonDocument.Parse(stdout.ToString());
            Assert.Empty(report.RootElement.GetProperty("errors").EnumerateArray());
            return report.RootElement.GetProperty("realRecall").Clone();
        }

        // 100 views indexed and 10 held out (a tenth), over the sample photos: 14 views of each of the 8.
        var first = await RunAsync();
        Assert.Equal(8, first.GetProperty("images").GetInt32());
        Assert.Equal(14, first.GetProperty("viewsPerImage").GetInt32());
        Assert.Equal(110, first.GetProperty("embedded").GetInt32());
        Assert.Equal(100, first.GetProperty("indexed").GetInt32());
        Assert.Equal(10, first.GetProperty("queries").GetInt32());
        Assert.Equal(0, first.GetProperty("fromCache").GetInt32());
        Assert.InRange(first.GetProperty("recallAt10").GetDouble(), 0.9, 1.0);
        Assert.NotEmpty(Directory.GetFiles(cache, "*.seg"));

        // The views are keyed by the photo's content and the view: a second run finds every one in the cache.
        var second = await RunAsync();
        Assert.Equal(110, second.GetProperty("fromCache").GetInt32());
        Assert.InRange(second.GetProperty("recallAt10").GetDouble(), 0.9, 1.0);
    }
}
