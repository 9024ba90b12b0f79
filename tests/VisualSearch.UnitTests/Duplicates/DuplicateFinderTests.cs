using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Duplicates;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Duplicates;

/// <summary>
/// The self-join in a space with detail regions (the default copy space): items pair by their own vectors, never through
/// another item's region (a detail of an item is not a duplicate of it).
/// </summary>
public sealed class DuplicateFinderTests : IDisposable
{
    private static readonly IndexSchema Schema = new("m-1", 4) { Regions = true };
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task Items_pair_by_their_own_vectors_never_through_a_region(int annThreshold)
    {
        using var index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = false, AnnThreshold = annThreshold }),
            NullLogger<LocalVectorIndex>.Instance);
        await index.InitializeAsync(Schema);
        // a and b: the same whole image (cosine 0.96); c: another image, one of whose regions is a's vector exactly.
        await index.UpsertAsync(Record("a", [1, 0, 0, 0]));
        await index.UpsertAsync(Record("b", [0.96f, 0.28f, 0, 0]));
        await index.UpsertAsync(Record("c", [0, 0, 1, 0]) with { Regions = [new RegionVector([1, 0, 0, 0], new RegionBox(0, 0, 10, 10))] });

        var pairs = await DuplicateFinder.FindNearPairsAsync(index, ["a", "b", "c"], 0.83f, 10, OwnerScope.Everyone, 1);

        Assert.All(pairs, p => Assert.Equal(("a", "b"), (p.A, p.B)));
        Assert.Equal(2, pairs.Count); // a -> b and b -> a
        Assert.All(pairs, p => Assert.Equal(0.96f, p.Score, 1e-4f));
        // The region is there, and a search of every vector finds c through it: the finder leaves it out.
        var all = await index.SearchAsync(new float[] { 1, 0, 0, 0 }, new VectorQuery(10, 0.83f, null, "a"));
        Assert.Contains(all, h => h.Id == "c");
    }

    private static VectorRecord Record(string id, float[] vector) =>
        new(id, vector, new ItemMetadata { Source = "file", Name = id + ".png", ContentHash = "hash-" + id, ContentType = "image/png", ModelId = Schema.ModelId });
}
