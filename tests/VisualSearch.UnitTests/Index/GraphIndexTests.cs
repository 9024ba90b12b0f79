using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Index;

/// <summary>
/// The embedded index's graph mode (LocalIndex:AnnThreshold): when it switches, what it keeps on disk,
/// recall against the exact scan, and recovery when the saved graph is missing or does not match the log.
/// </summary>
public sealed class GraphIndexTests : IDisposable
{
    private const int Dimension = 64;
    private const int Threshold = 500;
    private static readonly IndexSchema Schema = new("m-1", Dimension);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Exact_below_the_threshold_and_graph_from_it_on()
    {
        var vectors = ClusteredVectors(Threshold, seed: 1);
        using var index = await OpenAsync(_dir.Path);
        for (var i = 0; i < Threshold - 1; i++) await index.UpsertAsync(Record(i, vectors[i]));
        Assert.Equal("exact", index.Statistics.Mode);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "ann.usearch")));

        await index.UpsertAsync(Record(Threshold - 1, vectors[Threshold - 1]));

        var stats = index.Statistics;
        Assert.Equal("hnsw", stats.Mode);
        Assert.Equal(Threshold, stats.Count);
        Assert.True(stats.VectorMemoryBytes > 0);
        Assert.True(File.Exists(Path.Combine(_dir.Path, "ann.usearch")));
        Assert.True(File.Exists(Path.Combine(_dir.Path, "ann.json")));
        var stored = await index.GetAsync("r7");
        Assert.NotNull(stored);
        Assert.Equal(vectors[7], stored.Vector);
    }

    [Theory]
    [InlineData(AnnQuantization.Int8)]
    [InlineData(AnnQuantization.Float16)]
    [InlineData(AnnQuantization.Float32)]
    public async Task Graph_results_agree_with_the_exact_scan(AnnQuantization quantization)
    {
        // Queries from the same clusters as the records (but not stored), as a new photo of a known subject would be.
        var all = ClusteredVectors(3050, seed: 2);
        var vectors = all[..3000];
        var queries = all[3000..];
        var exactDir = Path.Combine(_dir.Path, "exact");
        var graphDir = Path.Combine(_dir.Path, "graph");
        using var exact = await OpenAsync(exactDir, annThreshold: 0);
        using var graph = await OpenAsync(graphDir, quantization: quantization);
        for (var i = 0; i < vectors.Length; i++)
        {
            await exact.UpsertAsync(Record(i, vectors[i]));
            await graph.UpsertAsync(Record(i, vectors[i]));
        }

        var meta = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(graphDir, "ann.json")))!;
        Assert.Equal(quantization.ToString(), (string?)meta["quantization"]);

        Assert.Equal("hnsw", graph.Statistics.Mode);
        var found = 0;
        foreach (var q in queries)
        {
            var expected = (await exact.SearchAsync(q, new VectorQuery(10))).ToList();
            var actual = await graph.SearchAsync(q, new VectorQuery(10));
            found += actual.Count(h => expected.Any(e => e.Id == h.Id));
            // Scores are exact cosines (re-ranked from the float32 vectors), not the graph's approximations.
            foreach (var hit in actual)
            {
                var e = expected.FirstOrDefault(x => x.Id == hit.Id);
                if (e is not null) Assert.Equal(e.Score, hit.Score, 1e-5f);
            }
        }

        var recall = found / (queries.Length * 10.0);
        Assert.True(recall >= 0.95, $"recall@10 {recall:F3}");
    }

    [Fact]
    public async Task Filters_and_excluded_ids_are_honoured_even_when_few_records_match()
    {
        var vectors = ClusteredVectors(2000, seed: 4);
        using var exact = await OpenAsync(Path.Combine(_dir.Path, "exact"), annThreshold: 0);
        using var graph = await OpenAsync(Path.Combine(_dir.Path, "graph"));
        for (var i = 0; i < vectors.Length; i++)
        {
            // One record in 400 is in the rare album: far fewer than k x AnnOverfetch among the graph's first candidates.
            var album = i % 400 == 0 ? "rare" : i % 2 == 0 ? "even" : "odd";
            await exact.UpsertAsync(Record(i, vectors[i], album));
            await graph.UpsertAsync(Record(i, vectors[i], album));
        }

        foreach (var filterText in new[] { "album eq 'rare'", "album eq 'even'", "album eq 'none'" })
        {
            var query = new VectorQuery(10, Filter: SearchFilter.Parse(filterText), ExcludeId: "r0");
            var expected = await exact.SearchAsync(vectors[0], query);
            var actual = await graph.SearchAsync(vectors[0], query);
            Assert.All(actual, h => Assert.NotEqual("r0", h.Id));
            if (filterText != "album eq 'even'") Assert.Equal(expected.Select(h => h.Id), actual.Select(h => h.Id));
            else Assert.True(actual.Count(h => expected.Any(e => e.Id == h.Id)) >= 8, filterText);
            Assert.Equal(expected.Count, actual.Count);
        }

        var high = await graph.SearchAsync(vectors[5], new VectorQuery(10, MinScore: 0.999f));
        Assert.Equal(["r5"], high.Select(h => h.Id));
    }

    [Fact]
    public async Task Reopen_loads_the_saved_graph_and_finds_the_same_records()
    {
        var vectors = ClusteredVectors(800, seed: 5);
        IReadOnlyList<SearchHit> before;
        using (var index = await OpenAsync(_dir.Path))
        {
            for (var i = 0; i < vectors.Length; i++) await index.UpsertAsync(Record(i, vectors[i]));
            await index.UpsertAsync(Record(3, vectors[4]));
            await index.DeleteAsync("r9");
            before = await index.SearchAsync(vectors[10], new VectorQuery(10));
        }

        var meta = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_dir.Path, "ann.json")))!;
        Assert.Equal(new FileInfo(Path.Combine(_dir.Path, "records.log")).Length, (long)meta["logLength"]!);

        using var reopened = await OpenAsync(_dir.Path);
        Assert.Equal("hnsw", reopened.Statistics.Mode);
        Assert.Equal(799, await reopened.CountAsync());
        Assert.Equal(before.Select(h => h.Id), (await reopened.SearchAsync(vectors[10], new VectorQuery(10))).Select(h => h.Id));
        Assert.Null(await reopened.GetAsync("r9"));
        Assert.Equal(vectors[4], (await reopened.GetAsync("r3"))!.Vector);
    }

    [Fact]
    public async Task A_log_cut_short_under_an_open_graph_index_fails_reads_as_a_non_retriable_VectorIndexException()
    {
        var vectors = ClusteredVectors(Threshold, seed: 8);
        using var index = await OpenAsync(_dir.Path);
        for (var i = 0; i < vectors.Length; i++) await index.UpsertAsync(Record(i, vectors[i]));
        Assert.Equal("hnsw", index.Statistics.Mode);

        // Graph mode keeps the float32 vectors only in the log: something else cuts it short under the open index.
        using (var log = new FileStream(Path.Combine(_dir.Path, "records.log"), FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) log.SetLength(100);

        var get = await Assert.ThrowsAsync<VectorIndexException>(() => index.GetAsync("r400"));
        Assert.Equal(("local", _dir.Path, "get", false), (get.Backend, get.IndexName, get.Operation, get.Retriable));
        Assert.IsType<InvalidDataException>(get.InnerException);
        Assert.Contains("'r400'", get.Message, StringComparison.Ordinal);
        var search = await Assert.ThrowsAsync<VectorIndexException>(() => index.SearchAsync(vectors[0], new VectorQuery(5)));
        Assert.Equal(("search", false), (search.Operation, search.Retriable));
    }

    public static TheoryData<string> Damage => new() { "graph-missing", "meta-missing", "writes-after-save", "meta-of-another-log" };

    [Theory]
    [MemberData(nameof(Damage))]
    public async Task A_missing_or_stale_graph_is_rebuilt_from_the_log(string damage)
    {
        var vectors = ClusteredVectors(900, seed: 6);
        var copy = Path.Combine(_dir.Path, "copy");
        var live = Path.Combine(_dir.Path, "live");
        using (var index = await OpenAsync(live))
        {
            for (var i = 0; i < 700; i++) await index.UpsertAsync(Record(i, vectors[i]));
            if (damage == "writes-after-save")
            {
                // A crash: the graph on disk was saved at 500 records; the log has every later write.
                for (var i = 700; i < vectors.Length; i++) await index.UpsertAsync(Record(i, vectors[i]));
                await index.DeleteAsync("r1");
                CopyFiles(live, copy);
            }
        }

        if (damage != "writes-after-save") CopyFiles(live, copy);
        switch (damage)
        {
            case "graph-missing": File.Delete(Path.Combine(copy, "ann.usearch")); break;
            case "meta-missing": File.Delete(Path.Combine(copy, "ann.json")); break;
            case "meta-of-another-log":
                var meta = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(copy, "ann.json")))!;
                meta["logLength"] = (long)meta["logLength"]! - 1;
                await File.WriteAllTextAsync(Path.Combine(copy, "ann.json"), meta.ToJsonString());
                break;
        }

        using var reopened = await OpenAsync(copy);
        Assert.Equal("hnsw", reopened.Statistics.Mode);
        var expectedCount = damage == "writes-after-save" ? vectors.Length - 1 : 700;
        Assert.Equal(expectedCount, await reopened.CountAsync());
        for (var i = 2; i < expectedCount; i += 97)
        {
            var hits = await reopened.SearchAsync(vectors[i], new VectorQuery(1));
            Assert.Equal($"r{i}", Assert.Single(hits).Id);
        }

        Assert.DoesNotContain("r1", (await reopened.SearchAsync(vectors[1], new VectorQuery(5))).Select(h => h.Id).Where(_ => damage == "writes-after-save"));
    }

    [Fact]
    public async Task A_graph_saved_with_other_vectors_is_rebuilt_with_the_configured_ones()
    {
        var vectors = ClusteredVectors(700, seed: 8);
        using (var index = await OpenAsync(_dir.Path, quantization: AnnQuantization.Float16))
            for (var i = 0; i < vectors.Length; i++) await index.UpsertAsync(Record(i, vectors[i]));
        var float16Bytes = new FileInfo(Path.Combine(_dir.Path, "ann.usearch")).Length;

        using var reopened = await OpenAsync(_dir.Path, quantization: AnnQuantization.Int8);
        var meta = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_dir.Path, "ann.json")))!;
        Assert.Equal("Int8", (string?)meta["quantization"]);
        // 64 dimensions: 64 bytes a vector instead of 128.
        Assert.True(new FileInfo(Path.Combine(_dir.Path, "ann.usearch")).Length < float16Bytes - 700 * 50);
        for (var i = 0; i < vectors.Length; i += 50)
            Assert.Equal($"r{i}", (await reopened.SearchAsync(vectors[i], new VectorQuery(1)))[0].Id);
    }

    [Fact]
    public async Task Compaction_in_graph_mode_renumbers_and_keeps_every_record()
    {
        var vectors = ClusteredVectors(600, seed: 7);
        using (var index = await OpenAsync(_dir.Path))
        {
            for (var i = 0; i < vectors.Length; i++) await index.UpsertAsync(Record(i, vectors[i]));
            for (var i = 0; i < 100; i++) await index.DeleteAsync($"r{i * 3}");
            // Rewrites of the same records until the log holds more than twice as many entries as records.
            for (var round = 0; round < 2; round++)
                for (var i = 1; i < vectors.Length; i += 3) await index.UpsertAsync(Record(i, vectors[i]));
            var logEntries = 600 + 100 + 400;
            Assert.True(logEntries > 1000);
            Assert.Equal(500, await index.CountAsync());
            Assert.Equal("r301", (await index.SearchAsync(vectors[301], new VectorQuery(1)))[0].Id);
            Assert.Equal(vectors[302], (await index.GetAsync("r302"))!.Vector);
        }

        using var reopened = await OpenAsync(_dir.Path);
        Assert.Equal(500, await reopened.CountAsync());
        for (var i = 1; i < vectors.Length; i += 7)
        {
            var hits = await reopened.SearchAsync(vectors[i], new VectorQuery(1));
            if (i % 3 == 0 && i < 300) Assert.NotEqual($"r{i}", hits[0].Id);
            else Assert.Equal($"r{i}", hits[0].Id);
        }
    }

    private static void CopyFiles(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from).Where(f => Path.GetFileName(f) != "LOCK"))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    private static async Task<LocalVectorIndex> OpenAsync(string path, int annThreshold = Threshold, AnnQuantization quantization = AnnQuantization.Int8)
    {
        var index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = path, FlushToDisk = false, AnnThreshold = annThreshold, AnnQuantization = quantization }), NullLogger<LocalVectorIndex>.Instance);
        await index.InitializeAsync(Schema);
        return index;
    }

    /// <summary>Unit vectors around 20 random centres: neighbours are close, as with image embeddings.</summary>
    private static float[][] ClusteredVectors(int count, int seed)
    {
        var random = new Random(seed);
        var centres = Enumerable.Range(0, 20).Select(_ => Enumerable.Range(0, Dimension).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray()).ToArray();
        var result = new float[count][];
        for (var i = 0; i < count; i++)
        {
            var centre = centres[random.Next(centres.Length)];
            var v = centre.Select(c => c + ((float)random.NextDouble() * 2 - 1) * 0.6f).ToArray();
            TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
            result[i] = v;
        }

        return result;
    }

    private static VectorRecord Record(int i, float[] vector, string album = "a") => new($"r{i}", vector, new ItemMetadata
    {
        Source = "photos",
        Name = $"r{i}.jpg",
        ContentHash = new string('a', 64),
        ContentType = "image/jpeg",
        UploadedAt = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero),
        ModelId = "m-1",
        Tags = new Dictionary<string, string> { ["album"] = album },
    });
}
