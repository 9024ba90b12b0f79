using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// The records in memory by slot. A slot is a record's number: its row in the <see cref="ExactScan"/>, its key in
/// the graph, the place of its id, metadata and log offset here. A deleted record's slot goes to the next new
/// record; <see cref="Renumber"/> (after a compaction) numbers the live records 0..n-1 in slot order, which is the
/// numbering a replay of the compacted log gives. Not thread-safe: the index serialises writes against reads.
/// </summary>
internal sealed class SlotTable
{
    private Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly Stack<int> _free = new();
    private ItemMetadata?[] _metadata = [];
    private string?[] _ids = [];
    private long[] _offsets = [];

    /// <summary>Live records.</summary>
    public int Count => _slots.Count;

    /// <summary>Slots handed out (live or free): every slot number is below it.</summary>
    public int Used { get; private set; }

    /// <summary>The live slots, in no particular order.</summary>
    public IEnumerable<int> Slots => _slots.Values;

    public bool TryGetSlot(string id, out int slot) => _slots.TryGetValue(id, out slot);

    /// <summary>The id in a slot below <see cref="Used"/>; null when the slot is free.</summary>
    public string? IdAt(int slot) => _ids[slot];

    /// <summary>The metadata in a slot below <see cref="Used"/>; null when the slot is free.</summary>
    public ItemMetadata? MetadataAt(int slot) => _metadata[slot];

    /// <summary>Where the slot's float32 vector starts in the log.</summary>
    public long OffsetAt(int slot) => _offsets[slot];

    /// <summary>The live slots in ascending order.</summary>
    public int[] LiveSlots() => [.. _slots.Values.Order()];

    /// <summary>Stores a record's metadata and vector offset; returns its slot and whether the id was new.</summary>
    public (int Slot, bool Added) Set(string id, ItemMetadata metadata, long vectorOffset)
    {
        var added = !_slots.TryGetValue(id, out var slot);
        if (added)
        {
            slot = _free.Count > 0 ? _free.Pop() : Used++;
            EnsureCapacity(slot + 1);
            _slots[id] = slot;
            _ids[slot] = id;
        }

        _metadata[slot] = metadata;
        _offsets[slot] = vectorOffset;
        return (slot, added);
    }

    /// <summary>Frees the id's slot; false (and slot -1) when there is no such record.</summary>
    public bool Remove(string id, out int slot)
    {
        if (!_slots.Remove(id, out slot))
        {
            slot = -1;
            return false;
        }

        _metadata[slot] = null;
        _ids[slot] = null;
        _free.Push(slot);
        return true;
    }

    /// <summary>
    /// Renumbers after a compaction: <paramref name="live"/> (ascending, as <see cref="LiveSlots"/> gives them)
    /// become slots 0..n-1 with the vector offsets <paramref name="offsets"/>; <paramref name="move"/> is told of
    /// each slot that moves (from, to), in ascending order, so a row never lands on one not yet moved.
    /// </summary>
    public void Renumber(int[] live, long[] offsets, Action<int, int> move)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(move);
        if (live.Length != _slots.Count || offsets.Length != live.Length)
            throw new ArgumentException($"Renumbering needs every live slot ({_slots.Count}) and an offset for each (got {live.Length} and {offsets.Length}).", nameof(live));

        for (var i = 0; i < live.Length; i++)
        {
            var old = live[i];
            if (old != i)
            {
                _ids[i] = _ids[old];
                _metadata[i] = _metadata[old];
                move(old, i);
                _slots[_ids[i]!] = i;
            }

            _offsets[i] = offsets[i];
        }

        for (var i = live.Length; i < Used; i++)
        {
            _ids[i] = null;
            _metadata[i] = null;
        }

        Used = live.Length;
        _free.Clear();
    }

    /// <summary>The free slots in the order the next new records take them (a snapshot keeps this order).</summary>
    public int[] FreeSlots() => [.. _free];

    /// <summary>
    /// Takes over the slots a snapshot saved: ids and metadata (null for a free slot) and vector offsets for slots
    /// 0..used-1 (the arrays may be longer and become this table's own), and the free slots in the order
    /// <see cref="FreeSlots"/> gave them, so that the table numbers new records as the one that was saved would.
    /// </summary>
    public void Restore(string?[] ids, ItemMetadata?[] metadata, long[] offsets, int used, int[] freeSlots)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(freeSlots);
        if (ids.Length < used || metadata.Length < used || offsets.Length < used)
            throw new ArgumentException($"The snapshot's arrays are shorter than its {used} slots.", nameof(ids));
        var slots = new Dictionary<string, int>(used - freeSlots.Length, StringComparer.Ordinal);
        for (var slot = 0; slot < used; slot++)
        {
            if (ids[slot] is not { } id) continue;
            if (metadata[slot] is null || !slots.TryAdd(id, slot)) throw new InvalidDataException($"The snapshot's slot {slot} ('{id}') has no metadata or repeats an id.");
        }

        if (slots.Count + freeSlots.Length != used || freeSlots.Any(f => (uint)f >= (uint)used || ids[f] is not null))
            throw new InvalidDataException("The snapshot's free slots do not match its records.");
        _slots = slots;
        _ids = ids;
        _metadata = metadata;
        _offsets = offsets;
        Used = used;
        _free.Clear();
        for (var i = freeSlots.Length - 1; i >= 0; i--) _free.Push(freeSlots[i]);
    }

    private void EnsureCapacity(int slots)
    {
        if (slots <= _metadata.Length) return;
        var capacity = Math.Max(slots, Math.Max(1024, _metadata.Length * 2));
        Array.Resize(ref _metadata, capacity);
        Array.Resize(ref _ids, capacity);
        Array.Resize(ref _offsets, capacity);
    }
}
