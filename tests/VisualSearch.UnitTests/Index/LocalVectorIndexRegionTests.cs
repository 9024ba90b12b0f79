using System.Numerics.Tensors;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Index;

/// <summary>
/// The embedded index with region vectors (issue 14) on disk: a churn of items with and without regions through
/// compactions, snapshots, full replays and the graph, checked against a plain model of what was written; and a
/// crash in the middle of an item's entry.
/// </summary>
public sealed class LocalVectorIndexRegionTests : IDisposable
{
    private const int Dimension = 8;
    private static readonly IndexSchema Schema = new("m-1", Dimension) { Regions = true };
    private readonly TempDirectory _dir = new();

    private string LogPath => Path.Combine(_dir.Path, "records.log");

    public void Dispose() => _dir.Dispose();

    public static TheoryData<int> AnnThresholds => new() { 0, 1 };

    [Theory]
    [MemberData(nameof(AnnThresholds))]
    public async Task A_churn_of_items_with_and_without_regions_survives_compaction_snapshot_and_replay(int annThreshold)
    {
        var random = new Random(14);
        var model = new Dictionary<string, VectorRecord>(StringComparer.Ordinal);
        var compacted = false;
        using (var index = await OpenAsync(annThreshold))
        {
            // About 2,500 writes over 60 ids: the log passes 1,000 entries at over twice the live items, so it is compacted.
            for (var i = 0; i < 2500; i++)
            {
                var id = $"item-{random.Next(60)}";
                if (random.Next(6) == 0)
                {
                    Assert.Equal(model.Remove(id), await index.DeleteAsync(id));
                    continue;
                }

                var record = Item(id, random.Next(4) == 0 ? 0 : random.Next(1, 6), random, $"v{i}");
                var before = new FileInfo(LogPath).Length;
                await index.UpsertAsync(record);
                if (new FileInfo(LogPath).Length < before) compacted = true;
                model[id] = record;
            }

            Assert.True(compacted, "The churn never compacted the log.");
            await AssertMatchesAsync(index, model, random);
        }

        // Reopened from the snapshot (and the saved graph), then from the log alone.
        using (var index = await OpenAsync(annThreshold)) await AssertMatchesAsync(index, model, random);
        File.Delete(Path.Combine(_dir.Path, "records.snapshot"));
        File.Delete(Path.Combine(_dir.Path, "ann.json"));
        using (var index = await OpenAsync(annThreshold)) await AssertMatchesAsync(index, model, random);
    }

    [Fact]
    public async Task A_crash_inside_an_items_entry_leaves_the_item_as_it_was()
    {
        var random = new Random(3);
        var first = Item("a", 3, random, "first");
        using (var index = await OpenAsync(0)) await index.UpsertAsync(first);
        var before = new FileInfo(LogPath).Length;
        using (var index = await OpenAsync(0)) await index.UpsertAsync(Item("a", 5, random, "second"));
        var whole = await File.ReadAllBytesAsync(LogPath);

        // The second entry cut in the middle of its region vectors: as if the machine stopped mid-write.
        await File.WriteAllBytesAsync(LogPath, whole.AsSpan(0, (int)(before + (whole.Length - before) * 3 / 4)).ToArray());
        File.Delete(Path.Combine(_dir.Path, "records.snapshot"));

        using var reopened = await OpenAsync(0);
        var a = await reopened.GetAsync("a");
        Assert.NotNull(a);
        Assert.Equal("first", a.Metadata.Tags["album"]);
        Assert.Equal(first.Regions.Select(r => r.Box), a.Regions.Select(r => r.Box));
        Assert.Equal(before, new FileInfo(LogPath).Length);
    }

    [Fact]
    public async Task Statistics_count_items_and_vectors()
    {
        var random = new Random(5);
        using var index = await OpenAsync(0);
        await index.UpsertAsync(Item("a", 3, random, "x"));
        await index.UpsertAsync(Item("b", 0, random, "x"));

        Assert.Equal(2, index.Statistics.Count);
        Assert.Equal(5, index.Statistics.Vectors);
        Assert.Equal(5L * Dimension * sizeof(float), index.Statistics.VectorMemoryBytes);
    }

    /// <summary>Every item reads back as written, and searches give each item once at the best of its vectors.</summary>
    private static async Task AssertMatchesAsync(LocalVectorIndex index, Dictionary<string, VectorRecord> model, Random random)
    {
        Assert.Equal(model.Count, await index.CountAsync());
        Assert.Equal(model.Values.Sum(r => 1 + r.Regions.Count), index.Statistics.Vectors);
        foreach (var expected in model.Values)
        {
            var stored = await index.GetAsync(expected.Id);
            Assert.NotNull(stored);
            Assert.Equal(expected.Vector, stored.Vector);
            Assert.Equal(expected.Metadata.Tags["album"], stored.Metadata.Tags["album"]);
            Assert.Equal(expected.Regions.Select(r => r.Box), stored.Regions.Select(r => r.Box));
            Assert.Equal(expected.Regions.Select(r => r.Vector), stored.Regions.Select(r => r.Vector));
        }

        for (var q = 0; q < 10; q++)
        {
            var query = Unit(random);
            var expected = model.Values
                .Select(r => Best(r, query))
                .OrderByDescending(b => b.Score).ThenBy(b => b.Id, StringComparer.Ordinal)
                .Take(5).ToList();
            var hits = await index.SearchAsync(query, new VectorQuery(5));
            Assert.Equal(expected.Select(e => e.Id), hits.Select(h => h.Id));
            for (var i = 0; i < hits.Count; i++)
            {
                Assert.Equal(expected[i].Score, hits[i].Score, 1e-5f);
                Assert.Equal(expected[i].Region, hits[i].Region);
            }
        }
    }

    private static (string Id, float Score, RegionBox? Region) Best(VectorRecord record, float[] query)
    {
        var best = (record.Id, Score: TensorPrimitives.Dot(query, record.Vector), Region: (RegionBox?)null);
        foreach (var region in record.Regions)
        {
            var score = TensorPrimitives.Dot(query, region.Vector);
            if (score > best.Score) best = (record.Id, score, region.Box);
        }

        return best;
    }

    private static VectorRecord Item(string id, int regions, Random random, string album) =>
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
            Regions = [.. Enumerable.Range(0, regions).Select(i => new RegionVector(Unit(random), new RegionBox(i * 10, random.Next(100), 32 + i, 24)))],
        };

    private static float[] Unit(Random random)
    {
        var v = new float[Dimension];
        for (var i = 0; i < v.Length; i++) v[i] = (float)(random.NextDouble() * 2 - 1);
        var norm = MathF.Sqrt(TensorPrimitives.Dot(v, v));
        for (var i = 0; i < v.Length; i++) v[i] /= norm;
        return v;
    }

    private async Task<LocalVectorIndex> OpenAsync(int annThreshold)
    {
        var index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = false, AnnThreshold = annThreshold }), NullLogger<LocalVectorIndex>.Instance);
        await index.InitializeAsync(Schema);
        return index;
    }
}
