using System.Numerics.Tensors;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SkiaSharp;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;
using VisualSearch.Testing;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Search;

/// <summary>
/// Search by image with query views (issue 14) through the real decoder, the real ResNet18 and the embedded index:
/// the stored vectors are the input view's; the query's views are combined by their mean or searched one by one and
/// merged by item; the server's owner scope holds for every view.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class QueryViewSearchTests(EncoderFixture fixture) : IAsyncLifetime
{
    private static readonly ImageView Mirror = new(ImageViewKind.Mirror);
    private readonly TempDirectory _dir = new();
    private readonly byte[] _photo = TestImages.Photo(seed: 21, width: 320, height: 240, ImageFormat.Png);
    private LocalVectorIndex _index = null!;
    private VectorIndexAccessor _accessor = null!;

    public async Task InitializeAsync()
    {
        _index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = false }), NullLogger<LocalVectorIndex>.Instance);
        _accessor = new VectorIndexAccessor(_index, fixture.Encoder);
        var ingestion = new IngestionService(fixture.Decoder, fixture.Encoder, _accessor, Options.Create(new ImagingOptions()), fixture.Metrics, TimeProvider.System, NullLogger<IngestionService>.Instance);
        var mirrored = MirroredPng(_photo);
        foreach (var (id, owner, bytes) in new[]
        {
            ("alice/photo.png", "alice", _photo),
            ("alice/mirrored.png", "alice", mirrored),
            ("bob/mirrored.png", "bob", mirrored),
            ("alice/other.jpg", "alice", TestImages.Photo(seed: 45, width: 300, height: 300, ImageFormat.Jpeg)),
        })
        {
            var result = await ingestion.IngestAsync(EngineHarness.Request(id) with { Owner = owner }, new MemoryStream(bytes));
            Assert.Equal(IngestOutcome.Indexed, result.Outcome);
        }
    }

    public Task DisposeAsync()
    {
        _index.Dispose();
        _dir.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Best_over_the_views_scores_each_item_by_its_best_view_and_lists_it_once()
    {
        var (input, mirror) = ViewVectors();
        var search = Search("Input,Mirror", QueryViewCombination.Best);

        var response = await search.SearchByImageAsync(_photo, new SearchQuery(k: 10), OwnerScope.Everyone);
        Assert.Equal(fixture.Encoder.Model.Id, response.Model);
        Assert.Equal(4, response.Results.Count);
        Assert.Equal(response.Results.Count, response.Results.Select(h => h.Id).Distinct().Count());
        foreach (var hit in response.Results)
        {
            var stored = (await _index.GetAsync(hit.Id))!.Vector;
            Assert.Equal(Math.Max(Dot(input, stored), Dot(mirror, stored)), hit.Score, 1e-4f);
        }

        // The mirror view finds the mirrored copies as closely as the input view finds the photo itself.
        Assert.Equal(["alice/mirrored.png", "alice/photo.png", "bob/mirrored.png"], response.Results.Take(3).Select(h => h.Id).Order(StringComparer.Ordinal));
        Assert.All(response.Results.Take(3), h => Assert.True(h.Score > 0.99f, $"{h.Id}: {h.Score}"));
        Assert.Equal("alice/other.jpg", response.Results[3].Id);

        // Without views, the mirrored copy scores only what the photo's own vector gives it.
        var plain = await Search("Input", QueryViewCombination.Best).SearchByImageAsync(_photo, new SearchQuery(k: 10), OwnerScope.Everyone);
        var mirroredStored = (await _index.GetAsync("alice/mirrored.png"))!.Vector;
        Assert.Equal(Dot(input, mirroredStored), plain.Results.Single(h => h.Id == "alice/mirrored.png").Score, 1e-4f);
        Assert.True(Dot(input, mirroredStored) < Dot(mirror, mirroredStored), "the mirror view is closer to the mirrored copy than the input view");

        // k bounds the merged list.
        Assert.Equal(2, (await search.SearchByImageAsync(_photo, new SearchQuery(k: 2), OwnerScope.Everyone)).Results.Count);
    }

    [Fact]
    public async Task No_view_widens_the_owner_scope_or_the_filter()
    {
        foreach (var combination in new[] { QueryViewCombination.Best, QueryViewCombination.Mean })
        {
            var search = Search("Input,Mirror,Squash", combination);
            var alice = await search.SearchByImageAsync(_photo, new SearchQuery(k: 10), OwnerScope.Of("alice"));
            // Bob's mirrored copy is as close to the mirror view as Alice's, but it is not Alice's.
            Assert.Equal(["alice/mirrored.png", "alice/other.jpg", "alice/photo.png"], alice.Results.Select(h => h.Id).Order(StringComparer.Ordinal));

            var bob = await search.SearchByImageAsync(_photo, new SearchQuery(k: 10), OwnerScope.Of("bob"));
            Assert.Equal(["bob/mirrored.png"], bob.Results.Select(h => h.Id));

            var carol = await search.SearchByImageAsync(_photo, new SearchQuery(k: 10), OwnerScope.Of("carol"));
            Assert.Empty(carol.Results);

            var filtered = await search.SearchByImageAsync(_photo, new SearchQuery(k: 10, filter: SearchFilter.Parse("contentType eq 'image/jpeg'")), OwnerScope.Of("alice"));
            Assert.Equal(["alice/other.jpg"], filtered.Results.Select(h => h.Id));
        }
    }

    [Fact]
    public async Task The_mean_of_the_views_is_one_search_with_the_normalised_mean_vector()
    {
        var (input, mirror) = ViewVectors();
        var mean = QueryViewSet.Mean([input, mirror]);
        var response = await Search("Input,Mirror", QueryViewCombination.Mean).SearchByImageAsync(_photo, new SearchQuery(k: 10), OwnerScope.Everyone);

        Assert.Equal(4, response.Results.Count);
        foreach (var hit in response.Results)
            Assert.Equal(Dot(mean, (await _index.GetAsync(hit.Id))!.Vector), hit.Score, 1e-4f);
        Assert.Equal(response.Results.Select(h => h.Score).OrderDescending(), response.Results.Select(h => h.Score));

        // minScore applies to the combined score.
        var close = await Search("Input,Mirror", QueryViewCombination.Mean).SearchByImageAsync(_photo, new SearchQuery(k: 10, minScore: response.Results[2].Score), OwnerScope.Everyone);
        Assert.Equal(response.Results.Take(3).Select(h => h.Id), close.Results.Select(h => h.Id));
    }

    [Fact]
    public async Task A_bad_image_is_refused_with_views_on_as_without()
    {
        var search = Search("Input,Zoom", QueryViewCombination.Best);
        var ex = await Assert.ThrowsAsync<ImageRejectedException>(() => search.SearchByImageAsync(TestImages.TruncatedJpeg(), new SearchQuery(), OwnerScope.Everyone));
        Assert.Equal(ImageRejectionReason.Truncated, ex.Reason);
    }

    [Theory]
    [InlineData("Search:QueryViews", "Input,Bogus", "Search:QueryViews")]
    [InlineData("Search:QueryViews", "Input,Mirror,Squash,Zoom,Input", "Search:QueryViews")]
    [InlineData("Search:QueryZoom", "0.2", "QueryZoom")]
    public async Task Bad_search_settings_stop_the_host_at_start(string key, string value, string named)
    {
        using var host = BuildHost(new Dictionary<string, string?> { [key] = value });
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Good_search_settings_are_bound_from_configuration()
    {
        using var host = BuildHost(new Dictionary<string, string?>
        {
            ["Search:QueryViews"] = "Input,Zoom",
            ["Search:QueryViewCombination"] = "Best",
            ["Search:QueryZoom"] = "0.8",
        });
        await host.StartAsync();
        var options = host.Services.GetRequiredService<IOptions<SearchOptions>>().Value;
        Assert.Equal([ImageView.Input, new ImageView(ImageViewKind.Zoom, 0.8)], options.ParseViews());
        Assert.Equal(QueryViewCombination.Best, options.QueryViewCombination);
        await host.StopAsync();
    }

    /// <summary>The engine as a host composes it (over the embedded index in this test's folder), with <paramref name="settings"/>.</summary>
    private IHost BuildHost(Dictionary<string, string?> settings) => EngineHosts.Build(settings, Path.Combine(_dir.Path, "host"));

    private SearchService Search(string views, QueryViewCombination combination) =>
        new(fixture.Decoder, fixture.Encoder, _accessor, fixture.Metrics, NullLogger<SearchService>.Instance,
            options: Options.Create(new SearchOptions { QueryViews = views, QueryViewCombination = combination }));

    /// <summary>The photo's input view and mirror view, embedded by the real encoder.</summary>
    private (float[] Input, float[] Mirror) ViewVectors()
    {
        var views = fixture.Decoder.PrepareViews(_photo, fixture.Encoder.Input, [ImageView.Input, Mirror]);
        return (fixture.Encoder.Embed(views[0]).Vector, fixture.Encoder.Embed(views[1]).Vector);
    }

    private static float Dot(float[] a, float[] b) => TensorPrimitives.Dot(a, b);

    private static byte[] MirroredPng(byte[] png)
    {
        using var source = TestImages.DecodeBitmap(png);
        using var mirrored = new SKBitmap(new SKImageInfo(source.Width, source.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(mirrored))
        {
            canvas.Scale(-1, 1, source.Width / 2f, 0);
            canvas.DrawBitmap(source, 0, 0);
        }

        return TestImages.Encode(mirrored, ImageFormat.Png);
    }
}
