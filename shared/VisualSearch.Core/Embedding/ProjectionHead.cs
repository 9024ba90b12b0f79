using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Security.Cryptography;
using System.Text;

namespace VisualSearch.Embedding;

/// <summary>
/// A linear projection applied after the backbone: y = normalize(W (x - mean)), with x the backbone's
/// L2-normalised vector (D values), W a d x D matrix and y the d-dimensional output. PCA-whitening, when it
/// was used in training, is folded into W and mean. Written by <c>vsearch train</c>.
/// </summary>
/// <remarks>
/// File format (little-endian, documented in docs/quality.md):
/// <code>
/// 8 bytes   ASCII "VSHEAD01"
/// int32     D, the input (backbone) dimension
/// int32     d, the output dimension
/// int32     L, then L bytes UTF-8: the model id of the backbone it was trained on (e.g. resnet18-1a2b3c4d5e6f-512)
/// D float32 mean
/// d*D float32 W, row-major (row r holds the D weights of output r)
/// </code>
/// Nothing follows. The SHA-256 of the file is the head's identity in the model id.
/// </remarks>
public sealed class ProjectionHead
{
    private static readonly byte[] Magic = "VSHEAD01"u8.ToArray();
    private readonly float[] _mean;
    private readonly float[] _weights;

    public ProjectionHead(string backboneModelId, float[] mean, float[] weights, int outputDimension)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(backboneModelId);
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfLessThan(mean.Length, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputDimension, 1);
        if (weights.Length != (long)outputDimension * mean.Length)
            throw new ArgumentException($"W has {weights.Length} values; a {outputDimension} x {mean.Length} matrix has {(long)outputDimension * mean.Length}.", nameof(weights));
        if (!mean.All(float.IsFinite) || !weights.All(float.IsFinite))
            throw new ArgumentException("The head holds a NaN or infinite value.");

        BackboneModelId = backboneModelId;
        _mean = mean;
        _weights = weights;
        OutputDimension = outputDimension;
        Bytes = Serialize();
        Sha256 = Convert.ToHexStringLower(SHA256.HashData(Bytes.Span));
    }

    /// <summary>The model id of the backbone whose vectors this head takes.</summary>
    public string BackboneModelId { get; }

    public int InputDimension => _mean.Length;

    public int OutputDimension { get; }

    /// <summary>Hex SHA-256 of the serialised head (what the file holds).</summary>
    public string Sha256 { get; }

    /// <summary>The serialised head, byte for byte what <see cref="Save"/> writes.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    public ReadOnlySpan<float> Mean => _mean;

    /// <summary>W, row-major, <see cref="OutputDimension"/> rows of <see cref="InputDimension"/> values.</summary>
    public ReadOnlySpan<float> Weights => _weights;

    public HeadInfo Info => new(Sha256, InputDimension);

    /// <summary>Projects and L2-normalises one backbone vector; RawNorm is the norm before normalisation.</summary>
    public Embedding Apply(ReadOnlySpan<float> backbone)
    {
        var output = new float[OutputDimension];
        var norm = Apply(backbone, output);
        return new Embedding(output, norm);
    }

    /// <summary>Writes normalize(W (x - mean)) into <paramref name="output"/> and returns the norm before normalisation.</summary>
    public float Apply(ReadOnlySpan<float> backbone, Span<float> output)
    {
        if (backbone.Length != InputDimension)
            throw new ArgumentException($"The head takes {InputDimension} values; got {backbone.Length}.", nameof(backbone));
        if (output.Length != OutputDimension)
            throw new ArgumentException($"The head gives {OutputDimension} values; the output has room for {output.Length}.", nameof(output));

        Span<float> centred = InputDimension <= 4096 ? stackalloc float[InputDimension] : new float[InputDimension];
        TensorPrimitives.Subtract(backbone, _mean, centred);
        for (var r = 0; r < OutputDimension; r++)
            output[r] = TensorPrimitives.Dot(_weights.AsSpan(r * InputDimension, InputDimension), centred);
        var norm = TensorPrimitives.Norm(output);
        if (norm > 0 && float.IsFinite(norm)) TensorPrimitives.Divide(output, norm, output);
        return norm;
    }

    /// <summary>Writes the head to a file (atomically: a temporary file renamed over the target).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp";
        File.WriteAllBytes(temp, Bytes.ToArray());
        File.Move(temp, full, overwrite: true);
    }

    /// <summary>Reads a head file. Throws <see cref="InvalidDataException"/> when it is not one.</summary>
    public static ProjectionHead Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return Parse(File.ReadAllBytes(path), path);
    }

    public static ProjectionHead Parse(ReadOnlySpan<byte> bytes, string? source = null)
    {
        var what = source ?? "the head";
        if (bytes.Length < 20 || !bytes[..8].SequenceEqual(Magic))
            throw new InvalidDataException($"{what} is not a projection head (no VSHEAD01 signature).");
        var input = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        var output = BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]);
        var idLength = BinaryPrimitives.ReadInt32LittleEndian(bytes[16..]);
        if (input is < 1 or > 65536 || output is < 1 or > 65536 || idLength is < 1 or > 1024)
            throw new InvalidDataException($"{what} has an impossible header ({input} -> {output}, id of {idLength} bytes).");
        var expected = 20L + idLength + 4L * input + 4L * input * output;
        if (bytes.Length != expected)
            throw new InvalidDataException($"{what} is {bytes.Length} bytes; a {input} -> {output} head is {expected}.");

        var offset = 20;
        var backbone = Encoding.UTF8.GetString(bytes.Slice(offset, idLength));
        offset += idLength;
        var mean = ReadFloats(bytes.Slice(offset, 4 * input));
        offset += 4 * input;
        var weights = ReadFloats(bytes[offset..]);
        try
        {
            return new ProjectionHead(backbone, mean, weights, output);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"{what}: {ex.Message}", ex);
        }
    }

    private byte[] Serialize()
    {
        var id = Encoding.UTF8.GetBytes(BackboneModelId);
        var bytes = new byte[20 + id.Length + 4 * _mean.Length + 4 * _weights.Length];
        Magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), InputDimension);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), OutputDimension);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(16), id.Length);
        id.CopyTo(bytes, 20);
        var offset = 20 + id.Length;
        foreach (var v in _mean) { BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(offset), v); offset += 4; }
        foreach (var v in _weights) { BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(offset), v); offset += 4; }
        return bytes;
    }

    private static float[] ReadFloats(ReadOnlySpan<byte> bytes)
    {
        var values = new float[bytes.Length / 4];
        for (var i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
        return values;
    }
}
