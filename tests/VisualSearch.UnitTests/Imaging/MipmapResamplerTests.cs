using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;
using SkiaSharp;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Imaging;

/// <summary>
/// The decoder's resize (<see cref="MipmapResampler"/>, Skia's linear-with-mipmaps draw done in C#) gives the bytes Skia's draw
/// gave before it, bit for bit, so every stored vector stays as it was: the prepared pixels and the preprocessed tensor
/// against the previous code (<see cref="SkiaRender"/>, the drawing code ImageDecoder.Render ran), on the sample photos as
/// camera JPEGs decoded at their k/8 scale, on whole-image inputs and views, and on random images of many sizes, opaque and
/// translucent. No timing here: <c>vsearch bench --parts decode</c> measures the speed.
/// </summary>
public sealed class MipmapResamplerTests
{
    private const int Size = 224;
    private readonly ImageDecoder _decoder = new(Options.Create(new ImagingOptions()));

    public static TheoryData<string, int, int> CameraPhotos()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var photo in SamplePhotos.All)
        {
            data.Add(photo, 4032, 3024);   // decoded at 504x378: the bench's photos
            data.Add(photo, 4000, 3000);   // 500x375: an odd side, so the mip level's triangle filter
            data.Add(photo, 1200, 1600);   // portrait, decoded at 300x400
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CameraPhotos))]
    public void A_camera_jpeg_prepares_the_same_pixels_and_tensor_as_skias_draw(string photo, int width, int height)
    {
        var jpeg = ScaledJpegDecodeTests.CameraJpeg(photo, width, height);
        var input = new ImageInput(Size);
        using var decoded = _decoder.Decode(jpeg, (scaled, _) => Math.Min(scaled.Width, scaled.Height) >= Size);
        var geometry = ImageView.Input.Geometry(input, decoded.Bitmap.Width, decoded.Bitmap.Height);
        // The case this is for: a downscale of an upright decode, which the resampler takes (not Skia).
        Assert.True(MipmapResampler.TryRender(decoded.Bitmap, Matrix(geometry), geometry.Width, geometry.Height, new byte[geometry.Width * geometry.Height * 3]));

        var prepared = _decoder.Prepare(jpeg, Size);
        var reference = SkiaRender(decoded.Bitmap, geometry);
        Assert.Equal(reference, prepared.Rgb);

        var preprocessor = new Preprocessor(PreprocessingMode.MeanImageBgr, Size, [.. Enumerable.Range(0, 3 * Size * Size).Select(i => (i % 251) * 0.5f)]);
        Assert.Equal(preprocessor.Create(reference), preprocessor.Create(prepared.Rgb));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Random_images_of_many_sizes_resample_as_skia_draws_them(bool scalar)
    {
        var random = new Random(13);
        var taken = 0;
        MipmapResampler.ForceScalar = scalar;
        try
        {
            for (var i = 0; i < 40; i++)
            {
                int w = random.Next(230, 1400), h = random.Next(230, 1400);
                var translucent = i % 4 == 3;
                using var bitmap = RandomBitmap(random, w, h, translucent);
                // The centre crop, a whole image with its aspect ratio kept, and a squashed view: scales from about 0.16 to 0.97.
                var views = new[]
                {
                    ImageView.Input.Geometry(new ImageInput(Size), w, h),
                    ImageView.Input.Geometry(new ImageInput(Size, WholeImage: true, MaxLongerSide: 448, SideMultiple: 32), w, h),
                    new ImageView(ImageViewKind.Squash).Geometry(new ImageInput(Size), w, h),
                };
                foreach (var geometry in views)
                {
                    var rgb = new byte[geometry.Width * geometry.Height * 3];
                    if (!MipmapResampler.TryRender(bitmap, Matrix(geometry), geometry.Width, geometry.Height, rgb)) continue;
                    taken++;
                    var reference = SkiaRender(bitmap, geometry);
                    Assert.True(reference.AsSpan().SequenceEqual(rgb), $"{w}x{h} {(translucent ? "translucent" : "opaque")} onto {geometry}: {reference.Zip(rgb).Count(p => p.First != p.Second)} bytes differ");
                }
            }
        }
        finally
        {
            MipmapResampler.ForceScalar = false;
        }

        // Most of these are the resampler's (the rest, whole images that round past the decode, are Skia's).
        Assert.True(taken >= 80, $"only {taken} of 120 draws were resampled");
    }

    [Fact]
    public void What_is_not_the_mipmapped_downscale_is_left_to_skia()
    {
        using var bitmap = RandomBitmap(new Random(5), 400, 300, translucent: false);
        var rgb = new byte[Size * Size * 3];
        var down = ImageView.Input.Geometry(new ImageInput(Size), 400, 300);
        Assert.True(MipmapResampler.TryRender(bitmap, Matrix(down), Size, Size, rgb));

        // An upscale (Skia's cubic), a rotated photo (EXIF), an image that leaves white borders, another alpha type.
        Assert.False(MipmapResampler.TryRender(bitmap, SKMatrix.CreateScale(1.2f, 1.2f), Size, Size, rgb));
        Assert.False(MipmapResampler.TryRender(bitmap, Matrix(down).PreConcat(ImageDecoder.OrientationMatrix(SKEncodedOrigin.RightTop, 400, 300)), Size, Size, rgb));
        Assert.False(MipmapResampler.TryRender(bitmap, SKMatrix.CreateScale(0.5f, 0.5f), Size, Size, rgb));
        using var unpremul = new SKBitmap(new SKImageInfo(400, 300, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        Assert.False(MipmapResampler.TryRender(unpremul, Matrix(down), Size, Size, rgb));
    }

    [Fact]
    public void A_source_above_the_pixel_bound_is_left_to_skia_and_the_decoder_still_prepares_it()
    {
        // 2049 x 2048 is one column past 4 MP: its mip levels would be managed arrays outliving the decode (BombMemoryTests).
        using var large = new SKBitmap(new SKImageInfo(2049, 2048, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var bound = new SKBitmap(new SKImageInfo(2048, 2048, SKColorType.Rgba8888, SKAlphaType.Premul));
        var rgb = new byte[Size * Size * 3];
        Assert.False(MipmapResampler.TryRender(large, Matrix(ImageView.Input.Geometry(new ImageInput(Size), 2049, 2048)), Size, Size, rgb));
        Assert.True(MipmapResampler.TryRender(bound, Matrix(ImageView.Input.Geometry(new ImageInput(Size), 2048, 2048)), Size, Size, rgb));

        // Through the decoder a large PNG (no scaled decode) takes Skia's draw: the same pixels as Skia's draw of it.
        using var source = RandomBitmap(new Random(7), 2400, 1800, translucent: false);
        using var image = SKImage.FromBitmap(source);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        var prepared = _decoder.Prepare(png.ToArray(), Size);
        Assert.Equal(SkiaRender(source, ImageView.Input.Geometry(new ImageInput(Size), 2400, 1800)), prepared.Rgb);
    }

    private static SKMatrix Matrix(ViewGeometry g) =>
        SKMatrix.CreateTranslation(-g.CropX, -g.CropY).PreConcat(SKMatrix.CreateScale(g.ScaleX, g.ScaleY));

    /// <summary>The drawing ImageDecoder.Render made before the resampler: Skia, linear with linear mipmaps, onto white, unpremultiplied.</summary>
    private static byte[] SkiaRender(SKBitmap source, ViewGeometry g)
    {
        using var target = new SKBitmap(new SKImageInfo(g.Width, g.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using (var canvas = new SKCanvas(target))
        using (var image = SKImage.FromBitmap(source))
        {
            canvas.Clear(SKColors.White);
            canvas.SetMatrix(Matrix(g));
            canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }

        var rgb = new byte[g.Width * g.Height * 3];
        ImageDecoder.RgbaToRgb(target.GetPixelSpan(), rgb);
        return rgb;
    }

    /// <summary>Noise over a gradient (hard for any rounding to hide in), premultiplied; translucent ones with random alpha.</summary>
    private static SKBitmap RandomBitmap(Random random, int w, int h, bool translucent)
    {
        var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        var pixels = new byte[w * h * 4];
        for (var p = 0; p < w * h; p++)
        {
            var alpha = translucent ? random.Next(256) : 255;
            var gradient = (p % w) * 255 / w;
            for (var c = 0; c < 3; c++) pixels[p * 4 + c] = (byte)((c == 0 ? gradient : random.Next(256)) * alpha / 255);
            pixels[p * 4 + 3] = (byte)alpha;
        }

        Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        bitmap.SetImmutable();
        return bitmap;
    }
}
