using VisualSearch.Index.Local;
using static VisualSearch.UnitTests.Index.PartsFixture;

namespace VisualSearch.UnitTests.Index;

/// <summary>The metadata pool shares repeated strings and tag sets, keeps every value as it was, and stays bounded.</summary>
public sealed class MetadataPoolTests
{
    [Fact]
    public void Equal_values_are_shared_and_nothing_changes_in_value()
    {
        var pool = new MetadataPool();
        var first = pool.Share(Metadata("a", "holiday"));
        var second = Metadata("b", "holiday");
        var shared = pool.Share(second);

        Assert.Equal(second, shared with { Tags = second.Tags }); // every field as it was
        Assert.Equal(second.Tags, shared.Tags);
        Assert.Same(first.Tags, shared.Tags);
        Assert.Same(first.Source, shared.Source);
        Assert.Same(first.ModelId, shared.ModelId);
        Assert.Same(first.ContentType, shared.ContentType);

        var other = pool.Share(Metadata("c", "work"));
        Assert.NotSame(first.Tags, other.Tags);
        Assert.Equal("work", other.Tags["album"]);
    }

    [Fact]
    public void Past_its_bound_new_values_are_kept_as_they_are_and_pooled_ones_still_shared()
    {
        var pool = new MetadataPool();
        var album0 = pool.Share(Metadata("r0", "album0")).Tags;
        for (var i = 1; i < MetadataPool.MaxEntries; i++) pool.Share(Metadata($"r{i}", $"album{i}"));

        var late = Metadata("late", "new-album");
        var again = Metadata("again", "new-album");
        Assert.Same(late.Tags, pool.Share(late).Tags);
        Assert.Same(again.Tags, pool.Share(again).Tags);
        Assert.Same(album0, pool.Share(Metadata("x", "album0")).Tags);
    }
}
