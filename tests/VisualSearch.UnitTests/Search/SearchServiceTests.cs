using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Search;

[Collection(EncoderCollection.Name)]
public sealed class SearchServiceTests(EncoderFixture fixture) : IAsyncLifetime
{
    private readonly EngineHarness _engine = new(fixture);

    public async Task InitializeAsync()
    {
        foreach (var photo in SamplePhotos.All)
        {
            var result = await _engine.IngestAsync("samples/" + photo, SamplePhotos.Read(photo));
            Assert.Equal(IngestOutcome.Indexed, result.Outcome);
        }
    }

    public Task DisposeAsync()
    {
        _engine.Dispose();
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData("chelsea.png")]
    [InlineData("astronaut.png")]
    [InlineData("retina.jpg")]
    public async Task Search_by_an_edited_copy_returns_the_original_first(string photo)
    {
        using var bitmap = TestImages.DecodeBitmap(SamplePhotos.Read(photo));
        using var cropped = TestImages.CropCentre(bitmap, 0.8);
        var edited = TestImages.Encode(cropped, ImageFormat.Jpeg, 40);

        var response = await _engine.Search.SearchByImageAsync(edited, new SearchQuery(k: 3), OwnerScope.Everyone);

        Assert.Equal(fixture.Encoder.Model.Id, response.Model);
        Assert.Equal(3, response.Results.Count);
        Assert.Equal("samples/" + photo, response.Results[0].Id);
        Assert.True(response.Results[0].Score > response.Results[1].Score);
        Assert.InRange(response.Results[0].Score, 0.5f, 1.0001f);
    }

    [Fact]
    public async Task Search_by_image_applies_filters_and_min_score()
    {
        var photo = SamplePhotos.Read("coffee.png");

        var jpegOnly = await _engine.Search.SearchByImageAsync(photo, new SearchQuery(k: 10, filter: SearchFilter.Parse("contentType eq 'image/jpeg'")), OwnerScope.Everyone);
        var close = await _engine.Search.SearchByImageAsync(photo, new SearchQuery(k: 10, minScore: 0.99f), OwnerScope.Everyone);

        Assert.Equal(["samples/hubble_deep_field.jpg", "samples/retina.jpg"], jpegOnly.Results.Select(h => h.Id).Order(StringComparer.Ordinal));
        var hit = Assert.Single(close.Results);
        Assert.Equal("samples/coffee.png", hit.Id);
        Assert.Equal(1f, hit.Score, 1e-4f);
    }

    [Fact]
    public async Task Search_by_id_excludes_the_item_itself()
    {
        var response = await _engine.Search.SearchByIdAsync("samples/chelsea.png", new SearchQuery(k: 100), OwnerScope.Everyone);

        Assert.NotNull(response);
        Assert.Equal(SamplePhotos.All.Length - 1, response.Results.Count);
        Assert.DoesNotContain(response.Results, h => h.Id == "samples/chelsea.png");
        Assert.Equal(response.Results.OrderByDescending(h => h.Score).Select(h => h.Id), response.Results.Select(h => h.Id));
    }

    [Fact]
    public async Task Search_by_an_unknown_id_is_null() =>
        Assert.Null(await _engine.Search.SearchByIdAsync("samples/unknown.png", new SearchQuery(), OwnerScope.Everyone));

    [Fact]
    public async Task A_bad_query_image_is_rejected()
    {
        var jpeg = SamplePhotos.Read("retina.jpg");
        var ex = await Assert.ThrowsAsync<ImageRejectedException>(() => _engine.Search.SearchByImageAsync(jpeg.AsMemory(0, jpeg.Length / 2), new SearchQuery(), OwnerScope.Everyone));
        Assert.Equal(ImageRejectionReason.Truncated, ex.Reason);
    }

    [Fact]
    public async Task Health_reports_model_index_and_count()
    {
        var health = await _engine.Search.GetHealthAsync();
        Assert.Equal(fixture.Encoder.Model.Id, health.Model);
        Assert.Equal(512, health.Dimension);
        Assert.Equal("local", health.IndexKind);
        Assert.Equal(SamplePhotos.All.Length, health.Count);
        Assert.False(string.IsNullOrEmpty(health.ColdStart.InstanceId));
        Assert.True(health.ColdStart.ProcessStart <= DateTimeOffset.UtcNow);
        Assert.Equal(600, (await _engine.Search.GetItemAsync("samples/coffee.png", OwnerScope.Everyone))?.Width);
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(101, null)]
    [InlineData(-1, null)]
    [InlineData(10, 2f)]
    [InlineData(10, -1.5f)]
    [InlineData(10, float.NaN)]
    public void SearchQuery_rejects_out_of_range_values(int k, float? minScore) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SearchQuery(k, minScore));

    [Theory]
    [InlineData(0, null)]
    [InlineData(-1, null)]
    [InlineData(10, 2f)]
    [InlineData(10, -1.5f)]
    [InlineData(10, float.NaN)]
    [InlineData(10, float.PositiveInfinity)]
    public void VectorQuery_the_one_check_of_k_and_minScore_rejects_out_of_range_values(int k, float? minScore)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new VectorQuery(k, minScore));
        Assert.Throws<ArgumentOutOfRangeException>(() => new VectorQuery(10) with { K = k, MinScore = minScore });
    }

    [Fact]
    public void A_search_query_becomes_the_index_query_with_the_excluded_id()
    {
        var filter = SearchFilter.Parse("album eq 'x'");
        var query = new SearchQuery(7, -1f, filter).ToVectorQuery("a/b.png");

        Assert.Equal(new VectorQuery(7, -1f, filter, "a/b.png"), query);
    }

    [Fact]
    public void SearchQuery_accepts_the_bounds()
    {
        Assert.Equal(1, new SearchQuery(1).K);
        Assert.Equal(100, new SearchQuery(100, -1f).K);
        Assert.Equal(1f, new SearchQuery(10, 1f).MinScore);
    }
}
