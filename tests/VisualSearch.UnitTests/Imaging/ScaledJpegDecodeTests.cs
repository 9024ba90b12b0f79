using Microsoft.Extensions.Options;
using SkiaSharp;
using VisualSearch.Imaging;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Imaging;

/// <summary>
/// The decoder reads a large JPEG at the smallest k/8 scale that still covers the input size (libjpeg-turbo's
/// DCT scaling), which is what makes phone photos cheap. The vectors must not notice: on each sample photo,
/// made into a 12 MP camera-like JPEG, the embedding of the scaled decode matches that of a full-size decode
/// (ImagingOptions.ScaledJpegDecode = false: every pixel, then mipmapped down) with cosine >= 0.99. No timing here: vsearch bench measures the speed.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class ScaledJpegDecodeTests(EncoderFixture fixture)
{
    private const int Width = 4032;
    private const int Height = 3024;

    public static TheoryData<string> Photos()
    {
        var data = new TheoryData<string>();
        foreach (var name in SamplePhotos.All) data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Photos))]
    public void A_12_megapixel_jpeg_decoded_at_reduced_scale_embeds_like_the_full_decode(string photo)
    {
        var jpeg = CameraJpeg(photo);
        using (var codec = SKCodec.Create(new SKMemoryStream(jpeg)))
        {
            // The file is one the decoder shrinks: 1/8 scale still covers 224 px.
            var eighth = codec.GetScaledDimensions(1 / 8f);
            Assert.True(Math.Min(eighth.Width, eighth.Height) >= fixture.Encoder.InputSize, $"{eighth}");
        }

        var prepared = fixture.Decoder.Prepare(jpeg, fixture.Encoder.InputSize);
        Assert.Equal(Width, prepared.Width);
        Assert.Equal(Height, prepared.Height);
        var scaled = fixture.Encoder.Embed(prepared).Vector;
        var fullDecoder = new ImageDecoder(Options.Create(new ImagingOptions { ScaledJpegDecode = false }));
        var full = fixture.Encoder.Embed(fullDecoder.Prepare(jpeg, fixture.Encoder.InputSize)).Vector;

        var cosine = EncoderFixture.Cosine(scaled, full);
        Assert.True(cosine >= 0.99, $"{photo}: cosine {cosine:F4} between the scaled and the full-size decode");
    }

    /// <summary>The photo scaled to cover <paramref name="width"/> x <paramref name="height"/> (centre; 4032x3024 unless given), with sensor-like noise, JPEG quality 90.</summary>
    internal static byte[] CameraJpeg(string photo, int width = Width, int height = Height)
    {
        using var source = SKBitmap.Decode(SamplePhotos.PathOf(photo));
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        using (var image = SKImage.FromBitmap(source))
        {
            var scale = Math.Max(width / (float)source.Width, height / (float)source.Height);
            canvas.Translate((width - source.Width * scale) / 2f, (height - source.Height * scale) / 2f);
            canvas.Scale(scale);
            canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKCubicResampler.Mitchell));
        }

        var pixels = bitmap.GetPixelSpan();
        var state = 2463534242u;
        for (var i = 0; i < pixels.Length; i += 4)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            for (var c = 0; c < 3; c++) pixels[i + c] = (byte)Math.Clamp(pixels[i + c] + (int)((state >> (c * 8)) & 0x1F) - 16, 0, 255);
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }
}
