using System.Numerics.Tensors;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VisualSearch.Embedding;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;
using VisualSearch.Testing;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Search;

/// <summary>
/// Float32 queries against int8 items (issue 13, Encoder:QueryPrecision; docs/quality.md section 6g), through the engine
/// as a host composes it, the real decoder, the real float32 and int8 ResNet18 and the embedded index: items are ingested
/// and stored int8 under the int8 model id, a search by image embeds its query with the float model and finds the bundled
/// photos' edited copies, a search by id uses the stored vector, and the setting is validated at start.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class QueryPrecisionTests(EncoderFixture fixture) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Float32_queries_are_opt_in_and_only_change_int8_items_on_the_cpu()
    {
        Assert.Equal(QueryPrecision.Same, new EncoderOptions().QueryPrecision);
        Assert.Null(new EncoderOptions { Precision = EncoderPrecision.Int8 }.ForQueries());
        Assert.Null(new EncoderOptions { QueryPrecision = QueryPrecision.Float32 }.ForQueries());
        Assert.Null(new EncoderOptions { QueryPrecision = QueryPrecision.Float32, Precision = EncoderPrecision.Int8, ExecutionProvider = ExecutionProvider.Cuda }.ForQueries());

        var items = new EncoderOptions
        {
            Precision = EncoderPrecision.Int8, QueryPrecision = QueryPrecision.Float32, Descriptor = DescriptorMode.FeatureMap,
            CopyDescriptor = CopyDescriptorMode.FeatureMap, Int8CachePath = "/tmp/models", IntraOpThreads = 2,
        };
        var query = items.ForQueries()!;
        // The float model over the centre crop the int8 model computes (whatever Descriptor says), no copy space of its own.
        Assert.Equal((EncoderPrecision.Float32, QueryPrecision.Same, DescriptorMode.CentreCrop, CopyDescriptorMode.None),
            (query.Precision, query.QueryPrecision, query.Descriptor, query.CopyDescriptor));
        Assert.Equal((false, 0, 2, items.ModelPath), (query.Regions, query.DetailRegionSide, query.IntraOpThreads, query.ModelPath));
        Assert.False(query.EffectiveAllowSpinning);
        // The items' options are left as they were.
        Assert.Equal((EncoderPrecision.Int8, QueryPrecision.Float32, DescriptorMode.FeatureMap), (items.Precision, items.QueryPrecision, items.Descriptor));
    }

    [Theory]
    [InlineData("Float32", "Float32", false)]
    [InlineData("Int8", "Same", false)]
    [InlineData("Int8", "Float32", true)]
    [InlineData("Int8", "float32", true)]
    public async Task The_query_encoder_is_composed_only_for_float32_queries_against_int8_items(string precision, string queryPrecision, bool composed)
    {
        using var host = BuildHost(new() { ["Encoder:Precision"] = precision, ["Encoder:QueryPrecision"] = queryPrecision });
        await host.StartAsync();
        var queries = host.Services.GetService<QueryEncoder>();
        Assert.Equal(composed, queries is not null);
        if (queries is not null)
        {
            Assert.Equal(fixture.Float32.Model.Id, queries.Encoder.Model.Id);
            Assert.Equal(fixture.Int8.Model.Id, host.Services.GetRequiredService<IImageEncoder>().Model.Id);
        }

        await host.StopAsync();
    }

    [Theory]
    [InlineData("7", "Encoder:QueryPrecision is Same or Float32")]
    [InlineData("Float16", "Encoder:QueryPrecision")]
    public async Task A_bad_query_precision_is_refused_at_start(string value, string named)
    {
        using var host = BuildHost(new() { ["Encoder:Precision"] = "Int8", ["Encoder:QueryPrecision"] = value });
        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Float32_queries_with_a_head_are_refused_at_start()
    {
        var headPath = Path.Combine(_dir.Path, "int8.head");
        new ProjectionHead(fixture.Int8.Model.Id, new float[512], new float[512 * 8], 8).Save(headPath);
        using var host = BuildHost(new() { ["Encoder:Precision"] = "Int8", ["Encoder:QueryPrecision"] = "Float32", ["Encoder:HeadPath"] = headPath });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Encoder:HeadPath", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Items_stay_int8_and_float32_queries_find_the_bundled_photos_copies()
    {
        using var host = BuildHost(new() { ["Encoder:Precision"] = "Int8", ["Encoder:QueryPrecision"] = "Float32" });
        await host.StartAsync();
        var ingestion = host.Services.GetRequiredService<IngestionService>();
        var search = host.Services.GetRequiredService<SearchService>();
        foreach (var name in SamplePhotos.All)
            Assert.Equal(IngestOutcome.Indexed, (await ingestion.IngestAsync(EngineHarness.Request(name), new MemoryStream(SamplePhotos.Read(name)))).Outcome);

        // Every stored vector is the int8 model's, under its id: what the int8 encoder alone makes of the photo.
        var index = await host.Services.GetRequiredService<VectorIndexAccessor>().GetAsync();
        foreach (var name in SamplePhotos.All)
        {
            var stored = (await index.GetAsync(name))!;
            Assert.Equal(fixture.Int8.Model.Id, stored.Metadata.ModelId);
            var int8 = fixture.Int8.Embed(fixture.Decoder.Prepare(SamplePhotos.Read(name), fixture.Int8.Input)).Vector;
            Assert.Equal(1f, EncoderFixture.Cosine(int8, stored.Vector), 1e-5f);
        }

        foreach (var name in SamplePhotos.All)
        {
            // An edited copy (crop, half size, JPEG 30) finds its photo first; the answer names the stored (int8) model,
            // and the scores are the float32 query's against the stored int8 vectors.
            var copy = TestImages.EditedCopy(SamplePhotos.Read(name));
            var response = await search.SearchByImageAsync(copy, new SearchQuery(k: 3), OwnerScope.Everyone);
            Assert.Equal(fixture.Int8.Model.Id, response.Model);
            Assert.Equal(name, response.Results[0].Id);
            var query = fixture.Float32.Embed(fixture.Decoder.Prepare(copy, fixture.Float32.Input)).Vector;
            var stored = (await index.GetAsync(name))!.Vector;
            Assert.Equal(TensorPrimitives.Dot(query, stored), response.Results[0].Score, 1e-4f);
            var int8Query = fixture.Int8.Embed(fixture.Decoder.Prepare(copy, fixture.Int8.Input)).Vector;
            Assert.NotEqual(TensorPrimitives.Dot(int8Query, stored), response.Results[0].Score, 1e-6f);
        }

        // A search by an indexed item uses its stored vector: the nearest other photo scores the stored vectors' cosine.
        var byId = (await search.SearchByIdAsync("coffee.png", new SearchQuery(k: 1), OwnerScope.Everyone))!;
        Assert.Equal(fixture.Int8.Model.Id, byId.Model);
        var own = (await index.GetAsync("coffee.png"))!.Vector;
        var nearest = (await index.GetAsync(byId.Results[0].Id))!.Vector;
        Assert.Equal(TensorPrimitives.Dot(own, nearest), byId.Results[0].Score, 1e-4f);
        await host.StopAsync();
    }

    /// <summary>The engine as a host composes it, over the embedded index in this test's folder and the fixture's int8 model.</summary>
    private IHost BuildHost(Dictionary<string, string?> settings) =>
        EngineHosts.Build(settings, Path.Combine(_dir.Path, "host-" + Guid.NewGuid().ToString("N")), fixture.Options(EncoderPrecision.Int8).Int8CachePath);
}
