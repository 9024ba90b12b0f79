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
    public void Int8_is_opt_in_with_the_first_conv_in_float_and_its_id_says_so()
    {
        // Float32 stays the default: the int8 model still misses issue 13's bounds (Recall@1 on art4apps, copy acc@1 on two edits: docs/quality.md section 6c).
        Assert.Equal(EncoderPrecision.Float32, new EncoderOptions().Precision);
        Assert.Equal("first-conv", new EncoderOptions().Int8KeepFloat);
        Assert.Same(fixture.Float32, fixture.Encoder);
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
    public void The_default_graph_keeps_the_first_conv_float_and_every_other_conv_int8_per_channel()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.Int8ModelPath));
        var graph = model.Graph;
        var ops = graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var input = graph.Input.Single().Name;

        Assert.Equal(13, model.OpsetImport.Single(o => o.Domain == "").Version);
        Assert.Equal(22, ops["Conv"]);
        Assert.Equal(9, ops["Add"]);
        Assert.Equal(1, ops["MaxPool"]);
        Assert.Equal(1, ops["AveragePool"]);
        Assert.False(ops.ContainsKey("BatchNormalization"));
        // Relu is absorbed into the zero point of every int8 output; the three left are float: after the float first
        // Conv, after the MaxPool that pools its output in float, and after the last Add, whose output only the pooling reads.
        Assert.Equal(3, ops["Relu"]);
        // One QuantizeLinear per int8 Conv and the MaxPool's output and per Add but the last; none for the graph input,
        // which only the float first Conv reads, nor for the first Conv's output, which only the MaxPool reads.
        Assert.Equal(21 + 8 + 1, ops["QuantizeLinear"]);
        Assert.DoesNotContain(graph.Node, n => n.OpType == "QuantizeLinear" && n.Input[0] == input);
        Assert.DoesNotContain(graph.Input, i => initializers.ContainsKey(i.Name));

        // The first Conv: the float input, float32 weights (BatchNormalization folded in), its output read in float by the MaxPool.
        var first = Assert.Single(graph.Node, n => n.OpType == "Conv" && n.Input[0] == input);
        Assert.Equal((int)TensorProto.Types.DataType.Float, initializers[first.Input[1]].DataType);
        Assert.Equal(64 * 3 * 7 * 7, initializers[first.Input[1]].RawData.Length / 4);
        var firstRelu = Assert.Single(graph.Node, n => n.Input.Contains(first.Output[0]));
        Assert.Equal("Relu", firstRelu.OpType);
        Assert.Equal("MaxPool", Assert.Single(graph.Node, n => n.Input.Contains(firstRelu.Output[0])).OpType);
        // No other float weights: the other float initializers are scales (one per channel at most) and that one bias.
        Assert.DoesNotContain(graph.Initializer, t => t.DataType == (int)TensorProto.Types.DataType.Float && t.Name != first.Input[1] && t.Dims.Aggregate(1L, (a, b) => a * b) > 512);

        foreach (var conv in graph.Node.Where(n => n.OpType == "Conv" && n != first))
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

            Assert.Equal("DequantizeLinear", Producer(graph, conv.Input[0]).OpType);
            var output = Assert.Single(graph.Node, n => n.Input.Contains(conv.Output[0]));
            Assert.Equal("QuantizeLinear", output.OpType);
            Assert.Equal((int)TensorProto.Types.DataType.Uint8, initializers[output.Input[2]].DataType);
        }

        // The output of every Conv or Add that a Relu followed has zero point 0: the clip at 0 is the Relu (17: the
        // first Conv's output is not rounded, the MaxPool's after it is, checked below).
        var relus = ModelProto.Parser.ParseFrom(File.ReadAllBytes(FloatModelPath)).Graph.Node.Where(n => n.OpType == "Relu").Select(n => n.Output[0]).ToList();
        Assert.Equal(17, relus.Count(r => graph.Node.Any(n => n.OpType == "QuantizeLinear" && n.Output[0] == $"{r}_quantized")));
        Assert.All(graph.Node.Where(n => n.OpType == "QuantizeLinear" && relus.Any(r => n.Output[0] == $"{r}_quantized")),
            q => Assert.Equal(0, initializers[q.Input[2]].RawData[0]));

        // The pooling averages the float output of the last Add's Relu.
        var pool = graph.Node.Single(n => n.OpType == "AveragePool");
        Assert.Equal("Relu", Producer(graph, pool.Input[0]).OpType);
        Assert.Equal("Add", Producer(graph, Producer(graph, pool.Input[0]).Input[0]).OpType);

        // MaxPool pools the float Conv's output in float, then a Relu and the rounding to uint8 (zero point 0).
        var maxPool = graph.Node.Single(n => n.OpType == "MaxPool");
        Assert.Same(firstRelu, Producer(graph, maxPool.Input[0]));
        var poolRelu = Assert.Single(graph.Node, n => n.Input.Contains(maxPool.Output[0]));
        Assert.Equal("Relu", poolRelu.OpType);
        var poolOut = Assert.Single(graph.Node, n => n.Input.Contains(poolRelu.Output[0]));
        Assert.Equal("QuantizeLinear", poolOut.OpType);
        Assert.Equal(0, initializers[poolOut.Input[2]].RawData[0]);
    }

    [Fact]
    public void A_max_pool_after_a_float_conv_pools_in_float_and_gives_the_uint8_pools_outputs_bit_for_bit()
    {
        // The form before: the float Conv's output rounded to uint8 (the MaxPool's scale and zero point), MaxPool on uint8.
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.Int8ModelPath));
        var graph = model.Graph;
        var maxPool = graph.Node.Single(n => n.OpType == "MaxPool");
        var poolRelu = graph.Node.Single(n => n.Input.Contains(maxPool.Output[0]));
        var poolOut = graph.Node.Single(n => n.Input.Contains(poolRelu.Output[0]));
        var before = model.Clone();
        var g = before.Graph;
        var pool = g.Node.Single(n => n.OpType == "MaxPool");
        var at = g.Node.IndexOf(pool);
        g.Node.Insert(at, new NodeProto { OpType = "QuantizeLinear", Name = "before_q", Input = { pool.Input[0], poolOut.Input[1], poolOut.Input[2] }, Output = { "before_q" } });
        g.Node.Insert(at + 1, new NodeProto { OpType = "DequantizeLinear", Name = "before_dq", Input = { "before_q", poolOut.Input[1], poolOut.Input[2] }, Output = { "before_dq" } });
        pool.Input[0] = "before_dq";
        g.Node.Remove(g.Node.Single(n => n.Name == poolRelu.Name));
        g.Node.Single(n => n.Name == poolOut.Name).Input[0] = pool.Output[0];
        var beforeBytes = before.ToByteArrayCompat();

        // ONNX Runtime, with the encoder's settings: the form before runs the MaxPool on the rounded uint8 tensor, this one in float.
        Assert.Equal("QuantizeLinear", MaxPoolInputInOptimizedGraph(beforeBytes));
        Assert.NotEqual("QuantizeLinear", MaxPoolInputInOptimizedGraph(File.ReadAllBytes(fixture.Int8ModelPath)));

        // Max commutes with the Relu and the rounding: the same outputs, bit for bit, on the bundled photos and the edited queries.
        var afterBytes = File.ReadAllBytes(fixture.Int8ModelPath);
        var preprocessor = OnnxImageEncoder.CreatePreprocessor(fixture.Options(EncoderPrecision.Int8));
        var queries = Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "fixtures", "queries")).Order(StringComparer.Ordinal);
        foreach (var path in SamplePhotos.All.Select(SamplePhotos.PathOf).Concat(queries))
        {
            var tensor = new float[preprocessor.TensorLength];
            preprocessor.Fill(fixture.Decoder.Prepare(File.ReadAllBytes(path), 224).Rgb, tensor);
            Assert.Equal(Run(beforeBytes, tensor), Run(afterBytes, tensor));
        }
    }

    [Fact]
    public void Onnx_runtime_fuses_every_int8_conv_and_add_into_integer_kernels()
    {
        var ops = OptimizedOps(fixture.Int8ModelPath);
        Assert.Equal(21, ops.GetValueOrDefault("QLinearConv"));
        Assert.Equal(8, ops.GetValueOrDefault("QLinearAdd"));
        Assert.Equal(1, ops.GetValueOrDefault("MaxPool"));
        // The float ones: the first Conv (fused with nothing) and the last Add.
        Assert.Equal(1, ops.Where(o => o.Key.EndsWith("Conv", StringComparison.Ordinal) && o.Key != "QLinearConv").Sum(o => o.Value));
    }

    [Fact]
    public void Every_layer_in_int8_runs_the_first_conv_on_exact_pixels_and_fuses_the_other_21()
    {
        var input = fixture.Int8BuildInput() with { KeepFloat = [] };
        Assert.True(input.ExactPixels);
        using var temp = new TempDirectory("vs-int8-all-");
        var path = Path.Combine(temp.Path, "all.onnx");
        File.WriteAllBytes(path, Int8ModelBuilder.Build(input, fixture.Decoder));

        var ops = OptimizedOps(path);
        Assert.Equal(21, ops.GetValueOrDefault("QLinearConv"));
        Assert.Equal(1, ops.GetValueOrDefault("ConvInteger"));
        Assert.Equal(8, ops.GetValueOrDefault("QLinearAdd"));
        Assert.False(ops.ContainsKey("Conv"), "A Conv was left in float.");
        Assert.NotEqual(Int8ModelBuilder.Key(input), Int8ModelBuilder.Key(fixture.Int8BuildInput()));

        // The graph: the input plus the mean image, rounded with scale 1 and zero point 0 (the 8-bit pixels exactly),
        // read by a ConvInteger with int8 weights and the first Conv's uneven pads; then its scales and the offset map.
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var conv = Assert.Single(graph.Node, n => n.OpType == "ConvInteger");
        Assert.Equal([3L, 3, 2, 2], conv.Attribute.Single(a => a.Name == "pads").Ints);
        Assert.Equal((int)TensorProto.Types.DataType.Int8, initializers[conv.Input[1]].DataType);
        var pixels = Producer(graph, conv.Input[0]);
        Assert.Equal("QuantizeLinear", pixels.OpType);
        Assert.Equal(1f, BitConverter.ToSingle(initializers[pixels.Input[1]].RawData.Span));
        Assert.Equal(0, initializers[pixels.Input[2]].RawData[0]);
        var addMean = Producer(graph, pixels.Input[0]);
        Assert.Equal("Add", addMean.OpType);
        Assert.Equal(graph.Input.Single().Name, addMean.Input[0]);
        Assert.Equal([1L, 3, 224, 224], initializers[addMean.Input[1]].Dims);
        Assert.Equal([1L, 64, 112, 112], graph.Initializer.Single(t => t.Name.EndsWith("_offset", StringComparison.Ordinal)).Dims);

        // Int8ExactPixels=false: the per-tensor input as before, and all 22 Convs fused.
        var perTensor = input with { ExactPixels = false, BiasCorrection = false };
        Assert.NotEqual(Int8ModelBuilder.Key(input), Int8ModelBuilder.Key(perTensor with { BiasCorrection = true }));
        File.WriteAllBytes(path, Int8ModelBuilder.Build(perTensor, fixture.Decoder));
        Assert.Equal(22, OptimizedOps(path).GetValueOrDefault("QLinearConv"));
    }

    [Fact]
    public void Float_units_are_chosen_by_structure_or_by_name()
    {
        var prepared = Int8Quantizer.Prepare(File.ReadAllBytes(FloatModelPath));
        var units = Int8Quantizer.Backbone(prepared);
        Assert.Equal(22 + 9 + 1, units.Count);

        var first = Assert.Single(Int8Quantizer.FloatUnits(prepared, ["first-conv"]));
        Assert.Equal(prepared.Graph.Input.Single().Name, units.Single(u => u.Name == first).Inputs.Single());
        // The last residual block: its two Convs and its Add.
        var lastBlock = Int8Quantizer.FloatUnits(prepared, ["last-block"]);
        Assert.Equal(["Conv", "Conv", "Add"], lastBlock.Select(n => units.Single(u => u.Name == n).OpType));
        Assert.Equal(units.Last(u => u.OpType == "Add").Name, lastBlock[^1]);
        var mixed = Int8Quantizer.FloatUnits(prepared, ["last-block", units[5].Name, "first-conv"]);
        Assert.Equal(units.Where(u => u.Name == first || u.Name == units[5].Name || lastBlock.Contains(u.Name)).Select(u => u.Name), mixed); // graph order
        Assert.Throws<ArgumentException>(() => Int8Quantizer.FloatUnits(prepared, ["no-such-layer"]));
    }

    [Fact]
    public void A_graph_edited_after_the_backbone_is_quantised_up_to_the_edit_and_the_rest_runs_float()
    {
        // GeM-like pooling (x^3 averaged, then the cube root) in place of the plain average: what issue 14's
        // feature-map edit puts after the backbone. The backbone is quantised as before; Pow stays float.
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(FloatModelPath));
        var graph = model.Graph;
        var average = graph.Node.Single(n => n.OpType == "AveragePool");
        var map = average.Input[0];
        graph.Initializer.Add(Scalar("gem_p", 3f));
        graph.Initializer.Add(Scalar("gem_inverse_p", 1f / 3f));
        var cube = new NodeProto { OpType = "Pow", Name = "GemPow" };
        cube.Input.Add(map);
        cube.Input.Add("gem_p");
        cube.Output.Add("gem_cubed");
        average.Input[0] = "gem_cubed";
        var root = new NodeProto { OpType = "Pow", Name = "GemRoot" };
        root.Input.Add("gem_pooled");
        root.Input.Add("gem_inverse_p");
        root.Output.Add(average.Output[0]);
        average.Output[0] = "gem_pooled";
        graph.Node.Insert(graph.Node.IndexOf(average), cube);
        graph.Node.Insert(graph.Node.IndexOf(average) + 1, root);

        var prepared = Int8Quantizer.Prepare(model.ToByteArrayCompat());
        Assert.Equal(22 + 9 + 1, Int8Quantizer.Backbone(prepared).Count);
        var input = fixture.Int8BuildInput();
        var bytes = Int8Quantizer.Quantize(prepared, Int8ModelBuilder.Calibrate(input, prepared, fixture.Decoder), Int8Quantizer.FloatUnits(prepared, ["first-conv"]));
        var quantised = ModelProto.Parser.ParseFrom(bytes).Graph;
        Assert.Equal(2, quantised.Node.Count(n => n.OpType == "Pow"));
        Assert.Equal(21, quantised.Node.Count(n => n.OpType == "Conv" && quantised.Node.Any(p => p.OpType == "DequantizeLinear" && p.Output.Contains(n.Input[1]))));

        // It runs, and close to the float graph it came from.
        var image = input.Preprocessor.Create(fixture.Decoder.Prepare(SamplePhotos.Read("chelsea.png"), 224).Rgb);
        Assert.True(EncoderFixture.Cosine(Run(bytes, image), Run(prepared.ToByteArrayCompat(), image)) > 0.98f);
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
        Assert.NotEqual(key, Int8ModelBuilder.Key(input with { KeepFloat = [] }));
        Assert.NotEqual(key, Int8ModelBuilder.Key(input with { CalibrationVariants = 3 }));
        Assert.NotEqual(key, Int8ModelBuilder.Key(input with { BiasCorrection = false }));
        // the weight form: the default adds nothing to the key (models built before it existed keep theirs), the others do
        Assert.Equal(Int8WeightForm.S8, input.WeightForm);
        Assert.Equal(key, Int8ModelBuilder.Key(input with { WeightForm = Int8WeightForm.S8 }));
        Assert.NotEqual(key, Int8ModelBuilder.Key(input with { WeightForm = Int8WeightForm.U8 }));
        Assert.NotEqual(key, Int8ModelBuilder.Key(input with { WeightForm = Int8WeightForm.S7 }));
        Assert.NotEqual(Int8ModelBuilder.Key(input with { WeightForm = Int8WeightForm.U8 }), Int8ModelBuilder.Key(input with { WeightForm = Int8WeightForm.S7 }));
    }

    [Fact]
    public void The_u8_weight_form_stores_the_same_levels_shifted_by_128_and_the_s7_form_rounds_to_63_levels()
    {
        var input = fixture.Int8BuildInput();
        var prepared = Int8Quantizer.Prepare(File.ReadAllBytes(FloatModelPath));
        var ranges = Int8ModelBuilder.Calibrate(input, prepared, fixture.Decoder);
        var floatUnits = Int8Quantizer.FloatUnits(prepared, ["first-conv"]);
        var s8 = ModelProto.Parser.ParseFrom(Int8Quantizer.Quantize(prepared, ranges, floatUnits)).Graph;
        var u8 = ModelProto.Parser.ParseFrom(Int8Quantizer.Quantize(prepared, ranges, floatUnits, weightForm: Int8WeightForm.U8)).Graph;
        var s7 = ModelProto.Parser.ParseFrom(Int8Quantizer.Quantize(prepared, ranges, floatUnits, weightForm: Int8WeightForm.S7)).Graph;
        Assert.Equal(s8.Node.Select(n => (n.OpType, n.Name)), u8.Node.Select(n => (n.OpType, n.Name)));
        Assert.Equal(s8.Node.Select(n => (n.OpType, n.Name)), s7.Node.Select(n => (n.OpType, n.Name)));

        static List<(TensorProto Weights, TensorProto Scales, TensorProto ZeroPoints)> WeightsOf(GraphProto graph)
        {
            var initializers = graph.Initializer.ToDictionary(t => t.Name);
            return graph.Node
                .Where(n => n.OpType == "DequantizeLinear" && initializers.TryGetValue(n.Input[0], out var t) && t.DataType != (int)TensorProto.Types.DataType.Int32)
                .Select(n => (initializers[n.Input[0]], initializers[n.Input[1]], initializers[n.Input[2]]))
                .ToList();
        }

        var signed = WeightsOf(s8);
        var unsigned = WeightsOf(u8);
        var seven = WeightsOf(s7);
        Assert.Equal(21, signed.Count);
        Assert.Equal(21, unsigned.Count);
        Assert.Equal(21, seven.Count);
        for (var i = 0; i < signed.Count; i++)
        {
            Assert.Equal((int)TensorProto.Types.DataType.Int8, signed[i].Weights.DataType);
            Assert.All(signed[i].ZeroPoints.RawData.ToByteArray(), z => Assert.Equal(0, z));

            // U8: uint8, every level + 128, zero point 128, the same scales: the same real weights
            Assert.Equal((int)TensorProto.Types.DataType.Uint8, unsigned[i].Weights.DataType);
            Assert.Equal((int)TensorProto.Types.DataType.Uint8, unsigned[i].ZeroPoints.DataType);
            Assert.Equal(signed[i].ZeroPoints.RawData.Length, unsigned[i].ZeroPoints.RawData.Length);
            Assert.All(unsigned[i].ZeroPoints.RawData.ToByteArray(), z => Assert.Equal(128, z));
            Assert.Equal(signed[i].Weights.RawData.ToByteArray().Select(b => (byte)((sbyte)b + 128)), unsigned[i].Weights.RawData.ToByteArray());
            Assert.Equal(signed[i].Scales.RawData, unsigned[i].Scales.RawData);
            Assert.Equal(signed[i].Weights.Dims, unsigned[i].Weights.Dims);

            // S7: int8 levels −63..63, each channel's largest weight at ±63
            Assert.Equal((int)TensorProto.Types.DataType.Int8, seven[i].Weights.DataType);
            var levels = seven[i].Weights.RawData.ToByteArray().Select(b => (int)(sbyte)b).ToArray();
            var channels = (int)seven[i].Weights.Dims[0];
            var perChannel = levels.Length / channels;
            for (var c = 0; c < channels; c++)
                Assert.Equal(63, levels.Skip(c * perChannel).Take(perChannel).Max(Math.Abs));
        }

        // everything else (ranges, biases of the same scales for U8) is the same initializer for U8
        var weightNames = signed.SelectMany(w => new[] { w.Weights.Name, w.ZeroPoints.Name }).ToHashSet();
        Assert.Equal(
            s8.Initializer.Where(t => !weightNames.Contains(t.Name)).Select(t => (t.Name, t.RawData)),
            u8.Initializer.Where(t => !weightNames.Contains(t.Name)).Select(t => (t.Name, t.RawData)));
    }

    [Fact]
    public void The_u8_weight_form_runs_exact_integer_kernels_so_its_first_int8_conv_matches_the_unfused_graph_within_one_level()
    {
        // U8 x U8 kernels widen both operands to 16 bits before multiplying, so on any CPU the fused QLinearConv computes the
        // same integers as DequantizeLinear -> float Conv -> QuantizeLinear; only a rounding tie of the requantisation can
        // differ (one level). (S8 on an AVX2 CPU without VNNI saturates in vpmaddubsw: up to 17 levels here, docs/quality.md 6h.)
        var input = fixture.Int8BuildInput();
        var prepared = Int8Quantizer.Prepare(File.ReadAllBytes(FloatModelPath));
        var ranges = Int8ModelBuilder.Calibrate(input, prepared, fixture.Decoder);
        var floatUnits = Int8Quantizer.FloatUnits(prepared, ["first-conv"]);
        var unit = Int8Quantizer.Backbone(prepared).First(u => u.OpType == "Conv" && !floatUnits.Contains(u.Name));
        var model = ModelProto.Parser.ParseFrom(Int8Quantizer.Quantize(prepared, ranges, floatUnits, weightForm: Int8WeightForm.U8));
        var output = $"{unit.Output}_quantized";
        Assert.Contains(model.Graph.Node, n => n.OpType == "QuantizeLinear" && n.Output[0] == output);
        model.Graph.Output.Add(new ValueInfoProto
        {
            Name = output,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Uint8 } },
        });
        var bytes = model.ToByteArrayCompat();
        using var temp = new TempDirectory("vs-int8-");
        var optimized = Path.Combine(temp.Path, "optimized.onnx");
        using var fusedOptions = OnnxImageEncoder.CreateSessionOptions(new EncoderOptions { IntraOpThreads = 1 });
        fusedOptions.OptimizedModelFilePath = optimized;
        using var fused = new InferenceSession(bytes, fusedOptions);
        Assert.Equal(21, ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.Count(n => n.OpType == "QLinearConv"));
        using var exactOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1 };
        using var exact = new InferenceSession(bytes, exactOptions);

        var preprocessor = OnnxImageEncoder.CreatePreprocessor(fixture.Options(EncoderPrecision.Int8));
        var inputName = prepared.Graph.Input.Single().Name;
        long values = 0, differ = 0;
        foreach (var photo in SamplePhotos.All)
        {
            var tensor = preprocessor.Create(fixture.Decoder.Prepare(SamplePhotos.Read(photo), 224).Rgb);
            using var value = OrtValue.CreateTensorValueFromMemory(tensor, [1, 3, 224, 224]);
            using var runOptions = new RunOptions();
            using var a = fused.Run(runOptions, [inputName], [value], [output]);
            using var b = exact.Run(runOptions, [inputName], [value], [output]);
            var x = a[0].GetTensorDataAsSpan<byte>();
            var y = b[0].GetTensorDataAsSpan<byte>();
            Assert.Equal(y.Length, x.Length);
            for (var i = 0; i < x.Length; i++)
            {
                var d = Math.Abs(x[i] - y[i]);
                Assert.True(d <= 1, $"{photo}: element {i} is {x[i]} fused and {y[i]} unfused");
                if (d > 0) differ++;
            }

            values += x.Length;
        }

        Assert.True(differ < values / 1000, $"{differ} of {values} values differ by one level");
    }

    [Fact]
    public void Bias_correction_moves_an_int8_convs_channel_means_onto_the_float_graphs()
    {
        var input = fixture.Int8BuildInput();
        Assert.True(input.BiasCorrection);
        var prepared = Int8Quantizer.Prepare(File.ReadAllBytes(FloatModelPath));
        var tensors = Int8ModelBuilder.CalibrationTensors(input, fixture.Decoder);
        var ranges = Calibration.MeasureRanges(prepared, tensors, 224, input.RangeMethod);
        var floatUnits = Int8Quantizer.FloatUnits(prepared, ["first-conv"]);
        var corrections = BiasCorrection.Measure(prepared, ranges, floatUnits, tensors, 224);

        var convs = Int8Quantizer.Backbone(prepared).Where(u => u.OpType == "Conv" && !floatUnits.Contains(u.Name)).ToList();
        Assert.Equal(21, convs.Count);
        Assert.Equal(convs.Select(c => c.Name).Order(StringComparer.Ordinal), corrections.Keys.Order(StringComparer.Ordinal));
        var initializers = prepared.Graph.Initializer.ToDictionary(t => t.Name);
        Assert.All(convs, c => Assert.Equal(initializers[c.Node.Input[1]].Dims[0], corrections[c.Name].Length));

        // The first int8 Conv (the first after the MaxPool), whose input no earlier correction changes: the mean of every
        // output channel over the calibration images, int8 against float, before and after its bias is corrected.
        var unit = convs[0];
        var inputName = prepared.Graph.Input.Single().Name;
        var floatMeans = BiasCorrection.ChannelMeans(prepared, [unit.Node.Output[0]], inputName, tensors, 224)[0];
        double Gap(IReadOnlyDictionary<string, float[]>? c)
        {
            var quantised = ModelProto.Parser.ParseFrom(Int8Quantizer.Quantize(prepared, ranges, floatUnits, c));
            var means = BiasCorrection.ChannelMeans(quantised, [Int8Quantizer.ConvOutputInQuantisedGraph(quantised, unit)], inputName, tensors, 224)[0];
            return means.Zip(floatMeans, (q, f) => Math.Abs(q - f)).Max();
        }

        var before = Gap(null);
        var after = Gap(corrections);
        Assert.True(before > 1e-3, $"largest channel mean shift without correction {before:G3}");
        Assert.True(after < before / 10, $"largest channel mean shift {before:G3} without correction, {after:G3} with");
    }

    [Fact]
    public void Compensated_rounding_lowers_the_output_error_under_the_inputs_second_moments()
    {
        // Inputs with one strong shared direction (a patch's mean, as on flat image regions) plus small independent
        // parts; 8 channels of 27 weights. The output error of a channel is Δwᵀ H Δw.
        const int k = 27, channels = 8;
        var (h, weights) = Synthetic(k, channels, samples: 2000, seed: 13);
        var rounded = CompensatedRounding.Round(weights, channels, h);

        Assert.Equal(weights.Length, rounded.Values.Length);
        Assert.All(rounded.Values, v => Assert.InRange(v, (sbyte)-127, (sbyte)127));
        double nearestError = 0, compensatedError = 0;
        for (var c = 0; c < channels; c++)
        {
            var scale = weights.Skip(c * k).Take(k).Max(Math.Abs) / 127f;
            Assert.Equal(scale, rounded.Scales[c]);
            var nearest = Enumerable.Range(0, k).Select(i => weights[c * k + i] - Math.Round(weights[c * k + i] / scale, MidpointRounding.ToEven) * scale).ToArray();
            var compensated = Enumerable.Range(0, k).Select(i => weights[c * k + i] - (double)rounded.Values[c * k + i] * scale).ToArray();
            nearestError += Quadratic(nearest, h, k);
            compensatedError += Quadratic(compensated, h, k);
            // each weight moves by less than a few levels: compensation spreads the error, it does not rewrite the channel
            Assert.All(compensated, d => Assert.InRange(Math.Abs(d), 0, 4 * scale));
        }

        Assert.True(compensatedError < nearestError / 2, $"output error: nearest {nearestError:G4}, compensated {compensatedError:G4}");
        Assert.Equal(rounded.Values, CompensatedRounding.Round(weights, channels, h).Values);
    }

    [Fact]
    public void Compensated_rounding_and_exact_pixels_bring_the_first_convs_int8_output_close_to_float()
    {
        var input = fixture.Int8BuildInput() with { KeepFloat = [], CompensatedRounding = ["first-conv"] };
        var prepared = Int8Quantizer.Prepare(File.ReadAllBytes(FloatModelPath));
        var tensors = Int8ModelBuilder.CalibrationTensors(input, fixture.Decoder);
        var ranges = Calibration.MeasureRanges(prepared, tensors, 224, input.RangeMethod);
        var rounded = Int8ModelBuilder.CompensatedWeights(input, prepared, [], tensors);
        var first = Int8Quantizer.Backbone(prepared)[0];
        Assert.Equal([first.Name], rounded!.Keys);
        Assert.Null(Int8ModelBuilder.CompensatedWeights(input, prepared, [first.Name], tensors)); // a float first Conv has nothing to round

        // the first Conv's output (before its Relu) in the int8 graph against the float graph, over the calibration images
        var inputName = prepared.Graph.Input.Single().Name;
        using var reference = SessionWithOutput(prepared, first.Node.Output[0]);
        double Error(IReadOnlyDictionary<string, RoundedWeights>? weights, PixelInput? exact)
        {
            var quantised = ModelProto.Parser.ParseFrom(Int8Quantizer.Quantize(prepared, ranges, [], null, weights, exact));
            var tensor = Int8Quantizer.ConvOutputInQuantisedGraph(quantised, first);
            using var session = SessionWithOutput(quantised, tensor);
            double error = 0;
            foreach (var image in tensors.Take(12))
            {
                using var value = OrtValue.CreateTensorValueFromMemory(image, [1, 3, 224, 224]);
                using var expected = reference.Run(new RunOptions(), [inputName], [value], [first.Node.Output[0]]);
                using var actual = session.Run(new RunOptions(), [inputName], [value], [tensor]);
                var e = expected[0].GetTensorDataAsSpan<float>();
                var a = actual[0].GetTensorDataAsSpan<float>();
                for (var i = 0; i < e.Length; i++) error += (a[i] - e[i]) * (double)(a[i] - e[i]);
            }

            return error;
        }

        var nearestError = Error(null, null);
        var compensatedError = Error(rounded, null);
        Assert.True(compensatedError < nearestError * 0.8, $"first Conv output error: nearest {nearestError:G4}, compensated {compensatedError:G4}");
        // on the exact pixels what is left is the weights' rounding: far below the input's per-tensor rounding
        var pixels = Int8ModelBuilder.PixelsFor(input);
        Assert.NotNull(pixels);
        var exactError = Error(rounded, pixels);
        Assert.True(exactError < compensatedError / 4, $"first Conv output error, compensated weights: input rounded {compensatedError:G4}, exact pixels {exactError:G4}");

        using var temp = new TempDirectory("vs-int8-compensated-");
        var path = Path.Combine(temp.Path, "compensated.onnx");
        File.WriteAllBytes(path, Int8ModelBuilder.Build(input with { BiasCorrection = false }, fixture.Decoder)); // (bias correction: 22 more passes, tested above)
        var ops = OptimizedOps(path);
        Assert.Equal(21, ops.GetValueOrDefault("QLinearConv"));
        Assert.Equal(1, ops.GetValueOrDefault("ConvInteger"));
        Assert.NotEqual(Int8ModelBuilder.Key(input), Int8ModelBuilder.Key(input with { CompensatedRounding = [] }));
        Assert.Equal(Int8ModelBuilder.Key(input with { CompensatedRounding = [] }), Int8ModelBuilder.Key(input with { CompensatedRounding = null }));
    }

    [Fact]
    public void Compensated_rounding_matches_the_textbook_factorisation_at_every_block_edge()
    {
        // 45 inputs (not a multiple of the 4 lanes or the 16-row blocks) and 20 channels (one full group of 16 and a
        // part): the blocked, reversed factorisation gives the integers of GPTQ written out directly (H⁻¹ by Gauss-Jordan,
        // then its upper Cholesky factor, then one weight at a time).
        const int k = 45, channels = 20;
        var (h, weights) = Synthetic(k, channels, samples: 400, seed: 5);
        var rounded = CompensatedRounding.Round(weights, channels, h);
        Assert.Equal(TextbookGptq(weights, channels, h), rounded.Values);
    }

    [Fact]
    public void Compensated_rounding_of_a_patch_longer_than_the_default_cap_lowers_the_output_error_and_repeats_its_bytes()
    {
        const int k = CompensatedRounding.DefaultMaxPatchLength + 61, channels = 6;
        var (h, weights) = Synthetic(k, channels, samples: 500, seed: 17);
        var rounded = CompensatedRounding.Round(weights, channels, h);

        double nearestError = 0, compensatedError = 0;
        for (var c = 0; c < channels; c++)
        {
            var scale = rounded.Scales[c];
            var nearest = new double[k];
            var compensated = new double[k];
            for (var i = 0; i < k; i++)
            {
                nearest[i] = weights[c * k + i] - Math.Round(weights[c * k + i] / scale, MidpointRounding.ToEven) * scale;
                compensated[i] = weights[c * k + i] - (double)rounded.Values[c * k + i] * scale;
            }

            nearestError += Quadratic(nearest, h, k);
            compensatedError += Quadratic(compensated, h, k);
        }

        Assert.True(compensatedError < nearestError / 2, $"output error over {k} inputs: nearest {nearestError:G4}, compensated {compensatedError:G4}");
        var again = CompensatedRounding.Round(weights, channels, (double[])h.Clone());
        Assert.Equal(rounded.Values, again.Values);
        Assert.Equal(rounded.Scales, again.Scales);
    }

    [Fact]
    public void The_patch_cap_decides_whether_a_layer3_conv_is_compensated()
    {
        var prepared = Int8Quantizer.Prepare(File.ReadAllBytes(FloatModelPath));
        var initializers = prepared.Graph.Initializer.ToDictionary(t => t.Name);
        long Patch(QuantUnit u) => initializers[u.Node.Input[1]].Dims.Skip(1).Aggregate(1L, (a, d) => a * d);
        var deep = Int8Quantizer.Backbone(prepared).First(u => u.OpType == "Conv" && Patch(u) == 2304);
        var tensors = Int8ModelBuilder.CalibrationTensors(fixture.Int8BuildInput(), fixture.Decoder).Take(3).ToList();

        Assert.Empty(CompensatedRounding.Measure(prepared, [deep.Name], tensors, 224));
        var rounded = CompensatedRounding.Measure(prepared, [deep.Name], tensors, 224, maxPatchLength: 4608);
        var weights = Assert.Single(rounded).Value;
        var tensor = initializers[deep.Node.Input[1]];
        var floats = tensor.RawData.Length > 0 ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray() : [.. tensor.FloatData];
        Assert.Equal(floats.Length, weights.Values.Length);
        // compensated, not nearest: some weights move off their nearest level, none by more than a few levels
        var channels = weights.Scales.Length;
        var moved = 0;
        for (var i = 0; i < floats.Length; i++)
        {
            var level = floats[i] / weights.Scales[i / (floats.Length / channels)];
            var offset = Math.Abs(weights.Values[i] - level);
            Assert.InRange(offset, 0, 8);
            if (offset > 0.5 + 1e-4) moved++;
        }

        Assert.InRange(moved, floats.Length / 100, floats.Length);
        Assert.Equal(weights.Values, CompensatedRounding.Measure(prepared, [deep.Name], tensors, 224, maxPatchLength: 4608)[deep.Name].Values);
    }

    [Fact]
    public void Degraded_calibration_views_are_added_after_the_others_and_repeat_their_pixels()
    {
        var files = fixture.Int8BuildInput().CalibrationFiles.Take(2).ToList();
        var plain = CalibrationImages.Create(files, fixture.Decoder, 224, variantsPerPhoto: 1);
        var degraded = CalibrationImages.Create(files, fixture.Decoder, 224, variantsPerPhoto: 1, degradedPerPhoto: 2);

        Assert.Equal(4, plain.Count);
        Assert.Equal(8, degraded.Count);
        // per photo: the photo, its augmented view (both as without degraded views), then two degraded views
        Assert.Equal(plain[0], degraded[0]);
        Assert.Equal(plain[1], degraded[1]);
        Assert.Equal(plain[2], degraded[4]);
        Assert.Equal(plain[3], degraded[5]);
        Assert.All(degraded, image => Assert.Equal(224 * 224 * 3, image.Length));
        Assert.NotEqual(degraded[0], degraded[2]);
        Assert.NotEqual(degraded[2], degraded[3]);
        Assert.Equal(degraded, CalibrationImages.Create(files, fixture.Decoder, 224, variantsPerPhoto: 1, degradedPerPhoto: 2));

        var input = fixture.Int8BuildInput();
        Assert.NotEqual(Int8ModelBuilder.Key(input), Int8ModelBuilder.Key(input with { DegradedViews = 2 }));
        var compensated = input with { CompensatedRounding = ["all"] };
        Assert.NotEqual(Int8ModelBuilder.Key(compensated), Int8ModelBuilder.Key(compensated with { CompensatedMaxPatch = 4608 }));
        Assert.Equal(Int8ModelBuilder.Key(input), Int8ModelBuilder.Key(input with { CompensatedMaxPatch = 4608 })); // nothing compensated: the same model
    }

    /// <summary>Second moments of inputs with one strong shared direction plus small independent parts, and random weights.</summary>
    private static (double[] H, float[] Weights) Synthetic(int k, int channels, int samples, int seed)
    {
        var random = new Random(seed);
        var h = new double[k * k];
        var x = new double[k];
        for (var s = 0; s < samples; s++)
        {
            var common = 100 * (random.NextDouble() - 0.5);
            for (var i = 0; i < k; i++) x[i] = common + 5 * (random.NextDouble() - 0.5);
            for (var i = 0; i < k; i++)
            for (var j = i; j < k; j++) h[i * k + j] += x[i] * x[j] / samples;
        }

        return (h, Enumerable.Range(0, channels * k).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray());
    }

    private static double Quadratic(double[] d, double[] h, int k)
    {
        double sum = 0;
        for (var i = 0; i < k; i++)
        for (var j = 0; j < k; j++) sum += d[i] * d[j] * h[Math.Min(i, j) * k + Math.Max(i, j)];
        return sum;
    }

    /// <summary>GPTQ as the papers write it, in plain loops: act order, 1% damping, U = chol(H⁻¹)ᵀ, one weight at a time.</summary>
    private static sbyte[] TextbookGptq(float[] weights, int channels, double[] upper)
    {
        var k = weights.Length / channels;
        var diagonal = Enumerable.Range(0, k).Select(i => upper[i * k + i]).ToArray();
        var damping = CompensatedRounding.Damping * diagonal.Where(d => d > 0).Average();
        var order = Enumerable.Range(0, k).OrderByDescending(i => diagonal[i]).ThenBy(i => i).ToArray();
        var h = new double[k, k];
        for (var a = 0; a < k; a++)
        for (var b = 0; b < k; b++) h[a, b] = upper[Math.Min(order[a], order[b]) * k + Math.Max(order[a], order[b])] + (a == b ? damping : 0);

        // H⁻¹ by Gauss-Jordan, then its Cholesky factor L (H⁻¹ = L Lᵀ), U = Lᵀ
        var inverse = new double[k, k];
        for (var i = 0; i < k; i++) inverse[i, i] = 1;
        for (var col = 0; col < k; col++)
        {
            var pivot = h[col, col];
            for (var j = 0; j < k; j++) { h[col, j] /= pivot; inverse[col, j] /= pivot; }
            for (var row = 0; row < k; row++)
            {
                if (row == col) continue;
                var f = h[row, col];
                for (var j = 0; j < k; j++) { h[row, j] -= f * h[col, j]; inverse[row, j] -= f * inverse[col, j]; }
            }
        }

        var l = new double[k, k];
        for (var i = 0; i < k; i++)
        for (var j = 0; j <= i; j++)
        {
            var s = inverse[i, j];
            for (var m = 0; m < j; m++) s -= l[i, m] * l[j, m];
            l[i, j] = i == j ? Math.Sqrt(s) : s / l[j, j];
        }

        var values = new sbyte[weights.Length];
        for (var c = 0; c < channels; c++)
        {
            var scale = weights.Skip(c * k).Take(k).Max(Math.Abs) / 127f;
            var w = Enumerable.Range(0, k).Select(a => (double)weights[c * k + order[a]]).ToArray();
            for (var a = 0; a < k; a++)
            {
                var q = Math.Clamp(Math.Round(w[a] / scale, MidpointRounding.ToEven), -127, 127);
                values[c * k + order[a]] = (sbyte)q;
                var error = (w[a] - q * scale) / l[a, a];
                for (var b = a + 1; b < k; b++) w[b] -= error * l[b, a];
            }
        }

        return values;
    }

    [Fact]
    public void The_mse_range_clips_a_rare_outlier_and_keeps_an_even_spread()
    {
        // 4,096 bins over [0, 1], 1,000 values in each: the range stays (almost) whole.
        var even = Enumerable.Repeat(1000L, 4096).ToArray();
        var range = Calibration.MseRange(even, 0, 0f, 1f);
        Assert.Equal(0f, range.Min);
        Assert.InRange(range.Max, 0.98f, 1f);

        // Bulk in [0, 1] of a histogram over [0, 100] and one value at 100: clipping that one costs less than
        // rounding every other value with a 100x coarser step.
        var outlier = new long[4096];
        for (var i = 0; i < 41; i++) outlier[i] = 1_000_000;
        outlier[^1] = 1;
        Assert.InRange(Calibration.MseRange(outlier, 0, 0f, 100f).Max, 0.9f, 5f);

        // Signed: both ends searched.
        var signed = Calibration.MseRange(even, 0, -1f, 1f);
        Assert.InRange(signed.Min, -1f, -0.96f);
        Assert.InRange(signed.Max, 0.96f, 1f);
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

    /// <summary>A session over a copy of the model that also outputs the float tensor.</summary>
    private static InferenceSession SessionWithOutput(ModelProto model, string tensor)
    {
        var copy = model.Clone();
        copy.Graph.Output.Add(new ValueInfoProto
        {
            Name = tensor,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
        });
        return new InferenceSession(copy.ToByteArrayCompat());
    }

    private static NodeProto Producer(GraphProto graph, string tensor) => graph.Node.Single(n => n.Output.Contains(tensor));

    /// <summary>The op that makes the MaxPool's input once ORT has optimised the graph with the encoder's session settings.</summary>
    private static string MaxPoolInputInOptimizedGraph(byte[] model)
    {
        using var temp = new TempDirectory("vs-int8-");
        var optimized = Path.Combine(temp.Path, "optimized.onnx");
        using (var options = OnnxImageEncoder.CreateSessionOptions(new EncoderOptions { IntraOpThreads = 1 }))
        {
            options.OptimizedModelFilePath = optimized;
            using (new InferenceSession(model, options))
            {
            }
        }

        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph;
        return Producer(graph, graph.Node.Single(n => n.OpType == "MaxPool").Input[0]).OpType;
    }

    private static Dictionary<string, int> OptimizedOps(string modelPath)
    {
        using var temp = new TempDirectory("vs-int8-");
        var optimized = Path.Combine(temp.Path, "optimized.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized })
        using (new InferenceSession(modelPath, options))
        {
        }

        return ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
    }

    private static float[] Run(byte[] model, float[] input)
    {
        using var session = new InferenceSession(model);
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, 224, 224]);
        using var outputs = session.Run(new RunOptions(), [session.InputMetadata.Keys.Single()], [value], [session.OutputMetadata.Keys.Single()]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static TensorProto Scalar(string name, float value)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.FloatData.Add(value);
        return tensor;
    }
}

internal static class ModelProtoExtensions
{
    public static byte[] ToByteArrayCompat(this ModelProto model) => Google.Protobuf.MessageExtensions.ToByteArray(model);
}
