using System.Text.Json;
using Azure;
using Azure.Search.Documents;
using Azure.Search.Documents.Indexes;
using Azure.Search.Documents.Indexes.Models;
using Azure.Search.Documents.Models;
using Microsoft.Extensions.Logging;
using VisualSearch.Indexing;
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
/// </summary>
public sealed partial class AzureSearchVectorIndex : IVectorIndex, IAsyncDisposable, IDisposable
{
    public const string BackendKind = "azure-search";

    /// <summary>Bytes a document adds to a batch beside its own JSON: the action and a comma.</summary>
    internal const int ActionOverhead = 32;

    /// <summary>Bytes of the batch envelope {"value":[...]}.</summary>
    internal const int EnvelopeOverhead = 16;

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
                if (open != schema) throw new IndexModelMismatchException(open.ModelId, schema.ModelId, Location);
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
            var wanted = AzureSearchSchema.VectorIndex(IndexName, schema.Dimension, _options, layout, existing);
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
            _schema = schema;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stores one record; concurrent calls share indexing requests. Completes when this record is stored.</summary>
    public async Task UpsertAsync(VectorRecord record, CancellationToken cancellationToken = default)
    {
        var document = ToDocument(record);
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new Pending(record.Id, document, Measure(document));
        bool start;
        lock (_queueLock)
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            _queue.Enqueue(pending);
            start = !_flushing;
            _flushing = true;
        }

        if (start) _ = Task.Run(FlushLoopAsync, CancellationToken.None);
        await pending.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores many records in as few requests as the limits allow. Throws <see cref="VectorIndexException"/>
    /// naming every id that could not be stored (the others are stored).
    /// </summary>
    public async Task UpsertBatchAsync(IEnumerable<VectorRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        var pending = records.Select(r => { var d = ToDocument(r); return new Pending(r.Id, d, Measure(d)); }).ToList();
        var failures = new List<(string Id, DocumentFailure Failure)>();
        foreach (var batch in PlanBatches(pending, _options.BatchSize, _options.MaxBatchBytes))
        {
            var failed = await IndexAsync(batch, cancellationToken).ConfigureAwait(false);
            failures.AddRange(batch.Where(p => failed.ContainsKey(p.Document.Key)).Select(p => (p.Id, failed[p.Document.Key])));
        }

        if (failures.Count > 0) throw BatchFailure(failures, pending.Count);
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        RequireOpen();
        var key = DocumentKeys.Encode(id);
        if (await LookupAsync(id, [AzureSearchSchema.Key, AzureSearchSchema.ItemId], cancellationToken).ConfigureAwait(false) is null) return false;
        IndexDocumentsResult result;
        try
        {
            result = (await _client.DeleteDocumentsAsync(AzureSearchSchema.Key, [key], new IndexDocumentsOptions { ThrowOnAnyError = false }, cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, "delete");
        }

        var outcome = result.Results.FirstOrDefault(r => r.Key == key);
        if (outcome is { Succeeded: true }) return true;
        throw new VectorIndexException(
            $"{Location}: deleting '{id}' failed ({outcome?.Status.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no result"}: {outcome?.ErrorMessage}).",
            BackendKind, IndexName, "delete", AzureSearchErrors.IsRetriable(outcome?.Status), [id]);
    }

    public async Task<VectorRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var schema = RequireOpen();
        var document = await LookupAsync(id, AzureSearchSchema.LookupFields(_layout!), cancellationToken).ConfigureAwait(false);
        try
        {
            return document?.ToRecord(schema.Dimension);
        }
        catch (FormatException ex)
        {
            throw new VectorIndexException($"{Location}: the vector copy of '{id}' cannot be read: {ex.Message}", BackendKind, IndexName, "get", retriable: false, [id], ex);
        }
    }

    public async Task<IReadOnlyList<SearchHit>> SearchAsync(ReadOnlyMemory<float> vector, VectorQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var schema = RequireOpen();
        if (vector.Length != schema.Dimension)
            throw new ArgumentException($"The query vector has {vector.Length} dimensions; the index holds {schema.Dimension}.", nameof(vector));

        var options = new SearchOptions
        {
            Filter = ODataFilter.ForQuery(query, query.ExcludeId is null ? null : DocumentKeys.Encode(query.ExcludeId)),
            Size = query.K,
            VectorSearch = new VectorSearchOptions
            {
                Queries = { new VectorizedQuery(vector) { KNearestNeighborsCount = query.K, Fields = { AzureSearchSchema.Vector } } },
                FilterMode = VectorFilterMode.PreFilter,
            },
        };
        foreach (var field in AzureSearchSchema.MetadataFields) options.Select.Add(field);

        var minScore = query.MinScore ?? float.NegativeInfinity;
        var hits = new List<SearchHit>(query.K);
        try
        {
            var response = await _client.SearchAsync<AzureSearchDocument>(null, options, cancellationToken).ConfigureAwait(false);
            await foreach (var result in response.Value.GetResultsAsync().ConfigureAwait(false))
            {
                var cosine = ToCosine(result.Score);
                // The score travels as 1 / (2 - cosine); allow for the rounding of that round trip.
                if (cosine < minScore - 1e-6f) continue;
                hits.Add(new SearchHit(result.Document.ItemId ?? "", cosine, result.Document.ToMetadata()));
                if (hits.Count == query.K) break;
            }
        }
        catch (Exception ex) when (AzureSearchErrors.IsServiceFailure(ex, cancellationToken))
        {
            throw Wrap(ex, "search");
        }

        // Best first; equal scores by id, as the embedded index orders them.
        hits.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : string.CompareOrdinal(a.Id, b.Id));
        return hits;
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken = default)
    {
        RequireOpen();
        try
        {
            return (await _client.GetDocumentCountAsync(cancellationToken).ConfigureAwait(false)).Value;
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
