using System.Text.Json;
using VisualSearch.Api;
using VisualSearch.Indexing;

namespace VisualSearch.FunctionalTests;

/// <summary>
/// The search API's result as JSON (the web defaults the hosts' minimal APIs serialise with): an item with its
/// score, and <c>region: {x, y, width, height}</c> only when a region of the item gave the score (issue 14).
/// The hosts' answers without regions are checked end to end in <see cref="ApiTests"/>.
/// </summary>
public sealed class SearchResultJsonTests
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static readonly ItemMetadata Metadata = new()
    {
        Source = "file",
        Name = "a.jpg",
        ContentHash = new string('a', 64),
        ContentType = "image/jpeg",
        Width = 640,
        Height = 480,
        ModelId = "m",
    };

    [Fact]
    public void A_result_a_region_scored_names_the_region_in_the_items_pixels()
    {
        var json = JsonSerializer.SerializeToElement(new SearchResultsDto("m", [new SearchResultDto("a.jpg", 0.91f, Metadata, new RegionBox(10, 20, 300, 200))]), Web);

        var result = json.GetProperty("results")[0];
        Assert.Equal("a.jpg", result.GetProperty("id").GetString());
        Assert.Equal(0.91f, result.GetProperty("score").GetSingle());
        var region = result.GetProperty("region");
        Assert.Equal((10, 20, 300, 200), (region.GetProperty("x").GetInt32(), region.GetProperty("y").GetInt32(), region.GetProperty("width").GetInt32(), region.GetProperty("height").GetInt32()));
        Assert.Equal(4, region.EnumerateObject().Count());
    }

    [Fact]
    public void A_result_its_own_vector_scored_has_no_region()
    {
        var json = JsonSerializer.SerializeToElement(new SearchResultDto("a.jpg", 0.91f, Metadata), Web);

        Assert.False(json.TryGetProperty("region", out _));
        Assert.Equal(["id", "score", "metadata"], json.EnumerateObject().Select(p => p.Name));
    }
}
