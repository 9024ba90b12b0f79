namespace VisualSearch.Embedding;

/// <summary>Identity of the model that made a vector. Vectors of different ids are never compared.</summary>
/// <param name="Name">Configured short name, e.g. resnet18.</param>
/// <param name="Sha256">Hex SHA-256 of the ONNX file.</param>
/// <param name="Dimension">Length of the output vector (the head's output when there is a head).</param>
/// <param name="Head">The trained projection head applied after the backbone, if any.</param>
/// <param name="Precision">Int8: <paramref name="Sha256"/> is the int8 model's, and the id says int8.</param>
/// <param name="Descriptor">
/// How the vector is taken from the network when it is not the network's own output over a centre crop, e.g.
/// <c>map-gem3-s224</c> (issue 14: the feature-map model, the whole image at shorter side 224, GeM p=3);
/// <paramref name="Sha256"/> is then the feature-map model's. Null: the centre crop (ids as before).
/// </param>
public sealed record ModelInfo(string Name, string Sha256, int Dimension, HeadInfo? Head = null, EncoderPrecision Precision = EncoderPrecision.Float32, string? Descriptor = null)
{
    /// <summary>
    /// Compact id stored with every vector, e.g. <c>resnet18-1a2b3c4d5e6f-512</c> (float32),
    /// <c>resnet18-9a8b7c6d5e4f-int8-512</c> (int8), <c>resnet18-5e6f7a8b9c0d-map-gem3-s224-512</c> (the feature map), or with a head
    /// <c>resnet18-1a2b3c4d5e6f-512-head-9f8e7d6c-128</c>; safe in index names.
    /// </summary>
    /// <summary>
    /// Whether the encoder makes region vectors beside the item's own (<c>Encoder__Regions</c>, issue 14); the index
    /// is opened with it (<see cref="Indexing.IndexSchema.Regions"/>) and records it.
    /// </summary>
    public bool Regions { get; init; }

    /// <summary>
    /// How detail regions are made (<c>Encoder__DetailRegionSide</c>, issue 14), e.g. <c>dr448c3-4n60</c>, or null for none.
    /// Part of the id (an index never mixes region geometries); the item's own vector and a query's are the same as without
    /// it (<see cref="WithoutDetailRegions"/> names those).
    /// </summary>
    public string? DetailRegions { get; init; }

    /// <summary>The model of the vectors a query gets (and an item's own vector): this one without its detail regions.</summary>
    public ModelInfo WithoutDetailRegions => DetailRegions is null ? this : this with { DetailRegions = null, Regions = false };

    /// <summary>
    /// How a query's vector is made differently from a stored item's own vector (issue 14, <see cref="EncoderOptions.QueryBackground"/>),
    /// e.g. <c>bgfill</c>, or null when it is made the same way. Not part of <see cref="Id"/>: the index holds the same vectors either way.
    /// </summary>
    public string? QueryPath { get; init; }

    /// <summary>What a query's vectors are, for caches of them: the id without detail regions, with <c>-q&lt;QueryPath&gt;</c> when queries are made differently.</summary>
    public string QueryId => QueryPath is null ? WithoutDetailRegions.Id : $"{WithoutDetailRegions.Id}-q{QueryPath}";

    /// <summary>
    /// How a query's second view, its crop, is made (<see cref="EncoderOptions.QueryBackground"/> CropView, docs/quality.md 7i),
    /// e.g. <c>bgcrop</c>, or null when queries keep one view. Not part of <see cref="Id"/>.
    /// </summary>
    public string? CropViewPath { get; init; }

    /// <summary>What a query's crop view is, for caches of it (the <see cref="QueryId"/> of Crop's queries, which it equals), or null without one.</summary>
    public string? CropViewId => CropViewPath is null ? null : $"{WithoutDetailRegions.Id}-q{CropViewPath}";

    public string Id => (Head is null
        ? $"{Backbone}-{Dimension}"
        : $"{Backbone}-{Head.InputDimension}-head-{Head.Sha256[..8]}-{Dimension}").ToLowerInvariant();

    private string Backbone => Precision == EncoderPrecision.Int8 ? $"{Name}-{Sha256[..12]}-int8"
        : Descriptor is null ? $"{Name}-{Sha256[..12]}"
        : DetailRegions is null ? $"{Name}-{Sha256[..12]}-{Descriptor}"
        : $"{Name}-{Sha256[..12]}-{Descriptor}-{DetailRegions}";
}

/// <summary>Identity of a projection head: the SHA-256 of its file and the backbone dimension it takes.</summary>
public sealed record HeadInfo(string Sha256, int InputDimension);
