namespace VisualSearch.Embedding;

/// <summary>Identity of the model that made a vector. Vectors of different ids are never compared.</summary>
/// <param name="Name">Configured short name, e.g. resnet18.</param>
/// <param name="Sha256">Hex SHA-256 of the ONNX file.</param>
/// <param name="Dimension">Length of the output vector (the head's output when there is a head).</param>
/// <param name="Head">The trained projection head applied after the backbone, if any.</param>
public sealed record ModelInfo(string Name, string Sha256, int Dimension, HeadInfo? Head = null)
{
    /// <summary>
    /// Compact id stored with every vector, e.g. <c>resnet18-1a2b3c4d5e6f-512</c>, or with a head
    /// <c>resnet18-1a2b3c4d5e6f-512-head-9f8e7d6c-128</c>; safe in index names.
    /// </summary>
    public string Id => (Head is null
        ? $"{Name}-{Sha256[..12]}-{Dimension}"
        : $"{Name}-{Sha256[..12]}-{Head.InputDimension}-head-{Head.Sha256[..8]}-{Dimension}").ToLowerInvariant();
}

/// <summary>Identity of a projection head: the SHA-256 of its file and the backbone dimension it takes.</summary>
public sealed record HeadInfo(string Sha256, int InputDimension);
