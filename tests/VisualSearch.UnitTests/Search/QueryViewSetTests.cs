using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Search;

namespace VisualSearch.UnitTests.Search;

/// <summary>Query views (issue 14): parsing the setting, the mean of the views, and the multi-query's merge by item.</summary>
public sealed class QueryViewSetTests
{
    [Fact]
    public void Views_parse_in_order_case_insensitively_with_the_zoom_given()
    {
        var views = QueryViewSet.Parse(" input, MIRROR ,squash,Zoom", 0.8);
        Assert.Equal([ImageViewKind.Input, ImageViewKind.Mirror, ImageViewKind.Squash, ImageViewKind.Zoom], views.Select(v => v.Kind));
        Assert.Equal(0.8, views[3].Zoom);
        Assert.Equal(["input", "mirror", "squash", "zoom0.8"], views.Select(v => v.Name));
        Assert.Equal([ImageView.Input], new SearchOptions().ParseViews());
    }

    [Theory]
    [InlineData("", "at least one")]
    [InlineData(" , ", "at least one")]
    [InlineData("Input,Bogus", "Unknown query view 'Bogus'")]
    [InlineData("1", "Unknown query view '1'")]
    [InlineData("Input,input", "named twice")]
    [InlineData("Input,Mirror,Squash,Zoom,Input", "At most 4")]
    public void Bad_view_lists_are_refused_with_the_reason(string text, string reason)
    {
        var ex = Assert.Throws<FormatException>(() => QueryViewSet.Parse(text));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.False(QueryViewSet.TryParse(text, ImageView.DefaultZoom, out var views, out var error));
        Assert.Empty(views);
        Assert.Equal(ex.Message, error);
    }

    [Fact]
    public void A_zoom_out_of_range_is_refused_when_the_zoom_view_is_named()
    {
        Assert.Throws<FormatException>(() => QueryViewSet.Parse("Zoom", 0.3));
        Assert.Single(QueryViewSet.Parse("Mirror", 0.3)); // the zoom does not matter without a zoom view
    }

    [Fact]
    public void The_mean_of_unit_vectors_is_normalised()
    {
        var mean = QueryViewSet.Mean([[1f, 0f, 0f], [0f, 1f, 0f]]);
        Assert.Equal(1 / MathF.Sqrt(2), mean[0], 1e-6f);
        Assert.Equal(1 / MathF.Sqrt(2), mean[1], 1e-6f);
        Assert.Equal(0f, mean[2]);
        Assert.Equal([0f, 0f], QueryViewSet.Mean([[1f, 0f], [-1f, 0f]]));
        Assert.Throws<ArgumentException>(() => QueryViewSet.Mean([[1f, 0f], [1f, 0f, 0f]]));
    }

    [Fact]
    public void The_merge_keeps_each_item_once_with_its_best_hit_best_first_at_most_k()
    {
        var box = new RegionBox(1, 2, 3, 4);
        IReadOnlyList<SearchHit> first = [Hit("a", 0.9f), Hit("b", 0.8f), Hit("c", 0.5f)];
        IReadOnlyList<SearchHit> second = [Hit("b", 0.95f) with { Region = box }, Hit("d", 0.85f), Hit("a", 0.7f)];

        var merged = QueryViewSet.BestPerItem([first, second], k: 3);
        Assert.Equal(["b", "a", "d"], merged.Select(h => h.Id));
        Assert.Equal([0.95f, 0.9f, 0.85f], merged.Select(h => h.Score));
        Assert.Equal(box, merged[0].Region); // the best hit is kept whole, with the region that scored it

        Assert.Equal(["b", "a", "d", "c"], QueryViewSet.BestPerItem([first, second], k: 10).Select(h => h.Id));
        Assert.Equal(["b"], QueryViewSet.BestPerItem([first, second], k: 1).Select(h => h.Id));
        Assert.Empty(QueryViewSet.BestPerItem([[], []], k: 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => QueryViewSet.BestPerItem([first], k: 0));
    }

    [Fact]
    public void Equal_scores_are_ordered_by_id_so_the_merge_is_deterministic()
    {
        var merged = QueryViewSet.BestPerItem([[Hit("z", 0.5f), Hit("m", 0.5f)], [Hit("a", 0.5f)]], k: 2);
        Assert.Equal(["a", "m"], merged.Select(h => h.Id));
    }

    private static SearchHit Hit(string id, float score) => new(id, score, new ItemMetadata
    {
        Source = "file",
        Name = id,
        ContentHash = "h-" + id,
        ContentType = "image/png",
        ModelId = "m",
    });
}
