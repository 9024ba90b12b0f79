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
    /// <summary>Whether the regions are asked, given the best own-vector score of the items in scope (negative infinity when there is none).</summary>
    public static bool AsksRegions(float bestOwnScore, float threshold) => !(bestOwnScore >= threshold);

    /// <summary>
    /// Whether a region's score counts once the regions are asked: it beats the best own-vector score by at least
    /// <paramref name="margin"/> (<see cref="SearchOptions.RegionMargin"/>; 0: every region counts).
    /// </summary>
    public static bool RegionCounts(float regionScore, float bestOwnScore, float margin) => margin <= 0 || regionScore >= bestOwnScore + margin;
}
