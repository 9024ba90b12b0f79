using System.Numerics.Tensors;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// Float32 copies of the items' own vectors alone, densely packed (one row per item, keyed by its slot), for an
/// exact search of <see cref="VectorSelection.Own"/> in an index with regions whose graph holds every vector: while
/// the items are fewer than <see cref="LocalIndexOptions.AnnThreshold"/> scoring each own vector costs less than asking
/// the graph of all vectors (59 per item) for enough candidates to keep k x overfetch own ones (issue 14: 3,540 at
/// 58 regions per item). Not saved: an open reads the own vectors from the log by offset. Not thread-safe for
/// writes: the index serialises <see cref="Set"/>, <see cref="Remove"/> and <see cref="Rename"/> against searches.
/// </summary>
internal sealed class OwnVectorRows
{
    private readonly Dictionary<int, int> _rowOfSlot = [];
    private float[] _vectors = [];
    private int[] _slots = [];

    public OwnVectorRows(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        Dimension = dimension;
    }

    public int Dimension { get; }

    /// <summary>Rows held: one per item.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes of the rows and their slot numbers.</summary>
    public long MemoryUsage => (long)_vectors.Length * sizeof(float) + (long)_slots.Length * sizeof(int) + (long)_rowOfSlot.Count * 12;

    /// <summary>The slots held, in row order.</summary>
    public ReadOnlySpan<int> Slots => _slots.AsSpan(0, Count);

    public bool Contains(int slot) => _rowOfSlot.ContainsKey(slot);

    /// <summary>A held slot's vector (a view of the row, valid until the next write).</summary>
    public ReadOnlySpan<float> Row(int slot) => _vectors.AsSpan(_rowOfSlot[slot] * Dimension, Dimension);

    /// <summary>Stores (or overwrites) the own vector of the item in <paramref name="slot"/>.</summary>
    public void Set(int slot, ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimension) throw new ArgumentException($"The vector has {vector.Length} dimensions; the rows hold {Dimension}.", nameof(vector));
        if (!_rowOfSlot.TryGetValue(slot, out var row))
        {
            row = Count++;
            if (row >= _slots.Length)
            {
                var capacity = Math.Max(1024, _slots.Length * 2);
                Array.Resize(ref _slots, capacity);
                Array.Resize(ref _vectors, capacity * Dimension);
            }

            _slots[row] = slot;
            _rowOfSlot[slot] = row;
        }

        vector.CopyTo(_vectors.AsSpan(row * Dimension, Dimension));
    }

    /// <summary>Drops the slot's row (the last row takes its place); false when the slot is not held (a region's, or free).</summary>
    public bool Remove(int slot)
    {
        if (!_rowOfSlot.Remove(slot, out var row)) return false;
        var last = --Count;
        if (row != last)
        {
            _vectors.AsSpan(last * Dimension, Dimension).CopyTo(_vectors.AsSpan(row * Dimension, Dimension));
            _slots[row] = _slots[last];
            _rowOfSlot[_slots[row]] = row;
        }

        return true;
    }

    /// <summary>The item in slot <paramref name="from"/> is now in <paramref name="to"/> (compaction's renumbering; <paramref name="to"/> is not held).</summary>
    public void Rename(int from, int to)
    {
        if (!_rowOfSlot.Remove(from, out var row)) return;
        _slots[row] = to;
        _rowOfSlot[to] = row;
    }

    /// <summary>
    /// The k best live items of <paramref name="records"/> by their own vector alone that pass the query's filter,
    /// exclusion and minimum score, best first (the query's <see cref="VectorQuery.Vectors"/> is taken to be
    /// <see cref="VectorSelection.Own"/>): every row is scored exactly, the filter checked on the item's metadata first.
    /// </summary>
    public IReadOnlyList<SearchHit> Search(ReadOnlySpan<float> q, VectorQuery query, SlotTable records, CancellationToken cancellationToken)
    {
        if (q.Length != Dimension) throw new ArgumentException($"The query has {q.Length} dimensions; the rows hold {Dimension}.", nameof(q));
        var dim = Dimension;
        var minScore = query.MinScore ?? float.NegativeInfinity;
        var conditioned = query.HasConditions;
        var top = new TopResults(query.K);
        var excluded = query.ExcludeId is not null && records.TryGetSlot(query.ExcludeId, out var excludedSlot) ? excludedSlot : -1;
        for (var row = 0; row < Count; row++)
        {
            if ((row & 4095) == 0) cancellationToken.ThrowIfCancellationRequested();
            var slot = _slots[row];
            if (slot == excluded || records.MetadataAt(slot) is not { } metadata) continue;
            if (conditioned && !query.Admits(metadata)) continue;
            var score = TensorPrimitives.Dot(q, _vectors.AsSpan(row * dim, dim));
            if (score < minScore) continue;
            top.Offer(slot, score, records.IdAt(slot)!);
        }

        return top.ToHits(records);
    }
}
