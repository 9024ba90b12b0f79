using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Diagnostics;
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
/// <see cref="SearchOptions.QueryViewCombination"/> says; stored vectors are never affected.
/// </summary>
public sealed class SearchService(
    IImageDecoder decoder,
    IImageEncoder encoder,
    VectorIndexAccessor index,
    VisualSearchMetrics metrics,
    ILogger<SearchService> logger,
    DecodeGate? decodeGate = null,
    IOptions<SearchOptions>? options = null,
    CopySpace? copies = null)
{
    private readonly DecodeGate _decodeGate = decodeGate ?? new DecodeGate(Options.Create(new ImagingOptions()));
    private readonly SearchOptions _options = options?.Value ?? new SearchOptions();
    // Parsed once (validated at start by AddVisualSearchEngine; a bad list throws here for a service made by hand).
    private readonly IReadOnlyList<ImageView> _views = (options?.Value ?? new SearchOptions()).ParseViews();

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
        var embeddings = new List<Embedding.Embedding>(_views.Count);
        using (await _decodeGate.EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            IReadOnlyList<PreparedImage> prepared;
            using (metrics.Time("decode"))
                prepared = QueryViewSet.IsInputOnly(_views) ? [decoder.Prepare(image.Span, spaceEncoder.Input)] : decoder.PrepareViews(image.Span, spaceEncoder.Input, _views);
            using (metrics.Time("embed"))
                foreach (var view in prepared) embeddings.Add(spaceEncoder.Embed(view, cancellationToken));
        }

        // Drift telemetry watches what items are embedded from: the input view when there is one.
        var observed = embeddings[QueryViewSet.InputIndex(_views)];
        if (space == SearchSpace.Category) metrics.ObserveEmbedding(encoder.Model.Id, observed.Vector, observed.RawNorm);
        IReadOnlyList<SearchHit> hits;
        if (embeddings.Count == 1)
        {
            hits = await QueryAsync(vectors, embeddings[0].Vector, query, scope, null, cancellationToken).ConfigureAwait(false);
        }
        else if (_options.QueryViewCombination == QueryViewCombination.Mean)
        {
            hits = await QueryAsync(vectors, QueryViewSet.Mean([.. embeddings.Select(e => e.Vector)]), query, scope, null, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // One search per view, each through the index with the same query and the server's scope; merged by item.
            var lists = new List<IReadOnlyList<SearchHit>>(embeddings.Count);
            foreach (var e in embeddings) lists.Add(await IndexQueryAsync(vectors, e.Vector, query, scope, null, cancellationToken).ConfigureAwait(false));
            hits = Cut(QueryViewSet.BestPerItem(lists, query.K), query);
        }

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
        var hits = await QueryAsync(vectors, item.Vector, query, scope, id, cancellationToken).ConfigureAwait(false);
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

    private async Task<IReadOnlyList<SearchHit>> QueryAsync(IVectorIndex vectors, float[] vector, SearchQuery query, OwnerScope scope, string? excludeId, CancellationToken cancellationToken) =>
        Cut(await IndexQueryAsync(vectors, vector, query, scope, excludeId, cancellationToken).ConfigureAwait(false), query);

    /// <summary>One index search, scoped by the server (<paramref name="scope"/>) and filtered as the query says.</summary>
    private async Task<IReadOnlyList<SearchHit>> IndexQueryAsync(IVectorIndex vectors, float[] vector, SearchQuery query, OwnerScope scope, string? excludeId, CancellationToken cancellationToken)
    {
        using (metrics.Time("index.query"))
            return await vectors.SearchAsync(vector, query.ToVectorQuery(excludeId) with { Scope = scope }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The results, cut where the scores fall away when the query asks for <see cref="CutoffMode.Auto"/>.</summary>
    private static IReadOnlyList<SearchHit> Cut(IReadOnlyList<SearchHit> hits, SearchQuery query)
    {
        if (query.Cutoff != CutoffMode.Auto || hits.Count <= 1) return hits;
        var scores = hits.Select(h => h.Score).ToArray();
        return [.. hits.Take(ResultCutoff.Auto(scores))];
    }
}
