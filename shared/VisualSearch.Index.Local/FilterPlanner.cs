using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>How a filtered search in graph mode is answered (<see cref="LocalIndexOptions.FilteredSearch"/>).</summary>
public enum FilteredSearchMode
{
    /// <summary>The planner chooses per query from the estimated share of records the filter admits (the default).</summary>
    Auto,

    /// <summary>Always the graph, over-fetched by the estimate (for measuring; a very selective filter may then fall back to a scan).</summary>
    Graph,

    /// <summary>Always the exact scan over the records the filter admits (recall 1; costs a log read per matching record).</summary>
    Exact,
}

/// <summary>Which path a search takes.</summary>
public enum SearchPath
{
    /// <summary>Graph candidates re-scored exactly from the log.</summary>
    Graph,

    /// <summary>Every record the filter admits scored exactly (in graph mode its vector is read from the log).</summary>
    ExactScan,
}

/// <summary>
/// The plan for one search: the path, the share of live records the filter is estimated to admit (1 without a
/// filter), that share as a record count, and how many graph candidates to ask for first (0 on the exact path).
/// </summary>
public sealed record SearchPlan(SearchPath Path, double EstimatedShare, long EstimatedMatches, int Fetch);

/// <summary>
/// Chooses between the graph and an exact scan for a filtered search, so that what a filter costs is predictable.
/// The graph finds nearest neighbours regardless of the filter: to keep k x overfetch candidates that pass, it
/// must be asked for about (k x overfetch) / share of them; for a selective filter that is thousands of candidates,
/// slower than scoring the few records that match. So: estimate the share the filter admits from a fixed sample
/// of the records' metadata (<see cref="SampleSize"/> slots, one drawn from each of that many equal strata of the
/// slot range, at positions fixed by the slot count, so the same index gives the same plan; every slot is checked
/// when there are at most <see cref="ExactCountLimit"/>); then take the graph, asking for
/// <see cref="Margin"/> x (k x overfetch) / share candidates, when that is at most <paramref name="maxCandidates"/>
/// of <see cref="Plan"/>, and otherwise scan the matching records exactly. With k 10 and overfetch 4 the line lies
/// near 1.5% (60 / 4,096). Checking a filter against 1,024 records' metadata costs some microseconds, against
/// the milliseconds of either path. The owner scope is a filter condition like any other and is counted the same way.
/// </summary>
public static class FilterPlanner
{
    /// <summary>Records whose metadata the estimate checks.</summary>
    public const int SampleSize = 1024;

    /// <summary>Up to this many slots every one is checked (the estimate is then the exact count).</summary>
    public const int ExactCountLimit = 4 * SampleSize;

    /// <summary>Candidates asked for beyond the expected need, for the sample's error and for clustering of the matches.</summary>
    public const double Margin = 1.5;

    /// <summary>
    /// The plan for a search of <paramref name="k"/> results whose records must pass <paramref name="admits"/> (the
    /// query's filter and owner scope, <see cref="VectorQuery.Admits"/>; null: no condition) over
    /// the live records of <paramref name="used"/> slots, whose metadata <paramref name="metadataAt"/> gives (null for
    /// a free slot).
    /// </summary>
    /// <param name="vectorShare">
    /// The share of the graph's vectors of the kind the query scores (<see cref="VectorQuery.Vectors"/>: an item's own
    /// vectors are 1 in 60 of an index with detail regions), which thins the candidates like a filter does; 1 for all.
    /// </param>
    public static SearchPlan Plan(Func<ItemMetadata, bool>? admits, int used, int liveCount, Func<int, ItemMetadata?> metadataAt, int k, int overfetch, int maxCandidates, FilteredSearchMode mode = FilteredSearchMode.Auto, double vectorShare = 1.0)
    {
        ArgumentNullException.ThrowIfNull(metadataAt);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(overfetch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCandidates, 1);
        var rescore = k * overfetch;
        ArgumentOutOfRangeException.ThrowIfNegative(vectorShare);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vectorShare, 1.0);
        if (admits is null && vectorShare >= 1.0)
            return new SearchPlan(SearchPath.Graph, 1.0, liveCount, Math.Min(Math.Max(liveCount, 1), Math.Max(rescore, k + 1)));

        var share = (admits is null ? 1.0 : EstimateShare(admits, used, metadataAt)) * vectorShare;
        var matches = (long)Math.Round(share * liveCount);
        var needed = share > 0 ? Math.Ceiling(Margin * rescore / share) : double.PositiveInfinity;
        var exact = mode switch
        {
            FilteredSearchMode.Exact => true,
            FilteredSearchMode.Graph => false,
            _ => needed > maxCandidates,
        };
        if (exact) return new SearchPlan(SearchPath.ExactScan, share, matches, 0);
        var fetch = (int)Math.Min(Math.Min(needed, maxCandidates), Math.Max(liveCount, 1));
        return new SearchPlan(SearchPath.Graph, share, matches, Math.Max(fetch, Math.Min(Math.Max(liveCount, 1), Math.Max(rescore, k + 1))));
    }

    /// <summary>The share of live records among the sampled slots that <paramref name="admits"/> lets through (0 when none is live).</summary>
    public static double EstimateShare(Func<ItemMetadata, bool> admits, int used, Func<int, ItemMetadata?> metadataAt)
    {
        ArgumentNullException.ThrowIfNull(admits);
        ArgumentNullException.ThrowIfNull(metadataAt);
        int live = 0, admitted = 0;
        void Check(int slot)
        {
            if (metadataAt(slot) is not { } metadata) return;
            live++;
            if (admits(metadata)) admitted++;
        }

        if (used <= ExactCountLimit)
        {
            for (var slot = 0; slot < used; slot++) Check(slot);
        }
        else
        {
            // One slot from each of SampleSize equal strata, at an offset inside it from the golden-ratio sequence:
            // spread like an even stride (a field that follows insertion order, as upload times do, is estimated
            // as a quantile would be) without a stride's period, which a field repeating every few records
            // (album = i mod 4) could alias with.
            for (var j = 0; j < SampleSize; j++)
            {
                var offset = (j * 0.6180339887498949) % 1.0;
                Check((int)Math.Min(used - 1, (j + offset) * used / SampleSize));
            }
        }

        return live == 0 ? 0 : admitted / (double)live;
    }
}
