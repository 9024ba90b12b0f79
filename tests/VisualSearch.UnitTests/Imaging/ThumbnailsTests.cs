using SkiaSharp;
using VisualSearch.Imaging;

namespace VisualSearch.UnitTests.Imaging;

public sealed class ThumbnailsTests
{
    private static readonly ImagingOptions Limits = new();

    public static TheoryData<ImageFormat> Formats() =>
    [
        ImageFormat.Jpeg, ImageFormat.Png, ImageFormat.WebP, ImageFormat.Gif, ImageFormat.Bmp, ImageFormat.Tiff,
    ];

    [Theory]
    [MemberData(nameof(Formats))]
    public void Every_format_gives_a_jpeg_whose_longer_side_is_the_asked_size(ImageFormat format)
    {
        var encoded = TestImages.Photo(seed: 21, width: 640, height: 400, format);

        var thumbnail = Thumbnails.Create(encoded, 256, Limits);

        Assert.Equal(ImageFormat.Jpeg, ImageFormats.Detect(thumbnail));
        using var decoded = SKBitmap.Decode(thumbnail);
        Assert.Equal(256, decoded.Width);
        Assert.Equal(160, decoded.Height);
    }

    [Fact]
    public void A_thumbnail_looks_like_its_original()
    {
        using var original = TestImages.Render(seed: 4, width: 600, height: 600);
        var thumbnail = Thumbnails.Create(TestImages.Encode(original, ImageFormat.Png), 128, Limits);

        using var decoded = SKBitmap.Decode(thumbnail);
        using var expected = TestImages.Resize(original, 128, 128);
        using var rgba = decoded.Copy(SKColorType.Rgba8888);
        var diff = TestImages.MeanAbsDiff(expected.GetPixelSpan(), rgba.GetPixelSpan());
        Assert.True(diff < 12, $"Mean abs diff to a plain resize: {diff:F2}");
    }

    [Fact]
    public void A_small_image_is_not_enlarged()
    {
        var thumbnail = Thumbnails.Create(TestImages.Photo(seed: 2, width: 100, height: 60, ImageFormat.Png), 512, Limits);

        using var decoded = SKBitmap.Decode(thumbnail);
        Assert.Equal((100, 60), (decoded.Width, decoded.Height));
    }

    [Fact]
    public void Exif_orientation_is_applied()
    {
        using var upright = TestImages.Render(seed: 11, width: 320, height: 240);
        using var stored = TestImages.StoreForOrientation6(upright);
        var rotated = TestImages.WithExifOrientation(TestImages.Encode(stored, ImageFormat.Jpeg, 95), 6);

        using var fromRotated = SKBitmap.Decode(Thumbnails.Create(rotated, 160, Limits));
        using var fromUpright = SKBitmap.Decode(Thumbnails.Create(TestImages.Encode(upright, ImageFormat.Jpeg, 95), 160, Limits));

        Assert.Equal((160, 120), (fromRotated.Width, fromRotated.Height));
        var diff = TestImages.MeanAbsDiff(fromUpright.GetPixelSpan(), fromRotated.GetPixelSpan());
        Assert.True(diff < 8, $"Mean abs diff to the upright thumbnail: {diff:F2}");
    }

    [Fact]
    public void The_decoder_limits_apply_before_decoding()
    {
        var bomb = TestImages.PngWithHeader(50_000, 50_000);
        Assert.Equal(ImageRejectionReason.TooManyPixels, Assert.Throws<ImageRejectedException>(() => Thumbnails.Create(bomb, 256, Limits)).Reason);

        var png = TestImages.Photo(seed: 5, width: 64, height: 64, ImageFormat.Png);
        var tight = new ImagingOptions { MaxBytes = png.Length - 1 };
        Assert.Equal(ImageRejectionReason.TooLarge, Assert.Throws<ImageRejectedException>(() => Thumbnails.Create(png, 256, tight)).Reason);
    }

    [Fact]
    public void Bad_input_is_rejected_with_a_reason()
    {
        Assert.Equal(ImageRejectionReason.Empty, Assert.Throws<ImageRejectedException>(() => Thumbnails.Create([], 256, Limits)).Reason);
        Assert.Equal(ImageRejectionReason.UnsupportedFormat,
            Assert.Throws<ImageRejectedException>(() => Thumbnails.Create("not an image at all"u8.ToArray(), 256, Limits)).Reason);
        var jpeg = TestImages.Photo(seed: 3, width: 400, height: 300, ImageFormat.Jpeg);
        Assert.Equal(ImageRejectionReason.Truncated,
            Assert.Throws<ImageRejectedException>(() => Thumbnails.Create(jpeg.AsSpan(0, jpeg.Length / 2), 256, Limits)).Reason);
    }
}
