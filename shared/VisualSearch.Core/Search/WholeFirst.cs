using VisualSearch.Duplicates;

namespace VisualSearch.Search;

/// <summary>
/// With a query's crop view (<c>Encoder:QueryBackground=CropView</c>, docs/quality.md 7i): which of the query's views ask the
/// items' detail regions once the whole view's own-vector search finds no copy.
/// </summary>
public enum CropViewRegions
{
    /// <summary>The crop view alone (the whole view when the query has no crop).</summary>
    Crop,

    /// <summary>The crop view and the whole view, each item scoring its best.</summary>
    CropAndWhole,
}

/// <summary>With a query's crop view: the own-vector score a view's region must beat by the margin.</summary>
public enum CropViewMargin
{
    /// <summary>The whole view's best own score (the score that decided to ask the regions).</summary>
    WholeOwn,

    /// <summary>The better of the whole view's and that view's own best own score (one more own-vector search, with the crop).</summary>
    ViewOwn,

    /// <summary>
    /// The crop view's own best score alone, and the crop decides its own fallback: it asks the regions when its best own score
    /// is below the threshold, whatever the whole view found (a circle's white corners can match a cut-out on white well
    /// enough to stop the whole view's fallback). One more own-vector search, with the crop, for every query that has one.
    /// </summary>
    CropOwn,

    /// <summary>
    /// Below the threshold a query with a crop is answered by its crop alone, as <c>Encoder:QueryBackground=Crop</c> answers it
    /// (the crop's own vectors, then its regions when its best own score is below the threshold, counted against that score):
    /// the whole view's own hits, which a circle's white corners can draw to a cut-out on white, are dropped. At or above the
    /// threshold the whole view answers, so a whole copy of a round picture is found as without a crop view.
    /// </summary>
    CropOnly,
}

/// <summary>
/// How a query's crop view takes part in whole-first search (<see cref="SearchOptions.CropViewRegions"/>,
/// <see cref="SearchOptions.CropViewMargin"/>, <see cref="SearchOptions.CropViewRegionMargin"/>): which views ask the regions, the
/// own score the crop's regions must beat, and by how much; with <see cref="Own"/> (<see cref="SearchOptions.CropViewOwn"/>) the
/// crop's own-vector scores count as its regions' do (the crop asks every vector of the items).
/// </summary>
public sealed record CropViewRule(CropViewRegions Regions, CropViewMargin Reference, float Margin, bool Own = false)
{
    /// <summary>The rule of <paramref name="options"/>: the crop's margin is <see cref="SearchOptions.CropViewRegionMargin"/>, else <see cref="SearchOptions.RegionMargin"/>.</summary>
    public static CropViewRule Of(SearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(options.CropViewRegions, options.CropViewMargin, options.CropViewRegionMargin ?? options.RegionMargin, options.CropViewOwn);
    }
}

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

    /// <summary>
    /// The own score a view's regions must beat (<see cref="RegionCounts"/>): the whole view's best own score, or with
    /// <see cref="CropViewMargin.ViewOwn"/> the better of it and the view's own best own score (negative infinity: none).
    /// </summary>
    public static float MarginReference(float bestWholeOwn, float bestViewOwn, CropViewMargin reference) => reference switch
    {
        CropViewMargin.ViewOwn => Math.Max(bestWholeOwn, bestViewOwn),
        CropViewMargin.CropOwn or CropViewMargin.CropOnly => bestViewOwn,
        _ => bestWholeOwn,
    };

    /// <summary>
    /// Whether the crop view asks the regions: when the whole view did (<paramref name="wholeAsks"/>), or with
    /// <see cref="CropViewMargin.CropOwn"/> when the crop's own best score is below the threshold.
    /// </summary>
    public static bool CropAsksRegions(bool wholeAsks, float bestCropOwn, float threshold, CropViewMargin reference) =>
        reference switch
        {
            CropViewMargin.CropOwn => AsksRegions(bestCropOwn, threshold),
            CropViewMargin.CropOnly => wholeAsks && AsksRegions(bestCropOwn, threshold),
            _ => wholeAsks,
        };

    /// <summary>Whether the whole view asks the regions too: always without a crop view, with one only for <see cref="CropViewRegions.CropAndWhole"/>.</summary>
    public static bool WholeAsksRegions(bool hasCrop, CropViewRegions regions) => !hasCrop || regions == CropViewRegions.CropAndWhole;
}
