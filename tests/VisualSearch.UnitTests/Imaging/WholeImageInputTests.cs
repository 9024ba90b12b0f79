using SkiaSharp;
using VisualSearch.Imaging;
using VisualSearch.Testing;

namespace VisualSearch.UnitTests.Imaging;

/// <summary>The whole-image input of issue 14: aspect ratio kept, shorter side S, longer side capped, sides a multiple of the stride.</summary>
public sealed class WholeImageInputTests
{
    private readonly ImageDecoder _decoder = new(Microsoft.Extensions.Options.Options.Create(new ImagingOptions()));

    [Theory]
    [InlineData(640, 480, 384, 288)]     // 4:3 kept exactly
    [InlineData(480, 640, 288, 384)]
    [InlineData(28, 28, 288, 288)]       // a tiny image is scaled up
    [InlineData(1920, 1080, 512, 288)]   // 16:9 -> 512 x 288 (the width rounded to a multiple of 32)
    [InlineData(3000, 500, 576, 96)]     // a panorama: the longer side capped at 576, the shorter below 288
    [InlineData(10000, 10, 576, 32)]     // a strip keeps one stride across
    public void Scaled_size_keeps_the_aspect_ratio_within_the_stride_and_caps_the_longer_side(int width, int height, int expectedWidth, int expectedHeight)
    {
        var input = new ImageInput(288, WholeImage: true, MaxLongerSide: 576, SideMultiple: 32);
        Assert.Equal((expectedWidth, expectedHeight), input.ScaledSize(width, height));
    }

    [Fact]
    public void A_centre_crop_input_is_square()
    {
        Assert.Equal((224, 224), new ImageInput(224).ScaledSize(640, 480));
    }

    [Fact]
    public void The_decoder_keeps_the_whole_image_where_the_crop_cut_its_sides()
    {
        // Left quarter red, the rest blue: the 224 centre crop of 640 x 480 starts at x = 37 of 299, inside the red.
        var png = TestImages.Rectangles(640, 480, SKColors.Blue, (SKRect.Create(0, 0, 160, 480), SKColors.Red));
        var whole = _decoder.Prepare(png, new ImageInput(288, WholeImage: true, MaxLongerSide: 576, SideMultiple: 32));
        Assert.Equal((384, 288, 288), (whole.PixelWidth, whole.PixelHeight, whole.Size));
        Assert.Equal((640, 480), (whole.Width, whole.Height));
        Assert.Equal(384 * 288 * 3, whole.Rgb.Length);
        // Column 10 (left border) is red, column 380 (right border) is blue: nothing was cropped.
        Assert.True(whole.Rgb[(144 * 384 + 10) * 3] > 200 && whole.Rgb[(144 * 384 + 10) * 3 + 2] < 50, "the left border is red");
        Assert.True(whole.Rgb[(144 * 384 + 380) * 3 + 2] > 200 && whole.Rgb[(144 * 384 + 380) * 3] < 50, "the right border is blue");
        // The red quarter is a quarter of the width.
        var redColumns = Enumerable.Range(0, 384).Count(x => whole.Rgb[(144 * 384 + x) * 3] > 128);
        Assert.InRange(redColumns, 95, 97);

        var crop = _decoder.Prepare(png, new ImageInput(224));
        Assert.Equal((224, 224), (crop.PixelWidth, crop.PixelHeight));
    }

    [Fact]
    public void A_large_jpeg_is_decoded_scaled_for_the_whole_image_as_for_the_crop()
    {
        var jpeg = TestImages.Synthetic(5, 3200, 2400, SKEncodedImageFormat.Jpeg);
        var scaled = _decoder.Prepare(jpeg, new ImageInput(288, WholeImage: true, MaxLongerSide: 576, SideMultiple: 32));
        var whole = new ImageDecoder(Microsoft.Extensions.Options.Options.Create(new ImagingOptions { ScaledJpegDecode = false }))
            .Prepare(jpeg, new ImageInput(288, WholeImage: true, MaxLongerSide: 576, SideMultiple: 32));
        Assert.Equal((384, 288), (scaled.PixelWidth, scaled.PixelHeight));
        Assert.True(TestImages.MeanAbsDiff(scaled.Rgb, whole.Rgb) < 6, "the DCT-scaled decode gives nearly the pixels of the full decode");
    }

    [Fact]
    public void Rescale_gives_the_second_size_of_a_whole_image()
    {
        var prepared = _decoder.Prepare(TestImages.Synthetic(2, 640, 480), new ImageInput(288, WholeImage: true, MaxLongerSide: 576, SideMultiple: 32));
        var smaller = ImageDecoder.Rescale(prepared, 288, 224);
        Assert.Equal((288, 224, 640, 480), (smaller.PixelWidth, smaller.PixelHeight, smaller.Width, smaller.Height));
        Assert.Equal(288 * 224 * 3, smaller.Rgb.Length);
    }
}
