using VisualSearch.Duplicates;

namespace VisualSearch.Search;

/// <summary>
/// The rule of whole-first search over items with detail regions (issue 14, docs/quality.md 7h), shared by
/// <see cref="SearchService"/> and the copy evaluation: a query asks the items' detail regions only when no item's own
/// (whole-image) vector scores at least the threshold (<see cref="SearchOptions.RegionFallbackBelow"/>), and then each
/// item scores the best of its own and its regions' vectors, a region counting only when it beats the best own score by
/// <see cref="SearchOptions.RegionMargin"/>.
/// </summary>
public static class WholeFirst
{
    /// <summary>
    /// The threshold below which the regions are asked: <see cref="SearchOptions.RegionFallbackBelow"/> when set, else the
    /// copy threshold <see cref="DuplicateOptions.CopyMinScore"/>.
    /// </summary>
    public static float Threshold(SearchOptions search, DuplicateOptions duplicates)
    {
        ArgumentNullException.ThrowIfNull(search);
        ArgumentNullException.ThrowIfNull(duplicates);
        return search.RegionFallbackBelow ?? duplicates.CopyMinScore;
    }

    /// <summary>Whether the regions are asked, given the best own-vector score of the items in scope (negative infinity when there is none).</summary>
    public static bool AsksRegions(float bestOwnScore, float threshold) => !(bestOwnScore >= threshold);

    /// <summary>
    /// Whether a region's score counts once the regions are asked: it beats the best own-vector score by at least
    /// <paramref name="margin"/> (<see cref="SearchOptions.RegionMargin"/>; 0: every region counts).
    /// </summary>
    public static bool RegionCounts(float regionScore, float bestOwnScore, float margin) => margin <= 0 || regionScore >= bestOwnScore + margin;
}
