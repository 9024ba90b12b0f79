using VisualSearch.Indexing;
using VisualSearch.Index.Local;
using static VisualSearch.UnitTests.Index.PartsFixture;

namespace VisualSearch.UnitTests.Index;

/// <summary>The records by slot on their own: new ids, replacements, reuse of freed slots, renumbering.</summary>
public sealed class SlotTableTests
{
    [Fact]
    public void New_ids_take_new_slots_and_a_replacement_keeps_its_slot()
    {
        var table = new SlotTable();
        Assert.Equal((0, true), table.Set("a", Metadata("a"), 100));
        Assert.Equal((1, true), table.Set("b", Metadata("b"), 200));
        Assert.Equal((0, false), table.Set("a", Metadata("a", "new"), 300));

        Assert.Equal(2, table.Count);
        Assert.Equal(2, table.Used);
        Assert.Equal("new", table.MetadataAt(0)!.Tags["album"]);
        Assert.Equal(300, table.OffsetAt(0));
        Assert.Equal("b", table.IdAt(1));
    }

    [Fact]
    public void A_freed_slot_goes_to_the_next_new_id()
    {
        var table = new SlotTable();
        table.Set("a", Metadata("a"), 1);
        table.Set("b", Metadata("b"), 2);
        Assert.True(table.Remove("a", out var freed));
        Assert.Equal(0, freed);
        Assert.Null(table.IdAt(0));
        Assert.Null(table.MetadataAt(0));
        Assert.False(table.TryGetSlot("a", out _));
        Assert.False(table.Remove("a", out var none));
        Assert.Equal(-1, none);

        Assert.Equal((0, true), table.Set("c", Metadata("c"), 3));
        Assert.Equal(2, table.Used);
        Assert.Equal([0, 1], table.LiveSlots());
    }

    [Fact]
    public void Renumbering_packs_the_live_slots_in_order_and_reports_each_move()
    {
        var table = new SlotTable();
        foreach (var id in new[] { "a", "b", "c", "d", "e" }) table.Set(id, Metadata(id), 0);
        table.Remove("a", out _);
        table.Remove("c", out _);
        var live = table.LiveSlots();
        Assert.Equal([1, 3, 4], live);

        var moves = new List<(int From, int To)>();
        table.Renumber(live, [10, 20, 30], (from, to) => moves.Add((from, to)));

        Assert.Equal([(1, 0), (3, 1), (4, 2)], moves);
        Assert.Equal(3, table.Used);
        Assert.Equal(["b", "d", "e"], Enumerable.Range(0, 3).Select(table.IdAt));
        Assert.True(table.TryGetSlot("e", out var e));
        Assert.Equal(2, e);
        Assert.Equal(30, table.OffsetAt(2));
        // No free slots remain: the next new id takes the slot after the last live one.
        Assert.Equal((3, true), table.Set("f", Metadata("f"), 0));
    }

    [Fact]
    public void Renumbering_without_every_live_slot_is_refused()
    {
        var table = new SlotTable();
        table.Set("a", Metadata("a"), 0);
        table.Set("b", Metadata("b"), 0);
        Assert.Throws<ArgumentException>(() => table.Renumber([0], [0], (_, _) => { }));
    }

    [Fact]
    public void An_items_regions_take_the_slots_right_after_it_and_free_slots_go_to_items_without_regions()
    {
        var table = new SlotTable();
        var freed = new List<int>();
        table.Set("a", Metadata("a"), 0);
        table.Set("b", Metadata("b"), 0);
        Assert.Equal((2, true), table.Set("c", Metadata("c"), 10, [new(1, 2, 3, 4), new(5, 6, 7, 8)], [20, 30], freed));
        Assert.Empty(freed);
        Assert.Equal((3, 5, 5), (table.Count, table.VectorCount, table.Used));
        Assert.Equal(["c", "c", "c"], new[] { 2, 3, 4 }.Select(table.IdAt));
        Assert.Equal([2, 2, 2], new[] { 2, 3, 4 }.Select(table.ItemSlot));
        Assert.Equal(2, table.RegionCountAt(2));
        Assert.Null(table.BoxAt(2));
        Assert.Equal(new RegionBox(5, 6, 7, 8), table.BoxAt(4));
        Assert.Equal(30, table.OffsetAt(4));

        // a gains a region: a new run at the end, its old slot freed; b without regions then reuses it.
        Assert.Equal((5, true), table.Set("a", Metadata("a"), 0, [new(0, 0, 1, 1)], [40], freed));
        Assert.Equal([0], freed);
        Assert.Equal((0, true), table.Set("d", Metadata("d"), 0));

        // Replacing c without regions frees all three of its slots; the next item without regions takes c's own first.
        freed.Clear();
        Assert.Equal((1, false), table.Set("b", Metadata("b"), 0, [], [], freed));
        Assert.Empty(freed);
        Assert.True(table.Remove("c", out var slot, freed));
        Assert.Equal(2, slot);
        Assert.Equal([4, 3, 2], freed);
        Assert.Equal((2, true), table.Set("e", Metadata("e"), 0));
        Assert.Equal((4, 5), (table.Count, table.VectorCount));

        // Renumbering keeps each region after its item.
        table.Renumber(table.LiveSlots(), new long[5], (_, _) => { });
        Assert.Equal(["d", "b", "e", "a", "a"], Enumerable.Range(0, 5).Select(table.IdAt));
        Assert.Equal(3, table.ItemSlot(4));
        Assert.Equal(new RegionBox(0, 0, 1, 1), table.BoxAt(4));
        Assert.True(table.TryGetSlot("a", out var a));
        Assert.Equal(3, a);
    }

    [Fact]
    public void Regions_arriving_after_plain_records_keep_every_earlier_slot_an_item_of_its_own_through_a_renumbering()
    {
        // The region tables are kept only from the first item with regions: the slots filled before must read as items.
        var table = new SlotTable();
        for (var i = 0; i < 3; i++) table.Set($"p{i}", Metadata($"p{i}"), 10 * i);
        Assert.All(Enumerable.Range(0, 3), s => Assert.Equal((s, false, 0), (table.ItemSlot(s), table.IsRegion(s), table.RegionCountAt(s))));

        RegionBox[] boxes = [new(1, 2, 3, 4), new(5, 6, 7, 8)];
        Assert.Equal((3, true), table.Set("r", Metadata("r"), 100, boxes, [110, 120], []));
        Assert.Equal(6, table.VectorCount);
        Assert.All(Enumerable.Range(0, 3), s => Assert.Equal((s, false, 0, (RegionBox?)null), (table.ItemSlot(s), table.IsRegion(s), table.RegionCountAt(s), table.BoxAt(s))));
        Assert.Equal(2, table.RegionCountAt(3));
        Assert.Equal((3, true, boxes[1]), (table.ItemSlot(5), table.IsRegion(5), table.BoxAt(5)));

        Assert.True(table.Remove("p1", out _));
        var moves = new List<(int, int)>();
        table.Renumber(table.LiveSlots(), [0, 20, 100, 110, 120], (from, to) => moves.Add((from, to)));
        Assert.Equal([(2, 1), (3, 2), (4, 3), (5, 4)], moves);
        Assert.True(table.TryGetSlot("r", out var item));
        Assert.Equal(2, item);
        Assert.Equal((2, true, boxes[0]), (table.ItemSlot(3), table.IsRegion(3), table.BoxAt(3)));
        Assert.Equal((1, false, 0), (table.ItemSlot(1), table.IsRegion(1), table.RegionCountAt(1)));
        Assert.True(table.TryGetSlot("p2", out var p2));
        Assert.Equal(1, p2);
    }
}
