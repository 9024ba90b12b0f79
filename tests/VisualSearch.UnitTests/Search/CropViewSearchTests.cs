using System.Numerics.Tensors;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SkiaSharp;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;
using VisualSearch.Testing;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Search;

/// <summary>
/// A query's two views in whole-first search (<c>Encoder:QueryBackground=CropView</c>, docs/quality.md 7i), composed as a
/// host composes it: the real decoder, the real ResNet18 (the copy space's feature map with detail regions at 448) and the
/// embedded index, items ingested by the product's ingestion. The whole view searches the items' own vectors; the crop
/// view asks their regions when no whole image is a copy.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class CropViewSearchTests(EncoderFixture fixture) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TempDirectory _modelCache = new("vs-map-cache-");
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var owned in Enumerable.Reverse(_owned)) owned.Dispose();
        _modelCache.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_circular_detail_of_a_stored_photo_finds_it_through_the_crop_views_region()
    {
        var (search, copies, ingestion) = Compose();
        foreach (var name in new[] { "astronaut.png", "coffee.png", "chelsea.png", "brick.png" })
            await IngestAsync(ingestion, "alice/" + name, SamplePhotos.Read(name), "alice");
        // 6% of the astronaut's area through a circle, white corners, JPEG 95 (eval-copies' partial-circ).
        var detail = CircularDetail(SamplePhotos.Read("astronaut.png"), 200, 150, 125);

        var hits = (await search.SearchByImageAsync(detail, new SearchQuery(k: 3) { Space = SearchSpace.Copies }, OwnerScope.Of("alice"))).Results;

        Assert.Equal("alice/astronaut.png", hits[0].Id);
        Assert.NotNull(hits[0].Region);
        // The score is the crop view's against the astronaut's best window, which its whole view does not reach.
        var prepared = fixture.Decoder.Prepare(detail, copies.Encoder.Input);
        var crop = copies.Encoder.EmbedQueryCrop(prepared);
        Assert.NotNull(crop);
        var regions = Regions(copies.Encoder, SamplePhotos.Read("astronaut.png"));
        var byCrop = regions.Max(r => TensorPrimitives.Dot(crop.Value.Vector, r.Vector));
        var byWhole = regions.Max(r => TensorPrimitives.Dot(copies.Encoder.EmbedQuery(prepared).Vector, r.Vector));
        Assert.Equal(byCrop, hits[0].Score, 1e-4f);
        Assert.True(byCrop > byWhole, $"the whole view's best window {byWhole} scores above the crop's {byCrop}");
        Assert.Equal(regions.First(r => Math.Abs(TensorPrimitives.Dot(crop.Value.Vector, r.Vector) - byCrop) < 1e-6f).Box, hits[0].Region);
    }

    [Fact]
    public async Task A_whole_copy_of_a_round_picture_on_white_still_finds_its_item_through_the_whole_view()
    {
        var (search, copies, ingestion) = Compose();
        // The stored picture is round on white; the query is its JPEG 40 copy, whose crop view would be the inscribed square.
        var round = CircularDetail(SamplePhotos.Read("coffee.png"), 110, 10, 380, ImageFormat.Png);
        await IngestAsync(ingestion, "alice/round.png", round, "alice");
        foreach (var name in new[] { "astronaut.png", "chelsea.png" })
            await IngestAsync(ingestion, "alice/" + name, SamplePhotos.Read(name), "alice");
        var copy = Reencode(round, 40);

        var hit = (await search.SearchByImageAsync(copy, new SearchQuery(k: 3) { Space = SearchSpace.Copies }, OwnerScope.Of("alice"))).Results[0];

        // Its own vector answered the whole view (no region), with the score it has without a crop view.
        var stored = (await (await copies.Index.GetAsync()).GetAsync("alice/round.png"))!;
        var prepared = fixture.Decoder.Prepare(copy, copies.Encoder.Input);
        var whole = copies.Encoder.EmbedQuery(prepared).Vector;
        Assert.Equal("alice/round.png", hit.Id);
        Assert.Null(hit.Region);
        Assert.Equal(TensorPrimitives.Dot(whole, stored.Vector), hit.Score, 1e-4f);
        // The query has a crop view, and it matches the item's own vector less well: Crop alone would have scored that.
        var crop = copies.Encoder.EmbedQueryCrop(prepared);
        Assert.NotNull(crop);
        Assert.True(TensorPrimitives.Dot(crop.Value.Vector, stored.Vector) < hit.Score - 0.01f, "the crop matches the whole item as well as the whole query");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the crop asks every vector (Search:CropViewOwn)
    public async Task Another_owners_region_never_answers_a_crop_view(bool cropOwn)
    {
        // The regions are always asked (1), every region counts (margin 0): only the owner scope keeps bob's astronaut out.
        var (search, _, ingestion) = Compose(new() { ["Search:RegionFallbackBelow"] = "1", ["Search:RegionMargin"] = "0", ["Search:CropViewOwn"] = cropOwn ? "true" : "false" });
        await IngestAsync(ingestion, "bob/astronaut.png", SamplePhotos.Read("astronaut.png"), "bob");
        foreach (var name in new[] { "coffee.png", "chelsea.png" })
            await IngestAsync(ingestion, "alice/" + name, SamplePhotos.Read(name), "alice");
        var detail = CircularDetail(SamplePhotos.Read("astronaut.png"), 200, 150, 125);
        var query = new SearchQuery(k: 5) { Space = SearchSpace.Copies };

        var alice = (await search.SearchByImageAsync(detail, query, OwnerScope.Of("alice"))).Results;
        var bob = (await search.SearchByImageAsync(detail, query, OwnerScope.Of("bob"))).Results;
        var bobFiltered = (await search.SearchByImageAsync(detail, new SearchQuery(k: 5, filter: SearchFilter.Parse("album eq 'none'")) { Space = SearchSpace.Copies }, OwnerScope.Of("bob"))).Results;

        Assert.Equal(["alice/chelsea.png", "alice/coffee.png"], alice.Select(h => h.Id).Order(StringComparer.Ordinal));
        var bobs = Assert.Single(bob);
        Assert.Equal("bob/astronaut.png", bobs.Id);
        Assert.NotNull(bobs.Region);
        Assert.Empty(bobFiltered);
    }

    [Theory]
    [InlineData("CropView", null, "Encoder:QueryBackground=CropView")] // no detail regions
    [InlineData("CropView", "0", "Encoder:QueryBackground=CropView")]
    public async Task Settings_that_cannot_work_are_refused_at_start(string mode, string? side, string named)
    {
        using var host = BuildHost(new()
        {
            ["Encoder:CopyDescriptor"] = "FeatureMap", ["Encoder:QueryBackground"] = mode, ["Encoder:DetailRegionSide"] = side,
        });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_crop_view_rules_are_validated_at_start()
    {
        using var host = BuildHost(new() { ["Search:CropViewRegions"] = "7" });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Search:CropViewRegions", error.Message, StringComparison.Ordinal);
        Assert.Equal(CropViewRegions.Crop, new SearchOptions().CropViewRegions);
        Assert.Equal(CropViewMargin.CropOnly, new SearchOptions().CropViewMargin);
        Assert.Equal(0f, new SearchOptions().CropViewRegionMargin);
        Assert.Equal(new CropViewRule(CropViewRegions.Crop, CropViewMargin.CropOnly, 0f), CropViewRule.Of(new SearchOptions()));
        Assert.Equal(0.05f, CropViewRule.Of(new SearchOptions { CropViewRegionMargin = null }).Margin);
    }

    [Fact]
    public void The_rule_compares_a_views_regions_with_the_whole_or_the_better_own_score()
    {
        Assert.Equal(0.6f, WholeFirst.MarginReference(0.6f, 0.7f, CropViewMargin.WholeOwn));
        Assert.Equal(0.7f, WholeFirst.MarginReference(0.6f, 0.7f, CropViewMargin.ViewOwn));
        Assert.Equal(0.6f, WholeFirst.MarginReference(0.6f, float.NegativeInfinity, CropViewMargin.ViewOwn));
        Assert.Equal(0.7f, WholeFirst.MarginReference(0.9f, 0.7f, CropViewMargin.CropOwn));
        Assert.True(WholeFirst.CropAsksRegions(wholeAsks: false, 0.7f, 0.83f, CropViewMargin.CropOwn));
        Assert.False(WholeFirst.CropAsksRegions(wholeAsks: true, 0.9f, 0.83f, CropViewMargin.CropOwn));
        Assert.False(WholeFirst.CropAsksRegions(wholeAsks: false, 0.7f, 0.83f, CropViewMargin.WholeOwn));
        Assert.True(WholeFirst.WholeAsksRegions(hasCrop: false, CropViewRegions.Crop));
        Assert.False(WholeFirst.WholeAsksRegions(hasCrop: true, CropViewRegions.Crop));
        Assert.True(WholeFirst.WholeAsksRegions(hasCrop: true, CropViewRegions.CropAndWhole));
    }

    /// <summary>The host's search, copy space and ingestion, with the copy space's detail regions at 448 and CropView.</summary>
    private (SearchService Search, CopySpace Copies, IngestionService Ingestion) Compose(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Encoder:CopyDescriptor"] = "FeatureMap", ["Encoder:MaskFlatCells"] = "true",
            ["Encoder:DetailRegionSide"] = "448", ["Encoder:DetailRegionCells"] = "3,4",
            ["Encoder:QueryBackground"] = "CropView",
        };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        var host = BuildHost(settings);
        _owned.Add(host);
        return (host.Services.GetRequiredService<SearchService>(), host.Services.GetRequiredService<CopySpace>(), host.Services.GetRequiredService<IngestionService>());
    }

    private IHost BuildHost(Dictionary<string, string?> settings) =>
        EngineHosts.Build(settings, Path.Combine(_dir.Path, "host-" + Guid.NewGuid().ToString("N")), _modelCache.Path);

    private static async Task IngestAsync(IngestionService ingestion, string id, byte[] bytes, string owner) =>
        Assert.Equal(IngestOutcome.Indexed, (await ingestion.IngestAsync(EngineHarness.Request(id) with { Owner = owner }, new MemoryStream(bytes, writable: false))).Outcome);

    /// <summary>An item's detail regions as ingestion makes them (the whole image at the region input's size).</summary>
    private IReadOnlyList<RegionVector> Regions(IImageEncoder encoder, byte[] image) =>
        encoder.EmbedRegions(fixture.Decoder.Prepare(image, encoder.RegionInput!.Value));

    /// <summary>The <paramref name="side"/> px square of <paramref name="image"/> at (x, y) through a circular mask on white.</summary>
    private static byte[] CircularDetail(byte[] image, int x, int y, int side, ImageFormat format = ImageFormat.Jpeg)
    {
        using var source = SKBitmap.Decode(image);
        return TestImages.CircularDetail(source, new SKRect(x, y, x + side, y + side), side, format);
    }

    private static byte[] Reencode(byte[] image, int quality)
    {
        using var bitmap = SKBitmap.Decode(image);
        return TestImages.Encode(bitmap, ImageFormat.Jpeg, quality);
    }
}
