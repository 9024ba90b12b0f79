using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Duplicates;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Search;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Search;

/// <summary>
/// Whole-first search in a copy space with detail regions (issue 14, <see cref="SearchOptions.RegionFallbackBelow"/>),
/// through the real decoder, the real ResNet18 and the embedded index. The copy encoder is the real one, declared to make
/// detail regions; each item's region vectors are real embeddings of other photos, stored with the item, so which
/// vector scores what is known from the embeddings alone.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class WholeFirstSearchTests(EncoderFixture fixture) : IDisposable
{
    private static readonly RegionBox DetailBox = new(40, 30, 120, 90);
    private readonly TempDirectory _dir = new();
    private readonly List<IDisposable> _owned = [];
    private readonly byte[] _detail = TestImages.Photo(seed: 77, width: 200, height: 200, ImageFormat.Png);
    private readonly byte[] _whole = TestImages.Photo(seed: 31, width: 320, height: 240, ImageFormat.Jpeg);
    private readonly byte[] _other = TestImages.Photo(seed: 45, width: 300, height: 300, ImageFormat.Jpeg);

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task Above_the_threshold_the_items_own_vectors_answer_and_no_region_outranks_them()
    {
        // "other" holds the query itself as a detail region (cosine 1); "whole" and "other" are found by their own vectors.
        var copies = await TwoItemsAsync();
        var (toWhole, toOther) = (Cosine(_detail, _whole), Cosine(_detail, _other));
        var threshold = Math.Min(toWhole, toOther) - 0.01f;
        var (search, _) = Create(threshold, copies);

        var hits = (await search.SearchByImageAsync(_detail, new SearchQuery(k: 5) { Space = SearchSpace.Copies }, OwnerScope.Everyone)).Results;

        // Both items by their own vectors, best first, and no region box: the region that equals the query was not asked.
        Assert.Equal(toWhole > toOther ? ["whole", "other"] : ["other", "whole"], hits.Select(h => h.Id));
        Assert.All(hits, h => Assert.Null(h.Region));
        Assert.Equal(Math.Max(toWhole, toOther), hits[0].Score, 1e-4f);
    }

    [Fact]
    public async Task Below_the_threshold_the_regions_are_asked_and_merged_by_item()
    {
        var copies = await TwoItemsAsync();
        var toWhole = Cosine(_detail, _whole);
        // Above every own score: the detail falls through to the regions.
        var (search, _) = Create(Math.Max(toWhole, Cosine(_detail, _other)) + 0.001f, copies);

        var hits = (await search.SearchByImageAsync(_detail, new SearchQuery(k: 5) { Space = SearchSpace.Copies }, OwnerScope.Everyone)).Results;

        // "other" once, by its region (the query itself) with the box; "whole" still by its own vector.
        Assert.Equal(["other", "whole"], hits.Select(h => h.Id));
        Assert.True(hits[0].Score > 0.999f, $"the region is the query's embedding: {hits[0].Score}");
        Assert.Equal(DetailBox, hits[0].Region);
        Assert.Null(hits[1].Region);
        Assert.Equal(toWhole, hits[1].Score, 1e-4f);

        // minScore applies to the merged list; k counts items.
        var above = (await search.SearchByImageAsync(_detail, new SearchQuery(k: 5, minScore: 0.999f) { Space = SearchSpace.Copies }, OwnerScope.Everyone)).Results;
        Assert.Equal("other", Assert.Single(above).Id);
        Assert.Single((await search.SearchByImageAsync(_detail, new SearchQuery(k: 1) { Space = SearchSpace.Copies }, OwnerScope.Everyone)).Results);
    }

    [Fact]
    public async Task Once_the_regions_are_asked_a_region_counts_only_when_it_beats_the_best_own_score_by_the_margin()
    {
        var copies = await TwoItemsAsync();
        var bestOwn = Math.Max(Cosine(_detail, _whole), Cosine(_detail, _other));
        var query = new SearchQuery(k: 5) { Space = SearchSpace.Copies };
        // The region scores 1: it counts with a margin below 1 - bestOwn, and not with one above.
        var (counts, _) = Create(1f, copies, regionMargin: (1 - bestOwn) / 2);
        var (ignored, _) = Create(1f, copies, regionMargin: 1 - bestOwn + 0.01f);

        var withRegion = (await counts.SearchByImageAsync(_detail, query, OwnerScope.Everyone)).Results;
        var withoutRegion = (await ignored.SearchByImageAsync(_detail, query, OwnerScope.Everyone)).Results;

        Assert.Equal("other", withRegion[0].Id);
        Assert.Equal(DetailBox, withRegion[0].Region);
        Assert.All(withoutRegion, h => Assert.Null(h.Region));
        Assert.Equal(bestOwn, withoutRegion[0].Score, 1e-4f);
    }

    [Fact]
    public async Task A_minScore_above_the_threshold_still_sees_the_best_own_score_so_regions_are_not_asked()
    {
        var copies = await TwoItemsAsync();
        var toWhole = Cosine(_detail, _whole);
        var toOther = Cosine(_detail, _other);
        // The best own score is at the threshold (so the regions are not asked) but below minScore: nothing is returned,
        // where asking the regions would have returned "other" by its region at 1.
        var (search, _) = Create(Math.Max(toWhole, toOther) - 0.001f, copies);

        var hits = (await search.SearchByImageAsync(_detail, new SearchQuery(k: 5, minScore: 0.999f) { Space = SearchSpace.Copies }, OwnerScope.Everyone)).Results;

        Assert.Empty(hits);
    }

    [Fact]
    public async Task Another_owners_region_never_answers_a_fallback()
    {
        var (_, copies) = Create(regionFallbackBelow: null);
        await UpsertAsync(copies, "alice/whole.jpg", _whole, owner: "alice");
        // bob's item holds the query as a region: the best vector of the whole index.
        await UpsertAsync(copies, "bob/other.jpg", _other, owner: "bob", regionOf: _detail);
        // Every search falls through to the regions (1: always asked).
        var (search, _) = Create(1f, copies);
        var query = new SearchQuery(k: 5) { Space = SearchSpace.Copies };

        var alice = (await search.SearchByImageAsync(_detail, query, OwnerScope.Of("alice"))).Results;
        var bob = (await search.SearchByImageAsync(_detail, query, OwnerScope.Of("bob"))).Results;
        var bobFiltered = (await search.SearchByImageAsync(_detail, new SearchQuery(k: 5, filter: SearchFilter.Parse("album eq 'none'")) { Space = SearchSpace.Copies }, OwnerScope.Of("bob"))).Results;

        var hit = Assert.Single(alice);
        Assert.Equal("alice/whole.jpg", hit.Id);
        Assert.Null(hit.Region);
        Assert.Equal(Cosine(_detail, _whole), hit.Score, 1e-4f);
        Assert.Equal(DetailBox, Assert.Single(bob).Region);
        // A client filter holds for the region search too.
        Assert.Empty(bobFiltered);
    }

    [Fact]
    public async Task A_space_without_detail_regions_searches_every_vector_as_before()
    {
        // The same items with regions, in a space whose encoder declares no detail regions (Encoder:Regions, 7b): the
        // threshold does not apply (-1 would never ask the regions) and an item scores the best of all its vectors.
        var copies = await TwoItemsAsync(detailRegions: false);
        var (search, _) = Create(-1f, copies);

        var hits = (await search.SearchByImageAsync(_detail, new SearchQuery(k: 5) { Space = SearchSpace.Copies }, OwnerScope.Everyone)).Results;

        Assert.Equal("other", hits[0].Id);
        Assert.Equal(DetailBox, hits[0].Region);
    }

    [Fact]
    public void The_threshold_defaults_to_the_copy_threshold_and_is_validated()
    {
        Assert.Null(new SearchOptions().RegionFallbackBelow);
        Assert.Equal(0.05f, new SearchOptions().RegionMargin);
        Assert.Equal(0.83f, new DuplicateOptions().CopyMinScore);
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        var bad = new SearchOptions { RegionFallbackBelow = 1.5f };
        Assert.False(System.ComponentModel.DataAnnotations.Validator.TryValidateObject(bad, new(bad), results, validateAllProperties: true));
        Assert.Contains(results, r => r.MemberNames.Contains(nameof(SearchOptions.RegionFallbackBelow)));
    }

    [Fact]
    public void The_rule_asks_regions_only_below_the_threshold()
    {
        Assert.False(WholeFirst.AsksRegions(0.83f, 0.83f));
        Assert.True(WholeFirst.AsksRegions(0.8299f, 0.83f));
        // -1: only when no item is in scope; 1: unless an item's own vector is the query's.
        Assert.True(WholeFirst.AsksRegions(float.NegativeInfinity, -1f));
        Assert.False(WholeFirst.AsksRegions(-1f, -1f));
        Assert.True(WholeFirst.AsksRegions(0.999f, 1f));
        Assert.True(WholeFirst.RegionCounts(0.80f, 0.75f, 0.05f));
        Assert.False(WholeFirst.RegionCounts(0.79f, 0.75f, 0.05f));
        Assert.True(WholeFirst.RegionCounts(0.70f, 0.75f, 0f));
    }

    /// <summary>A search service whose copy space is a local index with detail regions (a new one, or <paramref name="copies"/>).</summary>
    /// <param name="regionMargin">0 unless a test is about the margin: every region that scores counts.</param>
    private (SearchService Search, CopySpace Copies) Create(float? regionFallbackBelow, CopySpace? copies = null, bool detailRegions = true, float regionMargin = 0)
    {
        if (copies is null)
        {
            var encoder = new DeclaredRegions(fixture.Encoder, detailRegions);
            copies = new CopySpace(encoder, new VectorIndexAccessor(NewIndex(), encoder));
        }

        var categoryIndex = NewIndex();
        var search = new SearchService(fixture.Decoder, fixture.Encoder, new VectorIndexAccessor(categoryIndex, fixture.Encoder), fixture.Metrics, NullLogger<SearchService>.Instance,
            options: Options.Create(new SearchOptions { RegionFallbackBelow = regionFallbackBelow, RegionMargin = regionMargin }), copies: copies);
        return (search, copies);
    }

    /// <summary>A copy space holding "whole" (its own vector only) and "other" (its own, and the detail's embedding as its region).</summary>
    private async Task<CopySpace> TwoItemsAsync(bool detailRegions = true)
    {
        var (_, copies) = Create(regionFallbackBelow: null, detailRegions: detailRegions);
        await UpsertAsync(copies, "whole", _whole);
        await UpsertAsync(copies, "other", _other, regionOf: _detail);
        return copies;
    }

    private LocalVectorIndex NewIndex()
    {
        var index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = Path.Combine(_dir.Path, Guid.NewGuid().ToString("N")), FlushToDisk = false }), NullLogger<LocalVectorIndex>.Instance);
        _owned.Add(index);
        return index;
    }

    /// <summary>Stores <paramref name="image"/>'s real embedding as the item, with <paramref name="regionOf"/>'s as its one region.</summary>
    private async Task UpsertAsync(CopySpace copies, string id, byte[] image, string? owner = null, byte[]? regionOf = null)
    {
        var index = await copies.Index.GetAsync();
        var metadata = new ItemMetadata
        {
            Source = "file",
            Name = id,
            ContentHash = id,
            ContentType = "image/jpeg",
            ModelId = copies.Encoder.Model.Id,
            Tags = owner is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["owner"] = owner },
        };
        await index.UpsertAsync(new VectorRecord(id, fixture.Embed(image), metadata)
        {
            Regions = regionOf is null ? [] : [new RegionVector(fixture.Embed(regionOf), DetailBox)],
        });
    }

    private float Cosine(byte[] a, byte[] b) => System.Numerics.Tensors.TensorPrimitives.Dot(fixture.Embed(a), fixture.Embed(b));

    /// <summary>The real encoder, declared to store region vectors (detail regions, as <c>Encoder:DetailRegionSide</c> makes, or 7b's).</summary>
    private sealed class DeclaredRegions(IImageEncoder inner, bool detailRegions) : IImageEncoder
    {
        public ModelInfo Model => inner.Model with { Regions = true, DetailRegions = detailRegions ? "dr-test" : null };

        public int InputSize => inner.InputSize;

        public VisualSearch.Embedding.Embedding Embed(PreparedImage image, CancellationToken cancellationToken = default) => inner.Embed(image, cancellationToken);

        public Task WarmUpAsync(CancellationToken cancellationToken = default) => inner.WarmUpAsync(cancellationToken);
    }
}
