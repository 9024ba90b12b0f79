using System.Runtime.CompilerServices;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

public sealed partial class LocalVectorIndex : IVectorScan
{
    private const int ScanPage = 1024;

    /// <summary>
    /// Lists live items (never their region vectors) a page of slots at a time under the read lock (never held across a
    /// yield), so writers interleave; an item written during the scan may or may not be listed, a deleted one is skipped.
    /// </summary>
    public async IAsyncEnumerable<IndexedItem> ScanAsync(SearchFilter? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var scope = filter is { IsEmpty: false } f ? f : null;
        var page = new List<IndexedItem>(ScanPage);
        for (var start = 0; ; start += ScanPage)
        {
            cancellationToken.ThrowIfCancellationRequested();
            page.Clear();
            bool more;
            _lock.EnterReadLock();
            try
            {
                RequireOpen();
                var used = _records.Used;
                var end = Math.Min(used, start + ScanPage);
                for (var slot = start; slot < end; slot++)
                {
                    // An item by its own slot only: its region vectors' slots carry its id too.
                    if (_records.IsRegion(slot) || _records.MetadataAt(slot) is not { } metadata || _records.IdAt(slot) is not { } id) continue;
                    if (scope is null || scope.Matches(metadata)) page.Add(new IndexedItem(id, metadata));
                }

                more = end < used;
            }
            finally
            {
                _lock.ExitReadLock();
            }

            foreach (var item in page) yield return item;
            if (!more) yield break;
            await Task.Yield();
        }
    }
}
