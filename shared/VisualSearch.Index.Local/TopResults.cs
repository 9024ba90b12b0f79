using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// The best k (score, id) pairs offered so far, by slot (one per item: the slot of its best vector), for the exact scan and the graph's re-rank alike. Ties
/// go to the smaller id (ordinal), so equal scores come out in the same order every time.
/// </summary>
internal sealed class TopResults(int k)
{
    private readonly PriorityQueue<int, (float Score, string Id)> _queue = new(k + 1, WorstFirst.Instance);

    public int Count => _queue.Count;

    public void Clear() => _queue.Clear();

    /// <summary>Keeps the pair if fewer than k are held or it beats the worst one held.</summary>
    public void Offer(int slot, float score, string id)
    {
        if (_queue.Count < k) _queue.Enqueue(slot, (score, id));
        else if (_queue.TryPeek(out _, out var worst) && WorstFirst.Instance.Compare((score, id), worst) > 0) _queue.EnqueueDequeue(slot, (score, id));
    }

    /// <summary>The held pairs as hits, best first, each with the region of its slot when that is a region's (the queue is emptied).</summary>
    public IReadOnlyList<SearchHit> ToHits(SlotTable records)
    {
        var hits = new List<SearchHit>(_queue.Count);
        while (_queue.TryDequeue(out var slot, out var key)) hits.Add(new SearchHit(key.Id, key.Score, records.MetadataAt(slot)!) { Region = records.BoxAt(slot) });
        hits.Reverse();
        return hits;
    }

    /// <summary>Orders (score, id) so the worst result is dequeued first: lower score, then the larger id.</summary>
    private sealed class WorstFirst : IComparer<(float Score, string Id)>
    {
        public static readonly WorstFirst Instance = new();

        public int Compare((float Score, string Id) x, (float Score, string Id) y)
        {
            var c = x.Score.CompareTo(y.Score);
            return c != 0 ? c : string.CompareOrdinal(y.Id, x.Id);
        }
    }
}
