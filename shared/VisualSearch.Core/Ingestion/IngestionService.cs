using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Diagnostics;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.Indexing;

namespace VisualSearch.Ingestion;

/// <summary>An image to index, described by where it lives.</summary>
public sealed record IngestRequest
{
    /// <summary>The record key (see <see cref="ItemIds"/>).</summary>
    public required string Id { get; init; }

    /// <summary>Container name, or "file".</summary>
    public required string Source { get; init; }

    /// <summary>Blob name or relative path.</summary>
    public required string Name { get; init; }

    /// <summary>Version tag of the source; an unchanged ETag is skipped without reading the content.</summary>
    public string? ETag { get; init; }

    /// <summary>Encoded length, if known before reading (checked against the byte limit first).</summary>
    public long? Length { get; init; }

    public DateTimeOffset? UploadedAt { get; init; }

    /// <summary>
    /// True when <see cref="UploadedAt"/> orders the versions of the source (Blob Storage's Last-Modified): an
    /// ingest of a version older than the stored record's is then skipped, so a slow ingest of an old version
    /// that finishes after a newer one never overwrites it. Off for files, whose modification time can go back.
    /// </summary>
    public bool SkipOlderVersions { get; init; }

    /// <summary>Client metadata; only <see cref="SearchFilter.TagFields"/> keys are kept (an "owner" key is dropped).</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>
    /// The record's owner, set by the server only: the signed-in caller, <c>vsearch index --owner</c>, or the
    /// <c>users/&lt;owner&gt;/</c> prefix of an upload's blob name (<see cref="OwnerIds.FromBlobName"/>); never client metadata.
    /// Null: a record of no one, visible only to <see cref="OwnerScope.Everyone"/>.
    /// </summary>
    public string? Owner { get; init; }
}

public enum IngestOutcome
{
    Indexed,
    Unchanged,
    Rejected,
}

/// <summary>What happened to one image.</summary>
public sealed record IngestResult(string Id, IngestOutcome Outcome, ImageRejectionReason? Reason = null, string? Detail = null);

/// <summary>
/// Decodes, embeds and upserts images; idempotent: the key derives from the source, and an unchanged
/// source (same ETag, or same content hash, and same model) is skipped. With a <see cref="CopySpace"/> (issue 14's
/// dual design) one decode feeds both encoders and the item is written to the copy space first, then to the category
/// index: an item counts as unchanged only when both hold it, so a failure between the two writes is repaired by the
/// next ingest of the source; a removal deletes the copy first, so a failure leaves the item findable by category
/// only until the retry, never by copy search alone.
/// </summary>
public sealed class IngestionService(
    IImageDecoder decoder,
    IImageEncoder encoder,
    VectorIndexAccessor index,
    IOptions<ImagingOptions> imagingOptions,
    VisualSearchMetrics metrics,
    TimeProvider time,
    ILogger<IngestionService> logger,
    DecodeGate? decodeGate = null,
    CopySpace? copies = null)
{
    private readonly DecodeGate _decodeGate = decodeGate ?? new DecodeGate(imagingOptions);

    /// <summary>Largest encoded image whose read buffer is pooled (8 MB: camera JPEGs); larger ones get an array of their own.</summary>
    internal const int PooledReadBytes = 8 * 1024 * 1024;

    // Read buffers, reused from image to image (a fresh 2.7 MB array per 12 MP photo was allocated, zeroed and page-faulted
    // each time): at most one kept per core and power-of-two size class, so what stays allocated is bounded (on two cores
    // 2 x (8 + 4 + 2 + ...) MB at worst, about 2 x 4 MB for camera photos). A buffer is rented by one ingest and given back
    // once when it is done (ImageBytes), never shared.
    private readonly ArrayPool<byte> _readBuffers = ArrayPool<byte>.Create(PooledReadBytes, Environment.ProcessorCount);

    /// <summary>Longest kept tag value (client metadata), in characters.</summary>
    public const int MaxTagLength = 128;

    // Writes of one id (the final compare-and-upsert, removals) never interleave within a process.
    private readonly SemaphoreSlim[] _writeLocks = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];

    /// <summary>Indexes one image; <paramref name="openContent"/> is called only if the content must be read.</summary>
    public async Task<IngestResult> IngestAsync(IngestRequest request, Func<CancellationToken, Task<Stream>> openContent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(openContent);
        ItemIds.Validate(request.Id, nameof(request));
        using var activity = VisualSearchMetrics.ActivitySource.StartActivity("ingest");
        activity?.SetTag("visualsearch.item_id", request.Id);
        var started = Stopwatch.GetTimestamp();

        var vectors = await index.GetAsync(cancellationToken).ConfigureAwait(false);
        var modelId = encoder.Model.Id;
        var existing = await vectors.GetAsync(request.Id, cancellationToken).ConfigureAwait(false);
        if (request.Owner is not null) OwnerIds.Validate(request.Owner);
        // A record of another owner (vsearch index --owner over an older index) is written again, never skipped.
        if (existing is not null && OwnerIds.OwnerOf(existing.Metadata) != request.Owner) existing = null;
        // The copy space must hold the same content too (a space switched on later, or a write that failed between the two).
        var copyVectors = copies is null ? null : await copies.Index.GetAsync(cancellationToken).ConfigureAwait(false);
        if (existing is not null && copyVectors is not null && !await HoldsCopyAsync(copyVectors, request.Id, existing.Metadata.ContentHash, request.Owner, cancellationToken).ConfigureAwait(false))
            existing = null;
        if (existing is not null && existing.Metadata.ModelId == modelId && request.ETag is not null && existing.Metadata.ETag == request.ETag)
            return Unchanged(request.Id);

        var limit = imagingOptions.Value.MaxBytes;
        ImageBytes encoded;
        try
        {
            BoundedRead.CheckLength(request.Length, limit);
            using (metrics.Time("blob.read"))
            {
                var stream = await openContent(cancellationToken).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                    encoded = await BoundedRead.ReadImageAsync(stream, request.Length, limit, _readBuffers, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (ImageRejectedException ex)
        {
            return Reject(request.Id, ex);
        }

        // The read buffer goes back to the pool when this ingest is done with it, whichever way it ends.
        using var encodedLease = encoded;
        var hash = Convert.ToHexStringLower(SHA256.HashData(encoded.Span));
        if (existing is not null && existing.Metadata.ModelId == modelId && existing.Metadata.ContentHash == hash)
        {
            if (existing.Metadata.ETag != request.ETag)
            {
                // Same bytes under a new version tag: keep the vector, remember the tag so the next check is cheap.
                // Re-read under the id's lock: never resurrect a record removed meanwhile, nor touch a newer one.
                var gate = WriteLock(request.Id);
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    var current = await vectors.GetAsync(request.Id, cancellationToken).ConfigureAwait(false);
                    if (current is not null && current.Metadata.ContentHash == hash && OwnerIds.OwnerOf(current.Metadata) == request.Owner && !IsStale(request, current))
                    {
                        var refreshed = current.Metadata with { ETag = request.ETag, UploadedAt = request.UploadedAt ?? current.Metadata.UploadedAt };
                        // The copy's metadata follows (filters on uploadedAt read it there too), before the record that says the work is done.
                        if (copyVectors is not null && await copyVectors.GetAsync(request.Id, cancellationToken).ConfigureAwait(false) is { } copy)
                            await copyVectors.UpsertAsync(copy with { Metadata = refreshed with { ModelId = copy.Metadata.ModelId } }, cancellationToken).ConfigureAwait(false);
                        await vectors.UpsertAsync(current with { Metadata = refreshed }, cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    gate.Release();
                }
            }

            return Unchanged(request.Id);
        }

        PreparedImage prepared;
        Embedding.Embedding embedding;
        Embedding.Embedding? copyEmbedding = null;
        using (await _decodeGate.EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            PreparedImage? preparedCopy = null;
            PreparedImage? preparedRegions = null;
            // The detail regions' larger whole image (issue 14): the copy encoder's when there is a copy space, else this encoder's.
            var regionEncoder = copies?.Encoder ?? encoder;
            try
            {
                using (metrics.Time("decode"))
                {
                    if (copies is null && regionEncoder.RegionInput is null)
                    {
                        prepared = decoder.Prepare(encoded.Span, encoder.Input);
                    }
                    else
                    {
                        // One decode for every input where it serves them: each exactly the pixels it would get alone.
                        List<ImageInput> wanted = [encoder.Input];
                        if (copies is not null) wanted.Add(copies.Encoder.Input);
                        if (regionEncoder.RegionInput is { } regionInput) wanted.Add(regionInput);
                        var inputs = decoder.PrepareInputs(encoded.Span, wanted);
                        prepared = inputs[0];
                        if (copies is not null) preparedCopy = inputs[1];
                        if (regionEncoder.RegionInput is not null) preparedRegions = inputs[^1];
                    }
                }
            }
            catch (ImageRejectedException ex)
            {
                return Reject(request.Id, ex);
            }

            using (metrics.Time("embed")) embedding = encoder.Embed(prepared, cancellationToken);
            if (preparedCopy is not null)
                using (metrics.Time("embed.copy")) copyEmbedding = copies!.Encoder.Embed(preparedCopy, cancellationToken);
            if (preparedRegions is not null)
            {
                using (metrics.Time("embed.regions"))
                {
                    var regions = regionEncoder.EmbedRegions(preparedRegions, cancellationToken);
                    if (copyEmbedding is { } c) copyEmbedding = c with { Regions = regions };
                    else embedding = embedding with { Regions = regions };
                }
            }
        }

        metrics.ObserveEmbedding(modelId, embedding.Vector, embedding.RawNorm);

        var now = time.GetUtcNow();
        var record = new VectorRecord(request.Id, embedding.Vector, new ItemMetadata
        {
            Source = request.Source,
            Name = request.Name,
            ETag = request.ETag,
            ContentHash = hash,
            Size = encoded.Length,
            ContentType = prepared.Format.ContentType(),
            Width = prepared.Width,
            Height = prepared.Height,
            UploadedAt = request.UploadedAt ?? now,
            IndexedAt = now,
            ModelId = modelId,
            Tags = CleanTags(request.Tags, request.Owner),
        })
        {
            // The encoder's region vectors (issue 14), when it makes them: the item is found by its best vector.
            Regions = embedding.Regions ?? [],
        };
        var writeLock = WriteLock(request.Id);
        await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Compare with what is stored now, not at the start: another ingest of this id may have finished meanwhile.
            var current = await vectors.GetAsync(request.Id, cancellationToken).ConfigureAwait(false);
            if (current is not null && IsStale(request, current))
            {
                metrics.RecordIngest("stale");
                Log.Stale(logger, request.Id, request.UploadedAt!.Value, current.Metadata.UploadedAt);
                return new IngestResult(request.Id, IngestOutcome.Unchanged, null, "A newer version is already indexed.");
            }

            using (metrics.Time("index.write"))
            {
                // The copy first: the category record is what marks the item done (see the class comment).
                if (copyVectors is not null && copyEmbedding is { } c)
                    await copyVectors.UpsertAsync(CopyRecord(record, c, copies!.Encoder.Model.Id), cancellationToken).ConfigureAwait(false);
                await vectors.UpsertAsync(record, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            writeLock.Release();
        }

        metrics.RecordIngest("indexed");
        Log.Indexed(logger, request.Id, prepared.Width, prepared.Height, encoded.Length, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return new IngestResult(request.Id, IngestOutcome.Indexed);
    }

    /// <summary>Indexes one image from a stream the caller owns.</summary>
    public Task<IngestResult> IngestAsync(IngestRequest request, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        return IngestAsync(request, _ => Task.FromResult<Stream>(new NonDisposingStream(content)), cancellationToken);
    }

    /// <summary>Removes the record of a deleted source. Returns false if there was none.</summary>
    public Task<bool> RemoveAsync(string id, CancellationToken cancellationToken = default) =>
        RemoveIfAsync(id, static _ => Task.FromResult(true), cancellationToken);

    /// <summary>
    /// Removes the record if <paramref name="sourceIsGone"/>, asked under the id's write lock, says the source no
    /// longer exists. A removal and an ingest of the same id then never interleave: a delete event that arrives
    /// after a re-upload was indexed (events out of order) finds the source present and removes nothing.
    /// Returns false if nothing was removed.
    /// </summary>
    public Task<bool> RemoveIfAsync(string id, Func<CancellationToken, Task<bool>> sourceIsGone, CancellationToken cancellationToken = default) =>
        RemoveIfAsync(id, source: null, sourceIsGone, cancellationToken);

    /// <summary>
    /// As <see cref="RemoveIfAsync(string, Func{CancellationToken, Task{bool}}, CancellationToken)"/>, but only a record
    /// that came from <paramref name="source"/> (its <see cref="ItemMetadata.Source"/>, e.g. the blob container): an
    /// event about a container never removes an item another source added under the same id.
    /// </summary>
    public async Task<bool> RemoveIfAsync(string id, string? source, Func<CancellationToken, Task<bool>> sourceIsGone, CancellationToken cancellationToken = default)
    {
        ItemIds.Validate(id);
        ArgumentNullException.ThrowIfNull(sourceIsGone);
        var vectors = await index.GetAsync(cancellationToken).ConfigureAwait(false);
        var gate = WriteLock(id);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (source is not null && await vectors.GetAsync(id, cancellationToken).ConfigureAwait(false) is { } stored
                && !string.Equals(stored.Metadata.Source, source, StringComparison.Ordinal))
            {
                Log.KeptOtherSource(logger, id, stored.Metadata.Source, source);
                return false;
            }

            if (!await sourceIsGone(cancellationToken).ConfigureAwait(false)) return false;
            // The copy first: a failure in between leaves the item in the category index, where a repeated removal finds it.
            var copyFound = copies is not null
                && await (await copies.Index.GetAsync(cancellationToken).ConfigureAwait(false)).DeleteAsync(id, cancellationToken).ConfigureAwait(false);
            var found = await vectors.DeleteAsync(id, cancellationToken).ConfigureAwait(false) | copyFound;
            Log.Removed(logger, id, found);
            return found;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The copy space holds <paramref name="id"/> with this content, owner and its own model.</summary>
    private async Task<bool> HoldsCopyAsync(IVectorIndex copyVectors, string id, string contentHash, string? owner, CancellationToken cancellationToken)
    {
        var copy = await copyVectors.GetAsync(id, cancellationToken).ConfigureAwait(false);
        return copy is not null && copy.Metadata.ModelId == copies!.Encoder.Model.Id && copy.Metadata.ContentHash == contentHash && OwnerIds.OwnerOf(copy.Metadata) == owner;
    }

    /// <summary>The item's record in the copy space: the same id and metadata (so scopes and filters apply alike), the copy model's vector.</summary>
    private static VectorRecord CopyRecord(VectorRecord record, Embedding.Embedding copy, string copyModelId) =>
        new(record.Id, copy.Vector, record.Metadata with { ModelId = copyModelId }) { Regions = copy.Regions ?? [] };

    /// <summary>The stored record is of a newer version than the request (only when the request's times order versions).</summary>
    private static bool IsStale(IngestRequest request, VectorRecord stored) =>
        request.SkipOlderVersions && request.UploadedAt is { } uploaded && stored.Metadata.UploadedAt > uploaded;

    private SemaphoreSlim WriteLock(string id) => _writeLocks[(StringComparer.Ordinal.GetHashCode(id) & int.MaxValue) % _writeLocks.Length];

    private static Dictionary<string, string> CleanTags(IReadOnlyDictionary<string, string>? tags, string? owner)
    {
        var clean = new Dictionary<string, string>(StringComparer.Ordinal);
        if (owner is not null) clean[OwnerIds.Field] = owner;
        if (tags is null) return clean;
        foreach (var (key, value) in tags)
        {
            var k = key.ToLowerInvariant();
            if (!SearchFilter.TagFields.Contains(k) || string.IsNullOrWhiteSpace(value)) continue;
            var v = value.Trim();
            if (v.Length > MaxTagLength || v.Any(char.IsControl)) continue;
            clean[k] = v;
        }

        return clean;
    }

    private IngestResult Unchanged(string id)
    {
        metrics.RecordIngest("unchanged");
        Log.Unchanged(logger, id);
        return new IngestResult(id, IngestOutcome.Unchanged);
    }

    private IngestResult Reject(string id, ImageRejectedException ex)
    {
        metrics.RecordIngest("rejected");
        metrics.RecordRejected(ex.Reason.ToString());
        Log.Rejected(logger, id, ex.Reason.ToString(), ex.Message);
        return new IngestResult(id, IngestOutcome.Rejected, ex.Reason, ex.Message);
    }

    private sealed class NonDisposingStream(Stream inner) : Stream
    {
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
