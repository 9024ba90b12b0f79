using System.Numerics.Tensors;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Cli;
using VisualSearch.Embedding;
using VisualSearch.Imaging;

namespace VisualSearch.Quality.Tests;

/// <summary>
/// eval, eval-copies and train run in-process on tiny sets drawn by the tests, with the real ResNet18 encoder.
/// One collection: they share two cores with the encoder.
/// </summary>
[Collection(Name)]
public sealed class CommandTests
{
    public const string Name = "commands";

    [Fact]
    public async Task EvalScoresTriviallySeparableClassesHigh()
    {
        using var dir = new TempDirectory();
        var set = TinySets.WriteClassFolders(Path.Combine(dir.Path, "shapes"), 3, 4);

        var (code, stdout, stderr) = await RunAsync(EvalCommand.RunAsync, set, "--json", "--no-cache", "--k", "1,3");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.StartsWith("resnet18-", json.RootElement.GetProperty("model").GetString());
        var shapes = Assert.Single(json.RootElement.GetProperty("sets").EnumerateArray());
        Assert.Equal("shapes", shapes.GetProperty("name").GetString());
        Assert.Equal(12, shapes.GetProperty("items").GetInt32());
        Assert.Equal(3, shapes.GetProperty("classes").GetInt32());
        var overall = shapes.GetProperty("overall");
        Assert.Equal(12, overall.GetProperty("queries").GetInt32());
        Assert.True(overall.GetProperty("recall").GetProperty("1").GetDouble() >= 0.9, stdout);
        foreach (var metric in new[] { "mapAtR", "mrr" })
            Assert.InRange(overall.GetProperty(metric).GetDouble(), 0, 1);
        Assert.InRange(overall.GetProperty("precision").GetProperty("3").GetDouble(), 0, 1);
        Assert.Equal(3, shapes.GetProperty("perClass").GetArrayLength());
        var health = shapes.GetProperty("health");
        Assert.Equal(512, health.GetProperty("dimension").GetInt32());
        Assert.True(health.GetProperty("meanRawNorm").GetDouble() > 0);
        Assert.InRange(health.GetProperty("nearDeadShare").GetDouble(), 0, 1);

        var (tableCode, table, _) = await RunAsync(EvalCommand.RunAsync, set, "--no-cache");
        Assert.Equal(0, tableCode);
        Assert.Contains("shapes: 12 images, 3 classes, 12 queries", table);
        Assert.Contains("MAP@R", table);
        Assert.Contains("overall", table);
        Assert.Contains("embedding health", table);
    }

    [Fact]
    public async Task EvalCopiesMakesEveryEditAndReportsEachKind()
    {
        using var dir = new TempDirectory();
        var refs = TinySets.WriteReferences(Path.Combine(dir.Path, "refs"), 3);
        var distractors = TinySets.WriteClassFolders(Path.Combine(dir.Path, "distractors"), 1, 2);

        var (code, stdout, stderr) = await RunAsync(EvalCopiesCommand.RunAsync, refs, "--json", "--no-cache", "--seed", "3", "--distractors", distractors);
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal(3, root.GetProperty("references").GetInt32());
        Assert.Equal(2, root.GetProperty("distractors").GetInt32());
        var edits = root.GetProperty("perEdit").EnumerateArray().ToList();
        Assert.Equal(["crop50", "downscale25", "jpeg10", "rotate15", "colour", "overlay", "combined", "partial-sq", "partial-circ"], edits.Select(e => e.GetProperty("edit").GetString()));
        foreach (var e in edits)
        {
            Assert.Equal(3, e.GetProperty("queries").GetInt32());
            Assert.InRange(e.GetProperty("accuracyAt1").GetDouble(), 0, 1);
            Assert.InRange(e.GetProperty("recallAt5").GetDouble(), 0, 1);
            Assert.InRange(e.GetProperty("microAveragePrecision").GetDouble(), 0, 1);
        }

        var overall = root.GetProperty("overall");
        Assert.Equal(21, overall.GetProperty("queries").GetInt32()); // the seven whole-image edits; the partial details only per edit
        // Three unrelated references: most edited copies find their own.
        Assert.True(overall.GetProperty("accuracyAt1").GetDouble() >= 0.6, stdout);

        var (_, table, _) = await RunAsync(EvalCopiesCommand.RunAsync, refs, "--no-cache", "--seed", "3");
        Assert.Contains("copy detection: 3 references, 0 distractors, 21 queries and 6 partial details (seed 3)", table);
        foreach (var name in new[] { "crop50", "downscale25", "jpeg10", "rotate15", "colour", "overlay", "combined", "partial-sq", "partial-circ", "overall" })
            Assert.Contains($"  {name}", table);
    }

    [Fact]
    public async Task TrainWritesAHeadThatTheEncoderApplies()
    {
        using var dir = new TempDirectory();
        var set = TinySets.WriteClassFolders(Path.Combine(dir.Path, "shapes"), 4, 4);
        var cache = Path.Combine(dir.Path, "cache");
        var headPath = Path.Combine(dir.Path, "heads", "shapes.head");

        var (code, stdout, stderr) = await RunAsync(TrainCommand.RunAsync, set, "--out", headPath, "--dim", "6", "--epochs", "30", "--json", "--cache", cache);
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal(["circles", "squares"], root.GetProperty("trainClasses").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(["stripes", "triangles"], root.GetProperty("heldOutClasses").EnumerateArray().Select(c => c.GetString()));
        var loss = root.GetProperty("loss").EnumerateArray().Select(l => l.GetDouble()).ToList();
        Assert.Equal(30, loss.Count);
        Assert.True(loss[^1] < loss[0], $"loss went from {loss[0]} to {loss[^1]}");
        Assert.Equal(4, root.GetProperty("evaluation").GetArrayLength()); // train/held-out x base/head
        Assert.Contains("embedding: 16 images, 0 from the cache", stderr);

        // The head file loads, and the encoder configured with it changes its id and gives 6-d unit vectors,
        // the same as applying the head to the backbone's vector.
        var head = ProjectionHead.Load(headPath);
        Assert.Equal((512, 6), (head.InputDimension, head.OutputDimension));
        var image = TinySets.Draw(3, 99);
        using var baseHost = EngineHost.Build(CliArgs.Parse([]), new Dictionary<string, string?> { ["Encoder:WarmUpOnStart"] = "false" });
        using var headHost = EngineHost.Build(CliArgs.Parse([]), new Dictionary<string, string?> { ["Encoder:WarmUpOnStart"] = "false", ["Encoder:HeadPath"] = headPath });
        var baseEncoder = baseHost.Services.GetRequiredService<IImageEncoder>();
        var headEncoder = headHost.Services.GetRequiredService<IImageEncoder>();
        Assert.Equal(head.BackboneModelId, baseEncoder.Model.Id);
        Assert.Equal($"{baseEncoder.Model.Id}-head-{head.Sha256[..8]}-6", headEncoder.Model.Id);
        Assert.Equal(root.GetProperty("model").GetString(), headEncoder.Model.Id);
        Assert.Equal(6, headEncoder.Model.Dimension);

        var decoder = baseHost.Services.GetRequiredService<IImageDecoder>();
        var prepared = decoder.Prepare(image, baseEncoder.InputSize);
        var projected = headEncoder.Embed(prepared).Vector;
        Assert.Equal(6, projected.Length);
        Assert.Equal(1f, TensorPrimitives.Norm(projected), 4);
        var expected = head.Apply(baseEncoder.Embed(prepared).Vector).Vector;
        for (var i = 0; i < 6; i++) Assert.Equal(expected[i], projected[i], 4);

        // eval --head scores through the head and names it in the model id; the cache answers every image.
        var (evalCode, evalOut, evalErr) = await RunAsync(EvalCommand.RunAsync, set, "--json", "--cache", cache, "--head", headPath, "--classes", "test");
        Assert.True(evalCode == 0, evalErr);
        Assert.Contains("embedding: 8 images, 8 from the cache", evalErr);
        using var evalJson = JsonDocument.Parse(evalOut);
        Assert.Equal(headEncoder.Model.Id, evalJson.RootElement.GetProperty("model").GetString());
        Assert.Equal(8, evalJson.RootElement.GetProperty("sets")[0].GetProperty("items").GetInt32());
    }

    [Fact]
    public async Task QueryViewsAreEmbeddedOnceThroughTheCacheAndNamedInTheReport()
    {
        using var dir = new TempDirectory();
        var refs = TinySets.WriteReferences(Path.Combine(dir.Path, "refs"), 3);
        var cache = Path.Combine(dir.Path, "cache");

        var (code, stdout, stderr) = await RunAsync(EvalCopiesCommand.RunAsync, refs, "--json", "--cache", cache, "--query-views", "Input,Mirror", "--view-combination", "best");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(["input", "mirror"], json.RootElement.GetProperty("queryViews").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal("Best", json.RootElement.GetProperty("viewCombination").GetString());
        Assert.Contains("edited copies [mirror view]: 27 images, 0 from the cache", stderr);
        Assert.True(json.RootElement.GetProperty("overall").GetProperty("accuracyAt1").GetDouble() >= 0.6, stdout);

        // The other combination reads every view from the cache; the references stay their input vectors.
        var (meanCode, meanTable, meanErr) = await RunAsync(EvalCopiesCommand.RunAsync, refs, "--cache", cache, "--query-views", "input,mirror", "--view-combination", "mean");
        Assert.True(meanCode == 0, meanErr);
        Assert.Contains("edited copies [mirror view]: 27 images, 27 from the cache", meanErr);
        Assert.Contains("references and distractors: 3 images, 3 from the cache", meanErr);
        Assert.Contains("query views input+mirror, mean", meanTable);

        await Assert.ThrowsAsync<UsageException>(() => RunAsync(EvalCopiesCommand.RunAsync, refs, "--no-cache", "--query-views", "Input,Sideways"));
        await Assert.ThrowsAsync<UsageException>(() => RunAsync(EvalCopiesCommand.RunAsync, refs, "--no-cache", "--query-views", "Input,Mirror", "--view-combination", "max"));
    }

    [Fact]
    public async Task QueryPrecisionIsNamedInTheReportAndABadOneIsRefused()
    {
        using var dir = new TempDirectory();
        var set = TinySets.WriteClassFolders(Path.Combine(dir.Path, "shapes"), 2, 2);

        // Float32 queries against float32 items are the items' own encoder: nothing changes, the report says so.
        var (code, stdout, stderr) = await RunAsync(EvalCommand.RunAsync, set, "--json", "--no-cache", "--query-precision", "float32");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(json.RootElement.GetProperty("model").GetString(), json.RootElement.GetProperty("queryModel").GetString());
        Assert.DoesNotContain("queries:", stderr);

        foreach (var bad in new[] { "Float16", "1" })
        {
            var ex = await Assert.ThrowsAsync<UsageException>(() => RunAsync(EvalCopiesCommand.RunAsync, set, "--no-cache", "--query-precision", bad));
            Assert.Contains("--query-precision is Same", ex.Message);
        }
    }

    [Fact]
    public async Task AHeadForAnotherBackboneIsRefused()
    {
        using var dir = new TempDirectory();
        var set = TinySets.WriteClassFolders(Path.Combine(dir.Path, "shapes"), 2, 2);
        var headPath = Path.Combine(dir.Path, "other.head");
        new ProjectionHead("other-000000000000-512", new float[512], new float[512 * 2], 2).Save(headPath);

        var ex = await Assert.ThrowsAsync<UsageException>(() => RunAsync(EvalCommand.RunAsync, set, "--no-cache", "--head", headPath));
        Assert.Contains("was trained on other-000000000000-512", ex.Message);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(
        Func<CliArgs, TextWriter, TextWriter, CancellationToken, Task<int>> command, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await command(CliArgs.Parse(args, "json", "no-cache", "all-classes", "whiten", "verbose"), stdout, stderr, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
