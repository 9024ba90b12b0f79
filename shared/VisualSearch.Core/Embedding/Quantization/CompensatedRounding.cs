using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace VisualSearch.Embedding.Quantization;

/// <summary>A Conv's int8 weights rounded ahead of <see cref="Int8Quantizer.Quantize"/>: one value per weight (output channel major), one scale per output channel.</summary>
/// <param name="Values">The int8 weights, in the layout of the float weight tensor.</param>
/// <param name="Scales">Symmetric scale of each output channel (real = value x scale).</param>
public sealed record RoundedWeights(sbyte[] Values, float[] Scales);

/// <summary>
/// Error-compensated rounding of a Conv's weights to int8 (GPTQ / OBQ: Frantar et al., "Optimal Brain Compression",
/// 2022, and "GPTQ", 2023). Rounding each weight to its nearest level ignores that the errors of one output channel's
/// weights add up over correlated inputs; here the weights of each output channel are rounded one at a time and the
/// error of each is pushed onto the weights not yet rounded, weighted by the inputs' second moments H = E[x xᵀ] over
/// the calibration images' patches, so the output error Δwᵀ H Δw of the channel is small rather than each weight's.
/// </summary>
/// <remarks>
/// Issue 13 measured on the first convolution (docs/quality.md 6e) that its loss is weight rounding, not the input's
/// quantisation: the raw-pixel input ranges over BGR minus the mean image, and its patches are dominated by their
/// mean (one strong direction in H), so per-weight rounding errors that happen to share a sign shift a whole
/// channel's response on flat regions (the white backgrounds of drawings). Per output channel scale = largest |w| /
/// 127 as for nearest rounding; columns in order of decreasing H diagonal ("act order"); H damped by 1% of its mean
/// diagonal. Deterministic: H summed in double in a fixed order over every <see cref="PositionStep"/>-th output row and
/// column of each image, one-thread float activations, plain scalar arithmetic (no fused multiply-add), so the same
/// images give the same integers.
/// </remarks>
public static class CompensatedRounding
{
    /// <summary>Added to H's diagonal, as a share of its mean diagonal, so it inverts stably.</summary>
    public const double Damping = 0.01;

    /// <summary>H is summed over every n-th output row and column (a 1/n² sample of the patches; neighbours overlap anyway).</summary>
    public const int PositionStep = 2;

    /// <summary>
    /// Convs with longer patches (input channels x kernel area) are left to nearest rounding: H grows as its square and
    /// its factorisation as its cube (ResNet18: the first Conv 147, layer1 576, layer2 1,152, layer3 2,304, layer4 4,608),
    /// and the deeper layers have too few patches per image for a stable H.
    /// </summary>
    public const int MaxPatchLength = 1152;

    /// <summary>
    /// The compensated int8 weights of every Conv among <paramref name="units"/> (unit names of
    /// <see cref="Int8Quantizer.Backbone"/>; other units, and Convs with patches longer than <see cref="MaxPatchLength"/>,
    /// are left out), from its float inputs on <paramref name="inputs"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, RoundedWeights> Measure(ModelProto prepared, IReadOnlyCollection<string> units, IReadOnlyList<float[]> inputs, int inputSize)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(units);
        ArgumentNullException.ThrowIfNull(inputs);
        var convs = Int8Quantizer.Backbone(prepared).Where(u => u.OpType == "Conv" && units.Contains(u.Name)).ToList();
        var result = new Dictionary<string, RoundedWeights>(StringComparer.Ordinal);
        if (convs.Count == 0) return result;
        if (inputs.Count == 0) throw new ArgumentException("Compensated rounding needs at least one calibration image.", nameof(inputs));

        var graphInput = prepared.Graph.Input.Single().Name;
        var initializers = prepared.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var geometry = convs.ToDictionary(u => u.Name, u => ConvGeometry.Of(u.Node, initializers[u.Node.Input[1]]), StringComparer.Ordinal);
        convs = convs.Where(u => geometry[u.Name].PatchLength <= MaxPatchLength).ToList();
        if (convs.Count == 0) return result;
        var moments = convs.ToDictionary(u => u.Name, u => new double[geometry[u.Name].PatchLength * geometry[u.Name].PatchLength], StringComparer.Ordinal);
        var counts = convs.ToDictionary(u => u.Name, _ => 0L, StringComparer.Ordinal);

        var tensors = convs.Select(u => u.Inputs[0]).Where(t => t != graphInput).Distinct(StringComparer.Ordinal).ToList();
        using var session = tensors.Count > 0 ? Calibration.OneThreadSession(prepared, tensors) : null;
        using var runOptions = new RunOptions();
        foreach (var input in inputs)
        {
            var activations = new Dictionary<string, (float[] Data, int Height, int Width)>(StringComparer.Ordinal)
            {
                [graphInput] = (input, inputSize, inputSize),
            };
            if (session is not null)
            {
                using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, inputSize, inputSize]);
                using var outputs = session.Run(runOptions, [graphInput], [value], tensors);
                for (var i = 0; i < tensors.Count; i++)
                {
                    var shape = outputs[i].GetTensorTypeAndShape().Shape;
                    activations[tensors[i]] = (outputs[i].GetTensorDataAsSpan<float>().ToArray(), (int)shape[2], (int)shape[3]);
                }
            }

            foreach (var conv in convs)
            {
                var (data, height, width) = activations[conv.Inputs[0]];
                counts[conv.Name] += geometry[conv.Name].AddSecondMoments(data, height, width, moments[conv.Name]);
            }
        }

        foreach (var conv in convs)
        {
            var g = geometry[conv.Name];
            var h = moments[conv.Name];
            var n = Math.Max(1, counts[conv.Name]);
            for (var i = 0; i < h.Length; i++) h[i] /= n;
            result[conv.Name] = Round(Int8Quantizer.ReadFloats(initializers[conv.Node.Input[1]]), g.OutputChannels, h);
        }

        return result;
    }

    /// <summary>
    /// Rounds <paramref name="weights"/> (<paramref name="channels"/> rows of K) to int8 with error compensation under
    /// the K x K second-moment matrix <paramref name="secondMoments"/> (upper triangle read; row major).
    /// </summary>
    public static RoundedWeights Round(float[] weights, int channels, double[] secondMoments)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(secondMoments);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        var k = weights.Length / channels;
        if (k * channels != weights.Length || secondMoments.Length != k * k)
            throw new ArgumentException($"{weights.Length} weights in {channels} channels do not match a {Math.Sqrt(secondMoments.Length)}-square second-moment matrix.", nameof(secondMoments));

        // symmetric copy; a dead input (never non-zero) gets a unit diagonal, so its weights are simply rounded
        var diagonal = new double[k];
        for (var i = 0; i < k; i++) diagonal[i] = secondMoments[i * k + i];
        var meanDiagonal = diagonal.Where(d => d > 0).DefaultIfEmpty(1).Average();
        var order = Enumerable.Range(0, k).OrderByDescending(i => diagonal[i]).ThenBy(i => i).ToArray();
        var h = new double[k * k];
        for (var a = 0; a < k; a++)
        for (var b = 0; b < k; b++)
        {
            int i = order[a], j = order[b];
            h[a * k + b] = i <= j ? secondMoments[i * k + j] : secondMoments[j * k + i];
        }

        for (var a = 0; a < k; a++)
            h[a * k + a] = (h[a * k + a] > 0 ? h[a * k + a] : 1) + Damping * meanDiagonal;

        var u = UpperCholeskyOfInverse(h, k);
        var values = new sbyte[weights.Length];
        var scales = new float[channels];
        var w = new double[k];
        for (var c = 0; c < channels; c++)
        {
            var max = 0f;
            for (var i = 0; i < k; i++) max = Math.Max(max, Math.Abs(weights[c * k + i]));
            var scale = max > 0 ? max / 127f : 1f;
            scales[c] = scale;
            for (var a = 0; a < k; a++) w[a] = weights[c * k + order[a]];
            for (var a = 0; a < k; a++)
            {
                var q = Math.Clamp(Math.Round(w[a] / scale, MidpointRounding.ToEven), -127, 127);
                values[c * k + order[a]] = (sbyte)q;
                var error = (w[a] - q * scale) / u[a * k + a];
                for (var b = a + 1; b < k; b++) w[b] -= error * u[a * k + b];
            }
        }

        return new RoundedWeights(values, scales);
    }

    /// <summary>U upper triangular with H⁻¹ = Uᵀ U, through the Cholesky factor of H (H symmetric positive definite, row major).</summary>
    private static double[] UpperCholeskyOfInverse(double[] h, int k)
    {
        var l = Cholesky(h, k);
        // L⁻¹ (lower), by forward substitution column by column
        var inverse = new double[k * k];
        for (var j = 0; j < k; j++)
        {
            inverse[j * k + j] = 1 / l[j * k + j];
            for (var i = j + 1; i < k; i++)
            {
                double s = 0;
                for (var m = j; m < i; m++) s += l[i * k + m] * inverse[m * k + j];
                inverse[i * k + j] = -s / l[i * k + i];
            }
        }

        // H⁻¹ = L⁻ᵀ L⁻¹
        var hInverse = new double[k * k];
        for (var i = 0; i < k; i++)
        for (var j = 0; j <= i; j++)
        {
            double s = 0;
            for (var m = i; m < k; m++) s += inverse[m * k + i] * inverse[m * k + j];
            hInverse[i * k + j] = s;
            hInverse[j * k + i] = s;
        }

        var l2 = Cholesky(hInverse, k);
        var upper = new double[k * k];
        for (var i = 0; i < k; i++)
        for (var j = 0; j <= i; j++) upper[j * k + i] = l2[i * k + j];
        return upper;
    }

    /// <summary>The lower Cholesky factor of a symmetric positive definite matrix (row major).</summary>
    private static double[] Cholesky(double[] a, int k)
    {
        var l = new double[k * k];
        for (var i = 0; i < k; i++)
        for (var j = 0; j <= i; j++)
        {
            var s = a[i * k + j];
            for (var m = 0; m < j; m++) s -= l[i * k + m] * l[j * k + m];
            if (i == j)
            {
                if (!(s > 0)) throw new InvalidOperationException("The calibration inputs' second-moment matrix is not positive definite.");
                l[i * k + i] = Math.Sqrt(s);
            }
            else
            {
                l[i * k + j] = s / l[j * k + j];
            }
        }

        return l;
    }
}

/// <summary>A Conv's shape, enough to cut its input into the patches its weights multiply.</summary>
internal sealed record ConvGeometry(int OutputChannels, int InputChannels, int KernelHeight, int KernelWidth, int StrideY, int StrideX, int PadTop, int PadLeft, int PadBottom, int PadRight)
{
    public int PatchLength => InputChannels * KernelHeight * KernelWidth;

    public (int Height, int Width) OutputSize(int height, int width) =>
        ((height + PadTop + PadBottom - KernelHeight) / StrideY + 1, (width + PadLeft + PadRight - KernelWidth) / StrideX + 1);

    /// <summary>
    /// The convolution of a constant input (C x height x width, zero padding) with int8 weights times their channel's
    /// scale, in double: one value per output channel and position.
    /// </summary>
    public double[] ConvolveConstant(float[] data, int height, int width, RoundedWeights weights)
    {
        var (outHeight, outWidth) = OutputSize(height, width);
        var result = new double[OutputChannels * outHeight * outWidth];
        var plane = outHeight * outWidth;
        for (var o = 0; o < OutputChannels; o++)
        {
            var output = result.AsSpan(o * plane, plane);
            for (var c = 0; c < InputChannels; c++)
            for (var ky = 0; ky < KernelHeight; ky++)
            for (var kx = 0; kx < KernelWidth; kx++)
            {
                double w = weights.Values[((o * InputChannels + c) * KernelHeight + ky) * KernelWidth + kx];
                if (w == 0) continue;
                for (var oy = 0; oy < outHeight; oy++)
                {
                    var iy = oy * StrideY - PadTop + ky;
                    if (iy < 0 || iy >= height) continue;
                    for (var ox = 0; ox < outWidth; ox++)
                    {
                        var ix = ox * StrideX - PadLeft + kx;
                        if (ix >= 0 && ix < width) output[oy * outWidth + ox] += w * data[(c * height + iy) * width + ix];
                    }
                }
            }

            for (var i = 0; i < plane; i++) output[i] *= weights.Scales[o];
        }

        return result;
    }

    public static ConvGeometry Of(NodeProto conv, TensorProto weights)
    {
        long[] Ints(string name, long[] fallback) => conv.Attribute.FirstOrDefault(a => a.Name == name) is { } a && a.Ints.Count > 0 ? [.. a.Ints] : fallback;
        if (conv.Attribute.FirstOrDefault(a => a.Name == "group") is { I: > 1 })
            throw new NotSupportedException($"The int8 quantiser computes on Conv '{conv.Name}' only without groups.");
        if (Ints("dilations", [1, 1]).Any(d => d != 1))
            throw new NotSupportedException($"The int8 quantiser computes on Conv '{conv.Name}' only without dilation.");
        if (conv.Attribute.FirstOrDefault(a => a.Name == "auto_pad") is { } autoPad && autoPad.S.ToStringUtf8() is not ("" or "NOTSET"))
            throw new NotSupportedException($"The int8 quantiser computes on Conv '{conv.Name}' only with explicit pads.");
        if (weights.Dims.Count != 4) throw new NotSupportedException($"Conv '{conv.Name}' is not 2-D.");
        var strides = Ints("strides", [1, 1]);
        var pads = Ints("pads", [0, 0, 0, 0]);
        return new ConvGeometry(
            (int)weights.Dims[0], (int)weights.Dims[1], (int)weights.Dims[2], (int)weights.Dims[3],
            (int)strides[0], (int)strides[1], (int)pads[0], (int)pads[1], (int)pads[2], (int)pads[3]);
    }

    /// <summary>Adds x xᵀ (upper triangle) of every sampled patch of one image (C x height x width) to <paramref name="moments"/>; returns the number of patches.</summary>
    public long AddSecondMoments(float[] data, int height, int width, double[] moments)
    {
        if (data.Length != InputChannels * height * width)
            throw new InvalidOperationException($"The Conv's input has {data.Length} values, not {InputChannels} x {height} x {width}.");
        var (outHeight, outWidth) = OutputSize(height, width);
        var k = PatchLength;
        var patch = new double[k];
        var nonZero = new int[k];
        long count = 0;
        for (var oy = 0; oy < outHeight; oy += CompensatedRounding.PositionStep)
        for (var ox = 0; ox < outWidth; ox += CompensatedRounding.PositionStep)
        {
            var n = 0;
            for (var c = 0; c < InputChannels; c++)
            for (var ky = 0; ky < KernelHeight; ky++)
            {
                var iy = oy * StrideY - PadTop + ky;
                for (var kx = 0; kx < KernelWidth; kx++)
                {
                    var ix = ox * StrideX - PadLeft + kx;
                    var v = iy >= 0 && iy < height && ix >= 0 && ix < width ? data[(c * height + iy) * width + ix] : 0f;
                    var index = (c * KernelHeight + ky) * KernelWidth + kx;
                    patch[index] = v;
                    if (v != 0) nonZero[n++] = index;
                }
            }

            // indices in nonZero ascend, so i <= j below: the upper triangle
            for (var a = 0; a < n; a++)
            {
                var i = nonZero[a];
                var pi = patch[i];
                var row = i * k;
                for (var b = a; b < n; b++) moments[row + nonZero[b]] += pi * patch[nonZero[b]];
            }

            count++;
        }

        return count;
    }
}
