namespace VisualSearch.Indexing;

/// <summary>A rectangle in an item's pixel coordinates (origin top-left, x to the right, y down).</summary>
public readonly record struct RegionBox(int X, int Y, int Width, int Height);

/// <summary>
/// One extra vector of an item: a region of its image (issue 14's regional descriptors), L2-normalised,
/// of the same model and dimension as the item's own vector. An item's score is the best of its vectors.
/// </summary>
public sealed record RegionVector(float[] Vector, RegionBox Box);
