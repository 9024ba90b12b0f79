using SkiaSharp;
using VisualSearch.Imaging;
using VisualSearch.Testing;

namespace VisualSearch.UnitTests.Imaging;

/// <summary>Query-side views (issue 14): which pixels each view takes, on small drawn fixtures.</summary>
public sealed class ImageViewTests
{
    private readonly ImageDecoder _decoder = new(Microsoft.Extensions.Options.Options.Create(new ImagingOptions()));

    [Fact]
    public void The_geometry_of_each_view_of_a_landscape_image()
    {
        var input = new ImageInput(224);
        // Input: the shorter side (480) to 224, the centre 224 of the 298.67 px wide result.
        var centre = ImageView.Input.Geometry(input, 640, 480);
        Assert.Equal((224, 224), (centre.Width, centre.Height));
        Assert.Equal(224f / 480, centre.ScaleX, 1e-6f);
        Assert.Equal(centre.ScaleX, centre.ScaleY);
        Assert.Equal((640 * 224f / 480 - 224) / 2, centre.CropX, 1e-4f);
        Assert.Equal(0f, centre.CropY, 1e-4f);

        // Squash: each axis on its own, nothing cropped.
        var squash = new ImageView(ImageViewKind.Squash).Geometry(input, 640, 480);
        Assert.Equal(new ViewGeometry(224, 224, 224f / 640, 224f / 480, 0f, 0f), squash);

        // Zoom 0.875: the centre square of 420 px (0.875 x 480) to 224.
        var zoom = new ImageView(ImageViewKind.Zoom, 0.875).Geometry(input, 640, 480);
        Assert.Equal(224f / 420, zoom.ScaleX, 1e-6f);
        Assert.Equal((640 * 224f / 420 - 224) / 2, zoom.CropX, 1e-3f);
        Assert.Equal((480 * 224f / 420 - 224) / 2, zoom.CropY, 1e-3f);

        // Mirror has the input's geometry (the mirroring follows).
        Assert.Equal(centre, new ImageView(ImageViewKind.Mirror).Geometry(input, 640, 480));
    }

    [Fact]
    public void For_a_whole_image_input_the_input_view_keeps_the_aspect_ratio_and_the_others_are_square()
    {
        var input = new ImageInput(224, WholeImage: true, MaxLongerSide: 448, SideMultiple: 32);
        Assert.Equal((288, 224), (ImageView.Input.Geometry(input, 640, 480).Width, ImageView.Input.Geometry(input, 640, 480).Height));
        Assert.Equal((224, 224), (new ImageView(ImageViewKind.Squash).Geometry(input, 640, 480).Width, new ImageView(ImageViewKind.Squash).Geometry(input, 640, 480).Height));
        Assert.Equal((224, 224), (new ImageView(ImageViewKind.Zoom).Geometry(input, 640, 480).Width, new ImageView(ImageViewKind.Zoom).Geometry(input, 640, 480).Height));
    }

    [Fact]
    public void Squash_keeps_both_borders_that_the_centre_crop_cuts()
    {
        // 640 x 480: a red band on the left 64 px, a green band on the right 64 px, blue between.
        var png = Bands(640, 480, 64);
        var views = _decoder.PrepareViews(png, new ImageInput(224), [ImageView.Input, new ImageView(ImageViewKind.Squash)]);
        var (input, squash) = (views[0], views[1]);
        Assert.Equal((224, 224), (squash.PixelWidth, squash.PixelHeight));
        Assert.Equal((640, 480), (squash.Width, squash.Height));

        // The centre crop starts 37 px into the 299 px wide scaled image: past the 30 px red band; no green either.
        Assert.Equal(0, CountColumns(input, IsRed));
        Assert.Equal(0, CountColumns(input, IsGreen));
        // The squashed view keeps both bands, each a tenth of the width (22.4 px).
        Assert.InRange(CountColumns(squash, IsRed), 21, 23);
        Assert.InRange(CountColumns(squash, IsGreen), 21, 23);
    }

    [Fact]
    public void Zoom_takes_the_centre_square_of_its_share_of_the_shorter_side()
    {
        // 400 x 400 white with a centred 200 x 200 black square: zoom 0.5 is the black square alone.
        var png = TestImages.Rectangles(400, 400, SKColors.White, (SKRect.Create(100, 100, 200, 200), SKColors.Black));
        var views = _decoder.PrepareViews(png, new ImageInput(224), [ImageView.Input, new ImageView(ImageViewKind.Zoom, 0.5), new ImageView(ImageViewKind.Zoom, 0.75)]);
        // Input: the black square is the middle half of each side (112 of 224 px).
        Assert.InRange(CountColumnsAt(views[0], 112, p => p.R < 64), 110, 114);
        // Zoom 0.5: black from edge to edge (a pixel of blending at most at each edge).
        Assert.InRange(CountColumnsAt(views[1], 112, p => p.R < 64), 222, 224);
        Assert.InRange(CountColumnsAt(views[1], 3, p => p.R < 64), 222, 224);
        // Zoom 0.75: 200 of 300 px, two thirds (149.3 px) black.
        Assert.InRange(CountColumnsAt(views[2], 112, p => p.R < 64), 148, 151);
    }

    [Fact]
    public void Mirror_is_the_input_view_reversed_left_to_right_exactly()
    {
        var jpeg = TestImages.Photo(seed: 12, width: 300, height: 200, ImageFormat.Jpeg);
        var input = _decoder.Prepare(jpeg, new ImageInput(224));
        var mirror = Assert.Single(_decoder.PrepareViews(jpeg, new ImageInput(224), [new ImageView(ImageViewKind.Mirror)]));
        for (var y = 0; y < 224; y += 37)
        {
            for (var x = 0; x < 224; x++)
            {
                Assert.Equal(input.Rgb.AsSpan((y * 224 + x) * 3, 3).ToArray(), mirror.Rgb.AsSpan((y * 224 + 223 - x) * 3, 3).ToArray());
            }
        }

        Assert.False(input.Rgb.AsSpan().SequenceEqual(mirror.Rgb), "the photo is not symmetric, so its mirror differs");
    }

    [Fact]
    public void The_input_view_is_the_pixels_prepare_gives_even_when_a_zoom_view_needs_a_larger_decode()
    {
        // A large JPEG is decoded at a k/8 scale: the input view's scale covers 224, the zoom view's needs 224 / 0.5.
        var jpeg = TestImages.Photo(seed: 3, width: 1600, height: 1200, ImageFormat.Jpeg);
        var prepared = _decoder.Prepare(jpeg, new ImageInput(224));
        var views = _decoder.PrepareViews(jpeg, new ImageInput(224), [new ImageView(ImageViewKind.Zoom, 0.5), ImageView.Input]);
        Assert.Equal(prepared.Rgb, views[1].Rgb);
        Assert.Equal((224, 224), (views[0].PixelWidth, views[0].PixelHeight));
        Assert.True(new ImageView(ImageViewKind.Zoom, 0.5).IsCoveredBy(new ImageInput(224), (448, 600), (1600, 1200)));
        Assert.False(new ImageView(ImageViewKind.Zoom, 0.5).IsCoveredBy(new ImageInput(224), (300, 400), (1600, 1200)));
        Assert.True(ImageView.Input.IsCoveredBy(new ImageInput(224), (300, 400), (1600, 1200)));
    }

    [Theory]
    [InlineData(0.49)]
    [InlineData(1.01)]
    [InlineData(double.NaN)]
    public void A_zoom_outside_half_to_the_whole_is_refused(double zoom)
    {
        var png = Bands(100, 100, 10);
        Assert.Throws<ArgumentOutOfRangeException>(() => _decoder.PrepareViews(png, new ImageInput(224), [new ImageView(ImageViewKind.Zoom, zoom)]));
    }

    [Fact]
    public void Bad_bytes_are_refused_as_for_a_single_view()
    {
        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.PrepareViews(TestImages.TruncatedJpeg(), new ImageInput(224), [ImageView.Input, new ImageView(ImageViewKind.Squash)]));
        Assert.Equal(ImageRejectionReason.Truncated, ex.Reason);
    }

    private static byte[] Bands(int width, int height, int band) => TestImages.Rectangles(width, height, SKColors.Blue,
        (SKRect.Create(0, 0, band, height), SKColors.Red), (SKRect.Create(width - band, 0, band, height), new SKColor(0, 255, 0)));

    private static bool IsRed((byte R, byte G, byte B) p) => p.R > 128 && p.G < 128 && p.B < 128;

    private static bool IsGreen((byte R, byte G, byte B) p) => p.G > 128 && p.R < 128 && p.B < 128;

    private static int CountColumns(PreparedImage image, Func<(byte R, byte G, byte B), bool> test) => CountColumnsAt(image, image.PixelHeight / 2, test);

    private static int CountColumnsAt(PreparedImage image, int row, Func<(byte R, byte G, byte B), bool> test) =>
        Enumerable.Range(0, image.PixelWidth).Count(x =>
        {
            var i = (row * image.PixelWidth + x) * 3;
            return test((image.Rgb[i], image.Rgb[i + 1], image.Rgb[i + 2]));
        });
}
