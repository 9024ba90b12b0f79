using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Duplicates;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;
using VisualSearch.Testing;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Indexing;

/// <summary>
/// Issue 14's dual design through the real decoder, the real ResNet18 (centre crop for categories, the feature map for
/// copies) and the embedded index's catalog: one ingest writes both spaces, a removal empties both, a failure in either
/// is repaired by the next ingest, copy search reads the copy space under the same owner scope, and the composition
/// registers the copy space only when it is configured.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class CopySpaceTests(EncoderFixture fixture) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TempDirectory _modelCache = new("vs-map-cache-");
    private readonly byte[] _photo = TestImages.Photo(seed: 31, width: 400, height: 300, ImageFormat.Jpeg);
    private readonly byte[] _other = TestImages.Photo(seed: 77, width: 300, height: 400, ImageFormat.Png);
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var owned in Enumerable.Reverse(_owned)) owned.Dispose();
        _modelCache.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task One_ingest_writes_both_spaces_with_the_same_metadata_and_each_models_vector()
    {
        var engine = Compose();
        Assert.Equal(IngestOutcome.Indexed, (await engine.IngestAsync("alice/photo.jpg", _photo, "alice")).Outcome);

        var category = await (await engine.Category.GetAsync()).GetAsync("alice/photo.jpg");
        var copy = await (await engine.Copies.Index.GetAsync()).GetAsync("alice/photo.jpg");
        Assert.NotNull(category);
        Assert.NotNull(copy);
        Assert.Equal(fixture.Encoder.Model.Id, category.Metadata.ModelId);
        Assert.Contains("-map-gem3-s224-", copy.Metadata.ModelId, StringComparison.Ordinal);
        Assert.Equal(JsonSerializer.Serialize(category.Metadata with { ModelId = copy.Metadata.ModelId }), JsonSerializer.Serialize(copy.Metadata));

        // Each vector is what its own encoder makes of the image on its own (one decode feeds both).
        var alone = fixture.Encoder.Embed(fixture.Decoder.Prepare(_photo, fixture.Encoder.Input)).Vector;
        Assert.Equal(1f, EncoderFixture.Cosine(alone, category.Vector), 1e-5f);
        var copyAlone = engine.Copies.Encoder.Embed(fixture.Decoder.Prepare(_photo, engine.Copies.Encoder.Input)).Vector;
        Assert.Equal(1f, EncoderFixture.Cosine(copyAlone, copy.Vector), 1e-5f);

        // Two versions in the catalog, each named by its model; the pointer names the category model.
        Assert.Equal([category.Metadata.ModelId, copy.Metadata.ModelId], (await engine.Catalog.ListVersionsAsync()).OrderBy(v => v == copy.Metadata.ModelId));
        Assert.Equal(category.Metadata.ModelId, (await engine.Catalog.GetCurrentAsync())!.ModelId);

        // The same source again is unchanged in both.
        Assert.Equal(IngestOutcome.Unchanged, (await engine.IngestAsync("alice/photo.jpg", _photo, "alice")).Outcome);
    }

    [Fact]
    public async Task Copy_search_reads_the_copy_space_and_never_returns_another_owners_item()
    {
        var engine = Compose();
        await engine.IngestAsync("alice/photo.jpg", _photo, "alice");
        await engine.IngestAsync("alice/other.png", _other, "alice");
        await engine.IngestAsync("bob/photo.jpg", _photo, "bob");
        var edited = TestImages.EditedCopy(_photo);
        var alice = OwnerScope.Of("alice");

        var copies = await engine.Search.SearchByImageAsync(edited, new SearchQuery(k: 10) { Space = SearchSpace.Copies }, alice);
        Assert.Equal(SearchSpace.Copies, copies.Space);
        Assert.Equal(engine.Copies.Encoder.Model.Id, copies.Model);
        Assert.Equal(["alice/photo.jpg", "alice/other.png"], copies.Results.Select(h => h.Id));
        var stored = (await (await engine.Copies.Index.GetAsync()).GetAsync("alice/photo.jpg"))!.Vector;
        var query = engine.Copies.Encoder.Embed(fixture.Decoder.Prepare(edited, engine.Copies.Encoder.Input)).Vector;
        Assert.Equal(EncoderFixture.Cosine(query, stored), copies.Results[0].Score, 1e-4f);

        // The category space answers with the centre crop's model; cutoff=auto without a space goes to the copies.
        var category = await engine.Search.SearchByImageAsync(edited, new SearchQuery(k: 10), alice);
        Assert.Equal((SearchSpace.Category, fixture.Encoder.Model.Id), (category.Space, category.Model));
        Assert.DoesNotContain(category.Results, h => h.Id.StartsWith("bob/", StringComparison.Ordinal));
        var auto = await engine.Search.SearchByImageAsync(edited, new SearchQuery(k: 10, cutoff: CutoffMode.Auto), alice);
        Assert.Equal(SearchSpace.Copies, auto.Space);
        Assert.Equal("alice/photo.jpg", auto.Results[0].Id);

        // By id: alice's own item finds her other one, never bob's identical photo; bob's id reads as unknown to her.
        var byId = await engine.Search.SearchByIdAsync("alice/photo.jpg", new SearchQuery(k: 10) { Space = SearchSpace.Copies }, alice);
        Assert.Equal(["alice/other.png"], byId!.Results.Select(h => h.Id));
        Assert.Null(await engine.Search.SearchByIdAsync("bob/photo.jpg", new SearchQuery(k: 10) { Space = SearchSpace.Copies }, alice));
        var bobs = await engine.Search.SearchByImageAsync(edited, new SearchQuery(k: 10) { Space = SearchSpace.Copies }, OwnerScope.Of("bob"));
        Assert.Equal(["bob/photo.jpg"], bobs.Results.Select(h => h.Id));

        // k and the filter apply in the copy space as in the category space.
        var one = await engine.Search.SearchByImageAsync(edited, new SearchQuery(k: 1) { Space = SearchSpace.Copies }, alice);
        Assert.Equal(["alice/photo.jpg"], one.Results.Select(h => h.Id));
        var png = await engine.Search.SearchByImageAsync(edited, new SearchQuery(k: 10, filter: SearchFilter.Parse("contentType eq 'image/png'")) { Space = SearchSpace.Copies }, alice);
        Assert.Equal(["alice/other.png"], png.Results.Select(h => h.Id));
    }

    [Fact]
    public async Task A_failed_copy_write_leaves_the_item_to_be_written_again_and_the_retry_fills_both()
    {
        var engine = Compose(flakyCopies: true);
        engine.Flaky!.FailUpserts = true;
        await Assert.ThrowsAsync<IOException>(() => engine.IngestAsync("alice/photo.jpg", _photo, "alice"));
        Assert.Null(await (await engine.Category.GetAsync()).GetAsync("alice/photo.jpg"));

        engine.Flaky.FailUpserts = false;
        Assert.Equal(IngestOutcome.Indexed, (await engine.IngestAsync("alice/photo.jpg", _photo, "alice")).Outcome);
        Assert.NotNull(await (await engine.Category.GetAsync()).GetAsync("alice/photo.jpg"));
        Assert.NotNull(await (await engine.Copies.Index.GetAsync()).GetAsync("alice/photo.jpg"));
    }

    [Fact]
    public async Task A_copy_space_switched_on_later_is_filled_by_the_next_ingest_of_each_source()
    {
        var catalog = Catalog();
        var categoryIndex = Own(new VersionedVectorIndex(catalog));
        var category = new VectorIndexAccessor(categoryIndex, fixture.Encoder);
        var before = Ingestion(category, copies: null);
        Assert.Equal(IngestOutcome.Indexed, (await before.IngestAsync(Request("alice/photo.jpg", "alice"), new MemoryStream(_photo))).Outcome);

        var copies = CopySpaceOver(catalog);
        var after = Ingestion(category, copies);
        Assert.Equal(IngestOutcome.Indexed, (await after.IngestAsync(Request("alice/photo.jpg", "alice"), new MemoryStream(_photo))).Outcome);
        Assert.NotNull(await (await copies.Index.GetAsync()).GetAsync("alice/photo.jpg"));
        Assert.Equal(IngestOutcome.Unchanged, (await after.IngestAsync(Request("alice/photo.jpg", "alice"), new MemoryStream(_photo))).Outcome);
    }

    [Fact]
    public async Task A_removal_deletes_both_and_one_that_failed_halfway_is_finished_by_the_next()
    {
        var engine = Compose(flakyCopies: true);
        await engine.IngestAsync("alice/photo.jpg", _photo, "alice");
        await engine.IngestAsync("alice/other.png", _other, "alice");

        Assert.True(await engine.Ingestion.RemoveAsync("alice/photo.jpg"));
        Assert.Null(await (await engine.Category.GetAsync()).GetAsync("alice/photo.jpg"));
        Assert.Null(await (await engine.Copies.Index.GetAsync()).GetAsync("alice/photo.jpg"));

        // The copy delete fails: nothing is removed from the category index, and a repeated removal removes both.
        engine.Flaky!.FailDeletes = true;
        await Assert.ThrowsAsync<IOException>(() => engine.Ingestion.RemoveAsync("alice/other.png"));
        Assert.NotNull(await (await engine.Category.GetAsync()).GetAsync("alice/other.png"));
        engine.Flaky.FailDeletes = false;
        Assert.True(await engine.Ingestion.RemoveAsync("alice/other.png"));
        Assert.Equal(0, await (await engine.Category.GetAsync()).CountAsync());
        Assert.Equal(0, await (await engine.Copies.Index.GetAsync()).CountAsync());
    }

    [Fact]
    public async Task Detail_regions_live_in_the_copy_space_only_and_a_detail_finds_its_owners_item_with_the_box()
    {
        // Every region counted (whole-first off: regions always asked, no margin), so the detail's region answers.
        var engine = Compose(detailRegionSide: 448, searchOptions: new SearchOptions { RegionFallbackBelow = 1f, RegionMargin = 0f });
        await engine.IngestAsync("alice/photo.jpg", _photo, "alice");
        await engine.IngestAsync("alice/other.png", _other, "alice");
        await engine.IngestAsync("bob/photo.jpg", _photo, "bob");

        // The category record is as without them; the copy record carries the regions its encoder makes of the larger image.
        var category = (await (await engine.Category.GetAsync()).GetAsync("alice/photo.jpg"))!;
        var copy = (await (await engine.Copies.Index.GetAsync()).GetAsync("alice/photo.jpg"))!;
        Assert.Empty(category.Regions);
        Assert.Equal(fixture.Encoder.Model.Id, category.Metadata.ModelId);
        Assert.Contains("-map-gem3-s224-dr448c3-4n60-512", copy.Metadata.ModelId, StringComparison.Ordinal);
        var copies = engine.Copies.Encoder;
        var expected = copies.EmbedRegions(fixture.Decoder.Prepare(_photo, copies.RegionInput!.Value));
        Assert.Equal(expected.Select(r => r.Box), copy.Regions.Select(r => r.Box));
        Assert.All(expected.Zip(copy.Regions), pair => Assert.Equal(1f, EncoderFixture.Cosine(pair.First.Vector, pair.Second.Vector), 1e-5f));
        Assert.InRange(copy.Regions.Count, 2, 60);
        Assert.All(copy.Regions, r => Assert.True(r.Box.X >= 0 && r.Box.Y >= 0 && r.Box.X + r.Box.Width <= 400 && r.Box.Y + r.Box.Height <= 300, $"{r.Box}"));
        var copyAlone = copies.Embed(fixture.Decoder.Prepare(_photo, copies.Input)).Vector;
        Assert.Equal(1f, EncoderFixture.Cosine(copyAlone, copy.Vector), 1e-5f);

        // A detail (the lower right quarter) searched among copies: alice's photo first, by a region (its box in the
        // photo's pixels), never bob's identical one; the category space has no regions to match it with.
        using var decoded = SkiaSharp.SKBitmap.Decode(_photo);
        using var cut = new SkiaSharp.SKBitmap();
        Assert.True(decoded.ExtractSubset(cut, new SkiaSharp.SKRectI(200, 150, 400, 300)));
        var detail = TestImages.Encode(cut, ImageFormat.Png);
        var alice = OwnerScope.Of("alice");
        var hits = await engine.Search.SearchByImageAsync(detail, new SearchQuery(k: 10) { Space = SearchSpace.Copies }, alice);
        Assert.Equal(["alice/photo.jpg", "alice/other.png"], hits.Results.Select(h => h.Id));
        var box = Assert.NotNull(hits.Results[0].Region);
        Assert.Contains(box, copy.Regions.Select(r => r.Box));
        var query = copies.Embed(fixture.Decoder.Prepare(detail, copies.Input)).Vector;
        Assert.Equal(copy.Regions.Max(r => EncoderFixture.Cosine(query, r.Vector)), hits.Results[0].Score, 1e-4f);
        var inCategory = await engine.Search.SearchByImageAsync(detail, new SearchQuery(k: 10), alice);
        Assert.All(inCategory.Results, h => Assert.Null(h.Region));
        // With the defaults (whole-first, docs/quality.md 7h) the same photo comes first, by its region only when that
        // beats the best whole-image score by the margin; bob's never.
        var wholeFirst = new SearchService(fixture.Decoder, fixture.Encoder, engine.Category, fixture.Metrics, NullLogger<SearchService>.Instance, copies: engine.Copies);
        var byDefault = await wholeFirst.SearchByImageAsync(detail, new SearchQuery(k: 10) { Space = SearchSpace.Copies }, alice);
        Assert.Equal(["alice/photo.jpg", "alice/other.png"], byDefault.Results.Select(h => h.Id));
        var other = (await (await engine.Copies.Index.GetAsync()).GetAsync("alice/other.png"))!;
        var bestOwn = Math.Max(EncoderFixture.Cosine(query, copy.Vector), EncoderFixture.Cosine(query, other.Vector));
        var regionCounts = bestOwn < new DuplicateOptions().CopyMinScore && hits.Results[0].Score >= bestOwn + new SearchOptions().RegionMargin;
        Assert.Equal(regionCounts ? box : null, byDefault.Results[0].Region);
        Assert.Equal(regionCounts ? hits.Results[0].Score : EncoderFixture.Cosine(query, copy.Vector), byDefault.Results[0].Score, 1e-4f);

        // A removal takes the item and its regions out of both spaces.
        Assert.True(await engine.Ingestion.RemoveAsync("alice/photo.jpg"));
        Assert.Null(await (await engine.Copies.Index.GetAsync()).GetAsync("alice/photo.jpg"));
        var after = await engine.Search.SearchByImageAsync(detail, new SearchQuery(k: 10) { Space = SearchSpace.Copies }, alice);
        Assert.Equal(["alice/other.png"], after.Results.Select(h => h.Id));
    }

    [Fact]
    public async Task Copy_search_without_a_copy_space_is_refused()
    {
        var category = new VectorIndexAccessor(Own(new VersionedVectorIndex(Catalog())), fixture.Encoder);
        var search = new SearchService(fixture.Decoder, fixture.Encoder, category, fixture.Metrics, NullLogger<SearchService>.Instance);
        Assert.False(search.HasCopySpace);
        await Assert.ThrowsAsync<CopySpaceUnavailableException>(() => search.SearchByImageAsync(_photo, new SearchQuery() { Space = SearchSpace.Copies }, OwnerScope.Everyone));
        // cutoff=auto without a copy space stays in the category space.
        var auto = await search.SearchByImageAsync(_photo, new SearchQuery(cutoff: CutoffMode.Auto), OwnerScope.Everyone);
        Assert.Equal(SearchSpace.Category, auto.Space);
    }

    [Fact]
    public async Task The_engine_registers_the_copy_space_only_when_configured_and_duplicates_use_it()
    {
        using (var plain = BuildHost(new() { ["Encoder:CopyDescriptor"] = "None" }))
        {
            Assert.Null(plain.Services.GetService<CopySpace>());
            Assert.False(plain.Services.GetRequiredService<SearchService>().HasCopySpace);
            Assert.Equal(0.82f, plain.Services.GetRequiredService<DuplicateService>().DefaultMinScore);
        }

        using (var dual = BuildHost(new() { ["Encoder:CopyDescriptor"] = "FeatureMap", ["Encoder:MaskFlatCells"] = "true", ["Encoder:DetailRegionSide"] = "0" }))
        {
            var copies = dual.Services.GetRequiredService<CopySpace>();
            Assert.EndsWith("-map-gem3-s224-flat-512", copies.Encoder.Model.Id, StringComparison.Ordinal);
            Assert.True(dual.Services.GetRequiredService<SearchService>().HasCopySpace);
            Assert.Equal(0.83f, dual.Services.GetRequiredService<DuplicateService>().DefaultMinScore);
            // The category encoder is unchanged by the copy settings.
            Assert.Equal(fixture.Encoder.Model.Id, dual.Services.GetRequiredService<IImageEncoder>().Model.Id);
        }

        // With no settings: the shipped default, the copy space of the flat-masked GeM vector with detail regions at 448
        // and the query's crop view, beside the unchanged centre crop (docs/quality.md "The shipped default").
        string defaultCopyModel;
        using (var defaults = BuildHost(new() { }))
        {
            var copies = defaults.Services.GetRequiredService<CopySpace>();
            defaultCopyModel = copies.Encoder.Model.Id;
            Assert.EndsWith("-map-gem3-s224-flat-dr448c3-4n60-512", copies.Encoder.Model.Id, StringComparison.Ordinal);
            Assert.Equal("bgcrop", copies.Encoder.Model.CropViewPath);
            Assert.Equal(new ImageInput(448, WholeImage: true, 896, EncoderOptions.MapStride), copies.Encoder.RegionInput);
            Assert.Equal(fixture.Encoder.Model.Id, defaults.Services.GetRequiredService<IImageEncoder>().Model.Id);
            Assert.Null(defaults.Services.GetRequiredService<IImageEncoder>().RegionInput);
            Assert.Equal(0.83f, defaults.Services.GetRequiredService<DuplicateService>().DefaultMinScore);
        }

        // Encoder:CopyDescriptor=None alone is one vector per item again: the feature-map defaults (detail regions, the crop
        // view) give way instead of failing the start; so does the copy space with Encoder:Descriptor=FeatureMap alone.
        foreach (var (key, value) in new[] { ("Encoder:CopyDescriptor", "None"), ("Encoder:Descriptor", "FeatureMap") })
        {
            using var one = BuildHost(new() { [key] = value });
            await one.StartAsync();
            var options = one.Services.GetRequiredService<IOptions<EncoderOptions>>().Value;
            Assert.Equal(CopyDescriptorMode.None, options.CopyDescriptor);
            Assert.Null(one.Services.GetService<CopySpace>());
            Assert.Equal(value == "None" ? (0, QueryBackgroundMode.None) : (448, QueryBackgroundMode.CropView), (options.DetailRegionSide, options.QueryBackground));
            // Encoder:Descriptor=FeatureMap alone is the default copy space's encoder in the one space (what eval-copies measures with it).
            Assert.Equal(value == "None" ? fixture.Encoder.Model.Id : defaultCopyModel, one.Services.GetRequiredService<IImageEncoder>().Model.Id);
            await one.StopAsync();
        }

        // Two feature-map descriptors would be one model in two spaces: refused at start, naming the setting.
        using var both = BuildHost(new() { ["Encoder:CopyDescriptor"] = "FeatureMap", ["Encoder:Descriptor"] = "FeatureMap" });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => both.StartAsync());
        Assert.Contains("Encoder:CopyDescriptor", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "None", "672", "4,6")] // no feature map anywhere
    [InlineData("FeatureMap", "None", "600", "4,6")] // not a multiple of the stride
    [InlineData("CentreCrop", "FeatureMap", "224", "4,6")] // not above the shorter side
    [InlineData("CentreCrop", "FeatureMap", "672", "0")] // no window
    [InlineData("CentreCrop", "FeatureMap", "672", "four")]
    public async Task Detail_region_settings_that_cannot_work_are_refused_at_start(string? descriptor, string copyDescriptor, string side, string cells)
    {
        using var host = BuildHost(new()
        {
            ["Encoder:Descriptor"] = descriptor, ["Encoder:CopyDescriptor"] = copyDescriptor,
            ["Encoder:DetailRegionSide"] = side, ["Encoder:DetailRegionCells"] = cells,
        });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("DetailRegion", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_query_background_changes_copy_search_queries_only_and_needs_a_feature_map()
    {
        using var host = BuildHost(new() { ["Encoder:CopyDescriptor"] = "FeatureMap", ["Encoder:MaskFlatCells"] = "true", ["Encoder:QueryBackground"] = "Crop", ["Encoder:DetailRegionSide"] = "0" });
        var copies = host.Services.GetRequiredService<CopySpace>();
        var category = host.Services.GetRequiredService<IImageEncoder>();
        // The stored model ids are as without it; only the copy space's queries are made differently.
        Assert.EndsWith("-map-gem3-s224-flat-512", copies.Encoder.Model.Id, StringComparison.Ordinal);
        Assert.Equal("bgcrop", copies.Encoder.Model.QueryPath);
        Assert.Equal(fixture.Encoder.Model.Id, category.Model.Id);
        Assert.Null(category.Model.QueryPath);

        var ingestion = host.Services.GetRequiredService<IngestionService>();
        await ingestion.IngestAsync(Request("alice/photo.jpg", "alice"), new MemoryStream(_photo, writable: false));
        var stored = (await (await copies.Index.GetAsync()).GetAsync("alice/photo.jpg"))!;
        Assert.Equal(1f, EncoderFixture.Cosine(copies.Encoder.Embed(fixture.Decoder.Prepare(_photo, copies.Encoder.Input)).Vector, stored.Vector), 1e-5f);

        // A circular detail of the photo: copy search scores the query's cropped vector, category search the centre crop's.
        using var decoded = SkiaSharp.SKBitmap.Decode(_photo);
        using var circle = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(200, 200, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Premul));
        using (var canvas = new SkiaSharp.SKCanvas(circle))
        {
            canvas.Clear(SkiaSharp.SKColors.White);
            using var path = new SkiaSharp.SKPath();
            path.AddCircle(100, 100, 100);
            canvas.ClipPath(path, antialias: true);
            canvas.DrawBitmap(decoded, new SkiaSharp.SKRect(100, 50, 300, 250), new SkiaSharp.SKRect(0, 0, 200, 200));
        }

        var detail = TestImages.Encode(circle, ImageFormat.Jpeg, 95);
        var search = host.Services.GetRequiredService<SearchService>();
        var prepared = fixture.Decoder.Prepare(detail, copies.Encoder.Input);
        var query = copies.Encoder.EmbedQuery(prepared).Vector;
        Assert.True(EncoderFixture.Cosine(query, copies.Encoder.Embed(prepared).Vector) < 0.9999f, "the query was not cropped");
        var hit = Assert.Single((await search.SearchByImageAsync(detail, new SearchQuery(k: 1) { Space = SearchSpace.Copies }, OwnerScope.Of("alice"))).Results);
        Assert.Equal(EncoderFixture.Cosine(query, stored.Vector), hit.Score, 1e-4f);
        var categoryHit = Assert.Single((await search.SearchByImageAsync(detail, new SearchQuery(k: 1), OwnerScope.Of("alice"))).Results);
        var categoryStored = (await (await host.Services.GetRequiredService<VectorIndexAccessor>().GetAsync()).GetAsync("alice/photo.jpg"))!;
        Assert.Equal(EncoderFixture.Cosine(fixture.Encoder.Embed(fixture.Decoder.Prepare(detail, fixture.Encoder.Input)).Vector, categoryStored.Vector), categoryHit.Score, 1e-4f);

        // Without a feature map in either space it is refused at start, naming the setting.
        using var none = BuildHost(new() { ["Encoder:CopyDescriptor"] = "None", ["Encoder:QueryBackground"] = "Crop" });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => none.StartAsync());
        Assert.Contains("Encoder:QueryBackground", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Detail_regions_with_a_copy_head_are_refused_at_start()
    {
        // The head exists (any file passes the existence check), so the refusal is the combination's.
        using var host = BuildHost(new()
        {
            ["Encoder:CopyDescriptor"] = "FeatureMap", ["Encoder:DetailRegionSide"] = "448",
            ["Encoder:CopyHeadPath"] = typeof(CopySpaceTests).Assembly.Location,
        });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Encoder:CopyHeadPath", error.Message, StringComparison.Ordinal);
        Assert.Contains("DetailRegion", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Detail_regions_in_the_copy_space_leave_the_category_encoder_as_it_was()
    {
        using var host = BuildHost(new() { ["Encoder:CopyDescriptor"] = "FeatureMap", ["Encoder:DetailRegionSide"] = "672" });
        var copies = host.Services.GetRequiredService<CopySpace>();
        Assert.EndsWith("-map-gem3-s224-flat-dr672c3-4n60-512", copies.Encoder.Model.Id, StringComparison.Ordinal);
        Assert.Equal(new ImageInput(672, WholeImage: true, 1344, 32), copies.Encoder.RegionInput);
        var category = host.Services.GetRequiredService<IImageEncoder>();
        Assert.Equal(fixture.Encoder.Model.Id, category.Model.Id);
        Assert.Null(category.RegionInput);
    }

    [Fact]
    public void The_copy_encoder_is_a_float32_feature_map_without_head_regions_or_spinning()
    {
        Assert.Null(new EncoderOptions { CopyDescriptor = CopyDescriptorMode.None }.ForCopies());
        Assert.True(new EncoderOptions { CopyDescriptor = CopyDescriptorMode.None }.EffectiveAllowSpinning);
        // The default (docs/quality.md "The shipped default"): a copy space of the flat-masked GeM vector with detail regions
        // at 448 and the query's crop view; the category vector stays the centre crop.
        var defaults = new EncoderOptions();
        var copies = defaults.ForCopies()!;
        Assert.Equal((DescriptorMode.CentreCrop, CopyDescriptorMode.FeatureMap), (defaults.Descriptor, defaults.CopyDescriptor));
        Assert.Equal((DescriptorMode.FeatureMap, EncoderPrecision.Float32, true, 448, "3,4", 60, QueryBackgroundMode.CropView),
            (copies.Descriptor, copies.Precision, copies.MaskFlatCells, copies.DetailRegionSide, copies.DetailRegionCells, copies.DetailRegionLimit, copies.QueryBackground));
        Assert.False(defaults.EffectiveAllowSpinning);
        var category = new EncoderOptions
        {
            CopyDescriptor = CopyDescriptorMode.FeatureMap, Precision = EncoderPrecision.Int8, HeadPath = "head.bin",
            MaskFlatCells = true, ShorterSide = 288, MaxLongerSide = 576,
        };
        var copy = category.ForCopies()!;
        Assert.Equal((DescriptorMode.FeatureMap, EncoderPrecision.Float32, CopyDescriptorMode.None), (copy.Descriptor, copy.Precision, copy.CopyDescriptor));
        Assert.Equal(((string?)null, false, true, 288, 576), (copy.HeadPath, copy.Regions, copy.MaskFlatCells, copy.ShorterSide, copy.MaxLongerSide));
        // The detail regions are made for the copy space: they stay (the category encoder, a centre crop, makes none).
        Assert.Equal(672, new EncoderOptions { CopyDescriptor = CopyDescriptorMode.FeatureMap, DetailRegionSide = 672 }.ForCopies()!.DetailRegionSide);
        // The two sessions take turns on every ingest: neither spins (docs/quality.md section 7d has the cost of spinning).
        Assert.False(copy.EffectiveAllowSpinning);
        Assert.False(category.EffectiveAllowSpinning);
        // The category options are left as they were.
        Assert.Equal((DescriptorMode.CentreCrop, EncoderPrecision.Int8, "head.bin"), (category.Descriptor, category.Precision, category.HeadPath));
    }

    [Fact]
    public async Task A_copy_head_applies_to_the_copy_vector_only_and_is_named_in_the_copy_model_id()
    {
        // The copy backbone's id, then a head trained on it: a PCA-whitening's form (centre, then scale each axis).
        var plain = CopyEncoder(new EncoderOptions { CopyDescriptor = CopyDescriptorMode.FeatureMap, MaskFlatCells = false, DetailRegionSide = 0 });
        var backbone = plain.Model;
        var random = new Random(3);
        var mean = Enumerable.Range(0, backbone.Dimension).Select(_ => (float)(random.NextDouble() * 0.05)).ToArray();
        var weights = new float[backbone.Dimension * backbone.Dimension];
        for (var i = 0; i < backbone.Dimension; i++) weights[i * backbone.Dimension + i] = 0.5f + (float)random.NextDouble();
        var head = new ProjectionHead(backbone.Id, mean, weights, backbone.Dimension);
        var headPath = Path.Combine(_dir.Path, "copy.head");
        head.Save(headPath);

        var options = new EncoderOptions { CopyDescriptor = CopyDescriptorMode.FeatureMap, CopyHeadPath = headPath, MaskFlatCells = false, DetailRegionSide = 0 };
        Assert.Equal((null, headPath, null), (options.HeadPath, options.ForCopies()!.HeadPath, options.ForCopies()!.CopyHeadPath));
        var whitened = CopyEncoder(options);
        Assert.Equal($"{backbone.Id}-head-{head.Sha256[..8]}-{backbone.Dimension}", whitened.Model.Id);

        // The copy vector is the head applied to the plain copy vector; the category vector is the category encoder's.
        var engine = Compose(copyHeadPath: headPath);
        await engine.IngestAsync("alice/photo.jpg", _photo, "alice");
        var copy = await (await engine.Copies.Index.GetAsync()).GetAsync("alice/photo.jpg");
        var category = await (await engine.Category.GetAsync()).GetAsync("alice/photo.jpg");
        Assert.Equal(whitened.Model.Id, copy!.Metadata.ModelId);
        var expected = head.Apply(plain.Embed(fixture.Decoder.Prepare(_photo, plain.Input)).Vector).Vector;
        Assert.Equal(1f, EncoderFixture.Cosine(expected, copy.Vector), 1e-5f);
        Assert.True(EncoderFixture.Cosine(plain.Embed(fixture.Decoder.Prepare(_photo, plain.Input)).Vector, copy.Vector) < 0.999f);
        Assert.Equal(fixture.Encoder.Model.Id, category!.Metadata.ModelId);
        Assert.Equal(1f, EncoderFixture.Cosine(fixture.Encoder.Embed(fixture.Decoder.Prepare(_photo, fixture.Encoder.Input)).Vector, category.Vector), 1e-5f);

        // A head trained on another backbone (here the category encoder's) is refused, naming the copy setting.
        var wrongPath = Path.Combine(_dir.Path, "category.head");
        new ProjectionHead(fixture.Encoder.Model.Id, new float[512], new float[512 * 8], 8).Save(wrongPath);
        var wrong = CopyEncoder(new EncoderOptions { CopyDescriptor = CopyDescriptorMode.FeatureMap, CopyHeadPath = wrongPath, MaskFlatCells = false, DetailRegionSide = 0 });
        var error = Assert.Throws<InvalidOperationException>(() => wrong.Model);
        Assert.Contains("Encoder:CopyHeadPath", error.Message, StringComparison.Ordinal);
        Assert.Contains(backbone.Id, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_copy_head_or_one_without_a_copy_space_is_refused_at_start()
    {
        using (var missing = BuildHost(new() { ["Encoder:CopyDescriptor"] = "FeatureMap", ["Encoder:CopyHeadPath"] = Path.Combine(_dir.Path, "no-such.head") }))
        {
            var error = await Assert.ThrowsAsync<OptionsValidationException>(() => missing.StartAsync());
            Assert.Contains("Encoder:CopyHeadPath does not name an existing file", error.Message, StringComparison.Ordinal);
        }

        var headPath = Path.Combine(_dir.Path, "any.head");
        new ProjectionHead("resnet18-000000000000-map-gem3-s224-512", new float[512], new float[512 * 2], 2).Save(headPath);
        using var alone = BuildHost(new() { ["Encoder:CopyDescriptor"] = "None", ["Encoder:CopyHeadPath"] = headPath });
        var withoutSpace = await Assert.ThrowsAsync<OptionsValidationException>(() => alone.StartAsync());
        Assert.Contains("Encoder:CopyHeadPath needs Encoder:CopyDescriptor=FeatureMap", withoutSpace.Message, StringComparison.Ordinal);

        // A copy head with the default copy space: the default detail regions (and the crop view that asks them) give way,
        // since a head is trained on whole-image vectors; set explicitly they are refused (the test above).
        using var withHead = BuildHost(new() { ["Encoder:CopyHeadPath"] = headPath });
        var options = withHead.Services.GetRequiredService<IOptions<EncoderOptions>>().Value;
        Assert.Equal((CopyDescriptorMode.FeatureMap, 0, QueryBackgroundMode.None), (options.CopyDescriptor, options.DetailRegionSide, options.QueryBackground));
    }

    [Fact]
    public void PrepareInputs_gives_each_input_exactly_the_pixels_Prepare_gives_it()
    {
        var copyInput = new ImageInput(224, WholeImage: true, 448, EncoderOptions.MapStride);
        // A JPEG decoded at a reduced scale, a PNG decoded whole, and JPEG panoramas whose capped whole image wants a
        // smaller decode scale than the centre crop (a second decode) or the same one.
        var panorama = TestImages.Photo(seed: 5, width: 2400, height: 400, ImageFormat.Jpeg);
        var wide = TestImages.Photo(seed: 6, width: 1800, height: 900, ImageFormat.Jpeg);
        foreach (var bytes in new[] { _photo, _other, panorama, wide })
        {
            var both = fixture.Decoder.PrepareInputs(bytes, [fixture.Encoder.Input, copyInput]);
            var crop = fixture.Decoder.Prepare(bytes, fixture.Encoder.Input);
            var whole = fixture.Decoder.Prepare(bytes, copyInput);
            Assert.Equal(crop.Rgb, both[0].Rgb);
            Assert.Equal((whole.PixelWidth, whole.PixelHeight), (both[1].PixelWidth, both[1].PixelHeight));
            Assert.Equal(whole.Rgb, both[1].Rgb);
        }
    }

    private IHost BuildHost(Dictionary<string, string?> settings) =>
        EngineHosts.Build(settings, Path.Combine(_dir.Path, "host-" + Guid.NewGuid().ToString("N")), _modelCache.Path);

    private LocalIndexCatalog Catalog() =>
        new(Options.Create(new LocalIndexOptions { Path = Path.Combine(_dir.Path, "index"), FlushToDisk = false }), NullLoggerFactory.Instance);

    private T Own<T>(T disposable) where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    /// <summary>The copy space's encoder of these (category) options, its model cache the test's own.</summary>
    private OnnxImageEncoder CopyEncoder(EncoderOptions options)
    {
        options.Int8CachePath = _modelCache.Path;
        return Own(new OnnxImageEncoder(Options.Create(options.ForCopies()!), NullLogger<OnnxImageEncoder>.Instance, fixture.Metrics));
    }

    private CopySpace CopySpaceOver(IVectorIndexCatalog catalog, Func<IVectorIndex, IVectorIndex>? wrap = null, string? copyHeadPath = null, int detailRegionSide = 0)
    {
        // The copy settings these tests were written for (before the default held the mask, detail regions and the crop view).
        var encoder = CopyEncoder(new EncoderOptions
        {
            CopyDescriptor = CopyDescriptorMode.FeatureMap, CopyHeadPath = copyHeadPath, DetailRegionSide = detailRegionSide,
            MaskFlatCells = false, QueryBackground = QueryBackgroundMode.None,
        });
        IVectorIndex index = Own(new VersionedVectorIndex(catalog, followCurrent: false));
        return new CopySpace(encoder, new VectorIndexAccessor(wrap?.Invoke(index) ?? index, encoder));
    }

    private IngestionService Ingestion(VectorIndexAccessor category, CopySpace? copies) =>
        new(fixture.Decoder, fixture.Encoder, category, Options.Create(new ImagingOptions()), fixture.Metrics, TimeProvider.System,
            NullLogger<IngestionService>.Instance, copies: copies);

    private Engine Compose(bool flakyCopies = false, string? copyHeadPath = null, int detailRegionSide = 0, SearchOptions? searchOptions = null)
    {
        var catalog = Catalog();
        var category = new VectorIndexAccessor(Own(new VersionedVectorIndex(catalog)), fixture.Encoder);
        FlakyIndex? flaky = null;
        var copies = CopySpaceOver(catalog, flakyCopies ? inner => flaky = new FlakyIndex(inner) : null, copyHeadPath, detailRegionSide);
        var search = new SearchService(fixture.Decoder, fixture.Encoder, category, fixture.Metrics, NullLogger<SearchService>.Instance,
            options: searchOptions is null ? null : Options.Create(searchOptions), copies: copies);
        return new Engine(catalog, category, copies, Ingestion(category, copies), search, flaky);
    }

    private static IngestRequest Request(string id, string owner) => EngineHarness.Request(id) with { Owner = owner };

    private sealed record Engine(IVectorIndexCatalog Catalog, VectorIndexAccessor Category, CopySpace Copies, IngestionService Ingestion, SearchService Search, FlakyIndex? Flaky)
    {
        public Task<IngestResult> IngestAsync(string id, byte[] bytes, string owner) =>
            Ingestion.IngestAsync(Request(id, owner), new MemoryStream(bytes, writable: false));
    }

    /// <summary>An index whose writes fail on demand, as a backend that is down would.</summary>
    private sealed class FlakyIndex(IVectorIndex inner) : IVectorIndex
    {
        public bool FailUpserts { get; set; }

        public bool FailDeletes { get; set; }

        public string Kind => inner.Kind;

        public Task InitializeAsync(IndexSchema schema, CancellationToken cancellationToken = default) => inner.InitializeAsync(schema, cancellationToken);

        public Task UpsertAsync(VectorRecord record, CancellationToken cancellationToken = default) =>
            FailUpserts ? throw new IOException("The copy index is down.") : inner.UpsertAsync(record, cancellationToken);

        public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default) =>
            FailDeletes ? throw new IOException("The copy index is down.") : inner.DeleteAsync(id, cancellationToken);

        public Task<VectorRecord?> GetAsync(string id, CancellationToken cancellationToken = default) => inner.GetAsync(id, cancellationToken);

        public Task<IReadOnlyList<SearchHit>> SearchAsync(ReadOnlyMemory<float> vector, VectorQuery query, CancellationToken cancellationToken = default) =>
            inner.SearchAsync(vector, query, cancellationToken);

        public Task<long> CountAsync(CancellationToken cancellationToken = default) => inner.CountAsync(cancellationToken);
    }
}
