using Microsoft.Extensions.Options;
using SkiaSharp;
using VisualSearch.Imaging;

namespace VisualSearch.UnitTests.Imaging;

public sealed class ImageDecoderTests
{
    private const int Size = 224;
    private readonly ImageDecoder _decoder = new(Options.Create(new ImagingOptions()));

    public static TheoryData<ImageFormat, double> Formats => new()
    {
        // Largest mean absolute difference (0-255) to the lossless PNG decode that each codec may add.
        { ImageFormat.Png, 0.0 },
        { ImageFormat.Bmp, 0.5 },
        { ImageFormat.Tiff, 0.5 },
        { ImageFormat.Jpeg, 6.0 },
        { ImageFormat.WebP, 6.0 },
        { ImageFormat.Gif, 12.0 },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Every_format_decodes_to_the_square_input_with_upright_size(ImageFormat format, double tolerance)
    {
        using var bitmap = TestImages.Render(seed: 7, width: 300, height: 200);
        var encoded = TestImages.Encode(bitmap, format);
        Assert.Equal(format, ImageFormats.Detect(encoded));

        var prepared = _decoder.Prepare(encoded, Size);

        Assert.Equal(Size, prepared.Size);
        Assert.Equal(Size * Size * 3, prepared.Rgb.Length);
        Assert.Equal(300, prepared.Width);
        Assert.Equal(200, prepared.Height);
        Assert.Equal(format, prepared.Format);

        var reference = _decoder.Prepare(TestImages.Encode(bitmap, ImageFormat.Png), Size);
        var diff = TestImages.MeanAbsDiff(reference.Rgb, prepared.Rgb);
        Assert.True(diff <= tolerance, $"{format}: mean abs diff to the PNG decode is {diff:F2} (allowed {tolerance}).");
    }

    [Fact]
    public void Decoded_pixels_are_the_centre_crop_of_the_image_scaled_to_the_shorter_side()
    {
        // 448x224 PNG: left quarter red, middle half green, right quarter blue. Scaled by 1 (shorter side
        // already 224) and centre-cropped to 224x224, only the green middle half remains.
        using var bitmap = new SKBitmap(new SKImageInfo(448, 224, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(bitmap))
        {
            using var paint = new SKPaint();
            paint.Color = SKColors.Red;
            canvas.DrawRect(0, 0, 112, 224, paint);
            paint.Color = new SKColor(0, 255, 0);
            canvas.DrawRect(112, 0, 224, 224, paint);
            paint.Color = SKColors.Blue;
            canvas.DrawRect(336, 0, 112, 224, paint);
        }

        var prepared = _decoder.Prepare(TestImages.Encode(bitmap, ImageFormat.Png), Size);

        Assert.Equal(448, prepared.Width);
        Assert.Equal(224, prepared.Height);
        // Away from the two colour edges (the resampling filter reaches 2 pixels): pure green.
        foreach (var (x, y) in new[] { (4, 4), (219, 4), (4, 219), (219, 219), (112, 112) })
        {
            var i = (y * Size + x) * 3;
            Assert.InRange(prepared.Rgb[i], (byte)0, (byte)2);
            Assert.InRange(prepared.Rgb[i + 1], (byte)253, (byte)255);
            Assert.InRange(prepared.Rgb[i + 2], (byte)0, (byte)2);
        }
    }

    [Fact]
    public void Exif_orientation_6_is_applied_and_the_size_reported_upright()
    {
        using var upright = TestImages.Render(seed: 11, width: 320, height: 240);
        using var stored = TestImages.StoreForOrientation6(upright);
        Assert.Equal(240, stored.Width);
        Assert.Equal(320, stored.Height);
        var rotatedJpeg = TestImages.WithExifOrientation(TestImages.Encode(stored, ImageFormat.Jpeg, 95), 6);

        var prepared = _decoder.Prepare(rotatedJpeg, Size);
        var expected = _decoder.Prepare(TestImages.Encode(upright, ImageFormat.Jpeg, 95), Size);

        Assert.Equal(320, prepared.Width);
        Assert.Equal(240, prepared.Height);
        var diff = TestImages.MeanAbsDiff(expected.Rgb, prepared.Rgb);
        Assert.True(diff < 6, $"Mean abs diff to the upright original: {diff:F2}");

        // The same stored pixels without the tag stay rotated, far from the upright original: the check above
        // therefore depends on the orientation being applied.
        var untagged = _decoder.Prepare(TestImages.Encode(stored, ImageFormat.Jpeg, 95), Size);
        Assert.Equal(240, untagged.Width);
        Assert.Equal(320, untagged.Height);
        Assert.True(TestImages.MeanAbsDiff(expected.Rgb, untagged.Rgb) > 4 * diff + 10);
    }

    [Fact]
    public void Transparent_png_is_composited_on_white()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(64, 48, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bitmap.Erase(SKColors.Transparent);
        var png = TestImages.Encode(bitmap, ImageFormat.Png);

        var prepared = _decoder.Prepare(png, Size);

        Assert.Equal(64, prepared.Width);
        Assert.Equal(48, prepared.Height);
        Assert.All(prepared.Rgb, b => Assert.Equal((byte)255, b));
    }

    [Fact]
    public void Half_transparent_black_png_becomes_mid_grey()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(32, 32, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bitmap.Erase(new SKColor(0, 0, 0, 128));
        var prepared = _decoder.Prepare(TestImages.Encode(bitmap, ImageFormat.Png), Size);
        Assert.All(prepared.Rgb, b => Assert.InRange(b, (byte)120, (byte)135));
    }

    [Fact]
    public void Empty_input_is_rejected_as_empty()
    {
        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Prepare([], Size));
        Assert.Equal(ImageRejectionReason.Empty, ex.Reason);
    }

    [Fact]
    public void Text_is_rejected_as_unsupported()
    {
        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Prepare("hello, this is not an image"u8, Size));
        Assert.Equal(ImageRejectionReason.UnsupportedFormat, ex.Reason);
    }

    [Fact]
    public void Jpeg_cut_in_half_is_rejected_as_truncated()
    {
        var jpeg = TestImages.Photo(seed: 3, width: 400, height: 300, ImageFormat.Jpeg);
        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Prepare(jpeg.AsSpan(0, jpeg.Length / 2), Size));
        Assert.Equal(ImageRejectionReason.Truncated, ex.Reason);
    }

    [Fact]
    public void Png_declaring_50000_by_50000_pixels_is_rejected_before_decoding()
    {
        var bomb = TestImages.PngWithHeader(50_000, 50_000);
        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Prepare(bomb, Size));
        Assert.Equal(ImageRejectionReason.TooManyPixels, ex.Reason);
    }

    [Fact]
    public void Hand_built_png_within_the_limits_is_accepted()
    {
        // The same builder with a small size: shows that the rejection above is about the declared size.
        var small = TestImages.PngWithHeader(16, 1);
        var prepared = _decoder.Prepare(small, Size);
        Assert.Equal(16, prepared.Width);
        Assert.Equal(1, prepared.Height);
    }

    [Fact]
    public void Long_side_over_the_limit_is_rejected_even_with_few_pixels()
    {
        var strip = TestImages.PngWithHeader(40_000, 1);
        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Prepare(strip, Size));
        Assert.Equal(ImageRejectionReason.TooManyPixels, ex.Reason);
    }

    [Fact]
    public void Bytes_over_the_limit_are_rejected_as_too_large()
    {
        var png = TestImages.Photo(seed: 5, width: 64, height: 64, ImageFormat.Png);
        var decoder = new ImageDecoder(Options.Create(new ImagingOptions { MaxBytes = png.Length - 1 }));
        var ex = Assert.Throws<ImageRejectedException>(() => decoder.Prepare(png, Size));
        Assert.Equal(ImageRejectionReason.TooLarge, ex.Reason);

        var exact = new ImageDecoder(Options.Create(new ImagingOptions { MaxBytes = png.Length }));
        Assert.Equal(64, exact.Prepare(png, Size).Width);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Garbage_after_a_png_signature_is_rejected_as_corrupt_or_truncated(int seed)
    {
        var bytes = new byte[4096];
        new Random(seed).NextBytes(bytes);
        TestImages.PngSignature.CopyTo(bytes);

        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Prepare(bytes, Size));
        Assert.Contains(ex.Reason, new[] { ImageRejectionReason.Corrupt, ImageRejectionReason.Truncated });
    }

    [Fact]
    public void Garbage_after_a_tiff_signature_is_rejected_as_corrupt()
    {
        var bytes = new byte[512];
        new Random(9).NextBytes(bytes);
        "II*\0"u8.CopyTo(bytes);

        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Prepare(bytes, Size));
        Assert.Contains(ex.Reason, new[] { ImageRejectionReason.Corrupt, ImageRejectionReason.Truncated });
    }

    public static TheoryData<ImageFormat> AllFormats => new()
    {
        ImageFormat.Jpeg, ImageFormat.Png, ImageFormat.WebP, ImageFormat.Gif, ImageFormat.Bmp, ImageFormat.Tiff,
    };

    [Theory]
    [MemberData(nameof(AllFormats))]
    public void Damaged_files_are_decoded_or_rejected_never_crash(ImageFormat format)
    {
        var valid = TestImages.Photo(seed: 13, width: 120, height: 90, format);
        var random = new Random((int)format);
        var outcomes = new List<string>();

        // Cut at many points, and flip bytes at random offsets: each must either decode or be rejected
        // with an ImageRejectedException, never fail with another exception type.
        var variants = new List<byte[]>();
        foreach (var fraction in new[] { 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.95 })
            variants.Add(valid[..Math.Max(1, (int)(valid.Length * fraction))]);
        for (var i = 0; i < 30; i++)
        {
            var damaged = (byte[])valid.Clone();
            for (var j = 0; j < 1 + i % 4; j++) damaged[random.Next(damaged.Length)] ^= (byte)(1 + random.Next(255));
            variants.Add(damaged);
        }

        foreach (var bytes in variants)
        {
            try
            {
                var prepared = _decoder.Prepare(bytes, Size);
                Assert.Equal(Size * Size * 3, prepared.Rgb.Length);
                outcomes.Add("ok");
            }
            catch (ImageRejectedException ex)
            {
                outcomes.Add(ex.Reason.ToString());
            }
        }

        // The first cut (1% of the file) can never be a whole image.
        Assert.NotEqual("ok", outcomes[0]);
    }
}
