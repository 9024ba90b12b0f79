using System.Runtime.Intrinsics;
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

    /// <summary>
    /// H is summed over every n-th output row and column (a 1/n² sample of the patches; neighbours overlap anyway) for
    /// Convs with patches up to <see cref="DefaultMaxPatchLength"/>; longer patches (the deep layers, whose outputs are
    /// 14 x 14 and 7 x 7) take every output position, so H has as many patches as the images give.
    /// </summary>
    public const int PositionStep = 2;

    /// <summary>
    /// By default, Convs with longer patches (input channels x kernel area) are left to nearest rounding (ResNet18: the
    /// first Conv 147, layer1 576, layer2 1,152, layer3 2,304, layer4 4,608): <c>Encoder:Int8CompensatedMaxPatch</c>
    /// raises it. H grows as the square of the length and its factorisation as the cube (4,608: 170 MB and seconds).
    /// </summary>
    public const int DefaultMaxPatchLength = 1152;

    /// <summary>Patches summed into H together: each row of H is then walked once per block rather than once per patch.</summary>
    internal const int PatchBlock = 32;

    /// <summary>Output channels rounded together: each row of the factor is then read once per group rather than once per channel.</summary>
    private const int ChannelGroup = 16;

    /// <summary>Rows of the factorisation and of the triangular inverse finished together (each earlier row read once per block).</summary>
    private const int RowBlock = 16;

    /// <summary>The output-position step H is sampled with for a patch of this length (<see cref="PositionStep"/>).</summary>
    public static int PositionStepFor(int patchLength) => patchLength <= DefaultMaxPatchLength ? PositionStep : 1;

    /// <summary>
    /// The compensated int8 weights of every Conv among <paramref name="units"/> (unit names of
    /// <see cref="Int8Quantizer.Backbone"/>; other units, and Convs with patches longer than <paramref name="maxPatchLength"/>,
    /// are left out), from its float inputs on <paramref name="inputs"/>; levels up to ±<paramref name="maxLevel"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, RoundedWeights> Measure(
        ModelProto prepared, IReadOnlyCollection<string> units, IReadOnlyList<float[]> inputs, int inputSize, int maxPatchLength = DefaultMaxPatchLength, int maxLevel = 127)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(units);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPatchLength, 1);
        var convs = Int8Quantizer.Backbone(prepared).Where(u => u.OpType == "Conv" && units.Contains(u.Name)).ToList();
        var result = new Dictionary<string, RoundedWeights>(StringComparer.Ordinal);
        if (convs.Count == 0) return result;
        if (inputs.Count == 0) throw new ArgumentException("Compensated rounding needs at least one calibration image.", nameof(inputs));

        var graphInput = prepared.Graph.Input.Single().Name;
        var initializers = prepared.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var geometry = convs.ToDictionary(u => u.Name, u => ConvGeometry.Of(u.Node, initializers[u.Node.Input[1]]), StringComparer.Ordinal);
        convs = convs.Where(u => geometry[u.Name].PatchLength <= maxPatchLength).ToList();
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
            moments.Remove(conv.Name); // each H (up to 170 MB) is let go once its Conv is rounded
            var n = Math.Max(1, counts[conv.Name]);
            for (var i = 0; i < h.Length; i++) h[i] /= n;
            result[conv.Name] = Round(Int8Quantizer.ReadFloats(initializers[conv.Node.Input[1]]), g.OutputChannels, h, maxLevel);
        }

        return result;
    }

    /// <summary>
    /// Rounds <paramref name="weights"/> (<paramref name="channels"/> rows of K) to int8 with error compensation under
    /// the K x K second-moment matrix <paramref name="secondMoments"/> (upper triangle read; row major), to levels
    /// −<paramref name="maxLevel"/>..<paramref name="maxLevel"/> (127, or 63 for 7-bit weights).
    /// </summary>
    /// <remarks>
    /// The factor GPTQ needs is the upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ U) with the columns in rounding order. With
    /// J the order reversal, J H J = L Lᵀ gives H⁻¹ = (J L⁻¹ J)ᵀ (J L⁻¹ J), so U = J L⁻¹ J: one Cholesky factorisation and
    /// one triangular inverse (K³/3 multiply-adds), done on the reversed matrix, and the weights kept reversed so every
    /// update reads a row of L⁻¹ forwards. Inner loops run on fixed-width vectors of four doubles: the dot products of the
    /// factorisation sum in four lanes and then across them in a fixed order, and no multiply-add is fused, so the result
    /// is the same on every machine.
    /// </remarks>
    public static RoundedWeights Round(float[] weights, int channels, double[] secondMoments, int maxLevel = 127)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(secondMoments);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLevel, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLevel, 127);
        var k = weights.Length / channels;
        if (k * channels != weights.Length || secondMoments.Length != k * k)
            throw new ArgumentException($"{weights.Length} weights in {channels} channels do not match a {Math.Sqrt(secondMoments.Length)}-square second-moment matrix.", nameof(secondMoments));

        // symmetric copy in reversed rounding order; a dead input (never non-zero) gets a unit diagonal, so its weights are simply rounded
        var diagonal = new double[k];
        for (var i = 0; i < k; i++) diagonal[i] = secondMoments[i * k + i];
        var meanDiagonal = diagonal.Where(d => d > 0).DefaultIfEmpty(1).Average();
        var order = Enumerable.Range(0, k).OrderByDescending(i => diagonal[i]).ThenBy(i => i).ToArray();
        var reversed = new int[k]; // reversed[r]: the weight rounded at step k - 1 - r
        for (var r = 0; r < k; r++) reversed[r] = order[k - 1 - r];
        var factor = new double[k * k];
        for (var a = 0; a < k; a++)
        for (var b = 0; b <= a; b++)
        {
            int i = reversed[a], j = reversed[b];
            factor[a * k + b] = i <= j ? secondMoments[i * k + j] : secondMoments[j * k + i];
        }

        for (var a = 0; a < k; a++)
            factor[a * k + a] = (factor[a * k + a] > 0 ? factor[a * k + a] : 1) + Damping * meanDiagonal;

        CholeskyInPlace(factor, k);
        InvertLowerInPlace(factor, k);

        var values = new sbyte[weights.Length];
        var scales = new float[channels];
        for (var first = 0; first < channels; first += ChannelGroup)
        {
            var count = Math.Min(ChannelGroup, channels - first);
            var w = new double[count * k]; // reversed: w[g * k + r] is weight reversed[r] of channel first + g
            for (var g = 0; g < count; g++)
            {
                var c = first + g;
                var max = 0f;
                for (var i = 0; i < k; i++) max = Math.Max(max, Math.Abs(weights[c * k + i]));
                scales[c] = max > 0 ? max / maxLevel : 1f;
                for (var r = 0; r < k; r++) w[g * k + r] = weights[c * k + reversed[r]];
            }

            for (var r = k - 1; r >= 0; r--)
            {
                var row = factor.AsSpan(r * k, r);
                var pivot = factor[r * k + r];
                for (var g = 0; g < count; g++)
                {
                    var c = first + g;
                    var scale = scales[c];
                    var q = Math.Clamp(Math.Round(w[g * k + r] / scale, MidpointRounding.ToEven), -maxLevel, maxLevel);
                    values[c * k + reversed[r]] = (sbyte)q;
                    var error = (w[g * k + r] - q * scale) / pivot;
                    SubtractScaled(w.AsSpan(g * k, r), error, row);
                }
            }
        }

        return new RoundedWeights(values, scales);
    }

    /// <summary>
    /// Overwrites the lower triangle of <paramref name="a"/> (symmetric positive definite, row major) with its Cholesky
    /// factor L (A = L Lᵀ). Rows are finished <see cref="RowBlock"/> at a time, so each earlier row is read from memory
    /// once per block; every entry is the same dot product as row by row.
    /// </summary>
    private static void CholeskyInPlace(double[] a, int k)
    {
        for (var i0 = 0; i0 < k; i0 += RowBlock)
        {
            var i1 = Math.Min(k, i0 + RowBlock);
            for (var j = 0; j < i1; j++)
            {
                var rowJ = a.AsSpan(j * k, j);
                for (var i = Math.Max(i0, j); i < i1; i++)
                {
                    var s = a[i * k + j] - Dot(a.AsSpan(i * k, j), rowJ);
                    if (i == j)
                    {
                        if (!(s > 0)) throw new InvalidOperationException("The calibration inputs' second-moment matrix is not positive definite.");
                        a[i * k + i] = Math.Sqrt(s);
                    }
                    else
                    {
                        a[i * k + j] = s / a[j * k + j];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Overwrites the lower triangular <paramref name="l"/> (row major) with L⁻¹: row i of L⁻¹ is (eᵢ − Σ_{m&lt;i} L[i,m] L⁻¹[m,·]) / L[i,i],
    /// so it needs only the rows before it. <see cref="RowBlock"/> rows at a time, each earlier row read once per block.
    /// </summary>
    private static void InvertLowerInPlace(double[] l, int k)
    {
        var sums = new double[RowBlock * k];
        for (var i0 = 0; i0 < k; i0 += RowBlock)
        {
            var i1 = Math.Min(k, i0 + RowBlock);
            Array.Clear(sums);
            for (var m = 0; m < i1; m++)
            {
                if (m >= i0)
                {
                    // every earlier row is in this row's sum: row m of L⁻¹ is done
                    var pivot = l[m * k + m];
                    var sum = sums.AsSpan((m - i0) * k, m);
                    for (var j = 0; j < m; j++) l[m * k + j] = -sum[j] / pivot;
                    l[m * k + m] = 1 / pivot;
                }

                var rowM = l.AsSpan(m * k, m + 1);
                for (var i = Math.Max(i0, m + 1); i < i1; i++)
                {
                    var lim = l[i * k + m];
                    if (lim != 0) SubtractScaled(sums.AsSpan((i - i0) * k, m + 1), -lim, rowM);
                }
            }
        }
    }

    /// <summary>target[i] -= factor x source[i]: a product and a subtraction, each rounded (no fused multiply-add), so lanes or not gives the same bits.</summary>
    internal static void SubtractScaled(Span<double> target, double factor, ReadOnlySpan<double> source)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var f = Vector256.Create(factor);
            for (; i <= target.Length - Vector256<double>.Count; i += Vector256<double>.Count)
            {
                var t = Vector256.Create<double>(target[i..]);
                var product = f * Vector256.Create<double>(source[i..]);
                (t - product).CopyTo(target[i..]);
            }
        }

        for (; i < target.Length; i++) target[i] -= factor * source[i];
    }

    /// <summary>Σ a[i] b[i], summed in four lanes (i mod 4) and then across them in a fixed order: the same value whether or not the vectors are hardware.</summary>
    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var lanes = Vector256<double>.Zero;
        var i = 0;
        for (; i <= a.Length - Vector256<double>.Count; i += Vector256<double>.Count)
            lanes += Vector256.Create<double>(a[i..]) * Vector256.Create<double>(b[i..]);
        var sum = (lanes.GetElement(0) + lanes.GetElement(1)) + (lanes.GetElement(2) + lanes.GetElement(3));
        for (; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
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

    /// <summary>
    /// Adds x xᵀ (upper triangle) of every sampled patch of one image (C x height x width) to <paramref name="moments"/>
    /// (positions every <see cref="CompensatedRounding.PositionStepFor"/>-th row and column); returns the number of patches.
    /// Patches are gathered <see cref="CompensatedRounding.PatchBlock"/> at a time and each row of H is then walked once for the block; each entry still
    /// adds its patches' products in patch order, and a zero input adds nothing (a row is skipped, a zero product changes no
    /// sum), so the result is that of adding patch by patch.
    /// </summary>
    public long AddSecondMoments(float[] data, int height, int width, double[] moments)
    {
        if (data.Length != InputChannels * height * width)
            throw new InvalidOperationException($"The Conv's input has {data.Length} values, not {InputChannels} x {height} x {width}.");
        var (outHeight, outWidth) = OutputSize(height, width);
        var k = PatchLength;
        var step = CompensatedRounding.PositionStepFor(k);
        const int block = CompensatedRounding.PatchBlock;
        var patches = new double[block * k];
        var filled = 0;
        long count = 0;
        for (var oy = 0; oy < outHeight; oy += step)
        for (var ox = 0; ox < outWidth; ox += step)
        {
            var patch = patches.AsSpan(filled * k, k);
            for (var c = 0; c < InputChannels; c++)
            for (var ky = 0; ky < KernelHeight; ky++)
            {
                var iy = oy * StrideY - PadTop + ky;
                for (var kx = 0; kx < KernelWidth; kx++)
                {
                    var ix = ox * StrideX - PadLeft + kx;
                    patch[(c * KernelHeight + ky) * KernelWidth + kx] = iy >= 0 && iy < height && ix >= 0 && ix < width ? data[(c * height + iy) * width + ix] : 0f;
                }
            }

            count++;
            if (++filled == block)
            {
                AddBlock(patches, filled, k, moments);
                filled = 0;
            }
        }

        if (filled > 0) AddBlock(patches, filled, k, moments);
        return count;
    }

    private static void AddBlock(double[] patches, int filled, int k, double[] moments)
    {
        for (var i = 0; i < k; i++)
        {
            var row = moments.AsSpan(i * k + i, k - i);
            for (var p = 0; p < filled; p++)
            {
                var xi = patches[p * k + i];
                if (xi != 0) CompensatedRounding.SubtractScaled(row, -xi, patches.AsSpan(p * k + i, k - i));
            }
        }
    }
}
