using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Index;

/// <summary>
/// The items' own vectors searched apart in an index with regions (issue 14, whole-first latency): exact rows while the
/// items are fewer than the graph threshold, a graph of their own (own.usearch) from it on, next to the graph of every
/// vector. What a search of <see cref="VectorSelection.Own"/> returns is checked against a plain model; the own graph's
/// persistence, a crash between the two graphs' saves, deletes, upserts, compaction and rebuilds.
/// </summary>
public sealed class OwnVectorSearchTests : IDisposable
{
    private const int Dimension = 16;
    private static readonly IndexSchema Schema = new("m-1", Dimension) { Regions = true };
    private readonly TempDirectory _dir = new();

    private string OwnGraph => Path.Combine(_dir.Path, GraphLifecycle.OwnGraphFileName);

    private string OwnMeta => Path.Combine(_dir.Path, GraphLifecycle.OwnMetaFileName);

    private string MainMeta => Path.Combine(_dir.Path, GraphLifecycle.MetaFileName);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Below_the_threshold_in_items_the_own_vectors_are_scanned_exactly_beside_the_graph_of_all()
    {
        var random = new Random(1);
        var model = new Dictionary<string, VectorRecord>(StringComparer.Ordinal);
        // 30 items x (1 + 6) = 210 vectors: the graph of all (threshold 100), but 30 items are below it.
        using (var index = await OpenAsync(100))
        {
            for (var i = 0; i < 30; i++) await UpsertAsync(index, model, Item($"i{i}", 6, random));
            Assert.Equal("hnsw", index.Statistics.Mode);
            Assert.Equal(SearchPath.ExactScan, index.PlanSearch(new VectorQuery(10) { Vectors = VectorSelection.Own }).Path);
            Assert.Equal(SearchPath.Graph, index.PlanSearch(new VectorQuery(10) { Vectors = VectorSelection.Regions }).Path);
            await AssertOwnExactAsync(index, model, random);
        }

        Assert.False(File.Exists(OwnGraph));
        using (var reopened = await OpenAsync(100)) await AssertOwnExactAsync(reopened, model, random);
    }

    [Fact]
    public async Task The_own_graph_is_saved_loaded_and_agrees_with_an_exact_scan_within_its_recall()
    {
        var random = new Random(2);
        var model = new Dictionary<string, VectorRecord>(StringComparer.Ordinal);
        using (var index = await OpenAsync(200))
        {
            for (var i = 0; i < 400; i++) await UpsertAsync(index, model, Item($"i{i}", 1 + (i % 5), random));
            Assert.Equal(SearchPath.Graph, index.PlanSearch(new VectorQuery(10) { Vectors = VectorSelection.Own }).Path);
            // Without a filter the own graph is asked for k x overfetch, not 3x more for the regions beside them.
            Assert.Equal(40, index.PlanSearch(new VectorQuery(10) { Vectors = VectorSelection.Own }).Fetch);
            AssertRecall(await TopOwnAsync(index, model, random), 0.95);
        }

        var meta = JsonNode.Parse(await File.ReadAllTextAsync(OwnMeta))!;
        Assert.Equal(400, (int)meta["count"]!);
        Assert.Equal((long)JsonNode.Parse(await File.ReadAllTextAsync(MainMeta))!["logLength"]!, (long)meta["logLength"]!);
        var saved = File.GetLastWriteTimeUtc(OwnGraph);

        using (var reopened = await OpenAsync(200))
        {
            AssertRecall(await TopOwnAsync(reopened, model, random), 0.95);
        }

        // Loaded, not rebuilt: a read-only session leaves the saved graph as it was.
        Assert.Equal(saved, File.GetLastWriteTimeUtc(OwnGraph));
    }

    [Theory]
    [InlineData("own-stale")]
    [InlineData("main-stale")]
    [InlineData("own-missing")]
    [InlineData("own-corrupt")]
    public async Task A_crash_between_the_two_graphs_saves_rebuilds_the_stale_one_only(string damage)
    {
        var random = new Random(3);
        var model = new Dictionary<string, VectorRecord>(StringComparer.Ordinal);
        using (var index = await OpenAsync(100))
        {
            for (var i = 0; i < 150; i++) await UpsertAsync(index, model, Item($"i{i}", 3, random));
        }

        // The saves of the first session, then a second that adds, replaces and deletes: its saves are the newer ones.
        var old = Path.Combine(_dir.Path, "old");
        Directory.CreateDirectory(old);
        foreach (var name in new[] { GraphLifecycle.OwnGraphFileName, GraphLifecycle.OwnMetaFileName, GraphLifecycle.GraphFileName, GraphLifecycle.MetaFileName })
            File.Copy(Path.Combine(_dir.Path, name), Path.Combine(old, name));
        using (var index = await OpenAsync(100))
        {
            for (var i = 140; i < 170; i++) await UpsertAsync(index, model, Item($"i{i}", i % 4, random));
            for (var i = 0; i < 10; i++)
            {
                Assert.True(await index.DeleteAsync($"i{i * 3}"));
                model.Remove($"i{i * 3}");
            }
        }

        // The crash: one graph's save of the second session did not happen (its files are the first session's), or its file is gone or torn.
        switch (damage)
        {
            case "own-stale":
                File.Copy(Path.Combine(old, GraphLifecycle.OwnGraphFileName), OwnGraph, overwrite: true);
                File.Copy(Path.Combine(old, GraphLifecycle.OwnMetaFileName), OwnMeta, overwrite: true);
                break;
            case "main-stale":
                File.Copy(Path.Combine(old, GraphLifecycle.GraphFileName), Path.Combine(_dir.Path, GraphLifecycle.GraphFileName), overwrite: true);
                File.Copy(Path.Combine(old, GraphLifecycle.MetaFileName), MainMeta, overwrite: true);
                break;
            case "own-missing":
                File.Delete(OwnMeta);
                break;
            case "own-corrupt":
                await File.WriteAllBytesAsync(OwnGraph, new byte[100]);
                break;
        }

        var mainGraph = Path.Combine(_dir.Path, GraphLifecycle.GraphFileName);
        var (ownWritten, mainWritten) = (File.GetLastWriteTimeUtc(OwnGraph), File.GetLastWriteTimeUtc(mainGraph));
        using (var reopened = await OpenAsync(100))
        {
            Assert.Equal(model.Count, await reopened.CountAsync());
            AssertRecall(await TopOwnAsync(reopened, model, random), 0.95);
            await AssertAllExactAfterRescoreAsync(reopened, model, random);
        }

        // Only the damaged one was rebuilt (and saved): the other was loaded and left as it was.
        if (damage == "main-stale") Assert.Equal(ownWritten, File.GetLastWriteTimeUtc(OwnGraph));
        else Assert.Equal(mainWritten, File.GetLastWriteTimeUtc(mainGraph));

        // The rebuilt graph was saved when the index closed: both describe the same log again.
        var own = JsonNode.Parse(await File.ReadAllTextAsync(OwnMeta))!;
        var main = JsonNode.Parse(await File.ReadAllTextAsync(MainMeta))!;
        Assert.Equal((long)main["logLength"]!, (long)own["logLength"]!);
        Assert.Equal(model.Count, (int)own["count"]!);
    }

    [Fact]
    public async Task A_churn_through_the_threshold_and_compactions_keeps_the_own_search_right()
    {
        var random = new Random(4);
        var model = new Dictionary<string, VectorRecord>(StringComparer.Ordinal);
        var compacted = false;
        var logPath = Path.Combine(_dir.Path, "records.log");
        using (var index = await OpenAsync(60))
        {
            // Up to 90 ids: the graph of all from the ninth or so item, the own rows until 60 items, then the own graph.
            for (var i = 0; i < 1500; i++)
            {
                var id = $"i{random.Next(90)}";
                if (random.Next(5) == 0)
                {
                    Assert.Equal(model.Remove(id), await index.DeleteAsync(id));
                    continue;
                }

                var before = new FileInfo(logPath).Length;
                await UpsertAsync(index, model, Item(id, random.Next(3) == 0 ? 0 : random.Next(1, 8), random));
                if (new FileInfo(logPath).Length < before) compacted = true;
                if (i % 250 == 0) AssertRecall(await TopOwnAsync(index, model, random), 0.9);
            }

            Assert.True(compacted, "The churn never compacted the log.");
            Assert.True(model.Count >= 60, $"The churn ended with {model.Count} items, below the threshold.");
            Assert.Equal(SearchPath.Graph, index.PlanSearch(new VectorQuery(10) { Vectors = VectorSelection.Own }).Path);
            AssertRecall(await TopOwnAsync(index, model, random), 0.95);
            await AssertAllExactAfterRescoreAsync(index, model, random);
        }

        using (var reopened = await OpenAsync(60)) AssertRecall(await TopOwnAsync(reopened, model, random), 0.95);
        File.Delete(Path.Combine(_dir.Path, "records.snapshot"));
        File.Delete(OwnMeta);
        using (var replayed = await OpenAsync(60)) AssertRecall(await TopOwnAsync(replayed, model, random), 0.95);
    }

    [Fact]
    public async Task Fewer_items_than_the_threshold_at_an_open_give_rows_and_a_saved_own_graph_is_used_only_as_saved()
    {
        var random = new Random(5);
        var model = new Dictionary<string, VectorRecord>(StringComparer.Ordinal);
        using (var index = await OpenAsync(50))
        {
            for (var i = 0; i < 60; i++) await UpsertAsync(index, model, Item($"i{i}", 4, random));
        }

        Assert.True(File.Exists(OwnGraph));
        using (var index = await OpenAsync(50))
        {
            for (var i = 0; i < 20; i++)
            {
                Assert.True(await index.DeleteAsync($"i{i}"));
                model.Remove($"i{i}");
            }
        }

        // 40 items, 200 vectors: the graph of all stays, the own vectors are rows again.
        using (var reopened = await OpenAsync(50))
        {
            Assert.Equal(SearchPath.ExactScan, reopened.PlanSearch(new VectorQuery(10) { Vectors = VectorSelection.Own }).Path);
            await AssertOwnExactAsync(reopened, model, random);

            // Back over the threshold while open: the rows become a graph of their own vectors (saved at the close).
            for (var i = 100; i < 125; i++) await UpsertAsync(reopened, model, Item($"i{i}", 2, random));
            Assert.Equal(SearchPath.Graph, reopened.PlanSearch(new VectorQuery(10) { Vectors = VectorSelection.Own }).Path);
            AssertRecall(await TopOwnAsync(reopened, model, random), 0.95);
        }

        using (var again = await OpenAsync(50)) AssertRecall(await TopOwnAsync(again, model, random), 0.95);
        Assert.Equal(model.Count, (int)JsonNode.Parse(await File.ReadAllTextAsync(OwnMeta))!["count"]!);
    }

    [Fact]
    public async Task Filters_owner_scopes_MinScore_and_ExcludeId_apply_on_the_own_rows_and_graph_alike()
    {
        foreach (var threshold in new[] { 150, 40 })
        {
            var random = new Random(6);
            var model = new Dictionary<string, VectorRecord>(StringComparer.Ordinal);
            using var dir = new TempDirectory();
            var index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = dir.Path, FlushToDisk = false, AnnThreshold = threshold }), NullLogger<LocalVectorIndex>.Instance);
            using (index)
            {
                await index.InitializeAsync(Schema);
                for (var i = 0; i < 100; i++) await UpsertAsync(index, model, Item($"i{i}", 4, random, album: i % 4 == 0 ? "rare" : "common"));
                var query = Unit(random);
                var excluded = Best(model.Values, query, VectorSelection.Own, 1)[0].Id;
                var q = new VectorQuery(10, MinScore: 0.1f, Filter: SearchFilter.Parse("album eq 'rare'"), ExcludeId: excluded) { Vectors = VectorSelection.Own };
                var expected = Best(model.Values.Where(r => r.Metadata.Tags["album"] == "rare" && r.Id != excluded), query, VectorSelection.Own, 10)
                    .Where(e => e.Score >= 0.1f).ToList();
                var hits = await index.SearchAsync(query, q);
                Assert.Equal(expected.Select(e => e.Id), hits.Select(h => h.Id));
                Assert.Equal(expected.Select(e => e.Score), hits.Select(h => h.Score), new Within(1e-5f));
                Assert.All(hits, h => Assert.Null(h.Region));
            }
        }
    }

    private async Task<LocalVectorIndex> OpenAsync(int annThreshold)
    {
        var index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = false, AnnThreshold = annThreshold }), NullLogger<LocalVectorIndex>.Instance);
        await index.InitializeAsync(Schema);
        return index;
    }

    private static async Task UpsertAsync(LocalVectorIndex index, Dictionary<string, VectorRecord> model, VectorRecord record)
    {
        await index.UpsertAsync(record);
        model[record.Id] = record;
    }

    /// <summary>The own search equals the exact answer: the same items in the same order, the same scores.</summary>
    private static async Task AssertOwnExactAsync(LocalVectorIndex index, Dictionary<string, VectorRecord> model, Random random)
    {
        for (var q = 0; q < 10; q++)
        {
            var query = Unit(random);
            var expected = Best(model.Values, query, VectorSelection.Own, 10);
            var hits = await index.SearchAsync(query, new VectorQuery(10) { Vectors = VectorSelection.Own });
            Assert.Equal(expected.Select(e => e.Id), hits.Select(h => h.Id));
            Assert.Equal(expected.Select(e => e.Score), hits.Select(h => h.Score), new Within(1e-5f));
        }
    }

    /// <summary>Every hit of a Regions and an All search scores what the model says its item scores (re-ranked exactly), and none is repeated.</summary>
    private static async Task AssertAllExactAfterRescoreAsync(LocalVectorIndex index, Dictionary<string, VectorRecord> model, Random random)
    {
        var query = Unit(random);
        foreach (var selection in new[] { VectorSelection.Regions, VectorSelection.All, VectorSelection.Own })
        {
            var hits = await index.SearchAsync(query, new VectorQuery(10) { Vectors = selection });
            Assert.NotEmpty(hits);
            Assert.Equal(hits.Count, hits.Select(h => h.Id).Distinct().Count());
            foreach (var hit in hits) Assert.Equal(Score(model[hit.Id], query, selection), hit.Score, 1e-5f);
        }
    }

    /// <summary>For 20 queries: the own search's top 10 against the exact top 10 (recall counted), each hit's score exact.</summary>
    private static async Task<(int Found, int Wanted)> TopOwnAsync(LocalVectorIndex index, Dictionary<string, VectorRecord> model, Random random)
    {
        var (found, wanted) = (0, 0);
        for (var q = 0; q < 20; q++)
        {
            var query = Unit(random);
            var expected = Best(model.Values, query, VectorSelection.Own, 10).Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
            var hits = await index.SearchAsync(query, new VectorQuery(10) { Vectors = VectorSelection.Own });
            Assert.Equal(Math.Min(10, model.Count), hits.Count);
            foreach (var hit in hits)
            {
                Assert.Null(hit.Region);
                Assert.Equal(TensorPrimitives.Dot(query, model[hit.Id].Vector), hit.Score, 1e-5f);
            }

            found += hits.Count(h => expected.Contains(h.Id));
            wanted += expected.Count;
        }

        return (found, wanted);
    }

    private static void AssertRecall((int Found, int Wanted) result, double atLeast) =>
        Assert.True(result.Found >= atLeast * result.Wanted, $"own recall@10 {result.Found} of {result.Wanted}, below {atLeast}");

    private static float Score(VectorRecord record, float[] query, VectorSelection selection)
    {
        var own = TensorPrimitives.Dot(query, record.Vector);
        var regions = record.Regions.Count == 0 ? float.NegativeInfinity : record.Regions.Max(r => TensorPrimitives.Dot(query, r.Vector));
        return selection switch
        {
            VectorSelection.Own => own,
            VectorSelection.Regions => regions,
            _ => Math.Max(own, regions),
        };
    }

    private static List<(string Id, float Score)> Best(IEnumerable<VectorRecord> records, float[] query, VectorSelection selection, int k) =>
        [.. records.Select(r => (r.Id, Score: Score(r, query, selection)))
            .Where(s => !float.IsNegativeInfinity(s.Score))
            .OrderByDescending(s => s.Score).ThenBy(s => s.Id, StringComparer.Ordinal).Take(k)];

    private static VectorRecord Item(string id, int regions, Random random, string album = "a") =>
        new(id, Unit(random), new ItemMetadata
        {
            Source = "file",
            Name = id + ".png",
            ContentHash = "hash-" + id,
            ContentType = "image/png",
            ModelId = Schema.ModelId,
            Tags = new Dictionary<string, string> { ["album"] = album },
        })
        {
            Regions = [.. Enumerable.Range(0, regions).Select(i => new RegionVector(Unit(random), new RegionBox(i * 10, 0, 32, 24)))],
        };

    private static float[] Unit(Random random)
    {
        var v = new float[Dimension];
        for (var i = 0; i < v.Length; i++) v[i] = (float)((random.NextDouble() * 2) - 1);
        var norm = MathF.Sqrt(TensorPrimitives.Dot(v, v));
        for (var i = 0; i < v.Length; i++) v[i] /= norm;
        return v;
    }

    private sealed class Within(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
