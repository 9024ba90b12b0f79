using System.Buffers.Binary;
using System.Globalization;
using Google.Protobuf;
using Onnx;

namespace VisualSearch.Embedding.Quantization;

/// <summary>
/// Turns a float32 convolutional ONNX encoder (Conv, BatchNormalization, Relu, Add, MaxPool, AveragePool: the
/// ResNet family) into an int8 QDQ model that ONNX Runtime runs with integer kernels (QLinearConv, QLinearAdd,
/// uint8 MaxPool). Deterministic: the same model bytes and the same calibration ranges give the same bytes.
/// </summary>
/// <remarks>
/// The form (what ONNX Runtime fuses, measured in issue 13):
/// <list type="bullet">
/// <item>BatchNormalization is folded into the Conv weights and a bias first: ORT fuses only DequantizeLinear → Conv → QuantizeLinear.</item>
/// <item>Weights int8, symmetric, per output channel (DequantizeLinear axis 0, zero points 0); bias int32 with
/// scale = input scale x weight scale of its channel.</item>
/// <item>Activations uint8 per tensor. A Relu after a Conv or an Add is dropped: its output is quantised with zero
/// point 0, which clips at 0 exactly as the Relu did. Other tensors are asymmetric (zero point from the range).</item>
/// <item>MaxPool keeps its input's scale and zero point (so it runs on uint8); the graph input is quantised by a
/// QuantizeLinear; the final AveragePool and the graph output stay float.</item>
/// <item>A MaxPool that reads a float unit's output after its Relu (the float first Conv, or the exact-pixel one) runs in
/// float before the rounding instead: MaxPool, a Relu, then the QuantizeLinear with the same scale and zero point. Max
/// commutes with any non-decreasing map (the Relu, the rounding, the clip to 0-255), so the uint8 tensor after it is the
/// same bit for bit; ORT's uint8 MaxPool outside the channels-last path is a scalar loop (3.4 ms of a 15 ms embed,
/// docs/performance.md, seventh session) where the float one runs in its vectorised NCHWc kernel (0.15 ms). The Relu
/// keeps ORT's QDQ propagation from moving the QuantizeLinear back in front of the MaxPool; ORT then drops it into the
/// QuantizeLinear (zero point 0 clips at 0 already).</item>
/// <item>Per-channel QDQ needs opset 13: once BatchNormalization is folded, the remaining ops of an opset 7-12
/// export mean the same at 13, so the opset is set directly. Weights stay initializers (never graph inputs),
/// so ORT folds their DequantizeLinear at load. Attributes (the uneven pads of a CNTK export) are kept as they are.</item>
/// </list>
/// </remarks>
public static class Int8Quantizer
{
    /// <summary>Changes whenever the produced graph would change for the same input; part of the cache key.</summary>
    public const string Version = "int8-qdq-4";

    private const int TargetOpset = 13;
    private const long TargetIrVersion = 7;

    private static readonly HashSet<string> QuantisedOps = ["Conv", "Add", "MaxPool"];

    // Ops that run in float after the backbone (pooling, GeM, normalisation, a head) and that mean the same from
    // opset 7 to 13, so setting the opset to 13 keeps the graph's meaning. (Clip, Slice, Squeeze, Unsqueeze and
    // ReduceSum changed their inputs on the way and are refused.)
    private static readonly HashSet<string> FloatOps =
    [
        "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten", "Reshape", "Pow", "Sqrt", "Mul", "Div", "Sub",
        "Max", "Min", "ReduceMean", "ReduceL2", "ReduceMax", "LpNormalization", "Transpose", "Concat", "Identity",
    ];

    /// <summary>
    /// Folds BatchNormalization into Conv (weights and a bias), sets the opset to 13 and IR version 7, and checks
    /// that every remaining op is one this quantiser handles. The result is the float graph the quantised one
    /// is built from and the one calibration runs.
    /// </summary>
    public static ModelProto Prepare(byte[] floatModel)
    {
        ArgumentNullException.ThrowIfNull(floatModel);
        var model = ModelProto.Parser.ParseFrom(floatModel);
        var graph = model.Graph;
        if (model.OpsetImport.Any(o => (o.Domain is "" or "ai.onnx") && o.Version > TargetOpset))
            throw new NotSupportedException($"The model's opset is newer than {TargetOpset}; the int8 quantiser supports opsets 7 to {TargetOpset}.");

        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var consumers = Consumers(graph);
        var removed = new HashSet<NodeProto>();
        foreach (var conv in graph.Node.Where(n => n.OpType == "Conv").ToList())
        {
            if (!consumers.TryGetValue(conv.Output[0], out var users) || users.Count != 1 || users[0].OpType != "BatchNormalization") continue;
            var bn = users[0];
            if (bn.Input[0] != conv.Output[0] || IsGraphOutput(graph, conv.Output[0])) continue;
            if (bn.Attribute.FirstOrDefault(a => a.Name == "spatial") is { I: 0 })
                throw new NotSupportedException($"BatchNormalization '{bn.Name}' is not spatial; the int8 quantiser folds only spatial BatchNormalization.");
            FoldBatchNorm(conv, bn, initializers, graph);
            conv.Output[0] = bn.Output[0];
            removed.Add(bn);
        }

        foreach (var node in removed) graph.Node.Remove(node);
        foreach (var unused in graph.Initializer.Where(t => !graph.Node.Any(n => n.Input.Contains(t.Name))).ToList())
            graph.Initializer.Remove(unused);

        foreach (var node in graph.Node)
        {
            if (node.Domain is not ("" or "ai.onnx") || !(QuantisedOps.Contains(node.OpType) || FloatOps.Contains(node.OpType) || node.OpType == "Relu"))
                throw new NotSupportedException($"The int8 quantiser does not handle the op '{node.OpType}' (node '{node.Name}'); set Encoder:Precision=Float32 for this model.");
            if (node.OpType == "Conv" && (!initializers.ContainsKey(node.Input[1]) || (node.Input.Count > 2 && !initializers.ContainsKey(node.Input[2]))))
                throw new NotSupportedException($"Conv '{node.Name}' takes its weights from a graph input; the int8 quantiser needs them as initializers.");
        }

        // Weights are initializers, never graph inputs (an IR 3 export lists them in both; ORT then cannot fold them).
        var initializerNames = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var input in graph.Input.Where(i => initializerNames.Contains(i.Name)).ToList()) graph.Input.Remove(input);
        graph.ValueInfo.Clear();
        model.OpsetImport.Clear();
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = TargetOpset });
        model.IrVersion = Math.Max(model.IrVersion, TargetIrVersion);
        return model;
    }

    /// <summary>
    /// The backbone of a prepared graph, in graph order: every Conv, Add and MaxPool that reads only the graph input
    /// or other backbone outputs, each with the Relu it absorbs. What follows it (pooling, flatten, any head) reads
    /// a backbone output through another op and stays float, so a graph edited after the backbone (another pooling,
    /// regional outputs) is quantised up to that edit.
    /// </summary>
    public static IReadOnlyList<QuantUnit> Backbone(ModelProto prepared)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        var graph = prepared.Graph;
        var consumers = Consumers(graph);
        var available = new HashSet<string>(StringComparer.Ordinal) { graph.Input.Single().Name };
        var units = new List<QuantUnit>();
        foreach (var node in graph.Node)
        {
            if (!QuantisedOps.Contains(node.OpType)) continue;
            var activations = node.OpType == "Add" ? node.Input.ToList() : [node.Input[0]];
            if (!activations.All(available.Contains)) continue;
            var relu = AbsorbedRelu(node, consumers, graph);
            var output = relu is null ? node.Output[0] : relu.Output[0];
            // unnamed nodes (ONNX allows them) go by their output, so every unit has its own name
            units.Add(new QuantUnit(string.IsNullOrEmpty(node.Name) ? node.Output[0] : node.Name, node.OpType, node, relu, output, activations));
            available.Add(output);
        }

        return units;
    }

    /// <summary>
    /// The tensors whose ranges calibration must measure in the prepared float graph: the graph input and the
    /// output of every backbone unit (after its Relu, when it has one).
    /// </summary>
    public static IReadOnlyList<string> CalibrationTensors(ModelProto prepared)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        var names = new List<string> { prepared.Graph.Input.Single().Name };
        foreach (var unit in Backbone(prepared))
            if (!IsGraphOutput(prepared.Graph, unit.Output) && !names.Contains(unit.Output)) names.Add(unit.Output);
        return names;
    }

    /// <summary>
    /// The names of the backbone units the <paramref name="selectors"/> keep in float (mixed precision), in graph
    /// order. A selector is <c>first-conv</c> (the Conv that reads the graph input), <c>last-block</c> (the units
    /// after the last-but-one Add: the last residual block, its Add included), <c>last-conv</c>, <c>all</c> (every unit), or a node name.
    /// </summary>
    public static IReadOnlyList<string> FloatUnits(ModelProto prepared, IEnumerable<string> selectors)
    {
        ArgumentNullException.ThrowIfNull(selectors);
        var units = Backbone(prepared);
        var input = prepared.Graph.Input.Single().Name;
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var selector in selectors.Select(s => s.Trim()).Where(s => s.Length > 0))
        {
            switch (selector)
            {
                case "first-conv":
                    chosen.UnionWith(units.Where(u => u.OpType == "Conv" && u.Inputs[0] == input).Select(u => u.Name));
                    break;
                case "all":
                    chosen.UnionWith(units.Select(u => u.Name));
                    break;
                case "last-conv":
                    if (units.LastOrDefault(u => u.OpType == "Conv") is { } last) chosen.Add(last.Name);
                    break;
                case "last-block":
                {
                    var adds = units.Select((u, i) => (u, i)).Where(p => p.u.OpType == "Add").Select(p => p.i).ToList();
                    var from = adds.Count >= 2 ? adds[^2] + 1 : 0;
                    chosen.UnionWith(units.Skip(from).Take((adds.Count > 0 ? adds[^1] : units.Count - 1) - from + 1).Select(u => u.Name));
                    break;
                }

                default:
                    if (!units.Any(u => u.Name == selector))
                        throw new ArgumentException($"'{selector}' is neither first-conv, last-conv, last-block, all nor the name of a Conv, Add or MaxPool of the backbone (Encoder:Int8KeepFloat, Encoder:Int8CompensatedRounding).", nameof(selectors));
                    chosen.Add(selector);
                    break;
            }
        }

        return units.Where(u => chosen.Contains(u.Name)).Select(u => u.Name).ToList();
    }

    /// <summary>Builds the int8 QDQ model from the prepared float graph and the measured activation ranges.</summary>
    /// <param name="prepared">The result of <see cref="Prepare"/> (not changed).</param>
    /// <param name="ranges">Range of every tensor of <see cref="CalibrationTensors"/>.</param>
    /// <param name="floatUnits">
    /// Backbone units (<see cref="FloatUnits"/>) that run in float: their weights stay float32 and they read
    /// dequantised inputs; their output is quantised only where a quantised unit reads it. Empty: every unit is int8.
    /// </param>
    /// <param name="biasCorrections">
    /// Per int8 Conv (by unit name), one value per output channel added to its bias before the bias is rounded
    /// (<see cref="BiasCorrection.Measure"/>). Null or missing: the folded bias as it is.
    /// </param>
    /// <param name="roundedWeights">
    /// Per int8 Conv (by unit name), weights already rounded to int8 (<see cref="CompensatedRounding.Measure"/>). Null or
    /// missing: each weight rounded to its nearest level.
    /// </param>
    /// <param name="pixels">
    /// The mean image the graph input has had subtracted (<see cref="PixelInput"/>): an int8 Conv that reads the graph
    /// input then runs on the exact 8-bit pixels (ConvInteger) with the mean image's convolution added after it.
    /// Null: the graph input is quantised per tensor like any activation.
    /// </param>
    /// <param name="weightForm">How the int8 weights are stored, which decides the integer kernels ONNX Runtime runs (<see cref="Int8WeightForm"/>).</param>
    /// <returns>The serialised model.</returns>
    /// <remarks>
    /// A quantised unit's output gets a QuantizeLinear only when some quantised unit reads it; otherwise (the last Add,
    /// read only by the pooling) the unit runs in float on its dequantised inputs, so the feature map the pooling
    /// averages is never rounded to 8 bits.
    /// </remarks>
    public static byte[] Quantize(
        ModelProto prepared, IReadOnlyDictionary<string, TensorRange> ranges, IReadOnlyCollection<string>? floatUnits = null,
        IReadOnlyDictionary<string, float[]>? biasCorrections = null, IReadOnlyDictionary<string, RoundedWeights>? roundedWeights = null,
        PixelInput? pixels = null, Int8WeightForm weightForm = Int8WeightForm.S8)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(ranges);
        var maxLevel = MaxLevel(weightForm);
        var model = prepared.Clone();
        var source = model.Graph;
        var initializers = source.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var units = Backbone(model);
        var keepFloat = new HashSet<string>(floatUnits ?? [], StringComparer.Ordinal);
        foreach (var name in keepFloat.Where(n => units.All(u => u.Name != n)))
            throw new ArgumentException($"'{name}' is not a unit of the backbone.", nameof(floatUnits));
        var unitOf = units.ToDictionary(u => u.Node, u => u, (IEqualityComparer<NodeProto>)ReferenceEqualityComparer.Instance);
        var absorbed = units.Where(u => u.Relu is not null).Select(u => u.Relu!).ToHashSet((IEqualityComparer<NodeProto>)ReferenceEqualityComparer.Instance);
        var intUnits = units.Where(u => !keepFloat.Contains(u.Name)).ToList();
        // tensors that some int8 unit reads, so they need a quantised form
        var inputName = source.Input.Single().Name;
        var pixelUnits = pixels is null
            ? []
            : intUnits.Where(u => u.OpType == "Conv" && u.Inputs[0] == inputName).Select(u => u.Name).ToHashSet(StringComparer.Ordinal);
        // MaxPools whose input is a float unit's (or the exact-pixel Conv's) output after its Relu: they pool in float (remarks)
        var producers = units.ToDictionary(u => u.Output, u => u, StringComparer.Ordinal);
        var floatPools = intUnits
            .Where(u => u.OpType == "MaxPool" && producers.TryGetValue(u.Inputs[0], out var p) && p.Relu is not null && (keepFloat.Contains(p.Name) || pixelUnits.Contains(p.Name)))
            .Select(u => u.Name).ToHashSet(StringComparer.Ordinal);
        var readQuantised = intUnits.Where(u => !pixelUnits.Contains(u.Name) && !floatPools.Contains(u.Name)).SelectMany(u => u.Inputs).ToHashSet(StringComparer.Ordinal);

        var graph = new GraphProto { Name = source.Name, DocString = source.DocString };
        graph.Input.Add(source.Input);
        graph.Output.Add(source.Output);

        // tensor name (as the float graph calls it, after Relu absorption) -> its quantised tensor and parameters
        var quantised = new Dictionary<string, Quantised>(StringComparer.Ordinal);
        // tensors whose float value the new graph holds under their own name
        var floats = new HashSet<string>(StringComparer.Ordinal) { source.Input.Single().Name };
        floats.UnionWith(initializers.Keys);
        var dqCount = 0;

        string Float(string tensor)
        {
            if (floats.Contains(tensor) || !quantised.TryGetValue(tensor, out var q)) return tensor;
            var output = $"{tensor}_dq{++dqCount}";
            graph.Node.Add(Node("DequantizeLinear", $"{tensor}_DequantizeLinear{dqCount}", [q.Tensor, q.ScaleName, q.ZeroPointName], [output]));
            return output;
        }

        string Dequantize(string tensor)
        {
            if (!quantised.TryGetValue(tensor, out var q))
                throw new InvalidOperationException($"The tensor '{tensor}' has no quantised form.");
            var output = $"{tensor}_dq{++dqCount}";
            graph.Node.Add(Node("DequantizeLinear", $"{tensor}_DequantizeLinear{dqCount}", [q.Tensor, q.ScaleName, q.ZeroPointName], [output]));
            return output;
        }

        void QuantizeOutput(string floatTensor, string name, QuantParams p)
        {
            var scaleName = $"{name}_scale";
            var zeroPointName = $"{name}_zero_point";
            graph.Initializer.Add(FloatScalar(scaleName, p.Scale));
            graph.Initializer.Add(new TensorProto { Name = zeroPointName, DataType = (int)TensorProto.Types.DataType.Uint8, RawData = ByteString.CopyFrom(p.ZeroPoint) });
            var q = $"{name}_quantized";
            graph.Node.Add(Node("QuantizeLinear", $"{name}_QuantizeLinear", [floatTensor, scaleName, zeroPointName], [q]));
            quantised[name] = new Quantised(q, scaleName, zeroPointName, p);
        }

        QuantParams RangeOf(string tensor, bool afterRelu)
        {
            if (!ranges.TryGetValue(tensor, out var range))
                throw new ArgumentException($"No calibration range for the tensor '{tensor}'.", nameof(ranges));
            return QuantParams.FromRange(afterRelu ? Math.Max(0, range.Min) : range.Min, range.Max, afterRelu);
        }

        if (readQuantised.Contains(inputName)) QuantizeOutput(inputName, inputName, RangeOf(inputName, afterRelu: false));

        foreach (var node in source.Node)
        {
            if (absorbed.Contains(node)) continue; // emitted with its unit
            if (!unitOf.TryGetValue(node, out var unit))
            {
                // not part of the backbone: float, on dequantised inputs
                var copy = node.Clone();
                copy.Input.Clear();
                foreach (var input in node.Input) copy.Input.Add(Float(input));
                graph.Node.Add(copy);
                floats.UnionWith(node.Output);
                continue;
            }

            if (keepFloat.Contains(unit.Name))
            {
                EmitFloat(unit);
                continue;
            }

            if (pixelUnits.Contains(unit.Name))
            {
                var pixelOutput = EmitPixelConv(unit, biasCorrections?.GetValueOrDefault(unit.Name), roundedWeights?.GetValueOrDefault(unit.Name));
                if (readQuantised.Contains(unit.Output) && !IsGraphOutput(source, unit.Output))
                {
                    QuantizeOutput(pixelOutput, unit.Output, RangeOf(unit.Output, afterRelu: unit.Relu is not null));
                }
                else
                {
                    graph.Node.Add(Node(unit.Relu is null ? "Identity" : "Relu", $"{unit.Name}_output", [pixelOutput], [unit.Output]));
                    floats.Add(unit.Output);
                }

                continue;
            }

            var rewritten = node.Clone();
            rewritten.Input.Clear();
            switch (node.OpType)
            {
                case "Conv":
                {
                    var xq = quantised[node.Input[0]];
                    rewritten.Input.Add(Dequantize(node.Input[0]));
                    var correction = biasCorrections?.GetValueOrDefault(unit.Name);
                    var rounded = roundedWeights?.GetValueOrDefault(unit.Name);
                    rewritten.Input.Add(QuantizeWeights(initializers[node.Input[1]], node.Input.Count > 2 ? initializers[node.Input[2]] : null, correction, rounded, xq.Params.Scale, weightForm, graph, out var biasName));
                    rewritten.Input.Add(biasName);
                    break;
                }

                case "Add":
                    foreach (var input in node.Input) rewritten.Input.Add(Dequantize(input));
                    break;

                case "MaxPool" when floatPools.Contains(unit.Name):
                {
                    // the scale and zero point the float unit's output had before (zero point 0: after its Relu)
                    var p = RangeOf(node.Input[0], afterRelu: true);
                    rewritten.Input.Add(node.Input[0]);
                    rewritten.Output.Clear();
                    rewritten.Output.Add($"{unit.Output}_pooled");
                    graph.Node.Add(rewritten);
                    graph.Node.Add(Node("Relu", $"{unit.Name}_relu", [$"{unit.Output}_pooled"], [$"{unit.Output}_float"]));
                    QuantizeOutput($"{unit.Output}_float", unit.Output, p);
                    continue;
                }

                default: // MaxPool: the input's scale and zero point, so ORT runs it on uint8
                {
                    var xq = quantised[node.Input[0]];
                    rewritten.Input.Add(Dequantize(node.Input[0]));
                    rewritten.Output.Clear();
                    rewritten.Output.Add($"{unit.Output}_float");
                    graph.Node.Add(rewritten);
                    QuantizeOutput($"{unit.Output}_float", unit.Output, xq.Params);
                    continue;
                }
            }

            if (!readQuantised.Contains(unit.Output) || IsGraphOutput(source, unit.Output))
            {
                // read only by float ops: no rounding of its output; ORT runs it in float on the dequantised inputs
                graph.Node.Add(rewritten);
                if (unit.Relu is not null) graph.Node.Add(unit.Relu.Clone());
                floats.Add(unit.Output);
                continue;
            }

            rewritten.Output.Clear();
            rewritten.Output.Add($"{unit.Output}_float");
            graph.Node.Add(rewritten);
            QuantizeOutput($"{unit.Output}_float", unit.Output, RangeOf(unit.Output, afterRelu: unit.Relu is not null));
        }

        // the float initializers float nodes still read (weights of float units, constants after the backbone)
        var present = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var read = graph.Node.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        foreach (var initializer in source.Initializer.Where(t => read.Contains(t.Name) && !present.Contains(t.Name)))
            graph.Initializer.Add(initializer.Clone());

        model.Graph = graph;
        return model.ToByteArray();

        // x − m → (x − m) + m, rounded with scale 1: the 8-bit pixels exactly. ConvInteger on them (int32, exact), then per
        // output channel its weight scale, plus a constant map: the bias minus the mean image's convolution with the same
        // int8 weights (zero padding for both, so conv(x) − conv(m) = conv(x − m) at the borders too).
        string EmitPixelConv(QuantUnit unit, float[]? correction, RoundedWeights? rounded)
        {
            var node = unit.Node;
            var weightsTensor = initializers[node.Input[1]];
            var weights = rounded ?? Nearest(ReadFloats(weightsTensor), (int)weightsTensor.Dims[0], maxLevel);
            CheckLevels(weights, maxLevel, weightsTensor.Name);
            var geometry = ConvGeometry.Of(node, weightsTensor);
            var channels = geometry.OutputChannels;
            if (pixels!.Mean.Length != geometry.InputChannels * pixels.Height * pixels.Width)
                throw new ArgumentException($"The mean image has {pixels.Mean.Length} values for {geometry.InputChannels} x {pixels.Height} x {pixels.Width} pixels.", nameof(pixels));
            var bias = node.Input.Count > 2 ? ReadFloats(initializers[node.Input[2]]) : new float[channels];
            if (correction is not null)
                for (var c = 0; c < channels; c++) bias[c] += correction[c];
            var (outHeight, outWidth) = geometry.OutputSize(pixels.Height, pixels.Width);
            var meanConv = pixels.MeanConvolution(geometry, weights);
            var offset = new float[meanConv.Length];
            for (var i = 0; i < offset.Length; i++) offset[i] = (float)(bias[i / (outHeight * outWidth)] - meanConv[i]);

            var mean = FloatVector($"{inputName}_pixel_mean", pixels.Mean);
            mean.Dims.Clear();
            mean.Dims.Add([1, geometry.InputChannels, pixels.Height, pixels.Width]);
            graph.Initializer.Add(mean);
            graph.Node.Add(Node("Add", $"{inputName}_add_mean", [inputName, mean.Name], [$"{inputName}_pixels_float"]));
            graph.Initializer.Add(FloatScalar($"{inputName}_pixels_scale", 1f));
            graph.Initializer.Add(new TensorProto { Name = $"{inputName}_pixels_zero_point", DataType = (int)TensorProto.Types.DataType.Uint8, RawData = ByteString.CopyFrom(0) });
            graph.Node.Add(Node("QuantizeLinear", $"{inputName}_pixels_QuantizeLinear", [$"{inputName}_pixels_float", $"{inputName}_pixels_scale", $"{inputName}_pixels_zero_point"], [$"{inputName}_pixels"]));

            var name = weightsTensor.Name;
            var (weightType, weightBytes, weightZeroPoint) = Stored(weights.Values, weightForm);
            var wq = new TensorProto { Name = $"{name}_quantized", DataType = (int)weightType, RawData = ByteString.CopyFrom(weightBytes) };
            wq.Dims.Add(weightsTensor.Dims);
            graph.Initializer.Add(wq);
            graph.Initializer.Add(new TensorProto { Name = $"{name}_zero_point", DataType = (int)weightType, RawData = ByteString.CopyFrom(weightZeroPoint) });
            var conv = node.Clone();
            conv.OpType = "ConvInteger";
            conv.Name = $"{unit.Name}_integer";
            conv.Input.Clear();
            conv.Input.Add([$"{inputName}_pixels", wq.Name, $"{inputName}_pixels_zero_point", $"{name}_zero_point"]);
            conv.Output.Clear();
            conv.Output.Add($"{unit.Output}_int32");
            graph.Node.Add(conv);
            var cast = Node("Cast", $"{unit.Name}_cast", [$"{unit.Output}_int32"], [$"{unit.Output}_int32_float"]);
            cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (int)TensorProto.Types.DataType.Float });
            graph.Node.Add(cast);
            var scales = FloatVector($"{name}_scale", weights.Scales);
            scales.Dims.Clear();
            scales.Dims.Add([channels, 1, 1]);
            graph.Initializer.Add(scales);
            graph.Node.Add(Node("Mul", $"{unit.Name}_scale", [$"{unit.Output}_int32_float", scales.Name], [$"{unit.Output}_scaled"]));
            var offsetTensor = FloatVector($"{unit.Output}_offset", offset);
            offsetTensor.Dims.Clear();
            offsetTensor.Dims.Add([1, channels, outHeight, outWidth]);
            graph.Initializer.Add(offsetTensor);
            graph.Node.Add(Node("Add", $"{unit.Name}_offset", [$"{unit.Output}_scaled", offsetTensor.Name], [$"{unit.Output}_float"]));
            return $"{unit.Output}_float";
        }

        void EmitFloat(QuantUnit unit)
        {
            var copy = unit.Node.Clone();
            copy.Input.Clear();
            foreach (var input in unit.Node.Input) copy.Input.Add(Float(input));
            graph.Node.Add(copy);
            if (unit.Relu is not null) graph.Node.Add(unit.Relu.Clone());
            floats.Add(unit.Output);
            if (readQuantised.Contains(unit.Output) && !IsGraphOutput(source, unit.Output))
                QuantizeOutput(unit.Output, unit.Output, RangeOf(unit.Output, afterRelu: unit.Relu is not null));
        }
    }

    /// <summary>
    /// The tensor an int8 Conv of <paramref name="unit"/> writes in a graph <see cref="Quantize"/> made: its float output
    /// before the QuantizeLinear (and before the Relu the zero point replaces).
    /// </summary>
    public static string ConvOutputInQuantisedGraph(ModelProto quantised, QuantUnit unit)
    {
        ArgumentNullException.ThrowIfNull(quantised);
        ArgumentNullException.ThrowIfNull(unit);
        string[] candidates = [$"{unit.Output}_float", unit.Node.Output[0]];
        // the Conv itself, or for a Conv on exact pixels (PixelInput) the Add of its offset map
        return quantised.Graph.Node.FirstOrDefault(n => candidates.Contains(n.Output[0]) && (n.OpType == unit.OpType || (unit.OpType == "Conv" && n.OpType == "Add" && n.Output[0] == candidates[0])))?.Output[0]
            ?? throw new ArgumentException($"The quantised graph has no {unit.OpType} for the unit '{unit.Name}'.", nameof(unit));
    }

    /// <summary>
    /// Per-output-channel symmetric weights (each rounded to its nearest level, or <paramref name="rounded"/>), stored as
    /// <paramref name="form"/> says, and an int32 bias, with their DequantizeLinear nodes.
    /// </summary>
    private static string QuantizeWeights(TensorProto weights, TensorProto? bias, float[]? correction, RoundedWeights? rounded, float inputScale, Int8WeightForm form, GraphProto graph, out string biasOutput)
    {
        var w = ReadFloats(weights);
        var channels = (int)weights.Dims[0];
        var perChannel = w.Length / channels;
        var scales = new float[channels];
        rounded ??= Nearest(w, channels, MaxLevel(form));
        if (rounded.Values.Length != w.Length || rounded.Scales.Length != channels)
            throw new ArgumentException($"The rounded weights of '{weights.Name}' do not match its {channels} x {perChannel} weights.", nameof(rounded));
        CheckLevels(rounded, MaxLevel(form), weights.Name);
        rounded.Scales.CopyTo(scales, 0);
        var (weightType, q, zeroPoint) = Stored(rounded.Values, form);

        var name = weights.Name;
        var wq = new TensorProto { Name = $"{name}_quantized", DataType = (int)weightType, RawData = ByteString.CopyFrom(q) };
        wq.Dims.Add(weights.Dims);
        graph.Initializer.Add(wq);
        graph.Initializer.Add(FloatVector($"{name}_scale", scales));
        var wzp = new TensorProto { Name = $"{name}_zero_point", DataType = (int)weightType, RawData = ByteString.CopyFrom(Enumerable.Repeat(zeroPoint, channels).ToArray()) };
        wzp.Dims.Add(channels);
        graph.Initializer.Add(wzp);
        graph.Node.Add(Node("DequantizeLinear", $"{name}_DequantizeLinear", [wq.Name, $"{name}_scale", wzp.Name], [$"{name}_dequantized"], axis: 0));

        var b = bias is null ? new float[channels] : ReadFloats(bias);
        if (correction is not null)
        {
            if (correction.Length != channels)
                throw new ArgumentException($"The bias correction of '{name}' has {correction.Length} values for {channels} channels.", nameof(correction));
            for (var c = 0; c < channels; c++) b[c] += correction[c];
        }

        var biasName = bias?.Name ?? $"{name}_bias";
        var bq = new byte[channels * 4];
        var bScales = new float[channels];
        for (var c = 0; c < channels; c++)
        {
            bScales[c] = inputScale * scales[c];
            var v = Math.Clamp(Math.Round((double)b[c] / bScales[c], MidpointRounding.ToEven), int.MinValue + 1.0, int.MaxValue);
            BinaryPrimitives.WriteInt32LittleEndian(bq.AsSpan(c * 4), (int)v);
        }

        var bqt = new TensorProto { Name = $"{biasName}_quantized", DataType = (int)TensorProto.Types.DataType.Int32, RawData = ByteString.CopyFrom(bq) };
        bqt.Dims.Add(channels);
        graph.Initializer.Add(bqt);
        graph.Initializer.Add(FloatVector($"{biasName}_scale", bScales));
        var bzp = new TensorProto { Name = $"{biasName}_zero_point", DataType = (int)TensorProto.Types.DataType.Int32, RawData = ByteString.CopyFrom(new byte[channels * 4]) };
        bzp.Dims.Add(channels);
        graph.Initializer.Add(bzp);
        biasOutput = $"{biasName}_dequantized";
        graph.Node.Add(Node("DequantizeLinear", $"{biasName}_DequantizeLinear", [bqt.Name, $"{biasName}_scale", bzp.Name], [biasOutput], axis: 0));
        return $"{name}_dequantized";
    }

    /// <summary>The largest |level| a weight of this form takes: 63 for <see cref="Int8WeightForm.S7"/>, otherwise 127.</summary>
    public static int MaxLevel(Int8WeightForm form) => form == Int8WeightForm.S7 ? 63 : 127;

    /// <summary>
    /// The stored tensor of symmetric levels (−127..127, or −63..63): int8 with zero point 0, or for
    /// <see cref="Int8WeightForm.U8"/> uint8 shifted by 128 with zero point 128 (the same real values).
    /// </summary>
    private static (TensorProto.Types.DataType Type, byte[] Bytes, byte ZeroPoint) Stored(sbyte[] levels, Int8WeightForm form)
    {
        var bytes = new byte[levels.Length];
        if (form == Int8WeightForm.U8)
        {
            for (var i = 0; i < bytes.Length; i++) bytes[i] = (byte)(levels[i] + 128);
            return (TensorProto.Types.DataType.Uint8, bytes, 128);
        }

        for (var i = 0; i < bytes.Length; i++) bytes[i] = unchecked((byte)levels[i]);
        return (TensorProto.Types.DataType.Int8, bytes, 0);
    }

    private static void CheckLevels(RoundedWeights rounded, int maxLevel, string name)
    {
        foreach (var v in rounded.Values)
        {
            if (v < -maxLevel || v > maxLevel)
                throw new ArgumentException($"The rounded weights of '{name}' reach {v}; this weight form allows −{maxLevel}..{maxLevel}.", nameof(rounded));
        }
    }

    /// <summary>Symmetric weights per output channel, each rounded to its nearest level (scale = largest |w| / <paramref name="maxLevel"/>).</summary>
    internal static RoundedWeights Nearest(float[] w, int channels, int maxLevel = 127)
    {
        var perChannel = w.Length / channels;
        var scales = new float[channels];
        var q = new sbyte[w.Length];
        for (var c = 0; c < channels; c++)
        {
            var max = 0f;
            for (var i = 0; i < perChannel; i++) max = Math.Max(max, Math.Abs(w[c * perChannel + i]));
            var scale = max > 0 ? max / maxLevel : 1f;
            scales[c] = scale;
            for (var i = 0; i < perChannel; i++)
                q[c * perChannel + i] = (sbyte)Math.Clamp(MathF.Round(w[c * perChannel + i] / scale, MidpointRounding.ToEven), -maxLevel, maxLevel);
        }

        return new RoundedWeights(q, scales);
    }

    /// <summary>W' = W·γ/√(σ²+ε) per output channel; b' = β + (b − μ)·γ/√(σ²+ε). In double, then float.</summary>
    private static void FoldBatchNorm(NodeProto conv, NodeProto bn, Dictionary<string, TensorProto> initializers, GraphProto graph)
    {
        TensorProto Init(string name) => initializers.TryGetValue(name, out var t)
            ? t
            : throw new NotSupportedException($"BatchNormalization '{bn.Name}' takes '{name}' from a graph input; the int8 quantiser needs initializers.");

        var weights = Init(conv.Input[1]);
        var w = ReadFloats(weights);
        var channels = (int)weights.Dims[0];
        var gamma = ReadFloats(Init(bn.Input[1]));
        var beta = ReadFloats(Init(bn.Input[2]));
        var mean = ReadFloats(Init(bn.Input[3]));
        var variance = ReadFloats(Init(bn.Input[4]));
        if (gamma.Length != channels || beta.Length != channels || mean.Length != channels || variance.Length != channels)
            throw new NotSupportedException($"BatchNormalization '{bn.Name}' does not have one parameter per channel of Conv '{conv.Name}'.");
        var epsilon = bn.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
        var b = conv.Input.Count > 2 ? ReadFloats(Init(conv.Input[2])) : new float[channels];

        var perChannel = w.Length / channels;
        var folded = new float[w.Length];
        var bias = new float[channels];
        for (var c = 0; c < channels; c++)
        {
            var factor = gamma[c] / Math.Sqrt((double)variance[c] + epsilon);
            for (var i = 0; i < perChannel; i++) folded[c * perChannel + i] = (float)(w[c * perChannel + i] * factor);
            bias[c] = (float)(beta[c] + ((double)b[c] - mean[c]) * factor);
        }

        var weightsName = $"{conv.Output[0]}_folded_weights";
        var foldedWeights = FloatVector(weightsName, folded);
        foldedWeights.Dims.Clear();
        foldedWeights.Dims.Add(weights.Dims);
        graph.Initializer.Add(foldedWeights);
        initializers[weightsName] = foldedWeights;
        var biasName = $"{conv.Output[0]}_folded_bias";
        var foldedBias = FloatVector(biasName, bias);
        graph.Initializer.Add(foldedBias);
        initializers[biasName] = foldedBias;

        conv.Input[1] = weightsName;
        if (conv.Input.Count > 2) conv.Input[2] = biasName;
        else conv.Input.Add(biasName);
    }

    /// <summary>The Relu that reads this node's output and nothing else does, if any.</summary>
    private static NodeProto? AbsorbedRelu(NodeProto node, Dictionary<string, List<NodeProto>> consumers, GraphProto graph) =>
        node.OpType is "Conv" or "Add"
        && consumers.TryGetValue(node.Output[0], out var users) && users is [{ OpType: "Relu" } relu]
        && !IsGraphOutput(graph, node.Output[0])
            ? relu
            : null;

    private static Dictionary<string, List<NodeProto>> Consumers(GraphProto graph)
    {
        var consumers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        foreach (var input in node.Input.Distinct())
        {
            if (!consumers.TryGetValue(input, out var list)) consumers[input] = list = [];
            list.Add(node);
        }

        return consumers;
    }

    private static bool IsGraphOutput(GraphProto graph, string name) => graph.Output.Any(o => o.Name == name);

    internal static float[] ReadFloats(TensorProto tensor)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
            throw new NotSupportedException($"The tensor '{tensor.Name}' is not float32.");
        if (tensor.FloatData.Count > 0) return [.. tensor.FloatData];
        var raw = tensor.RawData.Span;
        var values = new float[raw.Length / 4];
        for (var i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]);
        return values;
    }

    private static TensorProto FloatVector(string name, float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.Add(values.Length);
        return tensor;
    }

    private static TensorProto FloatScalar(string name, float value)
    {
        var tensor = FloatVector(name, [value]);
        tensor.Dims.Clear();
        return tensor;
    }

    private static NodeProto Node(string op, string name, string[] inputs, string[] outputs, long? axis = null)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        if (axis is { } a) node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = a });
        return node;
    }

    private sealed record Quantised(string Tensor, string ScaleName, string ZeroPointName, QuantParams Params);
}

/// <summary>
/// One Conv, Add or MaxPool of the backbone with the Relu it absorbs: the step the quantiser keeps in int8 or float.
/// </summary>
/// <param name="Name">The node's name (its output's, when it has none).</param>
/// <param name="OpType">Conv, Add or MaxPool.</param>
/// <param name="Node">The node in the prepared graph.</param>
/// <param name="Relu">The Relu that alone reads its output, if any.</param>
/// <param name="Output">The unit's output (the Relu's, when it has one).</param>
/// <param name="Inputs">The activations it reads (a Conv's data input, both inputs of an Add).</param>
public sealed record QuantUnit(string Name, string OpType, NodeProto Node, NodeProto? Relu, string Output, IReadOnlyList<string> Inputs);

/// <summary>The calibrated range of one activation tensor.</summary>
public readonly record struct TensorRange(float Min, float Max)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"[{Min}, {Max}]");
}

/// <summary>uint8 quantisation of a tensor: real = (q − ZeroPoint) · Scale.</summary>
public readonly record struct QuantParams(float Scale, byte ZeroPoint)
{
    /// <summary>The range widened to hold 0 (so that 0 is exact), then mapped onto 0..255.</summary>
    public static QuantParams FromRange(float min, float max, bool nonNegative)
    {
        min = Math.Min(0, min);
        max = Math.Max(0, max);
        if (nonNegative) min = 0;
        var scale = (max - min) / 255f;
        if (!(scale > 0) || !float.IsFinite(scale)) return new QuantParams(1f, 0);
        var zeroPoint = (byte)Math.Clamp(MathF.Round(-min / scale, MidpointRounding.ToEven), 0, 255);
        return new QuantParams(scale, zeroPoint);
    }
}

/// <summary>
/// The per-pixel mean image the model's input has had subtracted (C x Height x Width, planes in the input's order): the
/// int8 model adds it back and runs its first convolution on the exact 8-bit pixels (<see cref="Int8Quantizer.Quantize"/>).
/// </summary>
public sealed record PixelInput(float[] Mean, int Height, int Width)
{
    private Tuple<RoundedWeights, double[]>? _last; // one reference, so a reader on another thread sees a whole pair

    /// <summary>
    /// The mean image's convolution with these int8 weights, kept for the next call with equal weights (bias correction
    /// quantises the graph once per int8 Conv, 22 times, with the same first-Conv weights).
    /// </summary>
    internal double[] MeanConvolution(ConvGeometry geometry, RoundedWeights weights)
    {
        if (_last is { } last && last.Item1.Values.AsSpan().SequenceEqual(weights.Values) && last.Item1.Scales.AsSpan().SequenceEqual(weights.Scales))
            return last.Item2;
        var result = geometry.ConvolveConstant(Mean, Height, Width, weights);
        _last = Tuple.Create(weights, result);
        return result;
    }
}

/// <summary>
/// How the int8 model stores its convolution weights, which decides ONNX Runtime's integer kernels (docs/quality.md 6h).
/// Part of the model's cache key and so of its id: vectors of different forms never share an index.
/// </summary>
public enum Int8WeightForm
{
    /// <summary>
    /// int8 levels −127..127, zero point 0: u8 × s8 kernels. Exact with AVX-512 VNNI or AVX-VNNI (vpdpbusd); on an x86 CPU
    /// with AVX2 and no VNNI, ONNX Runtime multiplies through vpmaddubsw, whose int16 sums of two products saturate when
    /// activations near 255 meet weights near ±127, so the same model gives other vectors there.
    /// </summary>
    S8,

    /// <summary>
    /// The same levels stored as uint8 (level + 128, zero point 128): the same real weights and the same model, run by
    /// u8 × u8 kernels, which widen both to 16 bits before multiplying and so are exact on every x86 CPU.
    /// </summary>
    U8,

    /// <summary>
    /// 7-bit levels −63..63 (ONNX Runtime's reduce_range) stored as int8: u8 × s8 kernels cannot saturate (255 · 63 · 2 &lt; 32,767),
    /// at half the weight levels.
    /// </summary>
    S7,
}
