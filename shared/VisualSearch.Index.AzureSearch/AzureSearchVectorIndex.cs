using System.Runtime.CompilerServices;
using System.Text.Json;
using Azure;
using Azure.Search.Documents;
using Azure.Search.Documents.Indexes;
using Azure.Search.Documents.Indexes.Models;
using Azure.Search.Documents.Models;
using Microsoft.Extensions.Logging;
using VisualSearch.Indexing;
using SearchFilter = VisualSearch.Indexing.SearchFilter;
using VectorQuery = VisualSearch.Indexing.VectorQuery;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// One Azure AI Search index holding one model's vectors (a "version"; <see cref="AzureSearchIndexCatalog"/>
/// names them and keeps the pointer to the current one). <see cref="InitializeAsync"/> creates the index or
/// updates its definition when it lacks something, and refuses an index whose vectors have another dimension
/// or another model. Writes are batched (at most <see cref="AzureSearchOptions.BatchSize"/> documents and
/// <see cref="AzureSearchOptions.MaxBatchBytes"/> bytes a request): concurrent <see cref="UpsertAsync"/> calls
/// share requests (group commit), and each call completes only when its own document is stored. Requests
/// that fail with 429 or 503 are retried by the client pipeline, honouring Retry-After; documents refused
/// one by one with a retriable status (409, 422, 429, 503) are sent again; any other refusal fails the
/// caller with an <see cref="VectorIndexException"/> naming the ids. Nothing is dropped silently.
/// <para>
/// With regions on (<see cref="IndexSchema.Regions"/>, issue 14) an item is its own document and one per region
/// (<see cref="AzureSearchDocument.WithRegions"/>): an upsert first deletes the item's region documents it no longer
/// has, then stores all of its documents; a delete removes them all; a search asks for
/// <see cref="RegionOverfetch"/> times k documents (more, up to <see cref="MaxSearchDocuments"/>, while they hold fewer
/// than k items) and keeps each item's first (best) document; count counts the items' own documents. The service
/// has no transactions: an upsert that fails part-way can leave some of the item's new documents beside old ones
/// (the call fails; repeating it puts the item right).
/// </para>
/// </summary>
public sealed partial class AzureSearchVectorIndex : IVectorIndex, IVectorScan, IAsyncDisposable, IDisposable
{
    public const string BackendKind = "azure-search";

    /// <summary>Bytes a document adds to a batch beside its own JSON: the action and a comma.</summary>
    internal const int ActionOverhead = 32;

    /// <summary>Bytes of the batch envelope {"value":[...]}.</summary>
    internal const int EnvelopeOverhead = 16;

    /// <summary>Documents a search with regions asks for per item wanted, at first (an item has its own and about 8-15 regions').</summary>
    internal const int RegionOverfetch = 8;

    /// <summary>The most documents one search asks for (the service's page of results is at most 1,000).</summary>
    internal const int MaxSearchDocuments = 1000;

    /// <summary>Documents one page of a scan asks for (the service's largest page of results).</summary>
    internal const int ScanPage = 1000;

    /// <summary>The most region documents of one item read back or deleted.</summary>
    private const int MaxRegionsPerItem = 1000;

    private static readonly JsonSerializerOptions MeasureJson = new();
    private static readonly int[] RetriableDocumentStatuses = [409, 422, 429, 503];

    private readonly SearchIndexClient _indexClient;
    private readonly IndexDefinitionClient _definitions;
    private readonly SearchClient _client;
    private readonly AzureSearchOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _queueLock = new();
    private readonly Queue<Pending> _queue = new();
    private readonly CancellationTokenSource _stopping = new();
    private bool _flushing;
    private volatile IndexSchema? _schema;
    private VectorLayout? _layout;
    private bool _keySortable;

    public AzureSearchVectorIndex(SearchIndexClient indexClient, IndexDefinitionClient definitions, string indexName, AzureSearchOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(indexClient);
        ArgumentNullException.ThrowIfNull(definitions);
        ArgumentException.ThrowIfNullOrEmpty(indexName);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _indexClient = indexClient;
        _definitions = definitions;
        _options = options;
        _logger = logger;
        IndexName = indexName;
        _client = indexClient.GetSearchClient(indexName);
    }

    public string Kind => BackendKind;

    /// <summary>The Azure AI Search index name.</summary>
    public string IndexName { get; }

    /// <summary>How this index keeps its vectors (known after <see cref="InitializeAsync"/>).</summary>
    public VectorLayout? Layout => _layout;

    /// <summary>Where the index lives, for messages.</summary>
    public string Location => AzureSearchErrors.Location(IndexName, _indexClient.Endpoint);

    public async Task InitializeAsync(IndexSchema schema, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentOutOfRangeException.ThrowIfLessThan(schema.Dimension, 1);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_schema is { } open)
            {
                if (open with { Regions = schema.Regions } != schema) throw new IndexModelMismatchException(open.ModelId, schema.ModelId, Location);
                if (open.Regions != schema.Regions) throw new IndexRegionsMismatchException(open.Regions, schema.Regions, Location);
                return;
            }

            IndexDefinition? existing;
            try
            {
                existing = await _definitions.GetAsync(IndexName, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
            {
                throw Wrap(ex, "initialize");
            }

            if (existing is not null && AzureSearchSchema.DimensionOf(existing) is var dimension && dimension != schema.Dimension)
            {
                var other = await FindModelAsync(null, cancellationToken).ConfigureAwait(false);
                throw new IndexModelMismatchException(other ?? $"(unknown: vectors of {dimension?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no"} dimensions)", schema.ModelId, Location);
            }

            // The index's fields say whether it was made with regions: it is never filled with the other kind of item.
            if (existing is not null && AzureSearchSchema.HasRegions(existing) != schema.Regions)
                throw new IndexRegionsMismatchException(!schema.Regions, schema.Regions, Location);

            // An existing index keeps the vector storage it was built with (it cannot change in place); the options'
            // layout is for new versions, which vsearch reindex builds.
            var configured = VectorLayout.From(_options);
            VectorLayout layout;
            try
            {
                layout = existing is null ? configured : VectorLayout.Of(existing);
            }
            catch (NotSupportedException ex)
            {
                throw new VectorIndexException($"{Location}: {ex.Message}", BackendKind, IndexName, "initialize", retriable: false, null, ex);
            }

            if (layout != configured) LogLayoutKept(_logger, IndexName, layout.ToString(), configured.ToString());
            var wanted = AzureSearchSchema.VectorIndex(IndexName, schema.Dimension, _options, layout, existing, schema.Regions);
            if (existing is null || !AzureSearchSchema.Satisfies(existing, wanted))
            {
                try
                {
                    await _definitions.CreateOrUpdateAsync(wanted, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
                {
                    throw Wrap(ex, "initialize", hint: existing is null ? null
                        : " The existing index cannot take this definition (an algorithm setting that cannot change in place?): build a new index with vsearch reindex, or configure the settings it was made with.");
                }

                if (existing is null) LogCreated(_logger, IndexName, schema.ModelId, schema.Dimension, _options.Algorithm.ToString(), layout.ToString());
                else LogUpdated(_logger, IndexName);
            }

            if (existing is not null && await FindModelAsync(schema.ModelId, cancellationToken).ConfigureAwait(false) is { } foreign)
                throw new IndexModelMismatchException(foreign, schema.ModelId, Location);

            _layout = layout;
            _keySortable = existing is null || AzureSearchSchema.KeySortable(existing);
            _schema = schema;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stores one record (with its region documents); concurrent calls share indexing requests. Completes when all of them are stored.</summary>
    public async Task UpsertAsync(VectorRecord record, CancellationToken cancellationToken = default)
    {
        var documents = ToDocuments(record);
        cancellationToken.ThrowIfCancellationRequested();
        if (_schema!.Regions) await DeleteStaleRegionsAsync(record.Id, documents, cancellationToken).ConfigureAwait(false);
        var pending = documents.ConvertAll(d => new Pending(record.Id, d, Measure(d)));
        bool start;
        lock (_queueLock)
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            foreach (var p in pending) _queue.Enqueue(p);
            start = !_flushing;
            _flushing = true;
        }

        if (start) _ = Task.Run(FlushLoopAsync, CancellationToken.None);
        await Task.WhenAll(pending.Select(p => p.Done.Task)).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores many records in as few requests as the limits allow. Throws <see cref="VectorIndexException"/>
    /// naming every id that could not be stored (the others are stored).
    /// </summary>
    public async Task UpsertBatchAsync(IEnumerable<VectorRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        var pending = new List<Pending>();
        foreach (var record in records)
        {
            var documents = ToDocuments(record);
            if (_schema!.Regions) await DeleteStaleRegionsAsync(record.Id, documents, cancellationToken).ConfigureAwait(false);
            pending.AddRange(documents.Select(d => new Pending(record.Id, d, Measure(d))));
        }

        var failures = new List<(string Id, DocumentFailure Failure)>();
        foreach (var batch in PlanBatches(pending, _options.BatchSize, _options.MaxBatchBytes))
        {
            var failed = await IndexAsync(batch, cancellationToken).ConfigureAwait(false);
            failures.AddRange(batch.Where(p => failed.ContainsKey(p.Document.Key)).Select(p => (p.Id, failed[p.Document.Key])));
        }

        if (failures.Count > 0) throw BatchFailure([.. failures.DistinctBy(f => f.Id)], pending.DistinctBy(p => p.Id).Count());
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        RequireOpen();
        var key = DocumentKeys.Encode(id);
        var found = await LookupAsync(id, [AzureSearchSchema.Key, AzureSearchSchema.ItemId], cancellationToken).ConfigureAwait(false) is not null;
        // An item's region documents go with it (and any an earlier failed write left without it).
        var regions = _schema!.Regions ? (await RegionDocumentsAsync(id, [AzureSearchSchema.Key, AzureSearchSchema.ItemId], cancellationToken).ConfigureAwait(false)).ConvertAll(d => d.Key) : [];
        if (!found && regions.Count == 0) return false;
        await DeleteKeysAsync(id, found ? [key, .. regions] : regions, cancellationToken).ConfigureAwait(false);
        return found;
    }

    /// <summary>Deletes documents of the item <paramref name="id"/> by key; any refused fails the call.</summary>
    private async Task DeleteKeysAsync(string id, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        IndexDocumentsResult result;
        try
        {
            result = (await _client.DeleteDocumentsAsync(AzureSearchSchema.Key, keys, new IndexDocumentsOptions { ThrowOnAnyError = false }, cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, "delete");
        }

        var refused = keys.FirstOrDefault(k => result.Results.FirstOrDefault(r => r.Key == k) is not { Succeeded: true });
        if (refused is null) return;
        var outcome = result.Results.FirstOrDefault(r => r.Key == refused);
        throw new VectorIndexException(
            $"{Location}: deleting '{id}' failed ({outcome?.Status.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no result"}: {outcome?.ErrorMessage}).",
            BackendKind, IndexName, "delete", AzureSearchErrors.IsRetriable(outcome?.Status), [id]);
    }

    public async Task<VectorRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var schema = RequireOpen();
        var document = await LookupAsync(id, AzureSearchSchema.LookupFields(_layout!), cancellationToken).ConfigureAwait(false);
        if (document is null) return null;
        try
        {
            var record = document.ToRecord(schema.Dimension);
            if (!schema.Regions) return record;
            var regions = await RegionDocumentsAsync(id, [.. AzureSearchSchema.LookupFields(_layout!), .. AzureSearchSchema.RegionFields], cancellationToken).ConfigureAwait(false);
            return record with
            {
                Regions = [.. regions.OrderBy(r => DocumentKeys.RegionNumber(r.Key)).Select(r => new RegionVector(r.ToRecord(schema.Dimension).Vector, r.Region!.Value))],
            };
        }
        catch (FormatException ex)
        {
            throw new VectorIndexException($"{Location}: the vector copy of '{id}' cannot be read: {ex.Message}", BackendKind, IndexName, "get", retriable: false, [id], ex);
        }
    }

    /// <summary>
    /// The k best items, best first. With regions, items are collapsed from their documents: an item's first
    /// document in the service's order is its best vector (own or a region's), and later ones are skipped.
    /// <see cref="VectorQuery.Vectors"/> Own or Regions adds <c>isRegion eq false</c> or <c>true</c> to the filter.
    /// </summary>
    public async Task<IReadOnlyList<SearchHit>> SearchAsync(ReadOnlyMemory<float> vector, VectorQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var schema = RequireOpen();
        if (vector.Length != schema.Dimension)
            throw new ArgumentException($"The query vector has {vector.Length} dimensions; the index holds {schema.Dimension}.", nameof(vector));

        // Without regions every document is an item's own: Own is All, and no region can answer.
        if (!schema.Regions && query.Vectors == VectorSelection.Regions) return [];

        // The server's owner scope and the caller's filter (ODataFilter.ForQuery): region documents carry the item's
        // metadata, so both hold for them as for the item's own. The vectors asked for are a condition on isRegion
        // (filterable in every index made with regions), so Own needs no over-fetch: one document per item.
        var exclude = query.ExcludeId;
        var minScore = query.MinScore ?? float.NegativeInfinity;
        var collapse = schema.Regions && query.Vectors != VectorSelection.Own;
        var documents = collapse ? Math.Min(MaxSearchDocuments, Math.Max(query.K, query.K * RegionOverfetch)) : query.K;
        var kind = !schema.Regions || query.Vectors == VectorSelection.All ? null
            : $"{AzureSearchSchema.IsRegion} eq {(query.Vectors == VectorSelection.Regions ? "true" : "false")}";
        while (true)
        {
            var conditions = schema.Regions
                ? ODataFilter.ForQuery(query, excludeItemId: exclude)
                : ODataFilter.ForQuery(query, exclude is null ? null : DocumentKeys.Encode(exclude));
            var options = new SearchOptions
            {
                Filter = kind is null ? conditions : conditions is null ? kind : $"{conditions} and {kind}",
                Size = documents,
                VectorSearch = new VectorSearchOptions
                {
                    Queries = { new VectorizedQuery(vector) { KNearestNeighborsCount = documents, Fields = { AzureSearchSchema.Vector } } },
                    FilterMode = VectorFilterMode.PreFilter,
                },
            };
            foreach (var field in AzureSearchSchema.ResultFields(schema.Regions)) options.Select.Add(field);

            var hits = new List<SearchHit>(query.K);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var received = 0;
            var belowMinimum = false;
            try
            {
                var response = await _client.SearchAsync<AzureSearchDocument>(null, options, cancellationToken).ConfigureAwait(false);
                await foreach (var result in response.Value.GetResultsAsync().ConfigureAwait(false))
                {
                    received++;
                    var cosine = ToCosine(result.Score);
                    // The score travels as 1 / (2 - cosine); allow for the rounding of that round trip.
                    if (cosine < minScore - 1e-6f)
                    {
                        belowMinimum = true;
                        continue;
                    }

                    var id = result.Document.ItemId ?? "";
                    if (!seen.Add(id)) continue;
                    hits.Add(new SearchHit(id, cosine, result.Document.ToMetadata()) { Region = result.Document.Region });
                    if (hits.Count == query.K) break;
                }
            }
            catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
            {
                throw Wrap(ex, "search");
            }

            // Enough: k items, or the service has no more documents (or none more above MinScore), or the most one search takes.
            if (hits.Count == query.K || received < documents || belowMinimum || documents >= MaxSearchDocuments)
            {
                // Best first; equal scores by id, as the embedded index orders them.
                hits.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : string.CompareOrdinal(a.Id, b.Id));
                return hits;
            }

            documents = Math.Min(MaxSearchDocuments, documents * 4);
        }
    }

    /// <summary>
    /// Every item <paramref name="filter"/> admits, with its metadata (no vector), in key order: pages of
    /// <see cref="ScanPage"/> documents, <c>search=*</c> ordered by the key, each page continuing with
    /// <c>key gt</c> the last key of the one before (not <c>$skip</c>, which stops at 100,000). With regions on, only
    /// the items' own documents. An item written during the scan is listed if its key sorts after the page being
    /// read; a deleted one is not listed once its page is read. An index made before listing existed (its key is not
    /// sortable) cannot list, and says so.
    /// </summary>
    public async IAsyncEnumerable<IndexedItem> ScanAsync(SearchFilter? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var schema = RequireOpen();
        if (!_keySortable)
        {
            throw new Duplicates.DuplicateGroupingNotSupportedException(BackendKind,
                $"the Azure AI Search index '{IndexName}' was made before listing existed, and its key field is not sortable " +
                "(the service cannot change that in place). An index built by this release lists: vsearch reindex builds one when the model " +
                "or the vector storage changes; for the same ones, delete the index and run vsearch reindex.");
        }

        var conditions = ODataFilter.Build(filter);
        if (schema.Regions) conditions = conditions is null ? $"{AzureSearchSchema.IsRegion} eq false" : $"{conditions} and {AzureSearchSchema.IsRegion} eq false";
        string? after = null;
        var page = new List<IndexedItem>(ScanPage);
        while (true)
        {
            var continuation = after is null ? null : $"{AzureSearchSchema.Key} gt {ODataFilter.Literal(after)}";
            var options = new SearchOptions
            {
                Filter = conditions is null ? continuation : continuation is null ? conditions : $"{conditions} and {continuation}",
                Size = ScanPage,
                OrderBy = { $"{AzureSearchSchema.Key} asc" },
            };
            foreach (var field in AzureSearchSchema.MetadataFields) options.Select.Add(field);
            page.Clear();
            var received = 0;
            try
            {
                var response = await _client.SearchAsync<AzureSearchDocument>("*", options, cancellationToken).ConfigureAwait(false);
                await foreach (var result in response.Value.GetResultsAsync().ConfigureAwait(false))
                {
                    received++;
                    after = result.Document.Key;
                    if (!string.IsNullOrEmpty(result.Document.ItemId)) page.Add(new IndexedItem(result.Document.ItemId, result.Document.ToMetadata()));
                }
            }
            catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
            {
                throw Wrap(ex, "scan");
            }

            foreach (var item in page) yield return item;
            if (received < ScanPage) yield break;
        }
    }

    /// <summary>The items (with regions on, their own documents, not their regions').</summary>
    public async Task<long> CountAsync(CancellationToken cancellationToken = default)
    {
        var schema = RequireOpen();
        try
        {
            if (!schema.Regions) return (await _client.GetDocumentCountAsync(cancellationToken).ConfigureAwait(false)).Value;
            var options = new SearchOptions { Filter = $"{AzureSearchSchema.IsRegion} eq false", Size = 0, IncludeTotalCount = true };
            var response = await _client.SearchAsync<AzureSearchDocument>(null, options, cancellationToken).ConfigureAwait(false);
            return response.Value.TotalCount ?? throw new VectorIndexException($"{Location}: the service did not return the count asked for.", BackendKind, IndexName, "count", retriable: true);
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, "count");
        }
    }

    /// <summary>Cosine similarity from an Azure AI Search score for the cosine metric, defined as 1 / (1 + (1 - cosine)).</summary>
    public static float ToCosine(double? score) =>
        score is double s && s > 0 ? (float)Math.Clamp(2 - 1 / s, -1, 1) : -1f;

    /// <summary>
    /// Splits documents into indexing requests within the limits, keeping their order; a document whose key is
    /// already in the open batch starts a new one (two writes of one key never share a request).
    /// </summary>
    internal static IEnumerable<List<Pending>> PlanBatches(IReadOnlyList<Pending> documents, int maxCount, int maxBytes)
    {
        var batch = new List<Pending>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var bytes = EnvelopeOverhead;
        foreach (var document in documents)
        {
            var size = document.Bytes + ActionOverhead;
            if (size + EnvelopeOverhead > maxBytes)
                throw new ArgumentException($"The record '{document.Id}' is {document.Bytes} bytes as JSON; an indexing request takes at most {maxBytes}.");
            if (batch.Count > 0 && (batch.Count == maxCount || bytes + size > maxBytes || keys.Contains(document.Document.Key)))
            {
                yield return batch;
                batch = [];
                keys.Clear();
                bytes = EnvelopeOverhead;
            }

            batch.Add(document);
            keys.Add(document.Document.Key);
            bytes += size;
        }

        if (batch.Count > 0) yield return batch;
    }

    internal static int Measure(AzureSearchDocument document) => JsonSerializer.SerializeToUtf8Bytes(document, MeasureJson).Length;

    /// <summary>Deletes the Azure index itself (a version no longer needed).</summary>
    internal async Task DeleteIndexAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _indexClient.DeleteIndexAsync(IndexName, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, "delete-index");
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        List<Pending> abandoned;
        lock (_queueLock)
        {
            if (_stopping.IsCancellationRequested) return;
            _stopping.Cancel();
            abandoned = [.. _queue];
            _queue.Clear();
        }

        foreach (var pending in abandoned) pending.Done.TrySetException(new ObjectDisposedException(nameof(AzureSearchVectorIndex)));
    }

    private async Task FlushLoopAsync()
    {
        while (true)
        {
            List<Pending> batch;
            lock (_queueLock)
            {
                if (_queue.Count == 0)
                {
                    _flushing = false;
                    return;
                }

                batch = TakeBatch();
            }

            try
            {
                var failed = await IndexAsync(batch, _stopping.Token).ConfigureAwait(false);
                foreach (var pending in batch)
                {
                    if (failed.TryGetValue(pending.Document.Key, out var failure)) pending.Done.TrySetException(BatchFailure([(pending.Id, failure)], 1));
                    else pending.Done.TrySetResult();
                }
            }
            catch (Exception ex)
            {
                foreach (var pending in batch) pending.Done.TrySetException(ex);
            }
        }
    }

    /// <summary>The queued documents that fit one request (at least one). Called under the queue lock.</summary>
    private List<Pending> TakeBatch()
    {
        var batch = new List<Pending>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var bytes = EnvelopeOverhead;
        while (_queue.TryPeek(out var next))
        {
            var size = next.Bytes + ActionOverhead;
            if (batch.Count > 0 && (batch.Count == _options.BatchSize || bytes + size > _options.MaxBatchBytes || keys.Contains(next.Document.Key))) break;
            batch.Add(_queue.Dequeue());
            keys.Add(next.Document.Key);
            bytes += size;
        }

        return batch;
    }

    /// <summary>
    /// Sends one batch; documents refused with a retriable status are sent again with back-off. Returns the
    /// documents that could not be stored, by key. Request failures (after the pipeline's retries) throw.
    /// </summary>
    private async Task<Dictionary<string, DocumentFailure>> IndexAsync(IReadOnlyList<Pending> batch, CancellationToken cancellationToken)
    {
        var failed = new Dictionary<string, DocumentFailure>(StringComparer.Ordinal);
        IReadOnlyList<Pending> remaining = batch;
        for (var attempt = 0; ; attempt++)
        {
            IndexDocumentsResult result;
            try
            {
                var request = IndexDocumentsBatch.Upload(remaining.Select(p => p.Document));
                result = (await _client.IndexDocumentsAsync(request, new IndexDocumentsOptions { ThrowOnAnyError = false }, cancellationToken).ConfigureAwait(false)).Value;
            }
            catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
            {
                throw Wrap(ex, "upsert", remaining.Select(p => p.Id).ToList());
            }

            var outcomes = new Dictionary<string, IndexingResult>(StringComparer.Ordinal);
            foreach (var outcome in result.Results) outcomes[outcome.Key] = outcome;
            var retry = new List<Pending>();
            foreach (var pending in remaining)
            {
                if (!outcomes.TryGetValue(pending.Document.Key, out var outcome))
                    failed[pending.Document.Key] = new DocumentFailure(null, "the service returned no result for this document");
                else if (outcome.Succeeded)
                    failed.Remove(pending.Document.Key);
                else if (RetriableDocumentStatuses.Contains(outcome.Status) && attempt < _options.MaxRetries)
                    retry.Add(pending);
                else
                    failed[pending.Document.Key] = new DocumentFailure(outcome.Status, outcome.ErrorMessage);
            }

            if (retry.Count == 0) return failed;
            var delay = TimeSpan.FromTicks(Math.Min(_options.MaxRetryDelay.Ticks, _options.RetryDelay.Ticks << Math.Min(attempt, 16)));
            LogDocumentsRetried(_logger, IndexName, retry.Count, remaining.Count, delay.TotalMilliseconds);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            remaining = retry;
        }
    }

    private async Task<AzureSearchDocument?> LookupAsync(string id, IEnumerable<string> fields, CancellationToken cancellationToken)
    {
        var options = new GetDocumentOptions();
        foreach (var field in fields) options.SelectedFields.Add(field);
        try
        {
            var document = (await _client.GetDocumentAsync<AzureSearchDocument>(DocumentKeys.Encode(id), options, cancellationToken).ConfigureAwait(false)).Value;
            // A hashed key stands for a long id: make sure it is this one.
            return document.ItemId == id ? document : null;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, "get");
        }
    }

    /// <summary>The model id of some document (of another model than <paramref name="exceptModelId"/>, when given), or null.</summary>
    private async Task<string?> FindModelAsync(string? exceptModelId, CancellationToken cancellationToken)
    {
        var options = new SearchOptions
        {
            Filter = exceptModelId is null ? null : $"{AzureSearchSchema.ModelId} ne {ODataFilter.Literal(exceptModelId)}",
            Size = 1,
        };
        options.Select.Add(AzureSearchSchema.ModelId);
        try
        {
            var response = await _client.SearchAsync<AzureSearchDocument>(null, options, cancellationToken).ConfigureAwait(false);
            await foreach (var result in response.Value.GetResultsAsync().ConfigureAwait(false)) return result.Document.ModelId ?? "(none)";
            return null;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, "initialize");
        }
    }

    /// <summary>
    /// The region documents of the item <paramref name="id"/> (with <paramref name="fields"/>), at most
    /// <see cref="MaxRegionsPerItem"/>; found by the filterable item id, so any left by an earlier failed write are too.
    /// </summary>
    private async Task<List<AzureSearchDocument>> RegionDocumentsAsync(string id, IEnumerable<string> fields, CancellationToken cancellationToken)
    {
        var options = new SearchOptions
        {
            Filter = $"{AzureSearchSchema.ItemId} eq {ODataFilter.Literal(id)} and {AzureSearchSchema.IsRegion} eq true",
            Size = MaxRegionsPerItem,
        };
        foreach (var field in fields.Distinct(StringComparer.Ordinal)) options.Select.Add(field);
        var documents = new List<AzureSearchDocument>();
        try
        {
            var response = await _client.SearchAsync<AzureSearchDocument>(null, options, cancellationToken).ConfigureAwait(false);
            await foreach (var result in response.Value.GetResultsAsync().ConfigureAwait(false))
            {
                if (result.Document.ItemId == id) documents.Add(result.Document);
            }
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, "get");
        }

        return documents;
    }

    /// <summary>Deletes the region documents of <paramref name="id"/> that <paramref name="documents"/> (its new ones) do not replace.</summary>
    private async Task DeleteStaleRegionsAsync(string id, List<AzureSearchDocument> documents, CancellationToken cancellationToken)
    {
        var keep = documents.Select(d => d.Key).ToHashSet(StringComparer.Ordinal);
        var stale = (await RegionDocumentsAsync(id, [AzureSearchSchema.Key, AzureSearchSchema.ItemId], cancellationToken).ConfigureAwait(false))
            .Select(d => d.Key).Where(k => !keep.Contains(k)).ToList();
        if (stale.Count > 0) await DeleteKeysAsync(id, stale, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The documents of a record: its own, and with regions on one per region.</summary>
    private List<AzureSearchDocument> ToDocuments(VectorRecord record)
    {
        var document = ToDocument(record);
        var schema = _schema!;
        if (record.Regions.Count > 0 && !schema.Regions) throw new IndexRegionsMismatchException(indexRegions: false, configuredRegions: true, Location);
        if (!schema.Regions) return [document];
        foreach (var region in record.Regions)
        {
            if (region.Vector.Length != schema.Dimension)
                throw new ArgumentException($"A region vector of '{record.Id}' has {region.Vector.Length} dimensions; the index holds {schema.Dimension}.", nameof(record));
        }

        return AzureSearchDocument.WithRegions(record, withCopy: !_layout!.StoreOriginals);
    }

    private AzureSearchDocument ToDocument(VectorRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentException.ThrowIfNullOrEmpty(record.Id, nameof(record));
        var schema = RequireOpen();
        if (record.Vector.Length != schema.Dimension)
            throw new ArgumentException($"The vector has {record.Vector.Length} dimensions; the index holds {schema.Dimension}.", nameof(record));
        if (record.Metadata.ModelId != schema.ModelId)
            throw new IndexModelMismatchException(schema.ModelId, record.Metadata.ModelId, Location);
        return AzureSearchDocument.From(record, withCopy: !_layout!.StoreOriginals);
    }

    private IndexSchema RequireOpen()
    {
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        return _schema ?? throw new InvalidOperationException("The index is not initialised: call InitializeAsync with the model's schema first.");
    }

    private VectorIndexException BatchFailure(IReadOnlyList<(string Id, DocumentFailure Failure)> failures, int total)
    {
        var shown = string.Join("; ", failures.Take(10).Select(f =>
            $"'{f.Id}' ({f.Failure.Status?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no status"}: {f.Failure.Message})"));
        var more = failures.Count > 10 ? $" and {failures.Count - 10} more" : "";
        LogDocumentsFailed(_logger, IndexName, failures.Count, total);
        return new VectorIndexException(
            $"{Location}: {failures.Count} of {total} documents were not stored: {shown}{more}.",
            BackendKind, IndexName, "upsert", failures.All(f => AzureSearchErrors.IsRetriable(f.Failure.Status)), failures.Select(f => f.Id).ToList());
    }

    private VectorIndexException Wrap(Exception ex, string operation, IReadOnlyList<string>? ids = null, string? hint = null) =>
        AzureSearchErrors.Wrap(ex, Location, IndexName, operation, ids, hint);

    [LoggerMessage(400, LogLevel.Information, "Created Azure AI Search index {IndexName} for model {ModelId} ({Dimension} dimensions, {Algorithm}, {Layout})")]
    private static partial void LogCreated(ILogger logger, string indexName, string modelId, int dimension, string algorithm, string layout);

    [LoggerMessage(401, LogLevel.Information, "Updated the definition of Azure AI Search index {IndexName}")]
    private static partial void LogUpdated(ILogger logger, string indexName);

    [LoggerMessage(402, LogLevel.Warning, "Azure AI Search index {IndexName}: {Count} of {Total} documents refused with a retriable status; sending them again in {DelayMs} ms")]
    private static partial void LogDocumentsRetried(ILogger logger, string indexName, int count, int total, double delayMs);

    [LoggerMessage(404, LogLevel.Warning, "Azure AI Search index {IndexName} keeps the vector storage it was built with ({Layout}); the configured one ({Configured}) applies to a new version: run vsearch reindex to move to it")]
    private static partial void LogLayoutKept(ILogger logger, string indexName, string layout, string configured);

    [LoggerMessage(403, LogLevel.Error, "Azure AI Search index {IndexName}: {Count} of {Total} documents were not stored")]
    private static partial void LogDocumentsFailed(ILogger logger, string indexName, int count, int total);

    internal sealed record DocumentFailure(int? Status, string? Message);

    internal sealed class Pending(string id, AzureSearchDocument document, int bytes)
    {
        public string Id { get; } = id;

        public AzureSearchDocument Document { get; } = document;

        public int Bytes { get; } = bytes;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
