using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;

namespace VisualSearch.Duplicates;

/// <summary>The index cannot list its items (<see cref="IVectorScan"/>), so it cannot be grouped.</summary>
/// <param name="indexKind">The backend's <see cref="IVectorIndex.Kind"/>.</param>
/// <param name="reason">Why this index cannot list, and what would let it (null: the backend cannot list at all).</param>
public sealed class DuplicateGroupingNotSupportedException(string indexKind, string? reason = null)
    : NotSupportedException(reason is null
        ? $"The '{indexKind}' index cannot list its items, so duplicate groups are not available with it."
        : $"The '{indexKind}' index cannot list its items, so duplicate groups are not available with it: {reason}")
{
    public string IndexKind { get; } = indexKind;
}

/// <summary>
/// Near-duplicate groups over the index, and the user's decisions about them. The self-join
/// (<see cref="DuplicateFinder"/>) is incremental: the pairs found are kept per scope, and the next grouping queries
/// only the items added or changed since (by content hash) and drops the pairs of items that are gone; a lower
/// threshold than the pairs were found at starts over. Every grouping applies the not-duplicates decisions.
/// Every call takes an <see cref="OwnerScope"/> set by the server: both sides of every pair lie inside it, decisions
/// name only items inside it (others answer as unknown ids), are stored with its owner and apply to its groups.
/// With a <see cref="CopySpace"/> (issue 14's dual design) the groups are made in it, at <see cref="DuplicateOptions.CopyMinScore"/>.
/// </summary>
public sealed partial class DuplicateService(
    VectorIndexAccessor index,
    IngestionService ingestion,
    IEnumerable<IImageStore> stores,
    DuplicateDecisionStore decisions,
    IOptions<DuplicateOptions> options,
    ILogger<DuplicateService> logger,
    CopySpace? copies = null)
{
    // The vectors pairs are found in: the copy space's when there is one.
    private readonly VectorIndexAccessor _index = copies?.Index ?? index;
    private readonly bool _inCopySpace = copies is not null;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, JoinState> _states = new(StringComparer.Ordinal);
    private readonly IImageStore[] _stores = [.. stores];

    /// <summary>The threshold used when a query names none: the copy space's own when the groups are made there.</summary>
    public float DefaultMinScore => _inCopySpace ? options.Value.CopyMinScore : options.Value.MinScore;

    /// <summary>Where the last grouping's time went (null before the first).</summary>
    public DuplicateGroupingTimings? LastTimings { get; private set; }

    /// <summary>A page of groups, largest first.</summary>
    public async Task<DuplicateGroupsPage> GetGroupsAsync(DuplicateQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.Limit, DuplicateQuery.MaxLimit);
        ArgumentOutOfRangeException.ThrowIfNegative(query.Offset);
        var minScore = query.MinScore ?? DefaultMinScore;
        if (!float.IsFinite(minScore) || minScore < -1 || minScore > 1)
            throw new ArgumentOutOfRangeException(nameof(query), minScore, "minScore is a cosine similarity between -1 and 1.");

        var groups = await GroupAllAsync(minScore, query.Scope, cancellationToken).ConfigureAwait(false);
        var page = groups.Skip(query.Offset).Take(query.Limit).ToList();
        var next = query.Offset + page.Count < groups.Count ? (query.Offset + page.Count).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        return new DuplicateGroupsPage(minScore, groups.Count, page, next);
    }

    /// <summary>
    /// Records that two items are not copies: they never share a group again in <paramref name="scope"/> (nor in
    /// everyone's view). False if already recorded; null when either item is unknown or outside the scope (the two
    /// read alike), and nothing is recorded.
    /// </summary>
    public async Task<bool?> MarkNotDuplicatesAsync(string a, string b, OwnerScope? scope = null, CancellationToken cancellationToken = default)
    {
        ItemIds.Validate(a);
        ItemIds.Validate(b);
        if (a == b) throw new ArgumentException("A not-duplicates decision names two different items.", nameof(b));
        scope ??= OwnerScope.Everyone;
        var vectors = await _index.GetAsync(cancellationToken).ConfigureAwait(false);
        if (!await AllVisibleAsync(vectors, [a, b], scope, cancellationToken).ConfigureAwait(false)) return null;
        var added = await decisions.SeparateAsync(a, b, scope.Owner, cancellationToken).ConfigureAwait(false);
        LogSeparated(logger, a, b);
        return added;
    }

    /// <summary>
    /// Records that <paramref name="keep"/> is the one to keep among <paramref name="others"/>; with
    /// <paramref name="deleteOthers"/> deletes each other item at its source (the blob or file, through a
    /// <see cref="IDeletableImageStore"/>) and then its record, as a delete event would. Only items that share the
    /// kept item's group now in <paramref name="scope"/> (default threshold, decisions applied) are deleted. Null, with
    /// nothing recorded or deleted, when <paramref name="keep"/> or any other item is unknown or outside the scope.
    /// </summary>
    public async Task<KeepOutcome?> KeepAsync(string keep, IReadOnlyList<string> others, bool deleteOthers, OwnerScope? scope = null, CancellationToken cancellationToken = default)
    {
        ItemIds.Validate(keep);
        ArgumentNullException.ThrowIfNull(others);
        foreach (var other in others) ItemIds.Validate(other);
        scope ??= OwnerScope.Everyone;
        var vectors = await _index.GetAsync(cancellationToken).ConfigureAwait(false);
        var distinct = others.Where(o => o != keep).Distinct(StringComparer.Ordinal).ToList();
        if (!await AllVisibleAsync(vectors, [keep, .. distinct], scope, cancellationToken).ConfigureAwait(false)) return null;
        await decisions.KeepAsync(keep, distinct, scope.Owner, cancellationToken).ConfigureAwait(false);
        if (!deleteOthers) return new KeepOutcome(keep, [.. distinct.Select(id => new RemovedItem(id, false, false))]);

        var groups = await GroupAllAsync(DefaultMinScore, scope, cancellationToken).ConfigureAwait(false);
        var group = groups.FirstOrDefault(g => g.Items.Contains(keep, StringComparer.Ordinal));
        var results = new List<RemovedItem>(distinct.Count);
        foreach (var id in distinct)
        {
            if (group is null || !group.Items.Contains(id, StringComparer.Ordinal))
            {
                results.Add(new RemovedItem(id, false, false, "Not in the kept item's group now; nothing deleted."));
                continue;
            }

            results.Add(await DeleteAsync(vectors, id, scope, cancellationToken).ConfigureAwait(false));
        }

        return new KeepOutcome(keep, results);
    }

    /// <summary>Every id is indexed and inside the scope; each is read by key, so an unknown id and another owner's cost alike.</summary>
    private static async Task<bool> AllVisibleAsync(IVectorIndex vectors, IReadOnlyList<string> ids, OwnerScope scope, CancellationToken cancellationToken)
    {
        var visible = true;
        foreach (var id in ids)
            visible &= await vectors.GetAsync(id, scope, cancellationToken).ConfigureAwait(false) is not null;
        return visible;
    }

    private async Task<RemovedItem> DeleteAsync(IVectorIndex vectors, string id, OwnerScope scope, CancellationToken cancellationToken)
    {
        var record = await vectors.GetAsync(id, scope, cancellationToken).ConfigureAwait(false);
        if (record is null) return new RemovedItem(id, false, false, "Not indexed.");
        var deleted = false;
        foreach (var store in _stores.OfType<IDeletableImageStore>())
        {
            if (await store.DeleteAsync(record.Metadata, cancellationToken).ConfigureAwait(false))
            {
                deleted = true;
                break;
            }
        }

        if (!deleted) return new RemovedItem(id, false, false, "No store of this host holds its source; nothing deleted.");
        // The source is gone: remove the record as the delete event would (it finds nothing left to do).
        var removed = await ingestion.RemoveIfAsync(id, async ct => !await SourceExistsAsync(record.Metadata, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        LogDeleted(logger, id, removed);
        return new RemovedItem(id, true, removed);
    }

    private async Task<bool> SourceExistsAsync(ItemMetadata item, CancellationToken cancellationToken)
    {
        foreach (var store in _stores)
        {
            var stream = await store.OpenReadAsync(item, cancellationToken).ConfigureAwait(false);
            if (stream is null) continue;
            await stream.DisposeAsync().ConfigureAwait(false);
            return true;
        }

        return false;
    }

    private async Task<IReadOnlyList<DuplicateGroup>> GroupAllAsync(float minScore, OwnerScope? scope, CancellationToken cancellationToken)
    {
        scope ??= OwnerScope.Everyone;
        var vectors = await _index.GetAsync(cancellationToken).ConfigureAwait(false);
        if (vectors is not IVectorScan scan) throw new DuplicateGroupingNotSupportedException(vectors.Kind);
        var started = Stopwatch.GetTimestamp();
        var items = new List<GroupingItem>();
        await foreach (var item in scan.ScanAsync(scope.Restrict(null), cancellationToken).ConfigureAwait(false))
            items.Add(new GroupingItem(item.Id, item.Metadata.ContentHash));
        var scanned = Stopwatch.GetTimestamp();

        IReadOnlyCollection<DuplicatePair> pairs;
        int queried;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var key = scope.Owner ?? "";
            if (!_states.TryGetValue(key, out var state) || state.Floor > minScore)
                _states[key] = state = new JoinState(Math.Min(minScore, DefaultMinScore));
            queried = await state.UpdateAsync(vectors, items, options.Value, scope, cancellationToken).ConfigureAwait(false);
            pairs = [.. state.Pairs.Values];
        }
        finally
        {
            _gate.Release();
        }

        var joined = Stopwatch.GetTimestamp();
        var separated = await decisions.GetSeparatedAsync(scope.Owner, cancellationToken).ConfigureAwait(false);
        var groups = DuplicateGrouping.Group(items, pairs, minScore, separated, options.Value.Linkage);
        var timings = new DuplicateGroupingTimings(items.Count, queried, groups.Count,
            Stopwatch.GetElapsedTime(started, scanned), Stopwatch.GetElapsedTime(scanned, joined), Stopwatch.GetElapsedTime(joined));
        LastTimings = timings;
        LogGrouped(logger, items.Count, queried, groups.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            timings.Scan.TotalMilliseconds, timings.Join.TotalMilliseconds, timings.Group.TotalMilliseconds);
        return groups;
    }

    /// <summary>The pairs found so far in one scope, at or above <see cref="Floor"/>, and the content hash each item had then.</summary>
    private sealed class JoinState(float floor)
    {
        public float Floor { get; } = floor;

        public Dictionary<string, string> Hashes { get; private set; } = new(StringComparer.Ordinal);

        public Dictionary<(string, string), DuplicatePair> Pairs { get; } = [];

        /// <summary>Queries the items that are new or changed since the last update; returns how many.</summary>
        public async Task<int> UpdateAsync(IVectorIndex vectors, IReadOnlyList<GroupingItem> items, DuplicateOptions options, OwnerScope scope, CancellationToken cancellationToken)
        {
            var current = new Dictionary<string, string>(items.Count, StringComparer.Ordinal);
            foreach (var item in items) current[item.Id] = item.ContentHash;
            var changed = current.Where(c => !Hashes.TryGetValue(c.Key, out var h) || h != c.Value).Select(c => c.Key).ToList();
            var stale = new HashSet<string>(changed, StringComparer.Ordinal);
            foreach (var id in Hashes.Keys) if (!current.ContainsKey(id)) stale.Add(id);
            if (stale.Count > 0)
                foreach (var key in Pairs.Keys.Where(k => stale.Contains(k.Item1) || stale.Contains(k.Item2)).ToList())
                    Pairs.Remove(key);

            var found = await DuplicateFinder.FindNearPairsAsync(vectors, changed, Floor, options.Neighbours, scope, options.Parallelism, cancellationToken).ConfigureAwait(false);
            foreach (var pair in found)
            {
                if (!current.ContainsKey(pair.A) || !current.ContainsKey(pair.B)) continue;
                Pairs[(pair.A, pair.B)] = pair;
            }

            Hashes = current;
            return changed.Count;
        }
    }

    [LoggerMessage(1700, LogLevel.Information, "Grouped {Items} items ({Queried} queried in the self-join): {Groups} groups in {Milliseconds:F0} ms (list {ScanMs:F0}, self-join {JoinMs:F0}, union-find {GroupMs:F0})")]
    private static partial void LogGrouped(ILogger logger, int items, int queried, int groups, double milliseconds, double scanMs, double joinMs, double groupMs);

    [LoggerMessage(1701, LogLevel.Information, "Marked {A} and {B} not duplicates")]
    private static partial void LogSeparated(ILogger logger, string a, string b);

    [LoggerMessage(1702, LogLevel.Information, "Deleted the source of duplicate {Id} (record removed: {Removed})")]
    private static partial void LogDeleted(ILogger logger, string id, bool removed);
}
