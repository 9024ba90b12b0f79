using Microsoft.Extensions.Options;
using SkiaSharp;
using VisualSearch.Imaging;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Imaging;

/// <summary>
/// A large WebP is decoded scaled by libwebp (issue 20: decode large images subsampled where the codec can; PNG, GIF
/// and BMP cannot be through SkiaSharp, see ImageDecoder). The vectors must not notice: the embedding of the scaled
/// decode matches that of a whole decode (ImagingOptions.SampledDecode = false) with cosine >= 0.99.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class SampledDecodeTests(EncoderFixture fixture)
{
    private const int Width = 2400;
    private const int Height = 1800;
    private readonly ImageDecoder _whole = new(Options.Create(new ImagingOptions { SampledDecode = false }));

    public static TheoryData<string, ImageFormat> Cases()
    {
        var data = new TheoryData<string, ImageFormat>();
        foreach (var name in SamplePhotos.All.Take(3))
        {
            data.Add(name, ImageFormat.WebP);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_large_image_decoded_sampled_embeds_like_the_whole_decode(string photo, ImageFormat format)
    {
        using var source = SKBitmap.Decode(SamplePhotos.PathOf(photo));
        using var large = TestImages.Resize(source, Width, Height);
        var encoded = TestImages.Encode(large, format);
        using (var codec = SKCodec.Create(new SKMemoryStream(encoded)))
        {
            // The codec can decode it scaled, so the decoder does.
            var scaled = codec.GetScaledDimensions(0.25f);
            Assert.True(scaled.Width < Width, $"{format} cannot be decoded scaled ({scaled})");
        }

        var sampled = fixture.Decoder.Prepare(encoded, fixture.Encoder.InputSize);
        Assert.Equal((Width, Height), (sampled.Width, sampled.Height));
        var whole = _whole.Prepare(encoded, fixture.Encoder.InputSize);
        var cosine = EncoderFixture.Cosine(fixture.Encoder.Embed(sampled).Vector, fixture.Encoder.Embed(whole).Vector);
        Assert.True(cosine >= 0.99, $"{photo} as {format}: cosine {cosine:F4} between the sampled and the whole decode");
        Assert.True(TestImages.MeanAbsDiff(sampled.Rgb, whole.Rgb) < 4, $"{photo} as {format}: mean pixel difference {TestImages.MeanAbsDiff(sampled.Rgb, whole.Rgb):F2}");
    }
}
