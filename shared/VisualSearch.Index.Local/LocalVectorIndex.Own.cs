using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// The search structure of the items' own vectors in an index with regions (issue 14), kept beside the graph of every
/// vector while the index is in graph mode. Whole-first search (<see cref="VectorSelection.Own"/> first) asked that
/// graph for thousands of candidates to keep k x overfetch own vectors among 59 per item; now it scores the own
/// vectors alone: exactly from float32 rows (<see cref="OwnVectorRows"/>) while the items are fewer than
/// <see cref="LocalIndexOptions.AnnThreshold"/>, and through a graph of them alone (<see cref="GraphLifecycle"/> of
/// <see cref="VectorSelection.Own"/>, own.usearch) from there on, saved, validated and rebuilt like the graph of all.
/// <see cref="VectorSelection.Regions"/> and <see cref="VectorSelection.All"/> keep the graph of all. Every write
/// that changes the graph of all changes this too, under the same write lock.
/// </summary>
public sealed partial class LocalVectorIndex
{
    private OwnVectorRows? _ownRows;
    private GraphLifecycle? _ownGraph;

    /// <summary>Whether own-vector searches have a structure of their own now (graph mode, an index with regions).</summary>
    private bool OwnApart => _ownRows is not null || _ownGraph is not null;

    /// <summary>Whether <paramref name="items"/> own vectors are enough for a graph of their own.</summary>
    private bool UseOwnGraph(int items) => UseGraph(items);

    /// <summary>
    /// Sets up the own vectors' structure once the graph of all is in place (<see cref="_graph"/>): in an index with
    /// regions, the rows (read from memory or the log) below the threshold, else the own graph saved at
    /// <paramref name="logLength"/> if it matches (<paramref name="tryLoad"/>) or one built from the vectors.
    /// </summary>
    private void EnableOwn(bool tryLoad, long logLength, CancellationToken cancellationToken)
    {
        DisposeOwn();
        if (_graph is null || !_schema!.Regions) return;
        var items = _records.Count;
        if (!UseOwnGraph(items))
        {
            var rows = new OwnVectorRows(_schema.Dimension);
            var buffer = new float[_schema.Dimension];
            foreach (var slot in OwnSlotsInOrder())
            {
                cancellationToken.ThrowIfCancellationRequested();
                ReadVector(slot, buffer);
                rows.Set(slot, buffer);
            }

            // An own graph saved when there were more items (or by a process with a lower threshold) is left on disk:
            // it is checked against the log before any use (length, count, keys), so it is loaded again only as saved.
            _ownRows = rows;
            return;
        }

        _ownGraph = (tryLoad ? GraphLifecycle.TryLoad(Directory, Settings, logLength, _records, _logger, kind: VectorSelection.Own) : null)
            ?? GraphLifecycle.Build(Directory, Settings, OwnSlotsInOrder(), ReadVector, BuildThreads, _options.AnnBuildCheck, _logger, cancellationToken, VectorSelection.Own);
    }

    /// <summary>The own graph saved at <paramref name="logLength"/>, when the items are enough for one and it matches (an open from the snapshot, before the replay).</summary>
    private void LoadOwnGraph(long logLength)
    {
        DisposeOwn();
        if (_graph is null || !_schema!.Regions || !UseOwnGraph(_records.Count)) return;
        _ownGraph = GraphLifecycle.TryLoad(Directory, Settings, logLength, _records, _logger, kind: VectorSelection.Own);
    }

    /// <summary>The live items' own slots, ascending (the log's order after a compaction, so reads go forwards).</summary>
    private int[] OwnSlotsInOrder()
    {
        var slots = _records.Slots.ToArray();
        Array.Sort(slots);
        return slots;
    }

    /// <summary>Adds (or replaces, when <paramref name="replace"/>) the own vector of the item in <paramref name="slot"/>; the rows become a graph at the threshold.</summary>
    private void OwnAdd(int slot, ReadOnlySpan<float> vector, bool replace)
    {
        if (_ownRows is { } rows)
        {
            rows.Set(slot, vector);
            if (!UseOwnGraph(rows.Count)) return;
            // Crossing the threshold: the graph of the rows in memory (saved when the index closes or the next graph save).
            var slots = rows.Slots.ToArray();
            _ownGraph = GraphLifecycle.Build(Directory, Settings, slots, (s, destination) => rows.Row(s).CopyTo(destination), BuildThreads, _options.AnnBuildCheck, _logger, CancellationToken.None, VectorSelection.Own);
            _ownRows = null;
            return;
        }

        if (_ownGraph is not { } graph) return;
        if (replace) graph.Remove(slot);
        graph.Add(slot, vector);
    }

    /// <summary>Takes a freed slot out (a region's slot is in neither structure).</summary>
    private void OwnRemove(int slot)
    {
        if (_ownRows is { } rows) rows.Remove(slot);
        else if (_ownGraph is { } graph && graph.Contains(slot)) graph.Remove(slot);
    }

    /// <summary>Compaction's renumbering, told of every live slot that moves (regions' too: those are in neither).</summary>
    private void OwnRename(int from, int to)
    {
        if (_ownRows is { } rows) rows.Rename(from, to);
        else if (_ownGraph is { } graph && graph.Contains(from)) graph.Rename(from, to);
    }

    private void DisposeOwn()
    {
        _ownGraph?.Dispose();
        _ownGraph = null;
        _ownRows = null;
    }

    /// <summary>A search of the items' own vectors on their own structure (<see cref="OwnApart"/>).</summary>
    private IReadOnlyList<SearchHit> SearchOwn(ReadOnlySpan<float> q, VectorQuery query, CancellationToken cancellationToken)
    {
        if (_ownRows is { } rows) return rows.Search(q, query, _records, cancellationToken);
        var plan = PlanOwn(query);
        return plan.Path == SearchPath.ExactScan
            ? GraphLifecycle.ScanMatching(q, query, _records, ReadLoggedVector, cancellationToken)
            : _ownGraph!.Search(q, query, _records, _options.AnnOverfetch, ReadLoggedVector, cancellationToken, plan.Fetch);
    }

    /// <summary>
    /// The plan of an own-vector search: the rows are always scanned (the share the filter admits estimated as the
    /// planner does); the own graph is planned like the graph of all, over the items alone (no thinning by kind), and
    /// left for the scan of the log only when <see cref="LocalIndexOptions.FilteredSearch"/> forces it.
    /// </summary>
    private SearchPlan PlanOwn(VectorQuery query)
    {
        var admits = query.HasConditions ? query.Admits : (Func<ItemMetadata, bool>?)null;
        if (_ownRows is not null || _options.FilteredSearch == FilteredSearchMode.Exact)
        {
            var share = admits is null ? 1.0 : FilterPlanner.EstimateShare(admits, _records.Used, _records.MetadataAt);
            return new SearchPlan(SearchPath.ExactScan, share, (long)Math.Round(share * _records.Count), 0);
        }

        return FilterPlanner.Plan(admits, _records.Used, _records.Count, _records.MetadataAt, query.K, _options.AnnOverfetch, GraphLifecycle.MaxCandidates, _options.FilteredSearch);
    }

    /// <summary>Bytes the own vectors' structure takes (0 when there is none).</summary>
    private long OwnMemoryUsage => _ownRows?.MemoryUsage ?? _ownGraph?.MemoryUsage ?? 0;

    private int BuildThreads => _options.AnnBuildThreads > 0 ? _options.AnnBuildThreads : Environment.ProcessorCount;
}
