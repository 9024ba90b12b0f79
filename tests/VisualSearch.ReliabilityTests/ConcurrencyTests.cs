using System.Collections.Concurrent;
using System.Net;
using System.Numerics.Tensors;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.ReliabilityTests.Infrastructure;

namespace VisualSearch.ReliabilityTests;

/// <summary>Parallel ingests and searches against one index stay consistent.</summary>
[Collection(EngineCollection.Name)]
public sealed class ConcurrencyTests(EngineFixture engine)
{
    private const int Dimension = 512;

    [Fact]
    public async Task Writers_readers_and_compaction_on_one_local_index_stay_consistent_and_survive_reopen()
    {
        using var dir = new TempDirectory("vs-rel-concurrency-");
        var options = Options.Create(new LocalIndexOptions { Path = dir.Path, FlushToDisk = false });
        var schema = new IndexSchema("model-x", Dimension);
        var final = new ConcurrentDictionary<string, int>(StringComparer.Ordinal); // id -> version, or -1 deleted
        var errors = new ConcurrentQueue<string>();
        using (var index = new LocalVectorIndex(options, NullLogger<LocalVectorIndex>.Instance))
        {
            await index.InitializeAsync(schema);
            using var stop = new CancellationTokenSource();

            // Four writers, each owning its ids (so the last write of an id is known), 1,500 operations each:
            // enough rewrites of 150 ids to trigger several log compactions under load.
            var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                var random = new Random(w);
                for (var op = 0; op < 1500; op++)
                {
                    var id = $"w{w}/{random.Next(150):D3}";
                    if (random.Next(10) == 0)
                    {
                        await index.DeleteAsync(id);
                        final[id] = -1;
                    }
                    else
                    {
                        await index.UpsertAsync(Record(id, op, schema.ModelId));
                        final[id] = op;
                    }
                }
            })).ToList();

            // Four readers until the writers are done: every record seen is whole (its vector is the one its metadata names).
            var readers = Enumerable.Range(0, 4).Select(r => Task.Run(async () =>
            {
                var random = new Random(100 + r);
                while (!stop.IsCancellationRequested)
                {
                    var id = $"w{random.Next(4)}/{random.Next(150):D3}";
                    if (await index.GetAsync(id) is { } record && !record.Vector.SequenceEqual(VectorFor(id, int.Parse(record.Metadata.ETag!, System.Globalization.CultureInfo.InvariantCulture))))
                        errors.Enqueue($"torn record {id}");
                    var hits = await index.SearchAsync(VectorFor(id, random.Next(1500)), new VectorQuery(10));
                    if (hits.Count > 10 || hits.Select(h => h.Id).Distinct().Count() != hits.Count) errors.Enqueue("bad result list");
                    for (var i = 1; i < hits.Count; i++)
                    {
                        if (hits[i].Score > hits[i - 1].Score) errors.Enqueue("results not sorted");
                    }

                    _ = await index.CountAsync();
                }
            })).ToList();

            await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(120));
            await stop.CancelAsync();
            await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Empty(errors);
            await AssertStateAsync(index, final);
        }

        // The log on disk (compacted several times while written) replays to the same state.
        using var reopened = new LocalVectorIndex(options, NullLogger<LocalVectorIndex>.Instance);
        await reopened.InitializeAsync(schema);
        await AssertStateAsync(reopened, final);
    }

    [Fact]
    public async Task Parallel_ingests_and_http_searches_on_one_host_give_no_5xx_and_the_last_content_wins()
    {
        await using var host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?> { ["Api:PermitsPerSecond"] = "0" });
        await host.IngestPhotosAsync(["chelsea.png", "coffee.png", "astronaut.png"]);
        var ingestion = host.Services.GetService(typeof(IngestionService)) as IngestionService ?? throw new InvalidOperationException();

        // 24 ids, each written three times with different pictures, by two workers, while four clients search.
        var versions = Enumerable.Range(0, 24).SelectMany(i => Enumerable.Range(0, 3).Select(v => (Id: $"par/{i:D2}.jpg", Version: v, Bytes: TestImages.Photo(i * 10 + v, 160, 120, ImageFormat.Jpeg)))).ToList();
        var last = versions.GroupBy(v => v.Id).ToDictionary(g => g.Key, g => g.Last().Bytes);
        using var stop = new CancellationTokenSource();
        var statuses = new ConcurrentBag<int>();
        var searchers = Enumerable.Range(0, 4).Select(s => Task.Run(async () =>
        {
            var random = new Random(s);
            var query = TestImages.Photo(700 + s, 200, 150, ImageFormat.Jpeg);
            while (!stop.IsCancellationRequested)
            {
                using var response = s % 2 == 0
                    ? await host.Client.GetAsync($"/api/search?k=5&id={Uri.EscapeDataString(random.Next(2) == 0 ? "chelsea.png" : $"par/{random.Next(24):D2}.jpg")}")
                    : await host.PostImageAsync("/api/search?k=5", query);
                statuses.Add((int)response.StatusCode);
                if (response.StatusCode == HttpStatusCode.OK) Http.ResultIds(await Http.JsonAsync(response));
            }
        })).ToList();

        // Per id the versions go in order (one worker per id), ids in parallel.
        await Parallel.ForEachAsync(versions.GroupBy(v => v.Id), new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (group, ct) =>
        {
            foreach (var (id, version, bytes) in group)
            {
                var result = await ingestion.IngestAsync(new IngestRequest { Id = id, Source = "par", Name = id, ETag = $"\"{version}\"" },
                    _ => Task.FromResult<Stream>(new MemoryStream(bytes)), ct);
                Assert.Equal(IngestOutcome.Indexed, result.Outcome);
            }
        });
        await stop.CancelAsync();
        await Task.WhenAll(searchers).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.NotEmpty(statuses);
        Assert.All(statuses, s => Assert.True(s is 200 or 404, $"status {s}"));
        Assert.Equal(3 + last.Count, await host.CountAsync());
        foreach (var (id, bytes) in last)
        {
            using var item = await host.Client.GetAsync($"/api/items/{id}");
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), (await Http.JsonAsync(item)).GetProperty("metadata").GetProperty("contentHash").GetString());
        }

        // The stored vector is the last picture's: searching with it finds the id at a score of 1.
        foreach (var id in last.Keys.Take(4))
        {
            using var search = await host.PostImageAsync("/api/search?k=1", last[id]);
            var top = (await Http.JsonAsync(search)).GetProperty("results")[0];
            Assert.Equal(id, top.GetProperty("id").GetString());
            Assert.True(top.GetProperty("score").GetSingle() > 0.999f);
        }
    }

    [Fact]
    public async Task A_slow_ingest_of_an_older_version_finishing_last_is_skipped_when_versions_are_ordered()
    {
        using var store = new Engine(engine);
        var older = TestImages.Photo(801, 200, 150, ImageFormat.Png);
        var newer = TestImages.Photo(802, 200, 150, ImageFormat.Png);
        var t1 = new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var slow = store.Ingestion.IngestAsync(Engine.Request("x", "\"1\"", t1, skipOlder: true), async _ =>
        {
            opened.SetResult();
            await release.Task;
            return new MemoryStream(older);
        });
        await opened.Task;
        var fast = await store.Ingestion.IngestAsync(Engine.Request("x", "\"2\"", t1.AddSeconds(5), skipOlder: true), _ => Task.FromResult<Stream>(new MemoryStream(newer)));
        Assert.Equal(IngestOutcome.Indexed, fast.Outcome);
        release.SetResult();

        var late = await slow.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(IngestOutcome.Unchanged, late.Outcome);
        var stored = await store.Index.GetAsync("x");
        Assert.Equal("\"2\"", stored!.Metadata.ETag);
        Assert.Equal(engine.Embed(newer), stored.Vector);
        Assert.Single(store.Logs.WithEventId(14));

        // Files (no version order: a restored file may carry an older time) are written as they come.
        var file = await store.Ingestion.IngestAsync(Engine.Request("x", "\"3\"", t1, skipOlder: false), _ => Task.FromResult<Stream>(new MemoryStream(older)));
        Assert.Equal(IngestOutcome.Indexed, file.Outcome);
        Assert.Equal(engine.Embed(older), (await store.Index.GetAsync("x"))!.Vector);
    }

    private static async Task AssertStateAsync(LocalVectorIndex index, IReadOnlyDictionary<string, int> final)
    {
        Assert.Equal(final.Count(f => f.Value >= 0), await index.CountAsync());
        foreach (var (id, version) in final)
        {
            var record = await index.GetAsync(id);
            if (version < 0)
            {
                Assert.Null(record);
                continue;
            }

            Assert.NotNull(record);
            Assert.Equal(version.ToString(System.Globalization.CultureInfo.InvariantCulture), record.Metadata.ETag);
            Assert.Equal(VectorFor(id, version), record.Vector);
            var top = Assert.Single(await index.SearchAsync(record.Vector, new VectorQuery(1)));
            Assert.Equal(id, top.Id);
            Assert.True(top.Score > 0.9999f);
        }
    }

    private static VectorRecord Record(string id, int version, string modelId) => new(id, VectorFor(id, version), new ItemMetadata
    {
        Source = "stress",
        Name = id,
        ETag = version.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ContentHash = $"{id}@{version}",
        ContentType = "image/png",
        ModelId = modelId,
    });

    /// <summary>A unit vector determined by (id, version).</summary>
    private static float[] VectorFor(string id, int version)
    {
        var seed = 0;
        foreach (var c in id) seed = unchecked(seed * 31 + c);
        var random = new Random(unchecked(seed * 7919 + version));
        var v = new float[Dimension];
        for (var i = 0; i < v.Length; i++) v[i] = (float)(random.NextDouble() * 2 - 1);
        TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
        return v;
    }
}
