using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace VisualSearch.Embedding.Quantization;

/// <summary>
/// Empirical bias correction (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias Correction",
/// 2019, the empirical variant; Banner et al. 2019): rounding the weights and the activations to 8 bits shifts the
/// mean of each output channel of an int8 convolution. Over the calibration images, each int8 Conv's output (before
/// its Relu) is averaged per channel in the float graph and in the int8 graph, and the difference is added to that
/// Conv's bias. Layer by layer in graph order, each measured with every earlier correction in place, so a shift
/// left by an earlier layer is not corrected twice. One thread, a fixed image order, sums in double, and the
/// corrections rounded to 10 significant bits (as the ranges are): the same images give the same corrections.
/// </summary>
public static class BiasCorrection
{
    /// <summary>
    /// The correction of every int8 Conv (by unit name): one value per output channel, added to its bias; measured on the
    /// int8 graph with <paramref name="roundedWeights"/> and <paramref name="pixels"/> where given, its weights stored as
    /// <paramref name="weightForm"/> (<see cref="Int8Quantizer.Quantize"/>): ONNX Runtime's kernels for that form measure
    /// the shift, so with <see cref="Int8WeightForm.S8"/> on a CPU without VNNI the corrections (and the model's bytes) can
    /// differ from a VNNI machine's; U8 and S7 compute exactly everywhere.
    /// </summary>
    public static IReadOnlyDictionary<string, float[]> Measure(
        ModelProto prepared, IReadOnlyDictionary<string, TensorRange> ranges, IReadOnlyCollection<string> floatUnits, IReadOnlyList<float[]> inputs, int inputSize,
        IReadOnlyDictionary<string, RoundedWeights>? roundedWeights = null, PixelInput? pixels = null, Int8WeightForm weightForm = Int8WeightForm.S8)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(ranges);
        ArgumentNullException.ThrowIfNull(floatUnits);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) throw new ArgumentException("Bias correction needs at least one image.", nameof(inputs));

        var keepFloat = floatUnits.ToHashSet(StringComparer.Ordinal);
        var convs = Int8Quantizer.Backbone(prepared).Where(u => u.OpType == "Conv" && !keepFloat.Contains(u.Name)).ToList();
        var inputName = prepared.Graph.Input.Single().Name;

        // the float graph's per-channel means of every int8 Conv's output (before its Relu), in one pass
        var floatMeans = ChannelMeans(prepared, convs.Select(c => c.Node.Output[0]).ToList(), inputName, inputs, inputSize);

        var corrections = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (var i = 0; i < convs.Count; i++)
        {
            var unit = convs[i];
            var quantised = ModelProto.Parser.ParseFrom(Int8Quantizer.Quantize(prepared, ranges, floatUnits, corrections, roundedWeights, pixels, weightForm));
            var output = Int8Quantizer.ConvOutputInQuantisedGraph(quantised, unit);
            var quantisedMeans = ChannelMeans(quantised, [output], inputName, inputs, inputSize)[0];
            var correction = new float[quantisedMeans.Length];
            for (var c = 0; c < correction.Length; c++) correction[c] = Calibration.RoundOut((float)(floatMeans[i][c] - quantisedMeans[c]));
            corrections[unit.Name] = correction;
        }

        return corrections;
    }

    /// <summary>For each tensor (NCHW), the mean of every channel over all positions and all inputs, in double.</summary>
    public static double[][] ChannelMeans(ModelProto model, IReadOnlyList<string> tensors, string inputName, IReadOnlyList<float[]> inputs, int size)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(inputs);
        using var session = Calibration.OneThreadSession(model, tensors);
        using var runOptions = new RunOptions();
        var sums = new double[tensors.Count][];
        long positions = 0;
        foreach (var input in inputs)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, size, size]);
            using var outputs = session.Run(runOptions, [inputName], [value], tensors);
            for (var t = 0; t < tensors.Count; t++)
            {
                var shape = outputs[t].GetTensorTypeAndShape().Shape;
                var channels = (int)shape[1];
                var perChannel = (int)(shape[2] * shape[3]);
                var data = outputs[t].GetTensorDataAsSpan<float>();
                var sum = sums[t] ??= new double[channels];
                for (var c = 0; c < channels; c++)
                {
                    double s = 0;
                    foreach (var v in data.Slice(c * perChannel, perChannel)) s += v;
                    sum[c] += s / perChannel;
                }
            }

            positions++;
        }

        return sums.Select(s => s.Select(v => v / positions).ToArray()).ToArray();
    }
}
