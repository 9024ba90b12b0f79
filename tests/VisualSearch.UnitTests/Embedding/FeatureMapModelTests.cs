using System.Numerics.Tensors;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using VisualSearch.Embedding;
using VisualSearch.Embedding.Quantization;
using VisualSearch.Imaging;
using VisualSearch.Testing;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Embedding;

/// <summary>
/// The feature-map model derived from the packaged ResNet18 (issue 14): it is the same network cut before its
/// pool, so its map averaged is the network's own output; the edit is deterministic and cached by the source's hash.
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class FeatureMapModelTests(EncoderFixture fixture)
{
    private static readonly EncoderOptions Defaults = new();
    private static string SourcePath => Path.Combine(AppContext.BaseDirectory, Defaults.ModelPath);

    [Fact]
    public void The_edited_models_averaged_map_equals_the_original_models_output_on_the_same_224_input()
    {
        var preprocessor = OnnxImageEncoder.CreatePreprocessor(Defaults);
        var prepared = fixture.Decoder.Prepare(SamplePhotos.Read("chelsea.png"), 224);
        var tensor = preprocessor.Create(prepared.Rgb);

        using var original = new InferenceSession(SourcePath);
        var expected = Run(original, tensor, 224, 224, Defaults.OutputName, out var expectedShape);
        Assert.Equal([1L, 512, 1, 1], expectedShape);

        using var edited = new InferenceSession(FeatureMapModel.Edit(File.ReadAllBytes(SourcePath), Defaults.FeatureMapTensor));
        Assert.Equal([Defaults.FeatureMapTensor], edited.OutputMetadata.Keys);
        var map = Run(edited, tensor, 224, 224, Defaults.FeatureMapTensor, out var mapShape);
        Assert.Equal([1L, 512, 7, 7], mapShape);

        var pooled = FeatureMapPooling.PoolAll(map, 512, 7, 7, PoolingMethod.Average, 1);
        var scale = expected.Max(MathF.Abs);
        Assert.True(scale > 0.1f, "The network's output is empty: the comparison would prove nothing.");
        for (var c = 0; c < 512; c++)
            Assert.True(MathF.Abs(pooled[c] - expected[c]) <= 1e-4f * scale, $"channel {c}: map average {pooled[c]} against the network's {expected[c]}");
        Assert.True(TensorPrimitives.CosineSimilarity(pooled, expected) > 0.999999f);
    }

    [Fact]
    public void The_edited_model_takes_other_input_sizes_and_gives_the_map_of_that_size()
    {
        using var edited = new InferenceSession(FeatureMapModel.Edit(File.ReadAllBytes(SourcePath), Defaults.FeatureMapTensor));
        var tensor = new float[3 * 288 * 384];
        for (var i = 0; i < tensor.Length; i++) tensor[i] = (i % 97) - 48f;
        Run(edited, tensor, 288, 384, Defaults.FeatureMapTensor, out var shape);
        Assert.Equal([1L, 512, 9, 12], shape);
    }

    [Fact]
    public void The_edit_is_deterministic_and_cached_under_the_source_models_hash()
    {
        var source = File.ReadAllBytes(SourcePath);
        Assert.Equal(FeatureMapModel.Edit(source, Defaults.FeatureMapTensor), FeatureMapModel.Edit(source, Defaults.FeatureMapTensor));

        using var cache = new TempDirectory("vs-map-cache-");
        var first = FeatureMapModel.GetOrBuild("resnet18", SourcePath, Defaults.FeatureMapTensor, [cache.Path], out var built);
        Assert.True(built);
        Assert.Equal(FeatureMapModel.FileName("resnet18", Int8ModelBuilder.Sha256Of(SourcePath), Defaults.FeatureMapTensor), Path.GetFileName(first));
        var again = FeatureMapModel.GetOrBuild("resnet18", SourcePath, Defaults.FeatureMapTensor, [cache.Path], out var builtAgain);
        Assert.False(builtAgain);
        Assert.Equal(first, again);
        Assert.Equal(FeatureMapModel.Edit(source, Defaults.FeatureMapTensor), File.ReadAllBytes(first));
        Assert.NotEqual(FeatureMapModel.Key(Int8ModelBuilder.Sha256Of(SourcePath), "ReLU393_Output_0"), FeatureMapModel.Key(new string('0', 64), "ReLU393_Output_0"));
    }

    [Fact]
    public void A_tensor_the_model_does_not_have_is_refused()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => FeatureMapModel.Edit(File.ReadAllBytes(SourcePath), "NoSuchTensor"));
        Assert.Contains("NoSuchTensor", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_feature_map_encoder_embeds_the_whole_image_says_so_in_its_model_id_and_makes_regions_in_the_originals_pixels()
    {
        using var cache = new TempDirectory("vs-map-cache-");
        using var encoder = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, Regions = true, MaskFlatCells = false, DetailRegionSide = 0, QueryBackground = QueryBackgroundMode.None, Int8CachePath = cache.Path });
        Assert.Equal(new ImageInput(224, WholeImage: true, 448, 32), encoder.Input);

        // A 640 x 480 photo is embedded whole at 288 x 224 (a 9 x 7 map; 298.7 px rounded to the stride).
        var bytes = TestImages.Synthetic(3, 640, 480);
        var prepared = fixture.Decoder.Prepare(bytes, encoder.Input);
        Assert.Equal((288, 224), (prepared.PixelWidth, prepared.PixelHeight));
        var embedding = encoder.Embed(prepared);

        Assert.Matches("^resnet18-[0-9a-f]{12}-map-gem3-s224-512$", encoder.Model.Id);
        Assert.Equal(1f, TensorPrimitives.Norm(embedding.Vector), 1e-4f);
        var regions = Assert.IsAssignableFrom<IReadOnlyList<VisualSearch.Indexing.RegionVector>>(embedding.Regions);
        Assert.Equal(RegionGrid.Compute(9, 7, 3).Count, regions.Count);
        Assert.All(regions, r =>
        {
            Assert.Equal(512, r.Vector.Length);
            Assert.Equal(1f, TensorPrimitives.Norm(r.Vector), 1e-4f);
            Assert.InRange(r.Box.X, 0, 639);
            Assert.InRange(r.Box.Y, 0, 479);
            Assert.InRange(r.Box.X + r.Box.Width, 1, 640);
            Assert.InRange(r.Box.Y + r.Box.Height, 1, 480);
        });
        Assert.Contains(regions, r => r.Box.X + r.Box.Width == 640 && r.Box.Y + r.Box.Height == 480);

        // The same descriptor without regions: the same vector, no regions.
        using var plain = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, MaskFlatCells = false, DetailRegionSide = 0, QueryBackground = QueryBackgroundMode.None, Int8CachePath = cache.Path });
        var without = plain.Embed(prepared);
        Assert.Null(without.Regions);
        Assert.Equal(encoder.Model.Id, plain.Model.Id);
        Assert.True(TensorPrimitives.CosineSimilarity(embedding.Vector, without.Vector) > 0.99999f);
        // The same model id either way, so the model says whether it makes regions: the index records that (issue 14).
        Assert.True(encoder.Model.Regions);
        Assert.False(plain.Model.Regions);
    }

    [Fact]
    public void Detail_regions_come_from_a_larger_map_with_boxes_in_the_originals_pixels_and_say_so_in_the_model_id()
    {
        using var cache = new TempDirectory("vs-map-cache-");
        using var encoder = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, DetailRegionSide = 448, DetailRegionCells = "4,6", DetailRegionLimit = 40, MaskFlatCells = true, Int8CachePath = cache.Path });
        using var plain = Create(new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, MaskFlatCells = true, DetailRegionSide = 0, Int8CachePath = cache.Path });
        Assert.Equal(new ImageInput(448, WholeImage: true, 896, 32), encoder.RegionInput);
        Assert.Null(plain.RegionInput);
        Assert.Equal(plain.Input, encoder.Input);

        // A 640 x 480 photo: its detail regions come from a 608 x 448 whole image (a 19 x 14 map).
        var bytes = TestImages.Photo(seed: 12, width: 640, height: 480, ImageFormat.Jpeg);
        var large = fixture.Decoder.Prepare(bytes, encoder.RegionInput!.Value);
        Assert.Equal((608, 448), (large.PixelWidth, large.PixelHeight));
        var regions = encoder.EmbedRegions(large);
        var windows = DetailRegionGrid.Compute(19, 14, [4, 6], 40);
        Assert.Equal(windows.Count, regions.Count);
        Assert.InRange(regions.Count, 2, 40);
        for (var i = 0; i < regions.Count; i++)
        {
            Assert.Equal(512, regions[i].Vector.Length);
            Assert.Equal(1f, TensorPrimitives.Norm(regions[i].Vector), 1e-4f);
            Assert.Equal(RegionGrid.ToImageBox(windows[i], 19, 14, 640, 480), regions[i].Box);
        }

        Assert.Contains(regions, r => r.Box is { X: 0, Y: 0 });
        Assert.Contains(regions, r => r.Box.X + r.Box.Width == 640 && r.Box.Y + r.Box.Height == 480);

        // The item's own vector and a query's are the plain descriptor's; the model id adds how the regions were made.
        var small = fixture.Decoder.Prepare(bytes, encoder.Input);
        var own = encoder.Embed(small);
        Assert.Null(own.Regions);
        Assert.Equal(plain.Embed(small).Vector, own.Vector);
        Assert.Equal(plain.Model.Id.Replace("-512", "-dr448c4-6n40-512", StringComparison.Ordinal), encoder.Model.Id);
        Assert.Equal(plain.Model.Id, encoder.Model.WithoutDetailRegions.Id);
        Assert.True(encoder.Model.Regions);
        Assert.False(encoder.Model.WithoutDetailRegions.Regions);

        // A detail of the photo (a sixth of its area, shown alone as a query) is closer to some region than to the whole.
        using var decoded = SkiaSharp.SKBitmap.Decode(bytes);
        using var detail = new SkiaSharp.SKBitmap();
        Assert.True(decoded.ExtractSubset(detail, new SkiaSharp.SKRectI(380, 200, 640, 460)));
        var query = encoder.Embed(fixture.Decoder.Prepare(TestImages.Encode(detail, ImageFormat.Png), encoder.Input)).Vector;
        var best = regions.MaxBy(r => TensorPrimitives.Dot(query, r.Vector))!;
        Assert.True(TensorPrimitives.Dot(query, best.Vector) > TensorPrimitives.Dot(query, own.Vector));

        // Too large an input is refused; an encoder without detail regions makes none.
        Assert.Throws<ArgumentException>(() => encoder.EmbedRegions(fixture.Decoder.Prepare(bytes, new ImageInput(640, WholeImage: true, 1280, 32))));
        Assert.Throws<InvalidOperationException>(() => plain.EmbedRegions(large));
    }

    [Fact]
    public void The_detail_regions_id_names_the_size_the_windows_the_limit_and_an_uneven_cap()
    {
        Assert.Null(OnnxImageEncoder.DetailRegionsId(new EncoderOptions { DetailRegionSide = 0 }));
        // The default: 448, windows of 3 and 4 cells, at most 60 (docs/quality.md "The shipped default").
        Assert.Equal("dr448c3-4n60", OnnxImageEncoder.DetailRegionsId(new EncoderOptions()));
        Assert.Equal("dr672c3-4n60", OnnxImageEncoder.DetailRegionsId(new EncoderOptions { DetailRegionSide = 672 }));
        Assert.Equal("dr896c6n30max1280", OnnxImageEncoder.DetailRegionsId(new EncoderOptions { DetailRegionSide = 896, DetailRegionCells = " 6, 6 ", DetailRegionLimit = 30, MaxLongerSide = 320 }));
    }

    [Fact]
    public void Int8_keeps_the_centre_crop_descriptor_and_its_id()
    {
        var options = fixture.Options(EncoderPrecision.Int8);
        options.Descriptor = DescriptorMode.FeatureMap;
        using var encoder = Create(options);
        Assert.Equal(fixture.Int8.Model.Id, encoder.Model.Id);
        Assert.DoesNotContain("map", encoder.Model.Id, StringComparison.Ordinal);
        Assert.False(encoder.Input.WholeImage);
        var embedding = encoder.Embed(fixture.Decoder.Prepare(SamplePhotos.Read("coffee.png"), encoder.Input));
        Assert.Equal(512, embedding.Vector.Length);
    }

    [Theory]
    [InlineData(PoolingMethod.Average, 3f, 0, "map-avg-s224")]
    [InlineData(PoolingMethod.GeM, 3f, 0, "map-gem3-s224")]
    [InlineData(PoolingMethod.GeM, 2.5f, 288, "map-gem2p5-s224-s288")]
    public void The_descriptor_id_names_the_pooling_and_the_sizes(PoolingMethod pooling, float p, int second, string expected) =>
        Assert.Equal(expected, OnnxImageEncoder.DescriptorId(new EncoderOptions { Pooling = pooling, GemP = p, SecondShorterSide = second, MaskFlatCells = false }));

    [Fact]
    public void The_descriptor_id_says_when_flat_cells_are_masked() =>
        Assert.Equal("map-gem2-s224-flat", OnnxImageEncoder.DescriptorId(new EncoderOptions { GemP = 2, ShorterSide = 224, MaxLongerSide = 448, MaskFlatCells = true }));

    [Fact]
    public void Masking_flat_cells_leaves_out_a_white_margin()
    {
        // The photo in the middle of a white canvas twice its width: with the mask its vector is nearer the photo's own.
        var photo = SamplePhotos.Read("coffee.png");
        using var decoded = SkiaSharp.SKBitmap.Decode(photo);
        using var canvas = new SkiaSharp.SKBitmap(decoded.Width * 2, decoded.Height);
        using (var draw = new SkiaSharp.SKCanvas(canvas))
        {
            draw.Clear(SkiaSharp.SKColors.White);
            draw.DrawBitmap(decoded, decoded.Width / 2f, 0);
        }

        using var encoded = canvas.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        var padded = encoded.ToArray();
        float Similarity(bool mask)
        {
            var options = fixture.Options(EncoderPrecision.Float32);
            options.Descriptor = DescriptorMode.FeatureMap;
            options.ShorterSide = 224;
            options.MaxLongerSide = 448;
            options.MaskFlatCells = mask;
            using var encoder = Create(options);
            var own = encoder.Embed(fixture.Decoder.Prepare(photo, encoder.Input)).Vector;
            var framed = encoder.Embed(fixture.Decoder.Prepare(padded, encoder.Input)).Vector;
            return System.Numerics.Tensors.TensorPrimitives.Dot(own, framed);
        }

        var masked = Similarity(mask: true);
        var unmasked = Similarity(mask: false);
        Assert.True(masked > unmasked, $"masked {masked} <= unmasked {unmasked}");
    }

    private OnnxImageEncoder Create(EncoderOptions options) =>
        new(Microsoft.Extensions.Options.Options.Create(options), NullLogger<OnnxImageEncoder>.Instance, fixture.Metrics);

    private static float[] Run(InferenceSession session, float[] tensor, int height, int width, string output, out long[] shape)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(tensor, [1, 3, height, width]);
        using var outputs = session.Run(new RunOptions(), [session.InputMetadata.Keys.Single()], [input], [output]);
        shape = outputs[0].GetTensorTypeAndShape().Shape;
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
