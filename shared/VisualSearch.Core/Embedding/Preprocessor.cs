using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace VisualSearch.Embedding;

/// <summary>Pure conversion of interleaved RGB bytes into a planar float tensor (1 x 3 x S x S).</summary>
public sealed class Preprocessor
{
    private static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];
    private readonly float[]? _meanImage;
    private readonly float[]? _channelMean;

    /// <param name="mode">The convention the model was trained with.</param>
    /// <param name="size">Square input side.</param>
    /// <param name="meanImage">For <see cref="PreprocessingMode.MeanImageBgr"/>: 3 x S x S values, planes in B, G, R order.</param>
    public Preprocessor(PreprocessingMode mode, int size, float[]? meanImage = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (mode == PreprocessingMode.MeanImageBgr)
        {
            ArgumentNullException.ThrowIfNull(meanImage);
            if (meanImage.Length != 3 * size * size)
                throw new ArgumentException($"The mean image has {meanImage.Length} values; expected {3 * size * size}.", nameof(meanImage));
        }

        Mode = mode;
        Size = size;
        _meanImage = meanImage;
        if (meanImage is not null)
        {
            var plane = size * size;
            _channelMean = [.. Enumerable.Range(0, 3).Select(c => TensorPrimitives.Sum<float>(meanImage.AsSpan(c * plane, plane)) / plane)];
        }
    }

    /// <summary>For <see cref="PreprocessingMode.MeanImageBgr"/>: the per-pixel mean image (3 x S x S, planes B, G, R) that <see cref="Fill"/> subtracts; otherwise null.</summary>
    public IReadOnlyList<float>? MeanImage => _meanImage;

    /// <summary>For <see cref="PreprocessingMode.MeanImageBgr"/>: the mean image's mean per plane (B, G, R), what a whole image of any size is centred with.</summary>
    public IReadOnlyList<float>? ChannelMean => _channelMean;

    /// <summary>
    /// A whole image of any size as a 1 x 3 x height x width tensor, with the same convention as <see cref="Fill"/>;
    /// the per-pixel mean image (made for the square crop) is replaced by its mean per channel.
    /// </summary>
    public float[] CreateWhole(ReadOnlySpan<byte> rgb, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var plane = width * height;
        if (rgb.Length != plane * 3) throw new ArgumentException($"Expected {plane * 3} RGB bytes.", nameof(rgb));
        if (Mode != PreprocessingMode.MeanImageBgr)
        {
            var tensor = new float[plane * 3];
            FillRgb(rgb, tensor, plane);
            return tensor;
        }

        var result = new float[plane * 3];
        float meanB = _channelMean![0], meanG = _channelMean[1], meanR = _channelMean[2];
        for (var p = 0; p < plane; p++)
        {
            var i = p * 3;
            result[p] = rgb[i + 2] - meanB;
            result[plane + p] = rgb[i + 1] - meanG;
            result[2 * plane + p] = rgb[i] - meanR;
        }

        return result;
    }

    /// <summary>
    /// Sets the masked pixels of a 1 x 3 x H x W tensor (<paramref name="mask"/>: H x W, row-major) to zero in every plane:
    /// after the mean subtraction, the mean pixel (what a whole image's channel means, or ImageNet's, make of it).
    /// </summary>
    public static void ZeroPixels(Span<float> tensor, ReadOnlySpan<bool> mask)
    {
        var plane = mask.Length;
        if (tensor.Length != 3 * plane) throw new ArgumentException($"The tensor has {tensor.Length} values; the mask {plane} pixels of 3 planes.", nameof(tensor));
        for (var p = 0; p < plane; p++)
        {
            if (!mask[p]) continue;
            tensor[p] = 0;
            tensor[plane + p] = 0;
            tensor[2 * plane + p] = 0;
        }
    }

    public PreprocessingMode Mode { get; }

    public int Size { get; }

    public int TensorLength => 3 * Size * Size;

    /// <summary>
    /// The tensor of a centre crop. Compiled optimised from its first call (AggressiveOptimization): a <c>vsearch index</c>
    /// process is over before tiered compilation would lift this per-pixel loop out of its unoptimised first tier.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Fill(ReadOnlySpan<byte> rgb, Span<float> tensor)
    {
        var plane = Size * Size;
        if (rgb.Length != plane * 3) throw new ArgumentException($"Expected {plane * 3} RGB bytes.", nameof(rgb));
        if (tensor.Length != plane * 3) throw new ArgumentException($"Expected a tensor of {plane * 3} floats.", nameof(tensor));

        switch (Mode)
        {
            case PreprocessingMode.MeanImageBgr:
                var mean = _meanImage!;
                for (var p = 0; p < plane; p++)
                {
                    var i = p * 3;
                    tensor[p] = rgb[i + 2] - mean[p];                       // B
                    tensor[plane + p] = rgb[i + 1] - mean[plane + p];       // G
                    tensor[2 * plane + p] = rgb[i] - mean[2 * plane + p];   // R
                }

                break;
            default:
                FillRgb(rgb, tensor, plane);
                break;
        }
    }

    /// <summary>The RGB conventions (<see cref="PreprocessingMode.ImageNet"/>, <see cref="PreprocessingMode.UnitRgb"/>), for any plane size.</summary>
    private void FillRgb(ReadOnlySpan<byte> rgb, Span<float> tensor, int plane)
    {
        switch (Mode)
        {
            case PreprocessingMode.ImageNet:
                for (var p = 0; p < plane; p++)
                {
                    var i = p * 3;
                    for (var c = 0; c < 3; c++)
                        tensor[c * plane + p] = (rgb[i + c] / 255f - ImageNetMean[c]) / ImageNetStd[c];
                }

                break;
            case PreprocessingMode.UnitRgb:
                for (var p = 0; p < plane; p++)
                {
                    var i = p * 3;
                    for (var c = 0; c < 3; c++)
                        tensor[c * plane + p] = rgb[i + c] / 255f;
                }

                break;
            default:
                throw new InvalidOperationException($"Unknown preprocessing mode {Mode}.");
        }
    }

    public float[] Create(ReadOnlySpan<byte> rgb)
    {
        var tensor = new float[TensorLength];
        Fill(rgb, tensor);
        return tensor;
    }
}
