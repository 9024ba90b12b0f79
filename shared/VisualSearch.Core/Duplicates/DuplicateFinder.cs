using System.Collections.Concurrent;
using VisualSearch.Indexing;

namespace VisualSearch.Duplicates;

/// <summary>
/// The self-join: each item's k nearest neighbours at or above a score, asked of the index itself, so it walks the
/// approximate graph where the index has one and scans exactly below it, and the scores are the index's exact
/// re-ranked cosines. Queries run in parallel; the owner scope applies to the neighbours too. Items are compared by their
/// own (whole-image) vectors only (<see cref="VectorSelection.Own"/>): in a space with detail regions (the default copy
/// space) a detail of another item is not a duplicate of it, and the groups and the open-set threshold were measured so
/// (docs/quality.md 7i, "The shipped default"); in a space without regions Own is every vector.
/// </summary>
public static class DuplicateFinder
{
    public static async Task<IReadOnlyList<DuplicatePair>> FindNearPairsAsync(
        IVectorIndex index,
        IReadOnlyCollection<string> ids,
        float minScore,
        int neighbours,
        OwnerScope scope,
        int parallelism,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentOutOfRangeException.ThrowIfLessThan(neighbours, 1);
        var pairs = new ConcurrentBag<DuplicatePair>();
        var options = new ParallelOptions
        {
            MaxDegreeOfParallelism = parallelism > 0 ? parallelism : Environment.ProcessorCount,
            CancellationToken = cancellationToken,
        };
        await Parallel.ForEachAsync(ids, options, async (id, ct) =>
        {
            var record = await index.GetAsync(id, scope, ct).ConfigureAwait(false);
            if (record is null) return; // deleted meanwhile
            var hits = await index.SearchAsync(record.Vector, new VectorQuery(neighbours, minScore, null, id) { Scope = scope, Vectors = VectorSelection.Own }, ct).ConfigureAwait(false);
            foreach (var hit in hits)
                pairs.Add(DuplicatePair.Of(id, hit.Id, hit.Score, DuplicateKind.Near));
        }).ConfigureAwait(false);
        return [.. pairs];
    }
}
