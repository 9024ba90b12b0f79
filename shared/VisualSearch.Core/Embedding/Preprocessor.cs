namespace VisualSearch.Embedding;

/// <summary>Pure conversion of interleaved RGB bytes into a planar float tensor (1 x 3 x S x S).</summary>
public sealed class Preprocessor
{
    private static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];
    private readonly float[]? _meanImage;

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
    }

    public PreprocessingMode Mode { get; }

    public int Size { get; }

    public int TensorLength => 3 * Size * Size;

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
