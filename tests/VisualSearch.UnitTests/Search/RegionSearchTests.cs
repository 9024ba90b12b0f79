using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Search;

/// <summary>
/// Ingestion and search with region vectors (issue 14, index side) through the real decoder, the real ResNet18
/// and the embedded index. The encoder's regional vectors are the other half of the issue, so a wrapper around the
/// real encoder adds them: for the photo "scene" it adds the real embedding of another photo, "detail", as the
/// vector of a region at a known box, as if "detail" were a part of "scene". Everything else is the product's.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class RegionSearchTests(EncoderFixture fixture) : IDisposable
{
    private static readonly RegionBox DetailBox = new(40, 30, 120, 90);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task An_item_is_found_by_its_region_with_the_box_and_search_by_id_uses_its_own_vector()
    {
        var scene = TestImages.Photo(seed: 31, width: 320, height: 240, ImageFormat.Jpeg);
        var detail = TestImages.Photo(seed: 77, width: 200, height: 200, ImageFormat.Png);
        var other = TestImages.Photo(seed: 45, width: 300, height: 300, ImageFormat.Jpeg);
        var encoder = new RegionAddingEncoder(fixture.Encoder, fixture.Embed(scene), new RegionVector(fixture.Embed(detail), DetailBox));
        using var index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = false }), NullLogger<LocalVectorIndex>.Instance);
        var accessor = new VectorIndexAccessor(index, encoder);
        var ingestion = new IngestionService(fixture.Decoder, encoder, accessor, Options.Create(new ImagingOptions()), fixture.Metrics, TimeProvider.System, NullLogger<IngestionService>.Instance);
        var search = new SearchService(fixture.Decoder, encoder, accessor, fixture.Metrics, NullLogger<SearchService>.Instance);

        foreach (var (id, bytes) in new[] { ("scene.jpg", scene), ("other.jpg", other) })
            Assert.Equal(IngestOutcome.Indexed, (await ingestion.IngestAsync(EngineHarness.Request(id), new MemoryStream(bytes))).Outcome);

        // The index was made with regions on (the encoder says so) and the scene keeps its region.
        Assert.Equal([DetailBox], (await index.GetAsync("scene.jpg"))!.Regions.Select(r => r.Box));
        Assert.Empty((await index.GetAsync("other.jpg"))!.Regions);
        Assert.Equal(3, index.Statistics.Vectors);

        // Searching with the detail finds the scene by its region: the item, once, with the box.
        var byDetail = await search.SearchByImageAsync(detail, new SearchQuery(k: 5), OwnerScope.Everyone);
        Assert.Equal(["scene.jpg", "other.jpg"], byDetail.Results.Select(h => h.Id));
        Assert.True(byDetail.Results[0].Score > 0.999f, $"the region's vector is the detail's embedding: {byDetail.Results[0].Score}");
        Assert.Equal(DetailBox, byDetail.Results[0].Region);
        Assert.Null(byDetail.Results[1].Region);

        // Searching by the scene's id uses its own vector: the other photo is scored against it, not against the region.
        var byId = await search.SearchByIdAsync("scene.jpg", new SearchQuery(k: 5), OwnerScope.Everyone);
        var hit = Assert.Single(byId!.Results);
        Assert.Equal("other.jpg", hit.Id);
        Assert.Equal(Cosine(fixture.Embed(scene), fixture.Embed(other)), hit.Score, 1e-4f);
    }

    [Fact]
    public async Task An_index_made_without_regions_is_not_opened_by_an_encoder_with_them()
    {
        using (var index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = false }), NullLogger<LocalVectorIndex>.Instance))
        {
            var plain = new IngestionService(fixture.Decoder, fixture.Encoder, new VectorIndexAccessor(index, fixture.Encoder), Options.Create(new ImagingOptions()), fixture.Metrics, TimeProvider.System, NullLogger<IngestionService>.Instance);
            var bytes = TestImages.Photo(seed: 5, width: 100, height: 100, ImageFormat.Png);
            Assert.Equal(IngestOutcome.Indexed, (await plain.IngestAsync(EngineHarness.Request("a.png"), new MemoryStream(bytes))).Outcome);
        }

        using var reopened = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = false }), NullLogger<LocalVectorIndex>.Instance);
        var regional = new RegionAddingEncoder(fixture.Encoder, [], new RegionVector(new float[fixture.Encoder.Model.Dimension], DetailBox));
        var ex = await Assert.ThrowsAsync<IndexRegionsMismatchException>(() => new VectorIndexAccessor(reopened, regional).GetAsync());
        Assert.False(ex.IndexRegions);
        Assert.True(ex.ConfiguredRegions);
    }

    private static float Cosine(float[] a, float[] b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);

    /// <summary>The real encoder, with regions on: the image whose embedding is <paramref name="owner"/> gets <paramref name="region"/>, others none.</summary>
    private sealed class RegionAddingEncoder(IImageEncoder inner, float[] owner, RegionVector region) : IImageEncoder
    {
        public ModelInfo Model => inner.Model with { Regions = true };

        public int InputSize => inner.InputSize;

        public VisualSearch.Embedding.Embedding Embed(PreparedImage image, CancellationToken cancellationToken = default)
        {
            var embedding = inner.Embed(image, cancellationToken);
            return embedding with { Regions = embedding.Vector.AsSpan().SequenceEqual(owner) ? [region] : [] };
        }

        public Task WarmUpAsync(CancellationToken cancellationToken = default) => inner.WarmUpAsync(cancellationToken);
    }
}
