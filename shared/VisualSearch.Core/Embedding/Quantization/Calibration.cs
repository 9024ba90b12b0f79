using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using SkiaSharp;
using VisualSearch.Imaging;

namespace VisualSearch.Embedding.Quantization;

/// <summary>How an activation's range is taken from the calibration images.</summary>
public enum RangeMethod
{
    /// <summary>The smallest and largest value seen.</summary>
    MinMax,

    /// <summary>
    /// The 0.001st and 99.999th percentiles of all values seen (a histogram of 4,096 bins over the min/max range):
    /// the rare largest activations are clipped so the rest keep more levels.
    /// </summary>
    Percentile,

    /// <summary>
    /// The range whose 8-bit quantisation has the least mean squared error over all values seen (the same histogram):
    /// clipping error outside the range against rounding error (scale² / 12) inside it; exact zeros, which a range
    /// holding 0 represents exactly, count as no error.
    /// </summary>
    Mse,
}

/// <summary>
/// The calibration pass: runs the prepared float graph with every tensor to quantise as an extra output, on one
/// thread (so the same images give the same ranges), and reduces what it sees to one range per tensor.
/// </summary>
public static class Calibration
{
    private const int Bins = 4096;
    private const double PercentileTail = 1e-5;

    public static IReadOnlyDictionary<string, TensorRange> MeasureRanges(ModelProto prepared, IReadOnlyList<float[]> inputs, int inputSize, RangeMethod method)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) throw new ArgumentException("Calibration needs at least one image.", nameof(inputs));

        var tensors = Int8Quantizer.CalibrationTensors(prepared);
        using var session = OneThreadSession(prepared, tensors);
        var inputName = prepared.Graph.Input.Single().Name;

        var min = tensors.ToDictionary(t => t, _ => float.PositiveInfinity, StringComparer.Ordinal);
        var max = tensors.ToDictionary(t => t, _ => float.NegativeInfinity, StringComparer.Ordinal);
        Run(session, inputName, tensors, inputs, inputSize, (name, values) =>
        {
            foreach (var v in values)
            {
                if (v < min[name]) min[name] = v;
                if (v > max[name]) max[name] = v;
            }
        });

        var ranges = tensors.ToDictionary(t => t, t => new TensorRange(min[t], max[t]), StringComparer.Ordinal);
        if (method is RangeMethod.Percentile or RangeMethod.Mse)
        {
            var histograms = tensors.ToDictionary(t => t, _ => new long[Bins], StringComparer.Ordinal);
            var zeros = tensors.ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
            Run(session, inputName, tensors, inputs, inputSize, (name, values) =>
            {
                var h = histograms[name];
                var lo = min[name];
                var width = (max[name] - lo) / Bins;
                if (!(width > 0)) return;
                long z = 0;
                foreach (var v in values)
                {
                    h[Math.Clamp((int)((v - lo) / width), 0, Bins - 1)]++;
                    if (v == 0) z++;
                }

                zeros[name] += z;
            });
            foreach (var t in tensors)
            {
                var h = histograms[t];
                if (h.Sum() == 0) continue;
                ranges[t] = method == RangeMethod.Percentile ? PercentileRange(h, min[t], max[t]) : MseRange(h, zeros[t], min[t], max[t]);
            }
        }

        // Rounded outwards to 10 significant bits: a last-bit difference in a float kernel on another CPU then
        // (almost always) gives the same range, so the same model bytes.
        return ranges.ToDictionary(p => p.Key, p => new TensorRange(RoundOut(p.Value.Min), RoundOut(p.Value.Max)), StringComparer.Ordinal);
    }

    private static TensorRange PercentileRange(long[] h, float min, float max)
    {
        var width = (max - min) / Bins;
        var tail = (long)Math.Ceiling(h.Sum() * PercentileTail);
        int lower = 0, upper = Bins - 1;
        for (long seen = 0; lower < Bins - 1 && (seen += h[lower]) < tail; lower++) { }
        for (long seen = 0; upper > 0 && (seen += h[upper]) < tail; upper--) { }
        return new TensorRange(min + lower * width, min + (upper + 1) * width);
    }

    /// <summary>
    /// The range [L, H] (bin edges, holding 0) of a histogram <paramref name="h"/> of equal bins over [min, max] with the least squared error: Σ outside (distance to the range)² +
    /// (values inside that are not exact zeros) x scale² / 12, with scale = (H − L) / 255. Bin centres stand for
    /// their values; prefix sums make each candidate O(1). Lower edges are searched only for a tensor with negative values.
    /// </summary>
    public static TensorRange MseRange(long[] h, long zeros, float min, float max)
    {
        ArgumentNullException.ThrowIfNull(h);
        var bins = h.Length;
        double width = ((double)max - min) / bins;
        var count = new double[bins + 1];
        var sum = new double[bins + 1];
        var squares = new double[bins + 1];
        for (var i = 0; i < bins; i++)
        {
            var x = min + (i + 0.5) * width;
            count[i + 1] = count[i] + h[i];
            sum[i + 1] = sum[i] + h[i] * x;
            squares[i + 1] = squares[i] + h[i] * x * x;
        }

        // the edge index at or below 0 (0 when every value is >= 0) and at or above 0
        var zeroLow = min >= 0 ? 0 : Math.Clamp((int)Math.Floor(-min / width), 0, bins);
        var zeroHigh = max <= 0 ? bins : Math.Clamp((int)Math.Ceiling(-min / width), 0, bins);
        var best = double.PositiveInfinity;
        int bestLower = 0, bestUpper = bins;
        for (var lower = 0; lower <= zeroLow; lower++)
        {
            var l = Math.Min(0, min + lower * width);
            // values below the lower edge: Σ (l − x)²
            var below = l * l * count[lower] - 2 * l * sum[lower] + squares[lower];
            for (var upper = Math.Max(zeroHigh, lower + 1); upper <= bins; upper++)
            {
                var u = Math.Max(0, min + upper * width);
                var above = u * u * (count[bins] - count[upper]) - 2 * u * (sum[bins] - sum[upper]) + (squares[bins] - squares[upper]);
                var scale = (u - l) / 255;
                var inside = Math.Max(0, count[upper] - count[lower] - zeros);
                var error = below + above + inside * scale * scale / 12;
                if (error < best) (best, bestLower, bestUpper) = (error, lower, upper);
            }
        }

        return new TensorRange((float)(min + bestLower * width), (float)(min + bestUpper * width));
    }

    /// <summary>
    /// A session on one thread (so the same inputs give the same values) over a copy of <paramref name="model"/> that
    /// also outputs the float <paramref name="tensors"/>.
    /// </summary>
    internal static InferenceSession OneThreadSession(ModelProto model, IEnumerable<string> tensors)
    {
        var copy = model.Clone();
        foreach (var name in tensors.Where(n => copy.Graph.Output.All(o => o.Name != n)))
        {
            copy.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }

        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        return new InferenceSession(copy.ToByteArray(), options);
    }

    /// <summary>Rounds away from zero to a float with 10 significant mantissa bits.</summary>
    public static float RoundOut(float value)
    {
        if (!float.IsFinite(value) || value == 0) return value;
        const int drop = 13; // 23 mantissa bits - 10 kept
        var bits = BitConverter.SingleToInt32Bits(value);
        var mask = (1 << drop) - 1;
        if ((bits & mask) == 0) return value;
        return BitConverter.Int32BitsToSingle((bits & ~mask) + (1 << drop));
    }

    private static void Run(InferenceSession session, string inputName, IReadOnlyList<string> tensors, IReadOnlyList<float[]> inputs, int size, Action<string, ReadOnlySpan<float>> observe)
    {
        using var runOptions = new RunOptions();
        foreach (var input in inputs)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, size, size]);
            using var outputs = session.Run(runOptions, [inputName], [value], tensors);
            for (var i = 0; i < tensors.Count; i++) observe(tensors[i], outputs[i].GetTensorDataAsSpan<float>());
        }
    }
}

/// <summary>
/// The calibration images: each photo as the encoder sees it (shorter side resized, centre crop), and seeded
/// augmentations of it (a random crop of the photo at twice the input size, resampled, sometimes mirrored,
/// with brightness, contrast and saturation changes). Pure C# arithmetic after the decode, so the same photos
/// and seed give the same pixels. Optionally also views degraded the way copies are (<see cref="Degrade"/>), which go
/// through libjpeg-turbo (the pinned SkiaSharp build) as the copies themselves do.
/// </summary>
public static class CalibrationImages
{
    public const int DefaultSeed = 1313;
    public const int DefaultVariantsPerPhoto = 5;

    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".webp", ".bmp"];

    /// <summary>The image files of a folder, in ordinal order of name.</summary>
    public static IReadOnlyList<string> Files(string directory)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"The calibration images folder '{directory}' does not exist (Encoder:CalibrationImagesPath).");
        var files = Directory.EnumerateFiles(directory)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0) throw new InvalidOperationException($"The calibration images folder '{directory}' holds no images.");
        return files;
    }

    /// <summary>The RGB images (size x size x 3) to calibrate on.</summary>
    /// <param name="degradedPerPhoto">Views of each photo degraded as copies are (<see cref="Degrade"/>), after its augmented views.</param>
    public static IReadOnlyList<byte[]> Create(
        IReadOnlyList<string> files, IImageDecoder decoder, int size, int variantsPerPhoto = DefaultVariantsPerPhoto, int seed = DefaultSeed, int degradedPerPhoto = 0)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentOutOfRangeException.ThrowIfNegative(degradedPerPhoto);
        var random = new Random(seed);
        var degradedRandom = new Random(seed + 1); // a stream of its own: the other views stay what they were
        var images = new List<byte[]>();
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            images.Add(decoder.Prepare(bytes, size).Rgb);
            if (variantsPerPhoto > 0)
            {
                var large = decoder.Prepare(bytes, size * 2);
                for (var v = 0; v < variantsPerPhoto; v++) images.Add(Augment(large.Rgb, large.Size, size, random));
            }

            for (var v = 0; v < degradedPerPhoto; v++) images.Add(Degrade(bytes, decoder, size, degradedRandom));
        }

        return images;
    }

    /// <summary>
    /// A view of a photo as a degraded copy reaches the encoder: the photo at an intermediate size, saved as JPEG, and
    /// prepared from those bytes. One of three, drawn from <paramref name="random"/>: shrunk to 1/8-1/2 of the input size
    /// (JPEG 95), as a quarter-size copy of a small image is enlarged again (eval-copies' <c>downscale25</c>); at 1-2 times
    /// the input size, JPEG quality 10-30 (<c>jpeg10</c>); or both halfway, 1/4-1 times the size at quality 20-40
    /// (<c>combined</c>).
    /// </summary>
    public static byte[] Degrade(byte[] photo, IImageDecoder decoder, int size, Random random)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(random);
        var (side, quality) = random.Next(3) switch
        {
            0 => (random.Next(size / 8, size / 2 + 1), 95),
            1 => (random.Next(size, size * 2 + 1), random.Next(10, 31)),
            _ => (random.Next(size / 4, size + 1), random.Next(20, 41)),
        };
        var intermediate = decoder.Prepare(photo, side);
        return decoder.Prepare(EncodeJpeg(intermediate.Rgb, intermediate.Size, quality), size).Rgb;
    }

    private static byte[] EncodeJpeg(byte[] rgb, int size, int quality)
    {
        var rgba = new byte[size * size * 4];
        ImageDecoder.RgbToRgba(rgb, rgba);

        var info = new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var image = SKImage.FromPixelCopy(info, rgba) ?? throw new InvalidOperationException("Could not wrap the calibration view's pixels.");
        using var jpeg = image.Encode(SKEncodedImageFormat.Jpeg, quality) ?? throw new InvalidOperationException("JPEG encoding failed.");
        return jpeg.ToArray();
    }

    private static byte[] Augment(byte[] source, int sourceSize, int size, Random random)
    {
        var side = random.Next(size * 3 / 4, sourceSize + 1);
        var x0 = random.Next(0, sourceSize - side + 1);
        var y0 = random.Next(0, sourceSize - side + 1);
        var mirror = random.Next(2) == 1;
        var brightness = 0.7f + 0.6f * (float)random.NextDouble();
        var contrast = 0.7f + 0.6f * (float)random.NextDouble();
        var saturation = random.Next(5) == 0 ? 0f : 0.6f + 0.8f * (float)random.NextDouble();

        var result = new byte[size * size * 3];
        Span<float> rgb = stackalloc float[3];
        var step = (float)side / size;
        for (var y = 0; y < size; y++)
        for (var x = 0; x < size; x++)
        {
            // bilinear sample at the pixel centre
            var sx = x0 + ((mirror ? size - 1 - x : x) + 0.5f) * step - 0.5f;
            var sy = y0 + (y + 0.5f) * step - 0.5f;
            var ix = Math.Clamp((int)MathF.Floor(sx), 0, sourceSize - 1);
            var iy = Math.Clamp((int)MathF.Floor(sy), 0, sourceSize - 1);
            var fx = Math.Clamp(sx - ix, 0f, 1f);
            var fy = Math.Clamp(sy - iy, 0f, 1f);
            var ix1 = Math.Min(ix + 1, sourceSize - 1);
            var iy1 = Math.Min(iy + 1, sourceSize - 1);
            for (var c = 0; c < 3; c++)
            {
                var top = source[(iy * sourceSize + ix) * 3 + c] * (1 - fx) + source[(iy * sourceSize + ix1) * 3 + c] * fx;
                var bottom = source[(iy1 * sourceSize + ix) * 3 + c] * (1 - fx) + source[(iy1 * sourceSize + ix1) * 3 + c] * fx;
                rgb[c] = top * (1 - fy) + bottom * fy;
            }

            var grey = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
            for (var c = 0; c < 3; c++)
            {
                var v = grey + (rgb[c] - grey) * saturation;
                v = (v - 128f) * contrast + 128f;
                v *= brightness;
                result[(y * size + x) * 3 + c] = (byte)Math.Clamp(MathF.Round(v), 0f, 255f);
            }
        }

        return result;
    }
}
