namespace VisualSearch.Embedding;

/// <summary>Identity of the model that made a vector. Vectors of different ids are never compared.</summary>
/// <param name="Name">Configured short name, e.g. resnet18.</param>
/// <param name="Sha256">Hex SHA-256 of the ONNX file.</param>
/// <param name="Dimension">Length of the output vector.</param>
public sealed record ModelInfo(string Name, string Sha256, int Dimension)
{
    /// <summary>Compact id stored with every vector, e.g. <c>resnet18-1a2b3c4d5e6f-512</c>; safe in index names.</summary>
    public string Id => $"{Name}-{Sha256[..12]}-{Dimension}".ToLowerInvariant();
}
