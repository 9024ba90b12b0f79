using System.Buffers.Binary;
using VisualSearch.Index.Local;
using VisualSearch.Index.Local.Ann;
using static VisualSearch.UnitTests.Index.PartsFixture;

namespace VisualSearch.UnitTests.Index;

/// <summary>
/// The graph's links read from USearch's serialised form (<see cref="UsearchGraphImage"/>) against real indexes of
/// known size and keys, and the link check of a parallel build (<see cref="HnswGraph.EnsureReachable"/>): a node no
/// link leads to is found and inserted again, and a layout the reader does not know falls back to searching.
/// </summary>
public sealed class HnswGraphImageTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Dimension = 32;

    [Theory]
    [InlineData(AnnQuantization.Int8, 12)]
    [InlineData(AnnQuantization.Float16, 16)]
    [InlineData(AnnQuantization.Float32, 8)]
    public void The_reader_finds_every_node_its_key_and_links_in_a_real_index(AnnQuantization quantization, int connectivity)
    {
        const int Count = 700;
        var vectors = RandomUnits(Count, Dimension, seed: 5);
        using var graph = HnswGraph.Create(new HnswSettings(Dimension, connectivity, 64, 64, quantization));
        for (var i = 0; i < Count; i++) graph.Add(5000UL + (ulong)i, vectors[i]);
        ulong[] removed = [5003, 5100, 5699];
        foreach (var key in removed) Assert.True(graph.Remove(key));

        var (keys, maxDegreeBase, maxDegreeUpper, entryLevel, maxLevel, links, present, removedCount) = graph.ReadLinks(image =>
        {
            var keys = Enumerable.Range(0, image.NodeCount).Select(image.KeyAt).ToList();
            var links = 0L;
            int maxBase = 0, maxUpper = 0;
            for (var slot = 0; slot < image.NodeCount; slot++)
            {
                for (var level = 0; level <= image.LevelAt(slot); level++)
                {
                    var neighbours = image.Neighbours(slot, level);
                    links += neighbours.Length;
                    if (level == 0) maxBase = Math.Max(maxBase, neighbours.Length);
                    else maxUpper = Math.Max(maxUpper, neighbours.Length);
                    foreach (var next in neighbours) Assert.InRange(next, 0u, (uint)image.NodeCount - 1);
                }
            }

            Assert.Equal(connectivity, image.Connectivity);
            Assert.Equal(2 * connectivity, image.ConnectivityBase);
            return (keys, maxBase, maxUpper, image.LevelAt(image.EntrySlot), image.MaxLevel, links, image.PresentCount, image.RemovedCount);
        });

        // Every slot is one node; removed keys keep their slot (and their links) under USearch's free key.
        Assert.Equal(Count, keys.Count);
        Assert.Equal(Count - removed.Length, present);
        Assert.Equal(removed.Length, removedCount);
        Assert.Equal(removed.Length, keys.Count(k => k == UsearchGraphImage.RemovedKey));
        Assert.Equal(Enumerable.Range(0, Count).Select(i => 5000UL + (ulong)i).Except(removed).Order(), keys.Where(k => k != UsearchGraphImage.RemovedKey).Order());
        Assert.InRange(maxDegreeBase, connectivity, 2 * connectivity);
        Assert.InRange(maxDegreeUpper, 1, connectivity);
        Assert.True(maxLevel >= 1, $"{Count} nodes on one level");
        Assert.Equal(maxLevel, entryLevel);
        output.WriteLine($"{quantization}, M {connectivity}: {keys.Count} nodes, {links} links, top level {maxLevel}, bottom degree up to {maxDegreeBase}");
    }

    [Fact]
    public void An_empty_graph_and_a_graph_of_one_have_nothing_unreachable()
    {
        var settings = new HnswSettings(Dimension, 16, 64, 64, AnnQuantization.Int8);
        using var graph = HnswGraph.Create(settings);
        Assert.Equal((0, 0), graph.ReadLinks(image => (image.NodeCount, image.Unreachable(out _, out _).Count)));
        graph.Add(7, RandomUnits(1, Dimension, seed: 1)[0]);
        Assert.Equal((1, 0, 0), graph.ReadLinks(image => (image.NodeCount, image.EntrySlot, image.Unreachable(out _, out _).Count)));
    }

    [Fact]
    public void A_node_no_link_leads_to_is_found_by_the_link_check_and_inserted_again()
    {
        const int Count = 2000;
        var settings = new HnswSettings(Dimension, 16, 64, 128, AnnQuantization.Int8);
        var vectors = RandomUnits(Count, Dimension, seed: 31);
        ulong[] keys = [.. Enumerable.Range(0, Count).Select(i => (ulong)i)];
        byte[] bytes;
        using (var built = HnswGraph.Create(settings))
        {
            for (var i = 0; i < Count; i++) built.Add(keys[i], vectors[i]);
            Assert.Equal(0, built.ReadLinks(image => image.Unreachable(out _, out _).Count));
            bytes = built.Serialize();
        }

        // Cut one bottom-level node off: every list that links to it (on any level) loses it.
        var (victim, cut) = CutOff(bytes, settings);
        output.WriteLine($"node {victim} cut off: {cut} links to it removed");
        Assert.True(cut > 0);

        using var graph = HnswGraph.Deserialize(bytes, settings);
        // A search for its own vector no longer finds it: the premise of the check.
        var found = new ulong[1];
        graph.Search(vectors[victim], found, new float[1]);
        Assert.NotEqual((ulong)victim, found[0]);
        var lost = graph.ReadLinks(image => image.Unreachable(out _, out _).ConvertAll(image.KeyAt));
        Assert.Contains((ulong)victim, lost);

        var stats = graph.EnsureReachable(keys, (i, destination) => vectors[i].CopyTo(destination), threads: 2, AnnBuildCheck.Links, [HnswGraph.FirstCheckExpansion]);

        output.WriteLine($"check {stats.CheckSummary}; {stats.Repaired} re-inserted");
        Assert.Null(stats.Fallback);
        Assert.Empty(stats.CheckSearches);
        Assert.True(stats.LinkRounds[0].NotReached >= 1, stats.CheckSummary);
        Assert.Equal(0, stats.LinkRounds[^1].Lost);
        Assert.Equal(lost.Count, stats.LinkRounds[0].Lost);
        Assert.True(stats.Repaired >= 1);
        Assert.Equal(Count, graph.Count);
        Assert.Empty(NotOwnNearest(graph, vectors));
    }

    [Fact]
    public void A_layout_other_than_the_readers_falls_back_to_the_search_check()
    {
        const int Count = 1500;
        var vectors = RandomUnits(Count, Dimension, seed: 41);
        ulong[] keys = [.. Enumerable.Range(0, Count).Select(i => (ulong)i)];
        byte[] bytes;
        using (var built = HnswGraph.Create(new HnswSettings(Dimension, 16, 64, 128, AnnQuantization.Int8)))
        {
            for (var i = 0; i < Count; i++) built.Add(keys[i], vectors[i]);
            bytes = built.Serialize();
        }

        // USearch takes the shape from the bytes (M 16); the settings say 12, so the links are not what the reader expects.
        using var graph = HnswGraph.Deserialize(bytes, new HnswSettings(Dimension, 12, 64, 128, AnnQuantization.Int8));
        var stats = graph.EnsureReachable(keys, (i, destination) => vectors[i].CopyTo(destination), threads: 2, AnnBuildCheck.Links, [HnswGraph.FirstCheckExpansion]);

        output.WriteLine($"check {stats.CheckSummary}");
        Assert.Contains("connectivity 16", stats.Fallback);
        Assert.Empty(stats.LinkRounds);
        Assert.Equal(HnswGraph.FirstCheckExpansion, stats.CheckSearches[0].Expansion);
        Assert.InRange(stats.CheckSearches[0].Searches, Count, Count + stats.Repaired);
        Assert.Empty(NotOwnNearest(graph, vectors));
    }

    [Fact]
    public void The_reader_refuses_another_version_or_kind_a_link_to_no_node_a_count_beyond_capacity_and_a_wrong_length()
    {
        var settings = new HnswSettings(Dimension, 16, 64, 64, AnnQuantization.Int8);
        const int Count = 300;
        var vectors = RandomUnits(Count, Dimension, seed: 9);
        using var graph = HnswGraph.Create(settings);
        for (var i = 0; i < Count; i++) graph.Add((ulong)i, vectors[i]);
        var bytes = graph.Serialize();
        var head = 8 + (Count * Dimension);
        var firstLinks = graph.ReadLinks(image => image.LinksOffset(0, 0));

        Assert.Contains("version 2.27.6", Refusal(bytes, settings, b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(head + 9), 27)));
        Assert.Contains("version 2.26.7", Refusal(bytes, settings, b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(head + 11), 7)));
        Assert.Contains("scalar 0x0c", Refusal(bytes, settings, b => b[head + 14] = 0x0c));
        Assert.Contains("slot 0x0e", Refusal(bytes, settings, b => b[head + 16] = 0x0e));
        Assert.Contains("no \"usearch\" head", Refusal(bytes, settings, b => b[head] = (byte)'U'));
        Assert.Contains("vectors of 32 bytes, expected 64", Refusal(bytes, settings with { Quantization = AnnQuantization.Float16 }, _ => { }));
        Assert.Contains("links to slot 300 of 300", Refusal(bytes, settings, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan((int)firstLinks + 4), Count)));
        Assert.Contains("has 33 links on level 0", Refusal(bytes, settings, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan((int)firstLinks), 33)));
        Assert.Contains("the layout needs", Refusal([.. bytes, 0], settings, _ => { }));
        Assert.Contains("the layout needs", Refusal(bytes[..^1], settings, _ => { }));
        Assert.Contains("more needed", Refusal(bytes[..(head + 10)], settings, _ => { }));
        Assert.Contains("present", Refusal(bytes, settings, b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(head + 17), Count + 1)));
    }

    /// <summary>The message <see cref="UsearchGraphImage.Parse"/> refuses a copy of <paramref name="bytes"/> changed by <paramref name="edit"/> with.</summary>
    private static string Refusal(byte[] bytes, HnswSettings settings, Action<byte[]> edit)
    {
        var copy = (byte[])bytes.Clone();
        edit(copy);
        return Assert.Throws<InvalidDataException>(() => UsearchGraphImage.Read(copy, settings, _ => 0)).Message;
    }

    /// <summary>
    /// Removes every link to one bottom-level node (not the entry) from the serialised graph in place; returns the
    /// node's key (its index, as the graph was built) and how many links were removed.
    /// </summary>
    private static (int Victim, int Cut) CutOff(byte[] bytes, HnswSettings settings) => UsearchGraphImage.Read(bytes, settings, image =>
    {
        var victim = Enumerable.Range(image.NodeCount / 2, image.NodeCount / 2).First(s => s != image.EntrySlot && image.LevelAt(s) == 0);
        var cut = 0;
        for (var slot = 0; slot < image.NodeCount; slot++)
        {
            for (var level = 0; level <= image.LevelAt(slot); level++)
            {
                var at = (int)image.LinksOffset(slot, level);
                uint[] kept = [.. image.Neighbours(slot, level).ToArray().Where(next => next != victim)];
                cut += image.Neighbours(slot, level).Length - kept.Length;
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)kept.Length);
                for (var j = 0; j < kept.Length; j++) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 4 + (4 * j)), kept[j]);
            }
        }

        return ((int)image.KeyAt(victim), cut);
    });

    /// <summary>The keys whose own vector's nearest neighbour in the graph is not themselves.</summary>
    private static List<int> NotOwnNearest(HnswGraph graph, float[][] vectors)
    {
        var found = new ulong[1];
        var distances = new float[1];
        return [.. Enumerable.Range(0, vectors.Length).Where(i => graph.Search(vectors[i], found, distances) != 1 || found[0] != (ulong)i)];
    }
}
