using Microsoft.ML.OnnxRuntime;
using VisualSearch.Embedding;

namespace VisualSearch.UnitTests.Embedding;

/// <summary>
/// Pins the pixel -> tensor conversion. MeanImageBgr must reproduce the model's own preprocessing graph
/// (ResNetPreprocess.onnx: split the R, G, B planes, concatenate them as B, G, R, subtract a mean image).
/// </summary>
public sealed class PreprocessorTests
{
    private const int Size = 224;
    private static readonly string PreprocessGraph = Path.Combine(AppContext.BaseDirectory, "models", "resnet18", "ResNetPreprocess.onnx");

    [Fact]
    public void MeanImageBgr_matches_the_published_preprocessing_graph_on_a_random_image()
    {
        using var session = new InferenceSession(PreprocessGraph);
        Assert.Equal("OriginalInput", Assert.Single(session.InputMetadata.Keys));
        Assert.Equal("PreprocessedInput", Assert.Single(session.OutputMetadata.Keys));

        // The mean image, read the way OnnxImageEncoder documents it: run the graph on zeros and negate.
        var mean = RunGraph(session, new float[3 * Size * Size]);
        for (var i = 0; i < mean.Length; i++) mean[i] = -mean[i];
        Assert.Contains(mean, v => v != 0f);
        var preprocessor = new Preprocessor(PreprocessingMode.MeanImageBgr, Size, mean);

        var rgb = new byte[Size * Size * 3];
        new Random(1234).NextBytes(rgb);

        // The graph's input: R, G, B planes of 0-255 floats.
        var plane = Size * Size;
        var original = new float[3 * plane];
        for (var p = 0; p < plane; p++)
        {
            original[p] = rgb[p * 3];
            original[plane + p] = rgb[p * 3 + 1];
            original[2 * plane + p] = rgb[p * 3 + 2];
        }

        var expected = RunGraph(session, original);
        var actual = preprocessor.Create(rgb);

        Assert.Equal(expected.Length, actual.Length);
        var worst = 0f;
        for (var i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst <= 1e-3f, $"Largest difference to the graph: {worst}");
    }

    [Fact]
    public void MeanImageBgr_orders_planes_blue_green_red_and_subtracts_the_mean_per_pixel()
    {
        const int size = 2;
        var mean = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        var preprocessor = new Preprocessor(PreprocessingMode.MeanImageBgr, size, mean);
        byte[] rgb = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120];

        var tensor = preprocessor.Create(rgb);

        // B plane: 30, 60, 90, 120 minus 0..3; G plane: 20, 50, 80, 110 minus 4..7; R plane: 10, 40, 70, 100 minus 8..11.
        float[] expected = [30, 59, 88, 117, 16, 45, 74, 103, 2, 31, 60, 89];
        Assert.Equal(expected, tensor);
    }

    [Fact]
    public void ImageNet_mode_normalises_a_2x2_image_into_rgb_planes()
    {
        var preprocessor = new Preprocessor(PreprocessingMode.ImageNet, 2);
        // Pixels (row-major): black, white, pure red, mid grey (128).
        byte[] rgb = [0, 0, 0, 255, 255, 255, 255, 0, 0, 128, 128, 128];

        var tensor = preprocessor.Create(rgb);

        float[] mean = [0.485f, 0.456f, 0.406f];
        float[] std = [0.229f, 0.224f, 0.225f];
        float N(int c, float v) => (v / 255f - mean[c]) / std[c];
        float[] expected =
        [
            N(0, 0), N(0, 255), N(0, 255), N(0, 128), // R plane
            N(1, 0), N(1, 255), N(1, 0), N(1, 128),   // G plane
            N(2, 0), N(2, 255), N(2, 0), N(2, 128),   // B plane
        ];
        Assert.Equal(expected.Length, tensor.Length);
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], tensor[i], 1e-5f);

        // Spot checks computed by hand: black red = -0.485/0.229, white blue = (1-0.406)/0.225.
        Assert.Equal(-2.1179f, tensor[0], 1e-4f);
        Assert.Equal(2.64f, tensor[9], 1e-4f);
    }

    [Fact]
    public void A_whole_image_of_any_size_is_centred_by_the_mean_images_mean_per_channel()
    {
        // A 2 x 2 mean image: B plane 10..13 (mean 11.5), G plane all 20, R plane 0, 0, 0, 4 (mean 1).
        float[] mean = [10, 11, 12, 13, 20, 20, 20, 20, 0, 0, 0, 4];
        var preprocessor = new Preprocessor(PreprocessingMode.MeanImageBgr, 2, mean);
        Assert.Equal([11.5f, 20f, 1f], preprocessor.ChannelMean);

        // A 3 x 1 image (wider than the mean image): R, G, B = (100, 50, 25), (0, 0, 0), (255, 255, 255).
        byte[] rgb = [100, 50, 25, 0, 0, 0, 255, 255, 255];
        Assert.Equal([25 - 11.5f, -11.5f, 255 - 11.5f, 50 - 20f, -20f, 235f, 99f, -1f, 254f], preprocessor.CreateWhole(rgb, 3, 1));
        Assert.Throws<ArgumentException>(() => preprocessor.CreateWhole(rgb, 2, 2));
    }

    [Fact]
    public void A_whole_square_image_in_an_rgb_convention_is_what_the_crop_gives()
    {
        var preprocessor = new Preprocessor(PreprocessingMode.ImageNet, 4);
        var rgb = new byte[4 * 4 * 3];
        new Random(5).NextBytes(rgb);
        Assert.Equal(preprocessor.Create(rgb), preprocessor.CreateWhole(rgb, 4, 4));
    }

    [Fact]
    public void Rejects_buffers_of_the_wrong_length()
    {
        var preprocessor = new Preprocessor(PreprocessingMode.UnitRgb, 2);
        Assert.Throws<ArgumentException>(() => preprocessor.Create(new byte[11]));
        Assert.Throws<ArgumentException>(() => new Preprocessor(PreprocessingMode.MeanImageBgr, 2, new float[11]));
        Assert.Throws<ArgumentNullException>(() => new Preprocessor(PreprocessingMode.MeanImageBgr, 2));
    }

    private static float[] RunGraph(InferenceSession session, float[] input)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, Size, Size]);
        using var options = new RunOptions();
        using var outputs = session.Run(options, ["OriginalInput"], [value], ["PreprocessedInput"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
