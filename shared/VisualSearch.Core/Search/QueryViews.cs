using System.ComponentModel.DataAnnotations;
using System.Numerics.Tensors;
using VisualSearch.Imaging;
using VisualSearch.Indexing;

namespace VisualSearch.Search;

/// <summary>How the vectors of a query's views become one answer (<see cref="SearchOptions.QueryViews"/>).</summary>
public enum QueryViewCombination
{
    /// <summary>The mean of the views' vectors, L2-normalised: one index search.</summary>
    Mean,

    /// <summary>Each view searches the index; an item scores the best of its scores over the views (k per view, merged by item).</summary>
    Best,
}

/// <summary>Search by image. Section "Search". Stored vectors never change with these: only the query's do.</summary>
public sealed class SearchOptions
{
    public const string SectionName = "Search";

    /// <summary>Most views one query may embed (each costs one inference).</summary>
    public const int MaxQueryViews = 4;

    /// <summary>
    /// The views a search by image embeds, comma-separated (<see cref="QueryViewSet.Parse"/>): <c>Input</c> (what the
    /// encoder takes, as stored items are embedded), <c>Mirror</c> (that mirrored), <c>Squash</c> (the whole image scaled
    /// to the input square), <c>Zoom</c> (the centre square of <see cref="QueryZoom"/> of the shorter side). Default
    /// <c>Input</c> alone: one inference, as before. Each view is one more inference per search by image.
    /// </summary>
    [Required]
    public string QueryViews { get; set; } = "Input";

    /// <summary>How several views are combined: <see cref="QueryViewCombination.Mean"/> (default) or <see cref="QueryViewCombination.Best"/>.</summary>
    public QueryViewCombination QueryViewCombination { get; set; } = QueryViewCombination.Mean;

    /// <summary>For the <c>Zoom</c> view: the share of the shorter side its centre square takes.</summary>
    [Range(ImageView.MinZoom, 1.0)]
    public double QueryZoom { get; set; } = ImageView.DefaultZoom;

    /// <summary>
    /// Whole-first search over items with detail regions (issue 14, <c>Encoder:DetailRegionSide</c>; docs/quality.md 7h):
    /// a search asks the items' own (whole-image) vectors first, and their detail regions only when the best whole-image
    /// score is below this cosine; then each item counts once with its best score (and the region's box when a region
    /// gave it). So a whole-image copy is answered as without regions, and a detail falls through to them. Null (the
    /// default): the copy threshold, <c>Duplicates:CopyMinScore</c> (0.83; it follows that setting when a copy head
    /// changes the scale). 1: the regions are asked unless an item's own vector is the query's (with
    /// <see cref="RegionMargin"/> 0 that is 7e's rule, an item scoring the best of all its vectors); -1: only when no item
    /// is in scope. Spaces without detail regions search as before.
    /// </summary>
    [Range(-1.0, 1.0)]
    public float? RegionFallbackBelow { get; set; }

    /// <summary>
    /// With <see cref="RegionFallbackBelow"/>: once the regions are asked, a region's score counts only when it beats the
    /// best whole-image score of the search by at least this much (0: every region counts). A copy that lost detail (a
    /// quarter-size JPEG) scores low against its own item, and some window of another item can beat that by a hair; a
    /// detail's window beats every whole image by far. 0.05, measured with the copy defaults (docs/quality.md 7h), keeps
    /// the whole-image copies of a copy space without regions and most of the details the regions find.
    /// </summary>
    [Range(0.0, 1.0)]
    public float RegionMargin { get; set; } = 0.05f;

    /// <summary>
    /// With a query's crop view (<c>Encoder:QueryBackground=CropView</c>, docs/quality.md 7i): which views ask the detail
    /// regions once the whole view's own-vector search finds no copy (the whole view alone searches the own vectors).
    /// </summary>
    public CropViewRegions CropViewRegions { get; set; } = CropViewRegions.Crop;

    /// <summary>With a query's crop view: the own-vector score the crop's regions must beat by <see cref="CropViewRegionMargin"/> (default <see cref="CropViewMargin.CropOnly"/>: below the threshold the crop alone answers).</summary>
    public CropViewMargin CropViewMargin { get; set; } = CropViewMargin.CropOnly;

    /// <summary>
    /// With a query's crop view: the margin by which the crop's regions must beat that score (0: with <see cref="CropViewMargin.CropOnly"/>,
    /// the default, the pair that met issue 14's detail and copy targets on all 417 references, docs/quality.md 7i;
    /// null: <see cref="RegionMargin"/>). The whole view's regions keep <see cref="RegionMargin"/>.
    /// </summary>
    [Range(0.0, 1.0)]
    public float? CropViewRegionMargin { get; set; } = 0f;

    /// <summary>
    /// With a query's crop view: once the regions are asked, the crop asks the items' own vectors too, their scores counting as
    /// its regions' do (above the same score by the same margin). False (the default): the crop asks the regions alone.
    /// </summary>
    public bool CropViewOwn { get; set; }

    /// <summary>The parsed <see cref="QueryViews"/> (throws <see cref="FormatException"/> when they do not parse; validated at start).</summary>
    public IReadOnlyList<ImageView> ParseViews() => QueryViewSet.Parse(QueryViews, QueryZoom);
}

/// <summary>Query views: parsing, and the two ways of combining them.</summary>
public static class QueryViewSet
{
    /// <summary>
    /// Parses a comma-separated list of view names (case-insensitive: input, mirror, squash, zoom): at least one, at most
    /// <see cref="SearchOptions.MaxQueryViews"/>, none twice. Throws <see cref="FormatException"/> saying what is wrong.
    /// </summary>
    public static IReadOnlyList<ImageView> Parse(string? text, double zoom = ImageView.DefaultZoom)
    {
        var names = (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0) throw new FormatException("Name at least one query view (Input, Mirror, Squash, Zoom).");
        if (names.Length > SearchOptions.MaxQueryViews) throw new FormatException($"At most {SearchOptions.MaxQueryViews} query views (each is one inference per search); got {names.Length}.");
        var views = new List<ImageView>();
        foreach (var name in names)
        {
            if (!Enum.TryParse<ImageViewKind>(name, ignoreCase: true, out var kind) || !Enum.IsDefined(kind) || int.TryParse(name, out _))
                throw new FormatException($"Unknown query view '{name}': use Input, Mirror, Squash or Zoom.");
            var view = new ImageView(kind, kind == ImageViewKind.Zoom ? zoom : ImageView.DefaultZoom);
            try
            {
                view.Validate();
            }
            catch (ArgumentOutOfRangeException ex)
            {
                throw new FormatException(ex.Message, ex);
            }

            if (views.Any(v => v.Kind == kind)) throw new FormatException($"The query view '{name}' is named twice.");
            views.Add(view);
        }

        return views;
    }

    /// <summary>Whether <paramref name="views"/> is the encoder's input alone (a search as without views: one inference, one search).</summary>
    public static bool IsInputOnly(IReadOnlyList<ImageView> views) => views is [{ Kind: ImageViewKind.Input }];

    /// <summary>The position of the <see cref="ImageViewKind.Input"/> view in <paramref name="views"/>; 0 (the first) when there is none.</summary>
    public static int InputIndex(IReadOnlyList<ImageView> views)
    {
        for (var i = 0; i < views.Count; i++)
            if (views[i].Kind == ImageViewKind.Input) return i;
        return 0;
    }

    /// <summary>True when <paramref name="text"/> parses (<see cref="Parse"/>); otherwise the reason.</summary>
    public static bool TryParse(string? text, double zoom, out IReadOnlyList<ImageView> views, out string? error)
    {
        try
        {
            views = Parse(text, zoom);
            error = null;
            return true;
        }
        catch (FormatException ex)
        {
            views = [];
            error = ex.Message;
            return false;
        }
    }

    /// <summary>The mean of L2-normalised vectors, L2-normalised (a zero mean stays zero).</summary>
    public static float[] Mean(IReadOnlyList<float[]> vectors)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.Count == 0) throw new ArgumentException("At least one vector.", nameof(vectors));
        var mean = new float[vectors[0].Length];
        foreach (var v in vectors)
        {
            if (v.Length != mean.Length) throw new ArgumentException("The vectors differ in dimension.", nameof(vectors));
            TensorPrimitives.Add(mean, v, mean);
        }

        var norm = TensorPrimitives.Norm(mean);
        if (norm > 0 && float.IsFinite(norm)) TensorPrimitives.Divide(mean, norm, mean);
        return mean;
    }

    /// <summary>
    /// The hits of several searches merged by item: each item once, with its best-scoring hit (its region, if any, kept),
    /// best first (ties by id), at most <paramref name="k"/>. Only items some search returned can appear, so the merge
    /// never widens what the searches' scope and filter admitted. With each list an exact top-k of its view, the result
    /// is the exact top-k by the best score over the views.
    /// </summary>
    public static IReadOnlyList<SearchHit> BestPerItem(IReadOnlyList<IReadOnlyList<SearchHit>> lists, int k)
    {
        ArgumentNullException.ThrowIfNull(lists);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var best = new Dictionary<string, SearchHit>(StringComparer.Ordinal);
        foreach (var list in lists)
        {
            foreach (var hit in list)
            {
                if (!best.TryGetValue(hit.Id, out var kept) || hit.Score > kept.Score) best[hit.Id] = hit;
            }
        }

        return [.. best.Values.OrderByDescending(h => h.Score).ThenBy(h => h.Id, StringComparer.Ordinal).Take(k)];
    }
}
