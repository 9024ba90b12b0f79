using VisualSearch.Ingestion;

namespace VisualSearch.UnitTests.Ingestion;

public sealed class ItemIdsTests
{
    [Theory]
    [InlineData("images/a/b.jpg")]
    [InlineData("a")]
    [InlineData("photos/2024/IMG 0001.JPG")]
    [InlineData("file/dir/..hidden")]
    public void Accepts_path_like_ids(string id)
    {
        Assert.True(ItemIds.IsValid(id, out var error));
        Assert.Equal("", error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("../x")]
    [InlineData("a/../b")]
    [InlineData("a//b")]
    [InlineData("/a")]
    [InlineData("a/")]
    [InlineData("a/./b")]
    [InlineData(".")]
    [InlineData("a\\b")]
    [InlineData("a\nb")]
    [InlineData("a\0b")]
    [InlineData("a\u007fb")]
    public void Rejects_ids_that_could_act_as_paths_or_break_logs(string id)
    {
        Assert.False(ItemIds.IsValid(id, out var error));
        Assert.False(string.IsNullOrEmpty(error));
        Assert.Throws<ArgumentException>(() => ItemIds.Validate(id));
    }

    [Fact]
    public void Rejects_null() => Assert.False(ItemIds.IsValid(null, out _));

    [Fact]
    public void Length_limit_is_1024_characters()
    {
        Assert.True(ItemIds.IsValid(new string('a', 1024), out _));
        Assert.False(ItemIds.IsValid(new string('a', 1025), out var error));
        Assert.Contains("1024", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Blob_ids_join_container_and_name() =>
        Assert.Equal("images/a/b.jpg", ItemIds.ForBlob("images", "a/b.jpg"));
}
