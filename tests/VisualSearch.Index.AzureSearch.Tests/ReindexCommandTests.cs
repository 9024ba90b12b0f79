using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VisualSearch.Cli;
using VisualSearch.Embedding;
using VisualSearch.Hosting;
using VisualSearch.Index.AzureSearch.Tests.Fake;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;
using VisualSearch.Testing;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>
/// <c>vsearch reindex</c> end to end, on the embedded index and on Azure AI Search (over the in-process REST
/// endpoint): the real ResNet18 encoder embeds the sample photos; a model change is a change of
/// Encoder:ModelName (a new model id, as a new model file would give). Hosts are composed as the real ones are.
/// </summary>
public sealed class ReindexCommandTests : IDisposable
{
    private const string ModelA = "resnet18";
    private const string ModelB = "resnet18-v2";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vsearch-reindex-" + Guid.NewGuid().ToString("N"));
    private readonly FakeSearchService _service = new();

    private static string Photos => Path.Combine(AppContext.BaseDirectory, "fixtures");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    [Theory]
    [InlineData(VectorIndexOptions.Local)]
    [InlineData(VectorIndexOptions.AzureSearch)]
    public async Task A_model_change_followed_by_reindex_switches_queries_without_mixing_models(string provider)
    {
        var first = await ReindexAsync(provider, ModelA);
        Assert.True(first.Code == 0, first.Output + first.Error);
        Assert.Contains("Indexed 8, unchanged 0, rejected 0 of 8 images", first.Output, StringComparison.Ordinal);
        Assert.Contains("no model is current yet", first.Output, StringComparison.Ordinal);

        // A host serving model A.
        using var serving = await StartHostAsync(provider, ModelA);
        var search = serving.Services.GetRequiredService<SearchService>();
        var modelA = serving.Services.GetRequiredService<IImageEncoder>().Model.Id;
        var before = await search.SearchByIdAsync("chelsea.png", new SearchQuery(3), OwnerScope.Everyone);
        Assert.NotNull(before);
        Assert.Equal(3, before.Results.Count);

        // The model changes: reindex while the host keeps answering, from the old index.
        var reindex = ReindexAsync(provider, ModelB);
        var queries = 0;
        while (!reindex.IsCompleted)
        {
            var during = await search.SearchByIdAsync("chelsea.png", new SearchQuery(3), OwnerScope.Everyone);
            Assert.NotNull(during);
            Assert.Equal(modelA, during.Model);
            Assert.All(during.Results, h => Assert.Equal(modelA, h.Metadata.ModelId));
            Assert.Equal(before.Results.Select(h => h.Id), during.Results.Select(h => h.Id));
            queries++;
            await Task.Delay(20);
        }

        var second = await reindex;
        Assert.True(second.Code == 0, second.Output + second.Error);
        Assert.True(queries > 0);
        Assert.Contains($"queries keep using model {modelA} until the switch", second.Output, StringComparison.Ordinal);
        Assert.Contains("Switched: model resnet18-v2-", second.Output, StringComparison.Ordinal);
        Assert.Contains("Kept the previous version", second.Output, StringComparison.Ordinal);

        // The pointer names the new model; the running host still answers from its own (old) index.
        var catalog = serving.Services.GetRequiredService<IVectorIndexCatalog>();
        var modelB = (await catalog.GetCurrentAsync())?.ModelId;
        Assert.StartsWith("resnet18-v2-", modelB, StringComparison.Ordinal);
        var after = await search.SearchByIdAsync("chelsea.png", new SearchQuery(3), OwnerScope.Everyone);
        Assert.All(after!.Results, h => Assert.Equal(modelA, h.Metadata.ModelId));

        // A host started with the new model answers from the new index.
        using (var next = await StartHostAsync(provider, ModelB))
        {
            var fresh = await next.Services.GetRequiredService<SearchService>().SearchByIdAsync("chelsea.png", new SearchQuery(3), OwnerScope.Everyone);
            Assert.NotNull(fresh);
            Assert.Equal(modelB, fresh.Model);
            Assert.All(fresh.Results, h => Assert.Equal(modelB, h.Metadata.ModelId));
            Assert.Equal(before.Results.Select(h => h.Id), fresh.Results.Select(h => h.Id));
            Assert.Equal(8, (await next.Services.GetRequiredService<SearchService>().GetHealthAsync()).Count);
        }

        // A host still configured with the old model fails loudly, with the fix in the message.
        using var stale = await StartHostAsync(provider, ModelA);
        var ex = await Assert.ThrowsAsync<IndexModelMismatchException>(() => stale.Services.GetRequiredService<SearchService>().SearchByIdAsync("chelsea.png", new SearchQuery(3), OwnerScope.Everyone));
        Assert.Equal(modelB, ex.IndexModelId);
        Assert.Contains("vsearch reindex", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_service.Violations);
    }

    [Theory]
    [InlineData(VectorIndexOptions.Local)]
    [InlineData(VectorIndexOptions.AzureSearch)]
    public async Task A_serving_host_whose_model_does_not_match_the_index_stops_at_start(string provider)
    {
        Assert.Equal(0, (await ReindexAsync(provider, ModelA)).Code);

        using var host = BuildHost(provider, ModelB, warmUp: true);
        var stopped = new TaskCompletionSource();
        host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => stopped.TrySetResult());
        try
        {
            await host.StartAsync();
            await stopped.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(1, Environment.ExitCode);
        }
        finally
        {
            Environment.ExitCode = 0;

            // As Run() would: stop the services (the warm-up inference) before the host is disposed.
            await host.StopAsync();
        }
    }

    [Theory]
    [InlineData(VectorIndexOptions.Local)]
    [InlineData(VectorIndexOptions.AzureSearch)]
    public async Task Reindexing_the_current_model_catches_up_in_place_and_prune_removes_old_versions(string provider)
    {
        Assert.Equal(0, (await ReindexAsync(provider, ModelA)).Code);

        var again = await ReindexAsync(provider, ModelA);
        Assert.Equal(0, again.Code);
        Assert.Contains("is already current", again.Output, StringComparison.Ordinal);
        Assert.Contains("Indexed 0, unchanged 8", again.Output, StringComparison.Ordinal);

        var pruned = await ReindexAsync(provider, ModelB, "--prune");
        Assert.True(pruned.Code == 0, pruned.Output + pruned.Error);
        Assert.Contains("Deleted the previous version", pruned.Output, StringComparison.Ordinal);
        using var host = BuildHost(provider, ModelB);
        var versions = await host.Services.GetRequiredService<IVectorIndexCatalog>().ListVersionsAsync();
        Assert.Single(versions);
    }

    [Fact]
    public async Task A_compression_change_is_a_new_version_that_reindex_builds_and_switches_to()
    {
        // An index of an earlier release: uncompressed, originals retrievable (its name has no suffix).
        Dictionary<string, string?> earlier = new() { ["AzureSearch:VectorCompression"] = "None", ["AzureSearch:StoreOriginalVectors"] = "true" };
        var first = await ReindexAsync(VectorIndexOptions.AzureSearch, ModelA, settings: earlier);
        Assert.True(first.Code == 0, first.Output + first.Error);
        var uncompressed = Assert.Single(_service.IndexNames, n => n != "images-meta");
        Assert.DoesNotContain("-sq8", uncompressed, StringComparison.Ordinal);

        // A host with the new defaults keeps serving that index as it is (no definition change is sent), search by id included.
        string[] ids = ["chelsea.png", "coffee.png", "retina.jpg"];
        var before = new Dictionary<string, IReadOnlyList<SearchHit>>();
        using (var serving = await StartHostAsync(VectorIndexOptions.AzureSearch, ModelA))
        {
            var puts = _service.Requests.Count(r => r.Operation == "put-index");
            foreach (var id in ids) before[id] = (await serving.Services.GetRequiredService<SearchService>().SearchByIdAsync(id, new SearchQuery(5), OwnerScope.Everyone))!.Results;
            Assert.Equal(puts, _service.Requests.Count(r => r.Operation == "put-index"));
        }

        var second = await ReindexAsync(VectorIndexOptions.AzureSearch, ModelA);
        Assert.True(second.Code == 0, second.Output + second.Error);
        Assert.Contains("the index settings changed", second.Output, StringComparison.Ordinal);
        Assert.Contains("Indexed 8, unchanged 0", second.Output, StringComparison.Ordinal);
        Assert.Contains("Switched", second.Output, StringComparison.Ordinal);
        var compressed = Assert.Single(_service.IndexNames, n => n != "images-meta" && n != uncompressed);
        Assert.Equal(uncompressed + "-sq8-ns", compressed);
        Assert.Equal(compressed, (string)_service.Documents("images-meta")["current"]["indexName"]!);
        Assert.NotNull(_service.Definition(compressed)!["vectorSearch"]!["compressions"]);

        // Search by id on the compressed index (the vector read from the compact copy): the same neighbours, the same scores.
        using var next = await StartHostAsync(VectorIndexOptions.AzureSearch, ModelA);
        var search = next.Services.GetRequiredService<SearchService>();
        foreach (var id in ids)
        {
            var hits = (await search.SearchByIdAsync(id, new SearchQuery(5), OwnerScope.Everyone))!.Results;
            Assert.Equal(before[id].Select(h => h.Id), hits.Select(h => h.Id));
            for (var i = 0; i < hits.Count; i++) Assert.Equal(before[id][i].Score, hits[i].Score, 1e-3f);
        }

        Assert.Contains(_service.Requests, r => r.Operation == "lookup" && r.Path.Contains(compressed, StringComparison.Ordinal) && r.Query.Contains("vectorCopy", StringComparison.Ordinal));
        Assert.Equal(compressed, (await next.Services.GetRequiredService<IVectorIndexCatalog>().GetCurrentAsync())?.Name);
        Assert.Empty(_service.Violations);
    }

    [Theory]
    [InlineData(VectorIndexOptions.Local)]
    [InlineData(VectorIndexOptions.AzureSearch)]
    public async Task A_reindex_that_stores_nothing_does_not_switch(string provider)
    {
        Assert.Equal(0, (await ReindexAsync(provider, ModelA)).Code);
        var empty = Directory.CreateTempSubdirectory("vsearch-empty-").FullName;

        var result = await ReindexAsync(provider, ModelB, source: empty);
        Directory.Delete(empty);

        Assert.Equal(1, result.Code);
        Assert.Contains("not switching", result.Error, StringComparison.Ordinal);
        using var host = BuildHost(provider, ModelA);
        Assert.StartsWith("resnet18-", (await host.Services.GetRequiredService<IVectorIndexCatalog>().GetCurrentAsync())?.ModelId, StringComparison.Ordinal);
        Assert.DoesNotContain("v2", (await host.Services.GetRequiredService<IVectorIndexCatalog>().GetCurrentAsync())?.ModelId, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(VectorIndexOptions.Local)]
    [InlineData(VectorIndexOptions.AzureSearch)]
    public async Task An_index_built_with_float32_moves_to_the_int8_encoder_by_reindex(string provider)
    {
        Assert.Equal(0, (await ReindexAsync(provider, ModelA)).Code);
        string float32;
        using (var host = BuildHost(provider, ModelA))
            float32 = (await host.Services.GetRequiredService<IVectorIndexCatalog>().GetCurrentAsync())!.ModelId;
        Assert.Matches("^resnet18-[0-9a-f]{12}-512$", float32);

        // The int8 encoder is another model: its index is built beside the float32 one, then current.
        var int8Settings = new Dictionary<string, string?> { ["Encoder:Precision"] = nameof(EncoderPrecision.Int8) };
        var result = await ReindexAsync(provider, ModelA, settings: int8Settings);
        Assert.True(result.Code == 0, result.Output + result.Error);
        Assert.Contains("Indexed 8, unchanged 0, rejected 0 of 8 images", result.Output, StringComparison.Ordinal);

        using var serving = await StartHostAsync(provider, ModelA, int8Settings);
        var int8 = (await serving.Services.GetRequiredService<IVectorIndexCatalog>().GetCurrentAsync())?.ModelId;
        Assert.Matches("^resnet18-[0-9a-f]{12}-int8-512$", int8);
        Assert.Equal(serving.Services.GetRequiredService<IImageEncoder>().Model.Id, int8);
        var hits = await serving.Services.GetRequiredService<SearchService>().SearchByIdAsync("chelsea.png", new SearchQuery(3), OwnerScope.Everyone);
        Assert.NotNull(hits);
        Assert.Equal(3, hits.Results.Count);
        Assert.Equal(int8, hits.Model);
    }

    [Theory]
    [InlineData(VectorIndexOptions.Local)]
    [InlineData(VectorIndexOptions.AzureSearch)]
    public async Task Reindex_fills_the_copy_space_beside_the_category_index_and_copy_search_keeps_owners_apart(string provider)
    {
        Assert.Equal(0, (await ReindexAsync(provider, ModelA)).Code);

        // The copy space switched on (the default's: the flat-masked GeM vector with detail regions at 448, which Azure AI
        // Search stores as documents per region): the current model's reindex embeds every image again, into both.
        var dual = new Dictionary<string, string?> { ["Encoder:CopyDescriptor"] = "FeatureMap" };
        var filled = await ReindexAsync(provider, ModelA, settings: dual);
        Assert.True(filled.Code == 0, filled.Output + filled.Error);
        Assert.Contains("is already current", filled.Output, StringComparison.Ordinal);
        Assert.Contains("Indexed 8, unchanged 0", filled.Output, StringComparison.Ordinal);
        Assert.Matches(@"The copy space .* \(model resnet18-[0-9a-f]{12}-map-gem3-s224-flat-dr448c3-4n60-512\) holds 8\.", filled.Output);
        var again = await ReindexAsync(provider, ModelA, settings: dual);
        Assert.Contains("Indexed 0, unchanged 8", again.Output, StringComparison.Ordinal);

        // A new model with --prune: both spaces are built for it; the old category and copy versions go, the new copy version stays.
        var moved = await ReindexAsync(provider, ModelB, "--prune", settings: dual);
        Assert.True(moved.Code == 0, moved.Output + moved.Error);
        Assert.Contains("Switched: model resnet18-v2-", moved.Output, StringComparison.Ordinal);
        using var host = await StartHostAsync(provider, ModelB, dual);
        var copies = host.Services.GetRequiredService<CopySpace>();
        var catalog = host.Services.GetRequiredService<IVectorIndexCatalog>();
        var current = (await catalog.GetCurrentAsync())!;
        Assert.Equal(
            new[] { current.Name, catalog.VersionName(copies.Encoder.Model.Id) }.Order(StringComparer.Ordinal),
            (await catalog.ListVersionsAsync()).Order(StringComparer.Ordinal));
        var search = host.Services.GetRequiredService<SearchService>();
        var health = await search.GetHealthAsync();
        Assert.Equal((8L, copies.Encoder.Model.Id, 8L), (health.Count, health.Copies?.Model, health.Copies?.Count));

        // Two users upload the same photo: each one's copy search finds only their own.
        var ingestion = host.Services.GetRequiredService<IngestionService>();
        var photo = await File.ReadAllBytesAsync(Path.Combine(Photos, "chelsea.png"));
        foreach (var owner in new[] { "alice", "bob" })
        {
            var request = new IngestRequest { Id = $"users/{owner}/cat.png", Source = "file", Name = $"users/{owner}/cat.png", Owner = owner };
            Assert.Equal(IngestOutcome.Indexed, (await ingestion.IngestAsync(request, new MemoryStream(photo))).Outcome);
        }

        var query = new SearchQuery(5) { Space = SearchSpace.Copies };
        var alice = await search.SearchByImageAsync(TestImages.EditedCopy(photo), query, OwnerScope.Of("alice"));
        Assert.Equal((SearchSpace.Copies, copies.Encoder.Model.Id), (alice.Space, alice.Model));
        Assert.Equal(["users/alice/cat.png"], alice.Results.Select(h => h.Id));
        var everyone = await search.SearchByImageAsync(TestImages.EditedCopy(photo), query, OwnerScope.Everyone);
        Assert.Equal("chelsea.png", everyone.Results[0].Id);
        Assert.Null(await search.SearchByIdAsync("users/bob/cat.png", query, OwnerScope.Of("alice")));

        // A removal empties both spaces.
        Assert.True(await ingestion.RemoveAsync("users/bob/cat.png"));
        Assert.Null(await (await copies.Index.GetAsync()).GetAsync("users/bob/cat.png"));
        Assert.Null(await (await host.Services.GetRequiredService<VectorIndexAccessor>().GetAsync()).GetAsync("users/bob/cat.png"));
        if (provider == VectorIndexOptions.AzureSearch)
        {
            Assert.Contains(_service.IndexNames, n => n.Contains("-map-gem3-s224-flat-dr448c3-4n60-512", StringComparison.Ordinal));
            Assert.Empty(_service.Violations);
        }
    }

    private async Task<(int Code, string Output, string Error)> ReindexAsync(string provider, string modelName, string? extra = null, string? source = null, Dictionary<string, string?>? settings = null)
    {
        List<string> argv = ["--from-folder", source ?? Photos, "--workers", "2"];
        if (extra is not null) argv.Add(extra);
        var args = CliArgs.Parse(argv, "from-container", "resume", "prune", "verbose");
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await ReindexCommand.RunAsync(args, stdout, stderr, b => Configure(b, provider, modelName, warmUp: false, settings), CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private async Task<IHost> StartHostAsync(string provider, string modelName, Dictionary<string, string?>? settings = null)
    {
        var host = BuildHost(provider, modelName, settings: settings);
        await host.StartAsync();
        return host;
    }

    /// <summary>A serving host composed as vsearch serve and the Functions host compose theirs.</summary>
    private IHost BuildHost(string provider, string modelName, bool warmUp = false, Dictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
        Configure(builder, provider, modelName, warmUp, settings);
        builder.AddVisualSearchEngine();
        builder.AddVectorIndex();
        return builder.Build();
    }

    /// <param name="extra">Settings beside the provider's (e.g. the Azure AI Search vector compression).</param>
    private void Configure(IHostApplicationBuilder builder, string provider, string modelName, bool warmUp, Dictionary<string, string?>? extra = null)
    {
        var settings = provider == VectorIndexOptions.AzureSearch
            ? _service.Settings("images")
            : new Dictionary<string, string?> { ["VectorIndex:Provider"] = "Local", ["LocalIndex:Path"] = _root, ["LocalIndex:FlushToDisk"] = "false" };
        settings["Encoder:ModelName"] = modelName;
        settings["Encoder:WarmUpOnStart"] = warmUp ? "true" : "false";
        // One vector per item unless a test switches the copy space on (these tests were written for that switch; the
        // default holds it since session 11).
        settings["Encoder:CopyDescriptor"] = "None";
        foreach (var (key, value) in extra ?? []) settings[key] = value;
        builder.Configuration.AddInMemoryCollection(settings);
        if (provider == VectorIndexOptions.AzureSearch) builder.Services.AddSingleton(new AzureSearchClientSettings { Transport = _service.Transport() });
    }
}
