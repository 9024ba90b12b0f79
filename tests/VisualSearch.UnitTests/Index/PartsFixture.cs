using System.Numerics.Tensors;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Index;

/// <summary>Records and vectors for the tests of the embedded index's parts (log, slots, scan, graph) on their own.</summary>
internal static class PartsFixture
{
    public static ItemMetadata Metadata(string id, string album = "a") => new()
    {
        Source = "photos",
        Name = id + ".jpg",
        ContentHash = "hash-" + id,
        ContentType = "image/jpeg",
        UploadedAt = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero),
        ModelId = "m-1",
        Tags = new Dictionary<string, string> { ["album"] = album },
    };

    public static float[] Unit(params float[] vector)
    {
        var v = (float[])vector.Clone();
        TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
        return v;
    }

    /// <summary>Random unit vectors (seeded).</summary>
    public static float[][] RandomUnits(int count, int dimension, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => Unit([.. Enumerable.Range(0, dimension).Select(_ => (float)random.NextDouble() * 2 - 1)]))];
    }
}
