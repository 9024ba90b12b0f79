using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// The records in memory by slot. A slot is one vector's number: its row in the <see cref="ExactScan"/>, its key in
/// the graph, the place of its item's id and metadata and of its log offset here. An item's own vector has a slot,
/// and each of its region vectors (issue 14) another one right after it: an item's vectors are always the contiguous
/// slots <see cref="ItemSlot"/>(s) .. + <see cref="RegionCountAt"/>, which is what lets a search score an item by the
/// best of its vectors in one pass and a compaction keep the slots in order. A deleted record's slots go to the next
/// new records without regions (one slot each); an item with regions takes a new run of slots at the end.
/// <see cref="Renumber"/> (after a compaction) numbers the live vectors 0..n-1 in slot order, which is the
/// numbering a replay of the compacted log gives. Not thread-safe: the index serialises writes against reads.
/// </summary>
internal sealed class SlotTable
{
    private Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly Stack<int> _free = new();
    private ItemMetadata?[] _metadata = [];
    private string?[] _ids = [];
    private long[] _offsets = [];

    /// <summary>
    /// Per slot: the item's own slot (itself for an item's own vector). This and the two arrays below stay empty
    /// until the first item with regions arrives (<see cref="EnsureRegionTables"/>): an index without regions
    /// (the default) does not spend 24 B per record on them.
    /// </summary>
    private int[] _owners = [];

    /// <summary>Per item slot: how many region slots follow it.</summary>
    private int[] _regionCounts = [];

    /// <summary>Per region slot: its box (default for an item's own vector).</summary>
    private RegionBox[] _boxes = [];

    /// <summary>Whether <see cref="_owners"/>, <see cref="_regionCounts"/> and <see cref="_boxes"/> are kept (some item has or had regions).</summary>
    private bool _regionTables;

    /// <summary>Live items (records).</summary>
    public int Count => _slots.Count;

    /// <summary>Live vectors: the items' own and their regions'.</summary>
    public int VectorCount { get; private set; }

    /// <summary>Slots handed out (live or free): every slot number is below it.</summary>
    public int Used { get; private set; }

    /// <summary>The live items' own slots, in no particular order.</summary>
    public IEnumerable<int> Slots => _slots.Values;

    public bool TryGetSlot(string id, out int slot) => _slots.TryGetValue(id, out slot);

    /// <summary>The item's id in a slot below <see cref="Used"/> (a region slot gives its item's); null when the slot is free.</summary>
    public string? IdAt(int slot) => _ids[slot];

    /// <summary>The item's metadata in a slot below <see cref="Used"/>; null when the slot is free.</summary>
    public ItemMetadata? MetadataAt(int slot) => _metadata[slot];

    /// <summary>Where the slot's float32 vector starts in the log.</summary>
    public long OffsetAt(int slot) => _offsets[slot];

    /// <summary>The slot of the item's own vector for a live slot (itself unless it is a region's).</summary>
    public int ItemSlot(int slot) => _regionTables ? _owners[slot] : slot;

    /// <summary>Whether a live slot holds a region's vector rather than an item's own.</summary>
    public bool IsRegion(int slot) => _regionTables && _owners[slot] != slot;

    /// <summary>How many region slots follow an item's own slot.</summary>
    public int RegionCountAt(int itemSlot) => _regionTables ? _regionCounts[itemSlot] : 0;

    /// <summary>The slots of an item's vectors that <paramref name="selection"/> scores, First to Last (none when Last is below First).</summary>
    public (int First, int Last) VectorsOf(int itemSlot, VectorSelection selection) => selection switch
    {
        VectorSelection.Own => (itemSlot, itemSlot),
        VectorSelection.Regions => (itemSlot + 1, itemSlot + RegionCountAt(itemSlot)),
        _ => (itemSlot, itemSlot + RegionCountAt(itemSlot)),
    };

    /// <summary>Whether a live slot holds a vector of the kind <paramref name="selection"/> scores (an item's own, or a region's).</summary>
    public bool Selects(int slot, VectorSelection selection) => selection switch
    {
        VectorSelection.Own => !IsRegion(slot),
        VectorSelection.Regions => IsRegion(slot),
        _ => true,
    };

    /// <summary>The region a live slot holds; null for an item's own vector.</summary>
    public RegionBox? BoxAt(int slot) => IsRegion(slot) ? _boxes[slot] : null;

    /// <summary>Every live slot (items' and regions') in ascending order.</summary>
    public int[] LiveSlots()
    {
        var live = new int[VectorCount];
        var n = 0;
        for (var slot = 0; slot < Used; slot++)
        {
            if (_ids[slot] is not null) live[n++] = slot;
        }

        return live;
    }

    /// <summary>Stores a record without regions; returns its slot and whether the id was new (see the overload).</summary>
    public (int Slot, bool Added) Set(string id, ItemMetadata metadata, long vectorOffset)
    {
        return Set(id, metadata, vectorOffset, [], [], new List<int>());
    }

    /// <summary>
    /// Stores an item's metadata and the log offsets of its own vector and of its regions' (with their boxes).
    /// Returns the item's slot (its regions take the next ones) and whether that slot is new to it; when it is not,
    /// the item had no regions and has none, and its one slot is overwritten. Any slot the item held before and
    /// holds no longer is added to <paramref name="freed"/> (the caller takes them out of its search structures
    /// before it fills the new ones, which may reuse them).
    /// </summary>
    public (int Slot, bool Added) Set(string id, ItemMetadata metadata, long vectorOffset, ReadOnlySpan<RegionBox> boxes, ReadOnlySpan<long> regionOffsets, List<int> freed)
    {
        ArgumentNullException.ThrowIfNull(freed);
        if (boxes.Length != regionOffsets.Length) throw new ArgumentException($"{boxes.Length} regions but {regionOffsets.Length} offsets.", nameof(regionOffsets));
        if (boxes.Length > 0) EnsureRegionTables();
        if (_slots.TryGetValue(id, out var slot))
        {
            if (RegionCountAt(slot) == 0 && boxes.Length == 0)
            {
                _metadata[slot] = metadata;
                _offsets[slot] = vectorOffset;
                return (slot, false);
            }

            Free(id, slot, freed);
        }

        if (boxes.Length == 0 && _free.Count > 0)
        {
            slot = _free.Pop();
        }
        else
        {
            slot = Used;
            Used += 1 + boxes.Length;
        }

        EnsureCapacity(slot + 1 + boxes.Length);
        _slots[id] = slot;
        Fill(slot, id, metadata, vectorOffset, slot, default);
        if (_regionTables) _regionCounts[slot] = boxes.Length;
        for (var i = 0; i < boxes.Length; i++) Fill(slot + 1 + i, id, metadata, regionOffsets[i], slot, boxes[i]);
        VectorCount += 1 + boxes.Length;
        return (slot, true);
    }

    /// <summary>Frees the id's slot (and its regions'); false (and slot -1) when there is no such record.</summary>
    public bool Remove(string id, out int slot) => Remove(id, out slot, new List<int>());

    /// <summary>Frees the id's slots, which are added to <paramref name="freed"/>; false (and slot -1) when there is no such record.</summary>
    public bool Remove(string id, out int slot, List<int> freed)
    {
        ArgumentNullException.ThrowIfNull(freed);
        if (!_slots.TryGetValue(id, out slot))
        {
            slot = -1;
            return false;
        }

        Free(id, slot, freed);
        return true;
    }

    /// <summary>
    /// Renumbers after a compaction: <paramref name="live"/> (ascending, as <see cref="LiveSlots"/> gives them)
    /// become slots 0..n-1 with the vector offsets <paramref name="offsets"/>; <paramref name="move"/> is told of
    /// each slot that moves (from, to), in ascending order, so a row never lands on one not yet moved. An item's
    /// vectors stay contiguous, so each region keeps its place after its item.
    /// </summary>
    public void Renumber(int[] live, long[] offsets, Action<int, int> move)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(move);
        if (live.Length != VectorCount || offsets.Length != live.Length)
            throw new ArgumentException($"Renumbering needs every live slot ({VectorCount}) and an offset for each (got {live.Length} and {offsets.Length}).", nameof(live));

        for (var i = 0; i < live.Length; i++)
        {
            var old = live[i];
            if (old != i)
            {
                _ids[i] = _ids[old];
                _metadata[i] = _metadata[old];
                if (_regionTables)
                {
                    _owners[i] = i - (old - _owners[old]);
                    _regionCounts[i] = _regionCounts[old];
                    _boxes[i] = _boxes[old];
                }

                move(old, i);
                if (ItemSlot(i) == i) _slots[_ids[i]!] = i;
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
    /// <paramref name="boxes"/> (null when the snapshot has no regions) holds a box for each region slot, which
    /// belongs to the nearest item slot before it (its id and metadata repeat that item's).
    /// </summary>
    public void Restore(string?[] ids, ItemMetadata?[] metadata, long[] offsets, int used, int[] freeSlots, RegionBox?[]? boxes = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(freeSlots);
        if (ids.Length < used || metadata.Length < used || offsets.Length < used || (boxes is not null && boxes.Length < used))
            throw new ArgumentException($"The snapshot's arrays are shorter than its {used} slots.", nameof(ids));
        var slots = new Dictionary<string, int>(used - freeSlots.Length, StringComparer.Ordinal);
        var regionTables = boxes is not null;
        var owners = regionTables ? new int[ids.Length] : [];
        var regionCounts = regionTables ? new int[ids.Length] : [];
        var regionBoxes = regionTables ? new RegionBox[ids.Length] : [];
        var vectors = 0;
        for (var slot = 0; slot < used; slot++)
        {
            if (ids[slot] is not { } id) continue;
            vectors++;
            if (boxes?[slot] is { } box)
            {
                // A region: right after its item's slot or its item's previous region.
                var item = slot > 0 && ids[slot - 1] is not null ? owners[slot - 1] : -1;
                // (boxes is not null here, so the region tables are kept.)
                if (item < 0 || ids[item] != id)
                    throw new InvalidDataException($"The snapshot's region slot {slot} ('{id}') does not follow its item.");
                metadata[slot] = metadata[item];
                owners[slot] = item;
                regionBoxes[slot] = box;
                regionCounts[item]++;
                continue;
            }

            if (regionTables) owners[slot] = slot;
            if (metadata[slot] is null || !slots.TryAdd(id, slot)) throw new InvalidDataException($"The snapshot's slot {slot} ('{id}') has no metadata or repeats an id.");
        }

        if (vectors + freeSlots.Length != used || freeSlots.Any(f => (uint)f >= (uint)used || ids[f] is not null))
            throw new InvalidDataException("The snapshot's free slots do not match its records.");
        _slots = slots;
        _ids = ids;
        _metadata = metadata;
        _offsets = offsets;
        _owners = owners;
        _regionCounts = regionCounts;
        _boxes = regionBoxes;
        _regionTables = regionTables;
        Used = used;
        VectorCount = vectors;
        _free.Clear();
        for (var i = freeSlots.Length - 1; i >= 0; i--) _free.Push(freeSlots[i]);
    }

    private void Fill(int slot, string id, ItemMetadata metadata, long vectorOffset, int owner, RegionBox box)
    {
        _ids[slot] = id;
        _metadata[slot] = metadata;
        _offsets[slot] = vectorOffset;
        if (!_regionTables) return;
        _owners[slot] = owner;
        _boxes[slot] = box;
        _regionCounts[slot] = 0;
    }

    /// <summary>Starts keeping the region tables (the first item with regions): every slot so far is an item's own.</summary>
    private void EnsureRegionTables()
    {
        if (_regionTables) return;
        _owners = new int[_metadata.Length];
        for (var i = 0; i < _owners.Length; i++) _owners[i] = i;
        _regionCounts = new int[_metadata.Length];
        _boxes = new RegionBox[_metadata.Length];
        _regionTables = true;
    }

    /// <summary>Frees an item's slot and its regions' (pushed so that the item's own slot is taken first).</summary>
    private void Free(string id, int slot, List<int> freed)
    {
        _slots.Remove(id);
        var regions = RegionCountAt(slot);
        for (var s = slot + regions; s >= slot; s--)
        {
            _metadata[s] = null;
            _ids[s] = null;
            _free.Push(s);
            freed.Add(s);
        }

        if (_regionTables) _regionCounts[slot] = 0;
        VectorCount -= 1 + regions;
    }

    private void EnsureCapacity(int slots)
    {
        if (slots <= _metadata.Length) return;
        var capacity = Math.Max(slots, Math.Max(1024, _metadata.Length * 2));
        Array.Resize(ref _metadata, capacity);
        Array.Resize(ref _ids, capacity);
        Array.Resize(ref _offsets, capacity);
        if (!_regionTables) return;
        Array.Resize(ref _owners, capacity);
        Array.Resize(ref _regionCounts, capacity);
        Array.Resize(ref _boxes, capacity);
    }
}
