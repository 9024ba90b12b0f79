using System.Numerics.Tensors;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// Exact cosine search over float32 copies of the vectors, one row of <see cref="Dimension"/> floats per slot
/// (the vectors are L2-normalised, so a dot product is the cosine; System.Numerics.Tensors). Used below
/// <see cref="LocalIndexOptions.AnnThreshold"/>; from it on the graph takes over and these copies are dropped.
/// Not thread-safe for writes: the index serialises <see cref="Set"/> and <see cref="Move"/> against searches.
/// </summary>
internal sealed class ExactScan
{
    private float[] _vectors = [];

    public ExactScan(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        Dimension = dimension;
    }

    public int Dimension { get; }

    /// <summary>The slot's vector (a view of the row, valid until the next write).</summary>
    public ReadOnlyMemory<float> Row(int slot) => _vectors.AsMemory(slot * Dimension, Dimension);

    public void Set(int slot, ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimension) throw new ArgumentException($"The vector has {vector.Length} dimensions; the scan holds {Dimension}.", nameof(vector));
        EnsureCapacity(slot + 1);
        vector.CopyTo(_vectors.AsSpan(slot * Dimension, Dimension));
    }

    /// <summary>Makes room for rows 0..<paramref name="slots"/>-1 at once (an open fills them all).</summary>
    public void Reserve(int slots) => EnsureCapacity(slots);

    /// <summary>Copies a row to another slot (compaction's renumbering).</summary>
    public void Move(int from, int to) => _vectors.AsSpan(from * Dimension, Dimension).CopyTo(_vectors.AsSpan(to * Dimension, Dimension));

    /// <summary>
    /// The k best live items of <paramref name="records"/> that pass the query's filter, exclusion and minimum
    /// score, best first; every live vector the query's <see cref="VectorQuery.Vectors"/> selects is scored and an item
    /// scores the best of those (its own and its regions', which follow its slot), so each item is offered once.
    /// </summary>
    public IReadOnlyList<SearchHit> Search(ReadOnlySpan<float> q, VectorQuery query, SlotTable records, CancellationToken cancellationToken)
    {
        var dim = Dimension;
        var minScore = query.MinScore ?? float.NegativeInfinity;
        var conditioned = query.HasConditions;
        var top = new TopResults(query.K);
        // The excluded item by slot: comparing every id string would read a million strings at 1M records.
        var excluded = query.ExcludeId is not null && records.TryGetSlot(query.ExcludeId, out var excludedSlot) ? excludedSlot : -1;
        for (var slot = 0; slot < records.Used; slot++)
        {
            var metadata = records.MetadataAt(slot);
            if (metadata is null) continue;
            if ((slot & 4095) == 0) cancellationToken.ThrowIfCancellationRequested();
            if (records.IsRegion(slot) || slot == excluded) continue;
            if (conditioned && !query.Admits(metadata)) continue;
            var (first, last) = records.VectorsOf(slot, query.Vectors);
            var (best, score) = (-1, float.NegativeInfinity);
            for (var vector = first; vector <= last; vector++)
            {
                var vectorScore = TensorPrimitives.Dot(q, _vectors.AsSpan(vector * dim, dim));
                if (vectorScore > score) (best, score) = (vector, vectorScore);
            }

            // No vector of the kind asked for (regions of an item without any), or below the minimum.
            if (best < 0 || score < minScore) continue;
            top.Offer(best, score, records.IdAt(slot)!);
        }

        return top.ToHits(records);
    }

    private void EnsureCapacity(int slots)
    {
        var rows = _vectors.Length / Dimension;
        if (slots <= rows) return;
        Array.Resize(ref _vectors, NextCapacity(rows, slots, Dimension) * Dimension);
    }

    /// <summary>
    /// The rows to grow to from <paramref name="rows"/> so that <paramref name="slots"/> fit: twice as many (at least 1,024),
    /// computed in 64 bits and capped at what one array of floats holds (<see cref="Array.MaxLength"/> / dimension: 4,194,303
    /// rows of 512), so that doubling past 2,097,152 rows of 512 no longer overflows into a negative size. More rows than one
    /// array holds is refused with a message that says what to do.
    /// </summary>
    internal static int NextCapacity(int rows, int slots, int dimension)
    {
        var maxRows = Array.MaxLength / dimension;
        if (slots > maxRows)
            throw new InvalidOperationException(
                $"The exact scan holds at most {maxRows:N0} vectors of {dimension} dimensions in memory and {slots:N0} are needed; " +
                "let the graph take over (LocalIndex:AnnThreshold above 0 and below that count).");
        return (int)Math.Min(maxRows, Math.Max(slots, Math.Max(1024L, rows * 2L)));
    }
}
