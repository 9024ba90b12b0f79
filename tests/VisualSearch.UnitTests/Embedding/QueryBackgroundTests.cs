using System.Numerics.Tensors;
using Microsoft.Extensions.Logging.Abstractions;
using SkiaSharp;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.Testing;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Embedding;

/// <summary>
/// A query's flat background (issue 14, docs/quality.md section 7g): the pixels of one near-constant colour connected to
/// the border, found on small fixtures, and what the feature-map encoder does with them for queries only.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class QueryBackgroundTests(EncoderFixture fixture)
{
    [Fact]
    public void The_white_corners_of_a_circular_detail_are_the_background_and_the_disc_is_not()
    {
        // A 200 x 200 detail through a circular mask on white, JPEG at 95 (as eval-copies' partial-circ edit), decoded
        // by the product to the feature map's 224 input.
        var prepared = fixture.Decoder.Prepare(CircularDetail(seed: 4, side: 200), new ImageInput(224, WholeImage: true, 448, 32));
        var (w, h) = (prepared.PixelWidth, prepared.PixelHeight);
        Assert.Equal((224, 224), (w, h));
        var mask = BorderBackground.Detect(prepared.Rgb, w, h);

        // Every pixel well outside the circle is background, every pixel well inside is not; about 1 - pi/4 of the image in all.
        double r = w / 2.0, masked = 0;
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var d = Math.Sqrt((x + 0.5 - r) * (x + 0.5 - r) + (y + 0.5 - r) * (y + 0.5 - r));
                if (d > r + 3) Assert.True(mask[y * w + x], $"({x},{y}) outside the circle is not background");
                if (d < r - 3) Assert.False(mask[y * w + x], $"({x},{y}) inside the circle is background");
                if (mask[y * w + x]) masked++;
            }
        }

        Assert.InRange(masked / (w * h), 0.19, 0.23);

        // Its shape, and the picture inside it: the square inscribed in the circle (224 / sqrt 2 = 158.4 px), centred.
        var shape = BorderBackground.Find(prepared.Rgb, w, h);
        Assert.NotNull(shape);
        Assert.Equal(BackgroundShapeKind.EllipseCorners, shape.Kind);
        Assert.Equal(mask, shape.Mask);
        Assert.Equal((33, 33, 158, 158), (shape.X, shape.Y, shape.Width, shape.Height));
    }

    [Fact]
    public void Letterbox_bars_are_the_background_and_a_flat_patch_inside_the_picture_is_not()
    {
        // 40 x 30 pixels: black bars of 5 rows at the top and bottom, a noisy picture between, with a white 6 x 6 patch in it.
        const int w = 40, h = 30;
        var random = new Random(7);
        var rgb = new byte[w * h * 3];
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var i = (y * w + x) * 3;
                var bar = y < 5 || y >= h - 5;
                var patch = x is >= 17 and < 23 && y is >= 12 and < 18;
                for (var c = 0; c < 3; c++) rgb[i + c] = bar ? (byte)random.Next(0, 4) : patch ? (byte)255 : (byte)random.Next(40, 220);
            }
        }

        var mask = BorderBackground.Detect(rgb, w, h);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                Assert.Equal(y < 5 || y >= h - 5, mask[y * w + x]);
        var shape = BorderBackground.Find(rgb, w, h);
        Assert.Equal((BackgroundShapeKind.Bars, 0, 5, 40, 20), (shape!.Kind, shape.X, shape.Y, shape.Width, shape.Height));

        // Turned a quarter (pillarbox): the bars are columns.
        var turned = new byte[rgb.Length];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                rgb.AsSpan((y * w + x) * 3, 3).CopyTo(turned.AsSpan((x * h + y) * 3));
        var pillar = BorderBackground.Find(turned, h, w);
        Assert.Equal((BackgroundShapeKind.Bars, 5, 0, 20, 40), (pillar!.Kind, pillar.X, pillar.Y, pillar.Width, pillar.Height));
    }

    [Fact]
    public void A_photo_with_no_flat_border_has_no_background()
    {
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var prepared = fixture.Decoder.Prepare(TestImages.Photo(seed, 320, 240, ImageFormat.Jpeg), new ImageInput(224, WholeImage: true, 448, 32));
            Assert.DoesNotContain(true, BorderBackground.Detect(prepared.Rgb, prepared.PixelWidth, prepared.PixelHeight));
        }

        var samples = SamplePhotos.Read("coffee.png");
        var coffee = fixture.Decoder.Prepare(samples, new ImageInput(224, WholeImage: true, 448, 32));
        Assert.DoesNotContain(true, BorderBackground.Detect(coffee.Rgb, coffee.PixelWidth, coffee.PixelHeight));
    }

    [Fact]
    public void A_border_colour_on_too_little_of_the_border_or_of_the_image_is_no_background_and_an_all_flat_image_neither()
    {
        // A white strip down the left 2 of 20 columns: a tenth of the image, but under half of the border.
        const int w = 20, h = 20;
        var rgb = new byte[w * h * 3];
        var random = new Random(3);
        for (var p = 0; p < w * h; p++)
            for (var c = 0; c < 3; c++) rgb[p * 3 + c] = p % w < 2 ? (byte)255 : (byte)random.Next(40, 220);
        Assert.DoesNotContain(true, BorderBackground.FlatBorder(rgb, w, h));
        Assert.Contains(true, BorderBackground.FlatBorder(rgb, w, h, minBorderShare: 0.2));
        // Flat on a fifth of the border, it is still no shape a mask or a player adds (one bar, not two).
        Assert.DoesNotContain(true, BorderBackground.Detect(rgb, w, h, minBorderShare: 0.2));

        // All white: nothing would be left, so nothing is masked.
        Assert.DoesNotContain(true, BorderBackground.Detect(Enumerable.Repeat((byte)255, w * h * 3).ToArray(), w, h));
        Assert.Throws<ArgumentException>(() => BorderBackground.Detect(rgb, w, h + 1));
    }

    [Fact]
    public void A_cut_out_on_white_is_flat_at_the_border_but_no_background_since_the_white_reaches_inside()
    {
        // A 60 x 60 white image with a noisy 20 x 20 object in the middle: flat all round, corners included, but the white
        // is the picture's own (it goes on inside the inscribed circle), so nothing is masked; the same for the bars' test.
        const int w = 60, h = 60;
        var random = new Random(5);
        var rgb = new byte[w * h * 3];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                for (var c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = x is >= 20 and < 40 && y is >= 20 and < 40 ? (byte)random.Next(40, 220) : (byte)255;
        Assert.Contains(true, BorderBackground.FlatBorder(rgb, w, h));
        Assert.DoesNotContain(true, BorderBackground.Detect(rgb, w, h));
    }

    [Fact]
    public void A_circular_detail_whose_picture_is_white_next_to_the_edge_is_a_circle()
    {
        // The detail of a cut-out on white: the right 40% of the disc is the picture's own white, so the corners' white goes
        // on inside the circle there (a flood from the border fills it: the detector before docs/quality.md 7j refused it).
        var prepared = Prepare(CircularDetail(seed: 4, side: 200, whiteFrom: 0.6f));
        var shape = BorderBackground.Find(prepared.Rgb, prepared.PixelWidth, prepared.PixelHeight);
        Assert.NotNull(shape);
        Assert.Equal((BackgroundShapeKind.EllipseCorners, 33, 33, 158, 158), (shape.Kind, shape.X, shape.Y, shape.Width, shape.Height));

        // The mask is the outside of the circle, the white inside it is left to the picture.
        Assert.True(shape.Mask[0] && shape.Mask[^1]);
        Assert.False(shape.Mask[112 * 224 + 200], "the picture's white inside the circle is masked");
        Assert.InRange(shape.Mask.Count(m => m) / (224.0 * 224), 0.19, 0.23);
    }

    [Fact]
    public void A_small_circular_detail_enlarged_with_its_jpeg_ringing_is_a_circle()
    {
        // A 40 px detail at JPEG 95, enlarged 5.6 times to the 224 input: its ringing and soft edge reach several pixels past
        // the circle (the detector before 7j wanted every pixel 3 px out flat).
        foreach (var seed in new[] { 4, 9 })
        {
            var prepared = Prepare(CircularDetail(seed, side: 40));
            var shape = BorderBackground.Find(prepared.Rgb, prepared.PixelWidth, prepared.PixelHeight);
            Assert.Equal(BackgroundShapeKind.EllipseCorners, shape?.Kind);
        }
    }

    [Fact]
    public void A_round_picture_is_a_circle_only_when_it_fills_its_square_frame()
    {
        // What geometry cannot tell apart: a round picture inscribed in its square (a planet on white) is a circular detail's
        // shape. With a white margin round it, or drawn as an ellipse in a wide image, it is the picture's own background.
        Assert.NotNull(FindIn(Disc(seed: 3, 224, 224, radius: 1f)));
        Assert.Null(FindIn(Disc(seed: 3, 224, 224, radius: 0.8f)));
        Assert.Null(FindIn(Disc(seed: 3, 320, 224, radius: 1f)));
    }

    [Fact]
    public void A_rotated_photos_black_corners_are_no_circle()
    {
        // eval-copies' rotate15: a square photo turned 15 degrees on a black canvas; the corners are flat, but the picture
        // goes on past the inscribed circle towards the middle of every side.
        using var photo = TestImages.Render(11, 200, 200);
        using var rotated = new SKBitmap(new SKImageInfo(245, 245, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(rotated))
        {
            canvas.Clear(SKColors.Black);
            canvas.Translate(122.5f, 122.5f);
            canvas.RotateDegrees(15);
            canvas.DrawBitmap(photo, -100, -100);
        }

        Assert.Null(FindIn(TestImages.Encode(rotated, ImageFormat.Jpeg, 95)));
    }

    [Fact]
    public void Cells_are_kept_when_at_least_half_of_their_block_is_picture()
    {
        // 8 x 4 pixels over a 4 x 2 map (blocks of 2 x 2): block 0 all background, block 1 half, block 2 a quarter, the rest none.
        var background = new bool[32];
        foreach (var (x, y) in new[] { (0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (3, 0), (4, 0) }) background[y * 8 + x] = true;
        Assert.Equal([false, true, true, true, true, true, true, true], BorderBackground.KeptCells(background, 8, 4, 4, 2));
        Assert.Equal([false, false, true, true, true, true, true, true], BorderBackground.KeptCells(background, 8, 4, 4, 2, keepShare: 0.6));
        Assert.Throws<ArgumentException>(() => BorderBackground.KeptCells(background, 8, 5, 4, 2));
    }

    [Fact]
    public void Zeroing_pixels_clears_them_in_every_plane_and_nothing_else()
    {
        float[] tensor = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        Preprocessor.ZeroPixels(tensor, [false, true, false, true]);
        Assert.Equal([1, 0, 3, 0, 5, 0, 7, 0, 9, 0, 11, 0], tensor);
        Assert.Throws<ArgumentException>(() => Preprocessor.ZeroPixels(tensor, new bool[3]));
    }

    [Theory]
    [InlineData(QueryBackgroundMode.Fill, "bgfill")]
    [InlineData(QueryBackgroundMode.Pool, "bgpool")]
    [InlineData(QueryBackgroundMode.FillAndPool, "bgfillpool")]
    [InlineData(QueryBackgroundMode.Crop, "bgcrop")]
    public void A_queries_background_changes_its_vector_only_and_never_a_stored_vector_or_the_model_id(QueryBackgroundMode mode, string path)
    {
        using var cache = new TempDirectory("vs-map-cache-");
        using var plain = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, MaskFlatCells = true, DetailRegionSide = 0, QueryBackground = QueryBackgroundMode.None, Int8CachePath = cache.Path });
        using var encoder = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, MaskFlatCells = true, DetailRegionSide = 0, QueryBackground = mode, Int8CachePath = cache.Path });
        Assert.Equal(plain.Model.Id, encoder.Model.Id);
        Assert.Null(plain.Model.QueryPath);
        Assert.Equal(plain.Model.Id, plain.Model.QueryId);
        Assert.Equal(path, encoder.Model.QueryPath);
        Assert.Equal($"{plain.Model.Id}-q{path}", encoder.Model.QueryId);

        var circle = fixture.Decoder.Prepare(CircularDetail(seed: 5, side: 180), encoder.Input);
        var photo = fixture.Decoder.Prepare(TestImages.Photo(6, 320, 240, ImageFormat.Jpeg), encoder.Input);

        // Stored vectors (Embed) are the plain encoder's, bit for bit; so is a query without a flat border.
        Assert.Equal(plain.Embed(circle).Vector, encoder.Embed(circle).Vector);
        Assert.Equal(plain.Embed(photo).Vector, encoder.EmbedQuery(photo).Vector);
        Assert.Equal(plain.Embed(photo).Vector, plain.EmbedQuery(photo).Vector);

        // A circular detail's query vector differs, and is a unit vector.
        var query = encoder.EmbedQuery(circle).Vector;
        Assert.Equal(1f, TensorPrimitives.Norm(query), 1e-4f);
        Assert.True(TensorPrimitives.Dot(query, plain.Embed(circle).Vector) < 0.9999f, "the background changed nothing");
    }

    [Fact]
    public void Crop_embeds_the_square_inscribed_in_a_circular_detail_at_its_own_scale()
    {
        // The circular detail's query vector with Crop is the plain vector of the detail's centre 160 x 160 pixels (158.4
        // rounded to the stride) of the same 224 x 224 input.
        using var cache = new TempDirectory("vs-map-cache-");
        using var plain = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, MaskFlatCells = true, DetailRegionSide = 0, QueryBackground = QueryBackgroundMode.None, Int8CachePath = cache.Path });
        using var encoder = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, MaskFlatCells = true, DetailRegionSide = 0, QueryBackground = QueryBackgroundMode.Crop, Int8CachePath = cache.Path });
        var circle = fixture.Decoder.Prepare(CircularDetail(seed: 8, side: 300), encoder.Input);
        Assert.Equal((224, 224), (circle.PixelWidth, circle.PixelHeight));
        var centre = new byte[160 * 160 * 3];
        for (var y = 0; y < 160; y++) circle.Rgb.AsSpan(((32 + y) * 224 + 32) * 3, 160 * 3).CopyTo(centre.AsSpan(y * 160 * 3));
        var expected = plain.Embed(new PreparedImage(centre, 160, 160, circle.Format, circle.Width, circle.Height)).Vector;
        Assert.Equal(expected, encoder.EmbedQuery(circle).Vector);
    }

    [Fact]
    public void CropView_keeps_the_whole_query_as_a_stored_item_and_makes_the_crop_as_Crop_does()
    {
        using var cache = new TempDirectory("vs-map-cache-");
        using var plain = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, MaskFlatCells = true, DetailRegionSide = 0, QueryBackground = QueryBackgroundMode.None, Int8CachePath = cache.Path });
        using var crop = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, MaskFlatCells = true, DetailRegionSide = 0, QueryBackground = QueryBackgroundMode.Crop, Int8CachePath = cache.Path });
        using var views = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, MaskFlatCells = true, DetailRegionSide = 0, QueryBackground = QueryBackgroundMode.CropView, Int8CachePath = cache.Path });

        // The whole view's vectors are the stored items' (the query cache is the plain one); the crop view's cache is Crop's.
        Assert.Equal(plain.Model.Id, views.Model.Id);
        Assert.Null(views.Model.QueryPath);
        Assert.Equal(plain.Model.QueryId, views.Model.QueryId);
        Assert.Equal("bgcrop", views.Model.CropViewPath);
        Assert.Equal(crop.Model.QueryId, views.Model.CropViewId);
        Assert.Null(crop.Model.CropViewId);
        Assert.Null(crop.EmbedQueryCrop(fixture.Decoder.Prepare(CircularDetail(seed: 5, side: 180), crop.Input)));

        var circle = fixture.Decoder.Prepare(CircularDetail(seed: 5, side: 180), views.Input);
        var photo = fixture.Decoder.Prepare(TestImages.Photo(6, 320, 240, ImageFormat.Jpeg), views.Input);
        Assert.Equal(plain.Embed(circle).Vector, views.EmbedQuery(circle).Vector);
        Assert.Equal(crop.EmbedQuery(circle).Vector, views.EmbedQueryCrop(circle)!.Value.Vector);
        // No background, no crop view.
        Assert.Null(views.EmbedQueryCrop(photo));
        Assert.Equal(plain.Embed(photo).Vector, views.EmbedQuery(photo).Vector);
    }

    [Fact]
    public void The_centre_crop_encoder_ignores_the_setting()
    {
        var options = fixture.Options(EncoderPrecision.Float32);
        options.QueryBackground = QueryBackgroundMode.FillAndPool;
        using var encoder = Create(options);
        var circle = fixture.Decoder.Prepare(CircularDetail(seed: 5, side: 180), encoder.Input);
        Assert.Null(encoder.Model.QueryPath);
        Assert.Equal(fixture.Float32.Model.Id, encoder.Model.Id);
        Assert.Equal(fixture.Float32.Embed(circle).Vector, encoder.EmbedQuery(circle).Vector);
    }

    /// <summary>
    /// A synthetic photo's detail through a circular mask with white corners, as JPEG 95 (eval-copies' partial-circ); with
    /// <paramref name="whiteFrom"/>, the picture is white right of that share of the side (a detail of a cut-out on white).
    /// </summary>
    private static byte[] CircularDetail(int seed, int side, float whiteFrom = 1)
    {
        using var photo = TestImages.Render(seed, side * 2, side * 2);
        return TestImages.CircularDetail(photo, new SKRect(side / 2f, side / 2f, side * 1.5f, side * 1.5f), side, whiteFrom: whiteFrom);
    }

    /// <summary>A round picture on white: a synthetic photo through an ellipse of <paramref name="radius"/> of the half-sides, as JPEG 95.</summary>
    private static byte[] Disc(int seed, int width, int height, float radius)
    {
        using var photo = TestImages.Render(seed, width, height);
        using var disc = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(disc))
        {
            canvas.Clear(SKColors.White);
            using var path = new SKPath();
            path.AddOval(SKRect.Create(width * (1 - radius) / 2, height * (1 - radius) / 2, width * radius, height * radius));
            canvas.ClipPath(path, antialias: true);
            canvas.DrawBitmap(photo, 0, 0);
        }

        return TestImages.Encode(disc, ImageFormat.Jpeg, 95);
    }

    /// <summary>An encoded image as the feature map's query takes it (shorter side 224, the longer at most 448, multiples of 32).</summary>
    private PreparedImage Prepare(byte[] encoded) => fixture.Decoder.Prepare(encoded, new ImageInput(224, WholeImage: true, 448, 32));

    private QueryBackgroundShape? FindIn(byte[] encoded)
    {
        var prepared = Prepare(encoded);
        return BorderBackground.Find(prepared.Rgb, prepared.PixelWidth, prepared.PixelHeight);
    }

    private OnnxImageEncoder Create(EncoderOptions options) =>
        new(Microsoft.Extensions.Options.Options.Create(options), NullLogger<OnnxImageEncoder>.Instance, fixture.Metrics);
}
