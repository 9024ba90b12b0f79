using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using VisualSearch.Embedding;
using VisualSearch.Embedding.Quantization;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Embedding;

/// <summary>
/// The int8 quantiser on the packaged ResNet18: the graph it writes, that it writes the same bytes again for the
/// same input, and how close its vectors stay to float32 on the bundled photos. No timings (docs/performance.md).
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class Int8QuantizerTests(EncoderFixture fixture)
{
    private static string FloatModelPath => Path.Combine(AppContext.BaseDirectory, "models", "resnet18", "ResNet18.onnx");

    [Fact]
    public void Int8_is_opt_in_and_its_id_says_so()
    {
        // Float32 stays the default: int8 missed the retrieval checks of issue 13 (docs/quality.md section 6).
        Assert.Equal(EncoderPrecision.Float32, new EncoderOptions().Precision);
        Assert.Matches("^resnet18-[0-9a-f]{12}-int8-512$", fixture.Int8.Model.Id);
        Assert.Matches("^resnet18-[0-9a-f]{12}-512$", fixture.Float32.Model.Id);
        Assert.Equal(EncoderPrecision.Int8, fixture.Int8.Model.Precision);
    }

    [Fact]
    public void The_cuda_path_runs_float32()
    {
        var options = new EncoderOptions { ExecutionProvider = ExecutionProvider.Cuda, Precision = EncoderPrecision.Int8 };
        Assert.Equal(EncoderPrecision.Float32, options.EffectivePrecision);
        Assert.Equal(EncoderPrecision.Int8, new EncoderOptions { Precision = EncoderPrecision.Int8 }.EffectivePrecision);
    }

    [Fact]
    public void The_int8_graph_has_folded_batch_norm_per_channel_int8_weights_int32_biases_and_no_relu()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.Int8ModelPath));
        var graph = model.Graph;
        var ops = graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        var initializers = graph.Initializer.ToDictionary(t => t.Name);

        Assert.Equal(13, model.OpsetImport.Single(o => o.Domain == "").Version);
        Assert.Equal(22, ops["Conv"]);
        Assert.Equal(9, ops["Add"]);
        Assert.Equal(1, ops["MaxPool"]);
        Assert.Equal(1, ops["AveragePool"]);
        Assert.False(ops.ContainsKey("BatchNormalization"));
        Assert.False(ops.ContainsKey("Relu"));
        // One QuantizeLinear for the input and one per Conv, Add and MaxPool output.
        Assert.Equal(1 + 22 + 9 + 1, ops["QuantizeLinear"]);
        Assert.DoesNotContain(graph.Input, i => initializers.ContainsKey(i.Name));
        // No float weights are left: the only float initializers are scales (one per channel at most).
        Assert.DoesNotContain(graph.Initializer, t => t.DataType == (int)TensorProto.Types.DataType.Float && t.Dims.Aggregate(1L, (a, b) => a * b) > 512);

        foreach (var conv in graph.Node.Where(n => n.OpType == "Conv"))
        {
            var weights = Producer(graph, conv.Input[1]);
            Assert.Equal("DequantizeLinear", weights.OpType);
            Assert.Equal(0, weights.Attribute.Single(a => a.Name == "axis").I);
            var w = initializers[weights.Input[0]];
            Assert.Equal((int)TensorProto.Types.DataType.Int8, w.DataType);
            Assert.Equal(w.Dims[0], initializers[weights.Input[1]].Dims.Single());       // one scale per output channel
            Assert.All(initializers[weights.Input[2]].RawData.ToByteArray(), z => Assert.Equal(0, z)); // symmetric
            Assert.Contains(w.RawData.ToByteArray(), b => b == 127 || b == unchecked((byte)-127)); // each channel's largest weight maps to ±127

            var bias = Producer(graph, conv.Input[2]);
            Assert.Equal((int)TensorProto.Types.DataType.Int32, initializers[bias.Input[0]].DataType);

            var input = Producer(graph, conv.Input[0]);
            Assert.Equal("DequantizeLinear", input.OpType);
            var output = Assert.Single(graph.Node, n => n.Input.Contains(conv.Output[0]));
            Assert.Equal("QuantizeLinear", output.OpType);
            Assert.Equal((int)TensorProto.Types.DataType.Uint8, initializers[output.Input[2]].DataType);
        }

        // The output of every Conv or Add that a Relu followed has zero point 0: the clip at 0 is the Relu.
        var relus = ModelProto.Parser.ParseFrom(File.ReadAllBytes(FloatModelPath)).Graph.Node.Where(n => n.OpType == "Relu").Select(n => n.Output[0]).ToList();
        Assert.Equal(19, relus.Count(r => graph.Node.Any(n => n.OpType == "QuantizeLinear" && n.Output[0] == $"{r}_quantized")));
        Assert.All(graph.Node.Where(n => n.OpType == "QuantizeLinear" && relus.Any(r => n.Output[0] == $"{r}_quantized")),
            q => Assert.Equal(0, initializers[q.Input[2]].RawData[0]));

        // MaxPool keeps its input's scale and zero point, so it runs on uint8.
        var pool = graph.Node.Single(n => n.OpType == "MaxPool");
        var poolIn = Producer(graph, pool.Input[0]);
        var poolOut = Assert.Single(graph.Node, n => n.Input.Contains(pool.Output[0]));
        Assert.Equal(initializers[poolIn.Input[1]].RawData, initializers[poolOut.Input[1]].RawData);
        Assert.Equal(initializers[poolIn.Input[2]].RawData, initializers[poolOut.Input[2]].RawData);
    }

    [Fact]
    public void Onnx_runtime_fuses_it_into_integer_kernels()
    {
        using var temp = new TempDirectory("vs-int8-");
        var optimized = Path.Combine(temp.Path, "optimized.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized })
        using (new InferenceSession(fixture.Int8ModelPath, options))
        {
        }

        var ops = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(22, ops.GetValueOrDefault("QLinearConv"));
        Assert.Equal(9, ops.GetValueOrDefault("QLinearAdd"));
        Assert.False(ops.ContainsKey("Conv"), "A Conv was left in float.");
        Assert.Equal(1, ops.GetValueOrDefault("MaxPool"));
    }

    [Fact]
    public void The_same_input_gives_the_same_bytes()
    {
        var input = fixture.Int8BuildInput();
        var again = Int8ModelBuilder.Build(input, fixture.Decoder);

        Assert.Equal(File.ReadAllBytes(fixture.Int8ModelPath), again);
        Assert.Equal(Int8ModelBuilder.FileName("resnet18", input), Path.GetFileName(fixture.Int8ModelPath));
    }

    [Fact]
    public void The_cache_key_follows_the_source_model_and_the_calibration_set()
    {
        var input = fixture.Int8BuildInput();
        var key = Int8ModelBuilder.Key(input);

        Assert.Equal(key, Int8ModelBuilder.Key(input));
        Assert.NotEqual(key, Int8ModelBuilder.Key(input with { SourceSha256 = new string('0', 64) }));
        Assert.NotEqual(key, Int8ModelBuilder.Key(input with { CalibrationFiles = input.CalibrationFiles.Skip(1).ToList() }));
        Assert.NotEqual(key, Int8ModelBuilder.Key(input with { RangeMethod = RangeMethod.MinMax }));
    }

    [Fact]
    public void A_second_encoder_finds_the_model_in_the_cache_and_builds_nothing()
    {
        var before = File.GetLastWriteTimeUtc(fixture.Int8ModelPath);
        using var encoder = fixture.CreateEncoder(EncoderPrecision.Int8);

        Assert.Equal(fixture.Int8.Model.Id, encoder.Model.Id);
        Assert.Equal(before, File.GetLastWriteTimeUtc(fixture.Int8ModelPath));
    }

    [Fact]
    public void Int8_vectors_stay_close_to_float32_on_the_bundled_photos_and_the_edited_queries()
    {
        var queries = Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "fixtures", "queries")).Order(StringComparer.Ordinal);
        var cosines = SamplePhotos.All.Select(SamplePhotos.PathOf).Concat(queries).Select(path =>
        {
            var image = fixture.Decoder.Prepare(File.ReadAllBytes(path), 224);
            return (Path: path, Cosine: EncoderFixture.Cosine(fixture.Int8.Embed(image).Vector, fixture.Float32.Embed(image).Vector));
        }).ToList();

        Assert.All(cosines, c => Assert.True(c.Cosine >= 0.98f, $"{Path.GetFileName(c.Path)}: cosine to float32 {c.Cosine:F4}"));
        var mean = cosines.Average(c => c.Cosine);
        Assert.True(mean >= 0.99f, $"mean cosine to float32 {mean:F4}");
    }

    [Fact]
    public void A_graph_with_an_op_it_does_not_handle_is_refused_with_the_setting_to_change()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(FloatModelPath));
        model.Graph.Node.Single(n => n.OpType == "AveragePool").OpType = "LpPool";

        var ex = Assert.Throws<NotSupportedException>(() => Int8Quantizer.Prepare(model.ToByteArrayCompat()));
        Assert.Contains("LpPool", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Encoder:Precision=Float32", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ranges_are_rounded_outwards_so_a_last_bit_difference_gives_the_same_model()
    {
        var a = Calibration.RoundOut(12.3456789f);
        Assert.Equal(a, Calibration.RoundOut(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(12.3456789f) + 1)));
        Assert.True(a >= 12.3456789f);
        Assert.True(Calibration.RoundOut(-12.3456789f) <= -12.3456789f);
        Assert.Equal(0f, Calibration.RoundOut(0f));
    }

    private static NodeProto Producer(GraphProto graph, string tensor) => graph.Node.Single(n => n.Output.Contains(tensor));
}

internal static class ModelProtoExtensions
{
    public static byte[] ToByteArrayCompat(this ModelProto model) => Google.Protobuf.MessageExtensions.ToByteArray(model);
}
