using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace VisualSearch.Index.Local.Ann;

/// <summary>
/// The links of a USearch graph read from its serialised form (<c>usearch_save_buffer</c>, the same bytes as the
/// saved file), to check reachability without searching. Layout of USearch 2.26.6's dense index, each field checked
/// against real indexes of known size and keys (HnswGraphImageTests), all little-endian:
/// <list type="number">
/// <item>the vectors: u32 rows (every slot, removed ones too), u32 bytes per vector, then rows x bytes;</item>
/// <item>a 64-byte head: "usearch" (7 bytes), u16 version major, minor, patch, one byte each for the metric ('c'
/// cosine), the scalar (f32 0x0b, f16 0x0c, i8 0x17), the key (u64 0x0e) and the slot (u32 0x0f) kinds, u64 count
/// present, u64 count removed, u64 dimensions, a byte "multi", zero padding;</item>
/// <item>the graph's head: u64 nodes, connectivity (M), connectivity of the bottom layer (2 M), highest level, entry slot;</item>
/// <item>each node's level (i16), one after another;</item>
/// <item>each node: u64 key (u64 max: removed), i16 level, then for level 0 a u32 count and 2 M u32 slots, and for each
/// level 1..its level a u32 count and M slots (only the first count are links).</item>
/// </list>
/// Any other version, kind or shape, a count beyond its capacity, a link to no node, or a length that does not add up
/// throws <see cref="InvalidDataException"/>: the caller then checks by searching instead.
/// </summary>
internal sealed unsafe class UsearchGraphImage
{
    /// <summary>The key USearch gives a removed node (its slot waits for reuse; links to it remain and are walked).</summary>
    public const ulong RemovedKey = ulong.MaxValue;

    private const int HeadBytes = 64;
    private const int GraphHeadBytes = 40;
    private const int NodeHeadBytes = sizeof(ulong) + sizeof(short);
    private static ReadOnlySpan<byte> Magic => "usearch"u8;

    private readonly byte* _data;
    private readonly long[] _nodeOffsets;

    private UsearchGraphImage(byte* data, long[] nodeOffsets, int connectivity, int connectivityBase, int maxLevel, int entrySlot, long present, long removed)
    {
        _data = data;
        _nodeOffsets = nodeOffsets;
        Connectivity = connectivity;
        ConnectivityBase = connectivityBase;
        MaxLevel = maxLevel;
        EntrySlot = entrySlot;
        PresentCount = present;
        RemovedCount = removed;
    }

    /// <summary>Nodes (slots), removed ones included.</summary>
    public int NodeCount => _nodeOffsets.Length;

    /// <summary>Links per node on the upper levels (M).</summary>
    public int Connectivity { get; }

    /// <summary>Links per node on the bottom level (2 M).</summary>
    public int ConnectivityBase { get; }

    /// <summary>The highest level of any node; -1 in an empty graph.</summary>
    public int MaxLevel { get; }

    /// <summary>The node every search starts from (on <see cref="MaxLevel"/>); -1 in an empty graph.</summary>
    public int EntrySlot { get; }

    public long PresentCount { get; }

    public long RemovedCount { get; }

    /// <summary>
    /// Reads the layout of <paramref name="length"/> bytes at <paramref name="data"/> (which must outlive this object)
    /// and checks it against <paramref name="settings"/> and itself; throws <see cref="InvalidDataException"/> with the reason.
    /// </summary>
    public static UsearchGraphImage Parse(byte* data, long length, HnswSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var reader = new Reader(data, length);
        long rows = reader.U32(), columns = reader.U32();
        var bytesPerVector = settings.Quantization switch
        {
            AnnQuantization.Int8 => 1,
            AnnQuantization.Float16 => 2,
            _ => 4,
        } * (long)settings.Dimension;
        Require(columns == bytesPerVector, $"vectors of {columns} bytes, expected {bytesPerVector}");
        reader.Skip(rows * columns);

        var head = reader.Bytes(HeadBytes);
        Require(head[..Magic.Length].SequenceEqual(Magic), "no \"usearch\" head after the vectors");
        var version = (BinaryPrimitives.ReadUInt16LittleEndian(head[7..]), BinaryPrimitives.ReadUInt16LittleEndian(head[9..]), BinaryPrimitives.ReadUInt16LittleEndian(head[11..]));
        Require(version == (2, 26, 6), $"format version {version.Item1}.{version.Item2}.{version.Item3}, read only 2.26.6");
        byte scalar = settings.Quantization switch
        {
            AnnQuantization.Int8 => 0x17,
            AnnQuantization.Float16 => 0x0c,
            _ => 0x0b,
        };
        Require(head[13] == (byte)'c' && head[14] == scalar && head[15] == 0x0e && head[16] == 0x0f,
            $"kinds metric 0x{head[13]:x2}, scalar 0x{head[14]:x2}, key 0x{head[15]:x2}, slot 0x{head[16]:x2}");
        var present = BinaryPrimitives.ReadInt64LittleEndian(head[17..]);
        var removed = BinaryPrimitives.ReadInt64LittleEndian(head[25..]);
        var dimensions = BinaryPrimitives.ReadInt64LittleEndian(head[33..]);
        Require(dimensions == settings.Dimension && head[41] == 0, $"{dimensions} dimensions, multi {head[41]}");

        var size = reader.I64();
        var connectivity = reader.I64();
        var connectivityBase = reader.I64();
        var maxLevel = reader.I64();
        var entry = reader.I64();
        Require(size >= 0 && size <= int.MaxValue && size == rows && present >= 0 && removed >= 0 && present + removed == size,
            $"{size} nodes, {rows} vectors, {present} present and {removed} removed");
        Require(connectivity == settings.Connectivity && connectivityBase == 2 * connectivity, $"connectivity {connectivity} / {connectivityBase}");
        Require(size == 0 ? maxLevel == -1 : maxLevel is >= 0 and < 64 && entry >= 0 && entry < size,
            $"highest level {maxLevel}, entry slot {entry} of {size}");

        // Node sizes follow from the levels, so every node's offset is known before reading it.
        var levels = reader.Bytes(checked(size * sizeof(short)));
        var offsets = new long[size];
        var baseBytes = sizeof(uint) * (1 + connectivityBase);
        var levelBytes = sizeof(uint) * (1 + connectivity);
        var at = reader.Position;
        for (var i = 0; i < size; i++)
        {
            var level = BinaryPrimitives.ReadInt16LittleEndian(levels[(2 * i)..]);
            Require(level >= 0 && level <= maxLevel, $"node {i} on level {level} of {maxLevel}");
            offsets[i] = at;
            at += NodeHeadBytes + baseBytes + level * levelBytes;
        }

        Require(at == length, $"{length} bytes, the layout needs {at}");
        var image = new UsearchGraphImage(data, offsets, (int)connectivity, (int)connectivityBase, (int)maxLevel, size == 0 ? -1 : (int)entry, present, removed);
        long removedSeen = 0;
        for (var i = 0; i < size; i++)
        {
            var level = BinaryPrimitives.ReadInt16LittleEndian(levels[(2 * i)..]);
            Require(image.LevelAt(i) == level, $"node {i}: level {image.LevelAt(i)} in the node, {level} in the list");
            if (image.KeyAt(i) == RemovedKey) removedSeen++;
            for (var l = 0; l <= level; l++)
            {
                var count = *(uint*)(data + image.LinksOffset(i, l));
                Require(count <= (l == 0 ? connectivityBase : connectivity), $"node {i} has {count} links on level {l}");
                foreach (var slot in image.Neighbours(i, l))
                    Require(slot < size, $"node {i} links to slot {slot} of {size}");
            }
        }

        Require(removedSeen == removed, $"{removedSeen} removed keys, the head says {removed}");
        if (size > 0) Require(image.LevelAt(image.EntrySlot) == maxLevel, $"the entry node is on level {image.LevelAt(image.EntrySlot)}, not {maxLevel}");
        return image;
    }

    /// <summary>Parses an image held in an array (small graphs: tests), pinned while <paramref name="read"/> runs.</summary>
    public static T Read<T>(byte[] bytes, HnswSettings settings, Func<UsearchGraphImage, T> read)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(read);
        fixed (byte* p = bytes) return read(Parse(p, bytes.Length, settings));
    }

    public ulong KeyAt(int slot) => *(ulong*)(_data + _nodeOffsets[slot]);

    public int LevelAt(int slot) => *(short*)(_data + _nodeOffsets[slot] + sizeof(ulong));

    /// <summary>Byte offset of the link count of <paramref name="slot"/> on <paramref name="level"/> (its links follow).</summary>
    public long LinksOffset(int slot, int level)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(level, LevelAt(slot));
        var offset = _nodeOffsets[slot] + NodeHeadBytes;
        return level == 0 ? offset : offset + sizeof(uint) * (1 + ConnectivityBase) + (level - 1) * sizeof(uint) * (1 + Connectivity);
    }

    /// <summary>The slots <paramref name="slot"/> links to on <paramref name="level"/>.</summary>
    public ReadOnlySpan<uint> Neighbours(int slot, int level)
    {
        var at = (uint*)(_data + LinksOffset(slot, level));
        return new ReadOnlySpan<uint>(at + 1, (int)*at);
    }

    /// <summary>
    /// The present nodes (removed ones excluded) that no search can reach, by the links alone: those not reached from
    /// the entry node over the links of every level (a search descends from the entry through the upper levels and
    /// then follows bottom-level links, so it cannot reach anything outside that set: <paramref name="notReached"/>),
    /// and those reached only through upper levels, with no bottom-level link from a reached node (a search could only
    /// start on them: <paramref name="noBottomLinkIn"/>). Removed nodes are walked through, as a search walks them.
    /// Reachable is necessary, not sufficient, for a vector to be found: a greedy search can still stop short of it.
    /// </summary>
    public List<int> Unreachable(out int notReached, out int noBottomLinkIn)
    {
        var n = NodeCount;
        var reached = new bool[n];
        var linkedTo = new bool[n];
        var queue = new int[n];
        int head = 0, tail = 0;
        if (n > 0)
        {
            reached[EntrySlot] = true;
            linkedTo[EntrySlot] = true;
            queue[tail++] = EntrySlot;
        }

        while (head < tail)
        {
            var slot = queue[head++];
            var top = LevelAt(slot);
            for (var level = 0; level <= top; level++)
            {
                foreach (var next in Neighbours(slot, level))
                {
                    if (level == 0) linkedTo[next] = true;
                    if (reached[next]) continue;
                    reached[next] = true;
                    queue[tail++] = (int)next;
                }
            }
        }

        notReached = noBottomLinkIn = 0;
        var lost = new List<int>();
        for (var slot = 0; slot < n; slot++)
        {
            if (KeyAt(slot) == RemovedKey || (reached[slot] && linkedTo[slot])) continue;
            if (!reached[slot]) notReached++;
            else noBottomLinkIn++;
            lost.Add(slot);
        }

        return lost;
    }

    private static void Require(bool condition, string what)
    {
        if (!condition) throw new InvalidDataException($"Unexpected USearch graph layout: {what}.");
    }

    /// <summary>Bounds-checked little-endian reads from the start of the image.</summary>
    private ref struct Reader(byte* data, long length)
    {
        public long Position { get; private set; }

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(sizeof(uint)));

        public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Bytes(sizeof(long)));

        public void Skip(long count)
        {
            Require(count >= 0 && count <= length - Position, $"{length} bytes end inside the vectors");
            Position += count;
        }

        public ReadOnlySpan<byte> Bytes(long count)
        {
            Require(count >= 0 && count <= length - Position && count <= int.MaxValue, $"{length} bytes end at offset {Position}, {count} more needed");
            var span = new ReadOnlySpan<byte>(data + Position, (int)count);
            Position += count;
            return span;
        }
    }
}
