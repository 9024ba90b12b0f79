using System.Numerics.Tensors;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Duplicates;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Duplicates;

/// <summary>
/// The service over the real embedded index (exact scan, and the HNSW graph from a low threshold) with hand-made
/// vectors of the real model's id and dimension: groups, the incremental self-join, decisions on disk.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class DuplicateServiceTests(EncoderFixture fixture) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly List<IDisposable> _open = [];

    public void Dispose()
    {
        foreach (var d in _open) d.Dispose();
        _dir.Dispose();
    }

    [Theory]
    [InlineData(0)] // exact scan
    [InlineData(64)] // graph from 64 records
    public async Task Groups_exact_and_near_copies_among_unrelated_items(int annThreshold)
    {
        var (index, service) = Open("v1", annThreshold);
        var random = new Random(7);
        var a = Unit(random);
        var b = Unit(random);
        await Put(index, "a/original.jpg", a, "ha");
        await Put(index, "a/resaved.jpg", Near(a, random, 0.15f), "ha2");
        await Put(index, "a/copy.jpg", a, "ha"); // the same bytes under another name
        await Put(index, "b/original.jpg", b, "hb");
        await Put(index, "b/copy.jpg", b, "hb");
        for (var i = 0; i < 100; i++) await Put(index, $"other/{i:D3}.jpg", Unit(random), $"o{i}");

        Assert.Equal(annThreshold == 0 ? "exact" : "hnsw", index.Statistics.Mode);

        var page = await service.GetGroupsAsync(new DuplicateQuery(MinScore: 0.9f));

        Assert.Equal(2, page.Total);
        Assert.Null(page.NextCursor);
        var first = page.Groups[0];
        Assert.Equal(["a/copy.jpg", "a/original.jpg", "a/resaved.jpg"], first.Items);
        Assert.Equal(DuplicateKind.Near, first.Kind);
        Assert.Contains(first.Pairs, p => p is { A: "a/copy.jpg", B: "a/original.jpg", Kind: DuplicateKind.Exact });
        var near = Assert.Single(first.Pairs, p => p.Kind == DuplicateKind.Near);
        Assert.InRange(near.Score, 0.9f, 0.999f);
        var resaved = (await index.GetAsync("a/resaved.jpg"))!.Vector;
        Assert.Equal(TensorPrimitives.Dot(a, resaved), near.Score, 4);
        var second = page.Groups[1];
        Assert.Equal(DuplicateKind.Exact, second.Kind);
        Assert.Equal(["b/copy.jpg", "b/original.jpg"], second.Items);
    }

    [Fact]
    public async Task Paging_walks_the_groups_largest_first()
    {
        var (index, service) = Open("v1");
        var random = new Random(3);
        for (var g = 0; g < 5; g++)
        {
            var v = Unit(random);
            for (var c = 0; c <= g + 1; c++) await Put(index, $"g{g}/{c}.jpg", Near(v, random, 0.05f), $"g{g}c{c}");
        }

        var one = await service.GetGroupsAsync(new DuplicateQuery(0.9f, Limit: 2));
        var two = await service.GetGroupsAsync(new DuplicateQuery(0.9f, Limit: 2, Offset: int.Parse(one.NextCursor!)));
        var three = await service.GetGroupsAsync(new DuplicateQuery(0.9f, Limit: 2, Offset: int.Parse(two.NextCursor!)));

        Assert.Equal([6, 5, 4, 3, 2], one.Groups.Concat(two.Groups).Concat(three.Groups).Select(g => g.Items.Count));
        Assert.Null(three.NextCursor);
        Assert.Equal(5, one.Total);
    }

    [Fact]
    public async Task A_second_grouping_queries_only_new_and_changed_items_and_follows_deletions()
    {
        var (index, service) = Open("v1");
        var random = new Random(11);
        var a = Unit(random);
        await Put(index, "a1.jpg", a, "1");
        await Put(index, "a2.jpg", Near(a, random, 0.1f), "2");
        for (var i = 0; i < 20; i++) await Put(index, $"x{i}.jpg", Unit(random), $"x{i}");
        Assert.Equal(["a1.jpg", "a2.jpg"], Assert.Single((await service.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups).Items);

        // A new copy: found from its own side although the earlier items are not queried again.
        await Put(index, "a3.jpg", Near(a, random, 0.1f), "3");
        var grown = Assert.Single((await service.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups);
        Assert.Equal(["a1.jpg", "a2.jpg", "a3.jpg"], grown.Items);

        // A changed item (new bytes, no longer similar) loses its pairs; a deleted one leaves the group.
        await Put(index, "a2.jpg", Unit(random), "2b");
        await index.DeleteAsync("a3.jpg");
        Assert.Empty((await service.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups);
        // A lower threshold than the pairs were found at starts the self-join over (and still finds nothing extra).
        Assert.Empty((await service.GetGroupsAsync(new DuplicateQuery(0.5f))).Groups);
    }

    [Fact]
    public async Task Not_duplicates_holds_across_a_restart_and_a_reindex()
    {
        var decisions = Path.Combine(_dir.Path, "decisions.jsonl");
        var random = new Random(5);
        var a = Unit(random);
        var near = Near(a, random, 0.1f);
        var (index, service) = Open("v1", decisionsPath: decisions);
        await Put(index, "burst/1.jpg", a, "1");
        await Put(index, "burst/2.jpg", near, "2");
        Assert.Single((await service.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups);

        Assert.True(await service.MarkNotDuplicatesAsync("burst/2.jpg", "burst/1.jpg"));
        Assert.False(await service.MarkNotDuplicatesAsync("burst/1.jpg", "burst/2.jpg"));
        Assert.Empty((await service.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups);

        // Restart: a new index object over the same directory and a new decision store over the same file.
        index.Dispose();
        _open.Remove(index);
        var (reopened, restarted) = Open("v1", decisionsPath: decisions);
        await reopened.InitializeAsync(new IndexSchema(fixture.Encoder.Model.Id, fixture.Encoder.Model.Dimension));
        Assert.Equal(2, await reopened.CountAsync());
        Assert.Empty((await restarted.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups);

        // Reindex: the same ids in a fresh index (another version directory), vectors written again.
        var (rebuilt, afterReindex) = Open("v2", decisionsPath: decisions);
        await Put(rebuilt, "burst/1.jpg", a, "1");
        await Put(rebuilt, "burst/2.jpg", near, "2");
        Assert.Empty((await afterReindex.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups);
        // Another decision file has no such decision: the pair groups (so the file is what keeps them apart).
        var (_, fresh) = Open("v2b", decisionsPath: Path.Combine(_dir.Path, "other.jsonl"), existing: rebuilt);
        Assert.Single((await fresh.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups);
    }

    [Fact]
    public async Task A_scope_keeps_both_sides_of_every_pair_inside_it()
    {
        var (index, service) = Open("v1");
        var random = new Random(9);
        var a = Unit(random);
        await Put(index, "ana/1.jpg", a, "1", owner: "ana");
        await Put(index, "ana/2.jpg", Near(a, random, 0.1f), "2", owner: "ana");
        await Put(index, "bo/1.jpg", Near(a, random, 0.1f), "3", owner: "bo");

        var all = Assert.Single((await service.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups);
        Assert.Equal(3, all.Items.Count);
        var ana = Assert.Single((await service.GetGroupsAsync(new DuplicateQuery(0.9f, Scope: OwnerScope.Of("ana")))).Groups);
        Assert.Equal(["ana/1.jpg", "ana/2.jpg"], ana.Items);
        Assert.Empty((await service.GetGroupsAsync(new DuplicateQuery(0.9f, Scope: OwnerScope.Of("bo")))).Groups);
    }

    [Fact]
    public async Task Decisions_name_only_items_in_the_scope_and_apply_to_their_owners_groups()
    {
        var decisions = Path.Combine(_dir.Path, "owned.jsonl");
        var (index, service) = Open("v1", decisionsPath: decisions);
        var random = new Random(13);
        var a = Unit(random);
        var b = Unit(random);
        await Put(index, "ana/1.jpg", a, "1", owner: "ana");
        await Put(index, "ana/2.jpg", Near(a, random, 0.1f), "2", owner: "ana");
        await Put(index, "bo/1.jpg", b, "3", owner: "bo");
        await Put(index, "bo/2.jpg", Near(b, random, 0.1f), "4", owner: "bo");
        var ana = OwnerScope.Of("ana");
        var bo = OwnerScope.Of("bo");

        // Bo cannot decide about Ana's items, nor mix them into a decision about his own: null, nothing recorded or deleted.
        Assert.Null(await service.MarkNotDuplicatesAsync("ana/1.jpg", "ana/2.jpg", bo));
        Assert.Null(await service.MarkNotDuplicatesAsync("bo/1.jpg", "ana/1.jpg", bo));
        Assert.Null(await service.KeepAsync("ana/1.jpg", ["ana/2.jpg"], deleteOthers: true, bo));
        Assert.Null(await service.KeepAsync("bo/1.jpg", ["ana/1.jpg", "bo/2.jpg"], deleteOthers: true, bo));
        Assert.Null(await service.MarkNotDuplicatesAsync("bo/1.jpg", "bo/missing.jpg", bo));
        Assert.False(File.Exists(decisions));
        Assert.Equal(4, await index.CountAsync());
        Assert.Single((await service.GetGroupsAsync(new DuplicateQuery(0.9f, Scope: ana))).Groups);

        // Ana's decision splits her group for her and in everyone's view; Bo's group is untouched by it.
        Assert.True(await service.MarkNotDuplicatesAsync("ana/1.jpg", "ana/2.jpg", ana));
        Assert.Empty((await service.GetGroupsAsync(new DuplicateQuery(0.9f, Scope: ana))).Groups);
        Assert.Equal(["bo/1.jpg", "bo/2.jpg"], Assert.Single((await service.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups).Items);
        Assert.Single((await service.GetGroupsAsync(new DuplicateQuery(0.9f, Scope: bo))).Groups);

        // A decision made in everyone's view (the single user, an administrator) applies there only.
        Assert.True(await service.MarkNotDuplicatesAsync("bo/1.jpg", "bo/2.jpg"));
        Assert.Empty((await service.GetGroupsAsync(new DuplicateQuery(0.9f))).Groups);
        Assert.Single((await service.GetGroupsAsync(new DuplicateQuery(0.9f, Scope: bo))).Groups);

        // The owners survive a restart of the store.
        var (_, restarted) = Open("v1b", decisionsPath: decisions, existing: index);
        Assert.Empty((await restarted.GetGroupsAsync(new DuplicateQuery(0.9f, Scope: ana))).Groups);
        Assert.Single((await restarted.GetGroupsAsync(new DuplicateQuery(0.9f, Scope: bo))).Groups);
    }

    [Fact]
    public async Task Bad_queries_are_refused()
    {
        var (_, service) = Open("v1");
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => service.GetGroupsAsync(new DuplicateQuery(1.5f)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => service.GetGroupsAsync(new DuplicateQuery(Limit: 0)));
        await Assert.ThrowsAsync<ArgumentException>(() => service.MarkNotDuplicatesAsync("a.jpg", "a.jpg"));
        await Assert.ThrowsAsync<ArgumentException>(() => service.MarkNotDuplicatesAsync("a.jpg", "../b.jpg"));
    }

    private (LocalVectorIndex Index, DuplicateService Service) Open(string version, int annThreshold = 0, string? decisionsPath = null, LocalVectorIndex? existing = null)
    {
        var index = existing ?? new LocalVectorIndex(
            Options.Create(new LocalIndexOptions { Path = Path.Combine(_dir.Path, version), FlushToDisk = false, AnnThreshold = annThreshold }),
            NullLogger<LocalVectorIndex>.Instance);
        if (existing is null) _open.Add(index);
        var accessor = new VectorIndexAccessor(index, fixture.Encoder);
        var ingestion = new IngestionService(fixture.Decoder, fixture.Encoder, accessor, Options.Create(new ImagingOptions()), fixture.Metrics, TimeProvider.System, NullLogger<IngestionService>.Instance);
        var store = new DuplicateDecisionStore(decisionsPath ?? Path.Combine(_dir.Path, version + ".decisions.jsonl"), TimeProvider.System);
        var service = new DuplicateService(accessor, ingestion, [], store, Options.Create(new DuplicateOptions { Parallelism = 2 }), NullLogger<DuplicateService>.Instance);
        return (index, service);
    }

    private async Task Put(LocalVectorIndex index, string id, float[] vector, string hash, string? owner = null)
    {
        await index.InitializeAsync(new IndexSchema(fixture.Encoder.Model.Id, fixture.Encoder.Model.Dimension));
        await index.UpsertAsync(new VectorRecord(id, vector, new ItemMetadata
        {
            Source = "file",
            Name = id,
            ContentHash = hash,
            ContentType = "image/jpeg",
            ModelId = fixture.Encoder.Model.Id,
            Tags = owner is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["owner"] = owner },
        }));
    }

    private float[] Unit(Random random)
    {
        var v = new float[fixture.Encoder.Model.Dimension];
        for (var i = 0; i < v.Length; i++) v[i] = (float)(random.NextDouble() * 2 - 1);
        TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
        return v;
    }

    /// <summary>The vector moved by noise of <paramref name="amount"/> of its own scale (noise of norm 2 x amount: 0.1 gives a cosine near 0.98).</summary>
    private static float[] Near(float[] v, Random random, float amount)
    {
        var scale = amount * 2 / MathF.Sqrt(v.Length) * MathF.Sqrt(3);
        var result = v.Select(x => x + (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
        TensorPrimitives.Divide(result, TensorPrimitives.Norm(result), result);
        return result;
    }
}
