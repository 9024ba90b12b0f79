using System.Buffers.Binary;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// The compact copy of a vector that search by id reads when the index keeps no retrievable originals: the base64 of a
/// float32 scale (the largest magnitude, little-endian) followed by each component divided by it as a float16. For 512
/// dimensions that is 1,028 bytes, 1,372 characters (the retrievable float32 original: 2,048 bytes stored, about 5.5 KB
/// of JSON numbers per lookup). Each component comes back within 2^-11 of the scale (relative to the largest
/// component); the cosine of the copy with the original is above 0.99999 for the model's vectors, so the
/// neighbours of an item are the same (docs/deploy.md, "Search by id").
/// </summary>
public static class VectorCopyCodec
{
    public static string Encode(ReadOnlySpan<float> vector)
    {
        var scale = 0f;
        foreach (var v in vector) scale = MathF.Max(scale, MathF.Abs(v));
        if (!float.IsFinite(scale)) throw new ArgumentException("The vector has a component that is not a finite number.", nameof(vector));
        var bytes = new byte[4 + 2 * vector.Length];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, scale);
        for (var i = 0; i < vector.Length; i++)
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(4 + 2 * i), scale == 0 ? default : (Half)(vector[i] / scale));
        return Convert.ToBase64String(bytes);
    }

    /// <summary>The vector of a copy made by <see cref="Encode"/>; throws <see cref="FormatException"/> for anything else.</summary>
    public static float[] Decode(string copy, int dimension)
    {
        ArgumentNullException.ThrowIfNull(copy);
        var bytes = Convert.FromBase64String(copy);
        if (bytes.Length != 4 + 2 * dimension)
            throw new FormatException($"The vector copy holds {bytes.Length} bytes; {4 + 2 * dimension} were expected for {dimension} dimensions.");
        var scale = BinaryPrimitives.ReadSingleLittleEndian(bytes);
        var vector = new float[dimension];
        for (var i = 0; i < dimension; i++) vector[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(4 + 2 * i)) * scale;
        return vector;
    }
}
