using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Diagnostics;
using VisualSearch.Duplicates;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;

namespace VisualSearch.Search;

/// <summary>Which vectors a search compares (issue 14's dual design).</summary>
public enum SearchSpace
{
    /// <summary>The category vectors (the encoder's descriptor): "pictures like this one".</summary>
    Category,

    /// <summary>The copy space's vectors (<see cref="CopySpace"/>): "is this a copy of something I hold?".</summary>
    Copies,
}

/// <summary>
/// Query parameters, validated on construction: k and minScore by the index's own query type
/// (<see cref="VectorQuery"/>), plus the service's cap of <see cref="MaxK"/> results.
/// </summary>
public sealed record SearchQuery
{
    public const int DefaultK = 10;
    public const int MaxK = 100;

    private readonly VectorQuery _vector;

    public SearchQuery(int k = DefaultK, float? minScore = null, SearchFilter? filter = null, CutoffMode cutoff = CutoffMode.None)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, MaxK);
        _vector = new VectorQuery(k, minScore, filter);
        Cutoff = cutoff;
    }

    public int K => _vector.K;

    public float? MinScore => _vector.MinScore;

    public SearchFilter? Filter => _vector.Filter;

    /// <summary>With <see cref="CutoffMode.Auto"/> the list stops where the scores fall away (<see cref="ResultCutoff"/>); k stays the upper bound.</summary>
    public CutoffMode Cutoff { get; }

    /// <summary>
    /// The space searched; null: the copy space for <see cref="CutoffMode.Auto"/> (a cut made for copies) when the host has
    /// one, the category space otherwise. <see cref="SearchSpace.Copies"/> on a host without a copy space is refused.
    /// </summary>
    public SearchSpace? Space { get; init; }

    /// <summary>The index query, excluding one item (search by id) or none.</summary>
    public VectorQuery ToVectorQuery(string? excludeId) => _vector with { ExcludeId = excludeId };
}

/// <summary>Results, best first, with the model that made the query vector.</summary>
public sealed record SearchResponse(string Model, IReadOnlyList<SearchHit> Results)
{
    /// <summary>The space that answered.</summary>
    public SearchSpace Space { get; init; }
}

/// <summary>What /api/health reports.</summary>
public sealed record HealthReport(string Model, int Dimension, string IndexKind, long Count, ColdStartReport ColdStart, EmbeddingHealthSnapshot? Embeddings)
{
    /// <summary>The copy space's model and item count (issue 14), or null without a copy space.</summary>
    public CopySpaceReport? Copies { get; init; }
}

/// <summary>The copy space in /api/health: its model and how many items it holds (the category count once it is filled).</summary>
public sealed record CopySpaceReport(string Model, long Count);

/// <summary><see cref="SearchSpace.Copies"/> was asked of a host without a copy space (Encoder:CopyDescriptor None).</summary>
public sealed class CopySpaceUnavailableException()
    : InvalidOperationException("This host has no copy space (Encoder:CopyDescriptor is None): search the category space, or configure Encoder:CopyDescriptor=FeatureMap and run vsearch reindex.");

/// <summary>Cold-start facts for /api/health.</summary>
public sealed record ColdStartReport(string InstanceId, DateTimeOffset ProcessStart, double? ModelLoadMs, double? FirstInferenceMs, int Invocations);

/// <summary>
/// Nearest-neighbour queries by image bytes or by an indexed item. A search by image embeds the views of
/// <see cref="SearchOptions.QueryViews"/> (default: the encoder's input alone) and combines them as
/// <see cref="SearchOptions.QueryViewCombination"/> says, with the <see cref="QueryEncoder"/> when one is configured
/// (float32 queries against int8 items, <see cref="EncoderOptions.QueryPrecision"/>); stored vectors are never affected.
/// </summary>
public sealed class SearchService(
    IImageDecoder decoder,
    IImageEncoder encoder,
    VectorIndexAccessor index,
    VisualSearchMetrics metrics,
    ILogger<SearchService> logger,
    DecodeGate? decodeGate = null,
    IOptions<SearchOptions>? options = null,
    CopySpace? copies = null,
    IOptions<DuplicateOptions>? duplicates = null,
    QueryEncoder? queryEncoder = null)
{
    private readonly DecodeGate _decodeGate = decodeGate ?? new DecodeGate(Options.Create(new ImagingOptions()));
    private readonly SearchOptions _options = options?.Value ?? new SearchOptions();
    // Parsed once (validated at start by AddVisualSearchEngine; a bad list throws here for a service made by hand).
    private readonly IReadOnlyList<ImageView> _views = (options?.Value ?? new SearchOptions()).ParseViews();

    /// <summary>Below this best whole-image score a space with detail regions asks them (<see cref="SearchOptions.RegionFallbackBelow"/>; default the copy threshold).</summary>
    private readonly float _regionFallbackBelow = WholeFirst.Threshold(options?.Value ?? new SearchOptions(), duplicates?.Value ?? new DuplicateOptions());

    /// <summary>How a query's crop view asks the regions (<see cref="CropViewRule.Of"/>).</summary>
    private readonly CropViewRule _cropView = CropViewRule.Of(options?.Value ?? new SearchOptions());

    /// <summary>
    /// Neighbours of an image among the records <paramref name="scope"/> allows. Throws
    /// <see cref="ImageRejectedException"/> for bad images.
    /// </summary>
    public async Task<SearchResponse> SearchByImageAsync(ReadOnlyMemory<byte> image, SearchQuery query, OwnerScope scope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(scope);
        using var activity = VisualSearchMetrics.ActivitySource.StartActivity("search.image");
        var started = Stopwatch.GetTimestamp();
        var (space, spaceEncoder, accessor) = Resolve(query);
        var vectors = await accessor.GetAsync(cancellationToken).ConfigureAwait(false);
        // The category space's query runs the query encoder when there is one (Encoder:QueryPrecision=Float32 against int8
        // items: same input, the stored model's index); the answer names the stored model either way.
        var queryEmbedder = space == SearchSpace.Category && queryEncoder is not null ? queryEncoder.Encoder : spaceEncoder;
        var embeddings = new List<Embedding.Embedding>(_views.Count);
        Embedding.Embedding? crop = null;
        using (await _decodeGate.EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            IReadOnlyList<PreparedImage> prepared;
            using (metrics.Time("decode"))
                prepared = QueryViewSet.IsInputOnly(_views) ? [decoder.Prepare(image.Span, queryEmbedder.Input)] : decoder.PrepareViews(image.Span, queryEmbedder.Input, _views);
            using (metrics.Time("embed"))
            {
                foreach (var view in prepared) embeddings.Add(queryEmbedder.EmbedQuery(view, cancellationToken));
                // The crop view (Encoder:QueryBackground=CropView) of the input view, for the detail-region fallback only.
                if (spaceEncoder.Model.DetailRegions is not null) crop = queryEmbedder.EmbedQueryCrop(prepared[QueryViewSet.InputIndex(_views)], cancellationToken);
            }
        }

        // Drift telemetry watches what items are embedded from: the input view when there is one (the item model's
        // vectors only: a float32 query against int8 items is not counted in the int8 model's statistics).
        var observed = embeddings[QueryViewSet.InputIndex(_views)];
        if (space == SearchSpace.Category && ReferenceEquals(queryEmbedder, encoder)) metrics.ObserveEmbedding(encoder.Model.Id, observed.Vector, observed.RawNorm);
        // One query vector, or with Best one per view (each searches through the index with the same query and the
        // server's scope; merged by item).
        float[][] queryVectors = embeddings.Count == 1 ? [embeddings[0].Vector]
            : _options.QueryViewCombination == QueryViewCombination.Mean ? [QueryViewSet.Mean([.. embeddings.Select(e => e.Vector)])]
            : [.. embeddings.Select(e => e.Vector)];
        var hits = Cut(await SpaceQueryAsync(vectors, spaceEncoder, queryVectors, query, scope, null, cancellationToken, crop?.Vector).ConfigureAwait(false), query);

        Log.Searched(logger, hits.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        if (embeddings.Count > 1) Log.SearchedWithViews(logger, embeddings.Count, _options.QueryViewCombination);
        return new SearchResponse(spaceEncoder.Model.Id, hits) { Space = space };
    }

    /// <summary>Whether this host has a copy space (<see cref="SearchSpace.Copies"/> can be searched).</summary>
    public bool HasCopySpace => copies is not null;

    /// <summary>
    /// Neighbours of an indexed item (itself excluded) among the records <paramref name="scope"/> allows, or null if
    /// the id is unknown or outside the scope (the two read alike).
    /// </summary>
    public async Task<SearchResponse?> SearchByIdAsync(string id, SearchQuery query, OwnerScope scope, CancellationToken cancellationToken = default)
    {
        ItemIds.Validate(id);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(scope);
        using var activity = VisualSearchMetrics.ActivitySource.StartActivity("search.id");
        var (space, spaceEncoder, accessor) = Resolve(query);
        var vectors = await accessor.GetAsync(cancellationToken).ConfigureAwait(false);
        // The item's own vector in the space searched (an item the copy space does not hold yet reads as unknown there).
        var item = await vectors.GetAsync(id, scope, cancellationToken).ConfigureAwait(false);
        if (item is null) return null;
        var hits = Cut(await SpaceQueryAsync(vectors, spaceEncoder, [item.Vector], query, scope, id, cancellationToken).ConfigureAwait(false), query);
        return new SearchResponse(spaceEncoder.Model.Id, hits) { Space = space };
    }

    /// <summary>The stored metadata of an item, or null if it is unknown or outside <paramref name="scope"/> (the two read alike).</summary>
    public async Task<ItemMetadata?> GetItemAsync(string id, OwnerScope scope, CancellationToken cancellationToken = default)
    {
        ItemIds.Validate(id);
        ArgumentNullException.ThrowIfNull(scope);
        var vectors = await index.GetAsync(cancellationToken).ConfigureAwait(false);
        return (await vectors.GetAsync(id, scope, cancellationToken).ConfigureAwait(false))?.Metadata;
    }

    public async Task<HealthReport> GetHealthAsync(CancellationToken cancellationToken = default)
    {
        var vectors = await index.GetAsync(cancellationToken).ConfigureAwait(false);
        var count = await vectors.CountAsync(cancellationToken).ConfigureAwait(false);
        var cold = metrics.ColdStart;
        CopySpaceReport? copyReport = null;
        if (copies is not null)
        {
            var copyVectors = await copies.Index.GetAsync(cancellationToken).ConfigureAwait(false);
            copyReport = new CopySpaceReport(copies.Encoder.Model.Id, await copyVectors.CountAsync(cancellationToken).ConfigureAwait(false));
        }

        return new HealthReport(encoder.Model.Id, encoder.Model.Dimension, vectors.Kind, count,
            new ColdStartReport(cold.InstanceId, cold.ProcessStart, cold.ModelLoadMilliseconds, cold.FirstInferenceMilliseconds, cold.Invocations),
            metrics.EmbeddingHealth.Snapshot()) { Copies = copyReport };
    }

    /// <summary>The space a query searches, with its encoder and index (see <see cref="SearchQuery.Space"/>).</summary>
    private (SearchSpace Space, IImageEncoder Encoder, VectorIndexAccessor Index) Resolve(SearchQuery query)
    {
        var space = query.Space ?? (query.Cutoff == CutoffMode.Auto && copies is not null ? SearchSpace.Copies : SearchSpace.Category);
        if (space == SearchSpace.Category) return (space, encoder, index);
        return copies is null ? throw new CopySpaceUnavailableException() : (space, copies.Encoder, copies.Index);
    }

    /// <summary>
    /// The items of a space nearest to the query's vector(s), uncut: one index search per vector, merged by item. In a
    /// space whose items carry detail regions the search is whole-first (<see cref="SearchOptions.RegionFallbackBelow"/>):
    /// the items' own vectors first, and their regions only when the best own score is below the threshold (those that beat
    /// it by <see cref="SearchOptions.RegionMargin"/>); then the two merged by item (the exact top k of the best of all its
    /// counted vectors, since each list is an exact top k). With a <paramref name="crop"/> view (docs/quality.md 7i) the whole
    /// views alone search the own vectors and decide; the regions are asked by the crop (and the whole views with
    /// <see cref="CropViewRegions.CropAndWhole"/>), the crop's regions counting when they beat
    /// <see cref="WholeFirst.MarginReference"/> by the crop's margin (<see cref="CropViewRule"/>).
    /// </summary>
    private async Task<IReadOnlyList<SearchHit>> SpaceQueryAsync(IVectorIndex vectors, IImageEncoder spaceEncoder, float[][] queryVectors, SearchQuery query, OwnerScope scope, string? excludeId, CancellationToken cancellationToken, float[]? crop = null)
    {
        var vectorQuery = query.ToVectorQuery(excludeId) with { Scope = scope };
        if (spaceEncoder.Model.DetailRegions is null)
            return await IndexQueriesAsync(vectors, queryVectors, vectorQuery, cancellationToken).ConfigureAwait(false);

        var threshold = _regionFallbackBelow;
        var (kept, bestOwn) = await OwnVectorsAsync(vectors, queryVectors, vectorQuery, threshold, cancellationToken).ConfigureAwait(false);
        var wholeAsks = WholeFirst.AsksRegions(bestOwn, threshold);
        if (crop is not null && wholeAsks && _cropView.Reference == CropViewMargin.CropOnly)
        {
            // No whole image is a copy: the crop answers alone, as a Crop query is answered (its own vectors, then its regions).
            var (cropKept, bestCropOwn) = await OwnVectorsAsync(vectors, [crop], vectorQuery, threshold, cancellationToken).ConfigureAwait(false);
            if (!WholeFirst.CropAsksRegions(wholeAsks, bestCropOwn, threshold, _cropView.Reference)) return cropKept;
            var cropRegions = await CountedRegionsAsync(vectors, [crop], vectorQuery with { Vectors = VectorSelection.Regions }, bestCropOwn, _cropView.Margin, cancellationToken).ConfigureAwait(false);
            Log.AskedRegions(logger, bestCropOwn, threshold, cropRegions.Count);
            return QueryViewSet.BestPerItem([cropKept, cropRegions], query.K);
        }

        var lists = new List<IReadOnlyList<SearchHit>> { kept };
        if (wholeAsks && WholeFirst.WholeAsksRegions(crop is not null, _cropView.Regions))
            lists.Add(await CountedRegionsAsync(vectors, queryVectors, vectorQuery with { Vectors = VectorSelection.Regions }, bestOwn, _options.RegionMargin, cancellationToken).ConfigureAwait(false));
        if (crop is not null && (wholeAsks || _cropView.Reference == CropViewMargin.CropOwn))
        {
            var bestCropOwn = float.NegativeInfinity;
            if (_cropView.Reference != CropViewMargin.WholeOwn)
            {
                // The crop's best own score, in the same scope and filter (one hit is all the reference needs).
                var cropOwn = await IndexQueriesAsync(vectors, [crop], vectorQuery with { Vectors = VectorSelection.Own, K = 1, MinScore = null }, cancellationToken).ConfigureAwait(false);
                bestCropOwn = cropOwn.Count > 0 ? cropOwn[0].Score : float.NegativeInfinity;
            }

            if (WholeFirst.CropAsksRegions(wholeAsks, bestCropOwn, threshold, _cropView.Reference))
                lists.Add(await CountedRegionsAsync(vectors, [crop], vectorQuery with { Vectors = _cropView.Own ? VectorSelection.All : VectorSelection.Regions },
                    WholeFirst.MarginReference(bestOwn, bestCropOwn, _cropView.Reference), _cropView.Margin, cancellationToken).ConfigureAwait(false));
        }

        if (lists.Count == 1) return kept;
        Log.AskedRegions(logger, bestOwn, threshold, lists.Skip(1).Sum(l => l.Count));
        return QueryViewSet.BestPerItem(lists, query.K);
    }

    /// <summary>
    /// The whole-first search's first step: the items' own vectors, asked down to <paramref name="threshold"/> even when minScore is
    /// above it (so the decision sees the best own score); the hits that meet minScore and that best score.
    /// </summary>
    private async Task<(IReadOnlyList<SearchHit> Kept, float Best)> OwnVectorsAsync(IVectorIndex vectors, float[][] queryVectors, VectorQuery vectorQuery, float threshold, CancellationToken cancellationToken)
    {
        var own = await IndexQueriesAsync(vectors, queryVectors,
            vectorQuery with { Vectors = VectorSelection.Own, MinScore = vectorQuery.MinScore is { } m ? Math.Min(m, threshold) : null }, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<SearchHit> kept = vectorQuery.MinScore is { } min ? [.. own.Where(h => h.Score >= min)] : own;
        return (kept, own.Count > 0 ? own[0].Score : float.NegativeInfinity);
    }

    /// <summary>
    /// The hits the query vectors find among <paramref name="vectorQuery"/>'s vectors (the regions; every vector for the crop with
    /// <see cref="CropViewRule.Own"/>), those that beat <paramref name="reference"/> by the margin (<see cref="WholeFirst.RegionCounts"/>).
    /// </summary>
    private async Task<IReadOnlyList<SearchHit>> CountedRegionsAsync(IVectorIndex vectors, float[][] queryVectors, VectorQuery vectorQuery, float reference, float margin, CancellationToken cancellationToken)
    {
        var regions = await IndexQueriesAsync(vectors, queryVectors, vectorQuery, cancellationToken).ConfigureAwait(false);
        return margin > 0 ? [.. regions.Where(h => WholeFirst.RegionCounts(h.Score, reference, margin))] : regions;
    }

    /// <summary>One index search per query vector (each scoped by the server and filtered as the query says), merged by item.</summary>
    private async Task<IReadOnlyList<SearchHit>> IndexQueriesAsync(IVectorIndex vectors, float[][] queryVectors, VectorQuery vectorQuery, CancellationToken cancellationToken)
    {
        var lists = new List<IReadOnlyList<SearchHit>>(queryVectors.Length);
        foreach (var vector in queryVectors)
        {
            using (metrics.Time("index.query"))
                lists.Add(await vectors.SearchAsync(vector, vectorQuery, cancellationToken).ConfigureAwait(false));
        }

        return lists.Count == 1 ? lists[0] : QueryViewSet.BestPerItem(lists, vectorQuery.K);
    }

    /// <summary>The results, cut where the scores fall away when the query asks for <see cref="CutoffMode.Auto"/>.</summary>
    private static IReadOnlyList<SearchHit> Cut(IReadOnlyList<SearchHit> hits, SearchQuery query)
    {
        if (query.Cutoff != CutoffMode.Auto || hits.Count <= 1) return hits;
        var scores = hits.Select(h => h.Score).ToArray();
        return [.. hits.Take(ResultCutoff.Auto(scores))];
    }
}
