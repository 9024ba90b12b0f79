using VisualSearch.Duplicates;

namespace VisualSearch.UnitTests.Duplicates;

public sealed class DuplicateGroupingTests
{
    private static GroupingItem Item(string id, string hash) => new(id, hash);

    [Fact]
    public void Same_content_hash_is_an_exact_group_and_a_scored_pair_is_a_near_group()
    {
        GroupingItem[] items = [Item("a", "h1"), Item("b", "h1"), Item("c", "h1"), Item("x", "h2"), Item("y", "h3"), Item("z", "h4")];
        DuplicatePair[] pairs = [DuplicatePair.Of("y", "x", 0.93f, DuplicateKind.Near), DuplicatePair.Of("z", "x", 0.41f, DuplicateKind.Near)];

        var groups = DuplicateGrouping.Group(items, pairs, minScore: 0.8f);

        Assert.Equal(2, groups.Count);
        var exact = groups[0];
        Assert.Equal(DuplicateKind.Exact, exact.Kind);
        Assert.Equal(["a", "b", "c"], exact.Items);
        Assert.All(exact.Pairs, p => Assert.Equal((DuplicateKind.Exact, 1f), (p.Kind, p.Score)));
        Assert.Equal(2, exact.Pairs.Count);
        var near = groups[1];
        Assert.Equal(DuplicateKind.Near, near.Kind);
        Assert.Equal(["x", "y"], near.Items);
        var pair = Assert.Single(near.Pairs);
        Assert.Equal(("x", "y", 0.93f), (pair.A, pair.B, pair.Score));
    }

    [Fact]
    public void A_chain_of_pairs_is_one_group_that_keeps_every_link()
    {
        GroupingItem[] items = [Item("a", "1"), Item("b", "2"), Item("c", "3"), Item("d", "4"), Item("e", "5")];
        // a-b and b-c and c-d chain; a-c never scored; e is alone.
        DuplicatePair[] pairs =
        [
            DuplicatePair.Of("a", "b", 0.91f, DuplicateKind.Near),
            DuplicatePair.Of("c", "b", 0.88f, DuplicateKind.Near),
            DuplicatePair.Of("b", "a", 0.91f, DuplicateKind.Near), // the same pair from the other side
            DuplicatePair.Of("c", "d", 0.85f, DuplicateKind.Near),
            DuplicatePair.Of("d", "e", 0.50f, DuplicateKind.Near),
        ];

        var group = Assert.Single(DuplicateGrouping.Group(items, pairs, 0.8f));

        Assert.Equal(["a", "b", "c", "d"], group.Items);
        Assert.Equal([("a", "b"), ("b", "c"), ("c", "d")], group.Pairs.Select(p => (p.A, p.B)));
        Assert.Equal(DuplicateKind.Near, group.Kind);
    }

    [Fact]
    public void A_group_holding_exact_and_near_copies_is_near_and_a_near_pair_of_exact_copies_is_not_repeated()
    {
        GroupingItem[] items = [Item("a", "h"), Item("b", "H"), Item("c", "k")];
        DuplicatePair[] pairs = [DuplicatePair.Of("a", "b", 1f, DuplicateKind.Near), DuplicatePair.Of("b", "c", 0.9f, DuplicateKind.Near)];

        var group = Assert.Single(DuplicateGrouping.Group(items, pairs, 0.8f));

        Assert.Equal(DuplicateKind.Near, group.Kind);
        Assert.Equal([("a", "b", DuplicateKind.Exact), ("b", "c", DuplicateKind.Near)], group.Pairs.Select(p => (p.A, p.B, p.Kind)));
    }

    [Fact]
    public void The_threshold_decides_which_pairs_join()
    {
        GroupingItem[] items = [Item("a", "1"), Item("b", "2"), Item("c", "3")];
        DuplicatePair[] pairs = [DuplicatePair.Of("a", "b", 0.95f, DuplicateKind.Near), DuplicatePair.Of("b", "c", 0.85f, DuplicateKind.Near)];

        Assert.Equal(["a", "b", "c"], Assert.Single(DuplicateGrouping.Group(items, pairs, 0.85f)).Items);
        Assert.Equal(["a", "b"], Assert.Single(DuplicateGrouping.Group(items, pairs, 0.9f)).Items);
        Assert.Empty(DuplicateGrouping.Group(items, pairs, 0.96f));
    }

    [Fact]
    public void A_not_duplicates_pair_never_shares_a_group_even_through_a_third_item()
    {
        GroupingItem[] items = [Item("a", "1"), Item("b", "2"), Item("c", "3")];
        // c is close to both; a and b were marked not duplicates. The stronger link (a-c) wins; b stays out.
        DuplicatePair[] pairs = [DuplicatePair.Of("a", "c", 0.97f, DuplicateKind.Near), DuplicatePair.Of("b", "c", 0.92f, DuplicateKind.Near), DuplicatePair.Of("a", "b", 0.9f, DuplicateKind.Near)];

        var group = Assert.Single(DuplicateGrouping.Group(items, pairs, 0.8f, [("a", "b")]));

        Assert.Equal(["a", "c"], group.Items);
        Assert.Equal(["a", "b", "c"], Assert.Single(DuplicateGrouping.Group(items, pairs, 0.8f, [])).Items); // without the decision, one group
    }

    [Fact]
    public void Pairs_naming_items_out_of_scope_are_ignored_and_groups_come_largest_first()
    {
        GroupingItem[] items = [Item("p", "1"), Item("q", "2"), Item("r", "3"), Item("s", "4"), Item("t", "5")];
        DuplicatePair[] pairs =
        [
            DuplicatePair.Of("p", "q", 0.99f, DuplicateKind.Near),
            DuplicatePair.Of("r", "s", 0.9f, DuplicateKind.Near),
            DuplicatePair.Of("s", "t", 0.9f, DuplicateKind.Near),
            DuplicatePair.Of("t", "gone", 0.99f, DuplicateKind.Near),
        ];

        var groups = DuplicateGrouping.Group(items, pairs, 0.8f);

        Assert.Equal([["r", "s", "t"], ["p", "q"]], groups.Select(g => g.Items.ToArray()));
        Assert.DoesNotContain(groups.SelectMany(g => g.Pairs), p => p.B == "gone" || p.A == "gone");
    }

    [Fact]
    public void Linkage_keeps_one_bridge_pair_from_chaining_two_sets_of_copies()
    {
        GroupingItem[] items = [Item("a1", "1"), Item("a2", "2"), Item("a3", "3"), Item("b1", "4"), Item("b2", "5"), Item("b3", "6"), Item("x", "7")];
        List<DuplicatePair> pairs = [];
        foreach (var set in new[] { new[] { "a1", "a2", "a3" }, ["b1", "b2", "b3"] })
            for (var i = 0; i < set.Length; i++)
                for (var j = i + 1; j < set.Length; j++) pairs.Add(DuplicatePair.Of(set[i], set[j], 0.95f, DuplicateKind.Near));
        pairs.Add(DuplicatePair.Of("a3", "b1", 0.9f, DuplicateKind.Near)); // the bridge
        pairs.Add(DuplicatePair.Of("x", "a1", 0.85f, DuplicateKind.Near)); // a lookalike of one item only

        Assert.Equal(7, Assert.Single(DuplicateGrouping.Group(items, pairs, 0.8f, linkage: 0)).Items.Count);

        var groups = DuplicateGrouping.Group(items, pairs, 0.8f, linkage: 0.5f);
        Assert.Equal([["a1", "a2", "a3"], ["b1", "b2", "b3"]], groups.Select(g => g.Items.ToArray()));
        Assert.DoesNotContain(groups.SelectMany(g => g.Pairs), p => p.A == "a3" && p.B == "b1");

        // Once x also matches a second member, half of the group links to it, and it joins.
        pairs.Add(DuplicatePair.Of("x", "a2", 0.85f, DuplicateKind.Near));
        Assert.Equal(["a1", "a2", "a3", "x"], DuplicateGrouping.Group(items, pairs, 0.8f, linkage: 0.5f)[0].Items);
    }

    [Fact]
    public void Union_find_refuses_a_union_that_would_join_a_cannot_link_pair()
    {
        var sets = new ConstrainedUnionFind(5);
        sets.CannotLink(0, 4);
        Assert.True(sets.Union(0, 1));
        Assert.True(sets.Union(2, 3));
        Assert.True(sets.Union(3, 4));
        Assert.False(sets.Union(1, 2)); // {0,1} and {2,3,4}: 0 and 4 may not meet
        Assert.False(sets.Union(0, 1)); // already one set
        Assert.NotEqual(sets.Find(0), sets.Find(4));
        Assert.Equal(sets.Find(2), sets.Find(4));
    }
}
