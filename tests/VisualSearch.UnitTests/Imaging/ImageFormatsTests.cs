using VisualSearch.Imaging;

namespace VisualSearch.UnitTests.Imaging;

/// <summary>The one list of image extensions and media types, derived from <see cref="ImageFormat"/>.</summary>
public sealed class ImageFormatsTests
{
    [Theory]
    [InlineData("a/b/photo.JPG", true)]
    [InlineData("photo.jpe", true)]
    [InlineData("scan.tiff", true)]
    [InlineData("x.webp", true)]
    [InlineData("notes.txt", false)]
    [InlineData("IMG_0001.heic", false)]
    [InlineData("noextension", false)]
    public void A_file_is_an_image_candidate_by_the_extension_of_a_supported_format(string path, bool expected) =>
        Assert.Equal(expected, ImageFormats.HasImageExtension(path));

    [Fact]
    public void Every_supported_format_round_trips_through_its_extension_and_media_type()
    {
        Assert.Equal(6, ImageFormats.Supported.Count);
        foreach (var format in ImageFormats.Supported)
        {
            Assert.StartsWith(".", format.Extension(), StringComparison.Ordinal);
            Assert.Contains(format.Extension(), ImageFormats.FileExtensions);
            Assert.Equal(format, ImageFormats.FromExtension(format.Extension().ToUpperInvariant()));
            Assert.Equal(format, ImageFormats.FromContentType(format.ContentType()));
        }

        Assert.Equal(".jpg", ImageFormat.Jpeg.Extension());
        Assert.Equal(".tif", ImageFormat.Tiff.Extension());
        Assert.Equal(ImageFormat.Jpeg, ImageFormats.FromExtension(".jpeg"));
        Assert.Equal(ImageFormat.Unknown, ImageFormats.FromExtension(".heic"));
        Assert.Equal(ImageFormat.Unknown, ImageFormats.FromContentType("image/svg+xml"));
        Assert.Equal("", ImageFormat.Unknown.Extension());
    }
}
