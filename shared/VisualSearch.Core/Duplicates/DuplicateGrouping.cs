namespace VisualSearch.Duplicates;

/// <summary>An item as the grouping sees it: its id and the hash of its bytes.</summary>
public readonly record struct GroupingItem(string Id, string ContentHash);

/// <summary>
/// Turns items and scored candidate pairs into groups: exact copies (same content hash) and near copies (a pair
/// at or above the threshold), joined by union-find best edge first, never across a "not duplicates" pair.
/// Pure: no index, no I/O; the self-join that finds the candidate pairs is <see cref="DuplicateFinder"/>.
/// </summary>
public static class DuplicateGrouping
{
    /// <param name="items">The items in scope (pairs naming another id are ignored).</param>
    /// <param name="nearPairs">Candidate pairs with their cosine similarity (either order, duplicates allowed).</param>
    /// <param name="minScore">The threshold a near pair must reach.</param>
    /// <param name="separated">True for a pair that must never share a group (a not-duplicates decision).</param>
    /// <param name="linkage">
    /// 0: single linkage (any pair joins two groups). Above 0: two groups join through a near pair only when at
    /// least this share of each group's items has a pair at or above the threshold into the other, so one bridge
    /// item cannot chain two sets of copies (or a run of lookalikes) into one group. Exact pairs always join.
    /// </param>
    /// <returns>Groups of two or more items, largest first, then best pair first, then by first id.</returns>
    public static IReadOnlyList<DuplicateGroup> Group(
        IReadOnlyList<GroupingItem> items,
        IEnumerable<DuplicatePair> nearPairs,
        float minScore,
        IEnumerable<(string A, string B)>? separated = null,
        float linkage = 0)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(nearPairs);
        var slot = new Dictionary<string, int>(items.Count, StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++) slot.TryAdd(items[i].Id, i);

        var edges = new List<DuplicatePair>();
        foreach (var bucket in items.GroupBy(i => i.ContentHash, StringComparer.OrdinalIgnoreCase))
        {
            var ids = bucket.Select(i => i.Id).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            // A star from the first id: enough to join the bucket, and one pair per extra copy to show.
            for (var j = 1; j < ids.Count; j++) edges.Add(DuplicatePair.Of(ids[0], ids[j], 1f, DuplicateKind.Exact));
        }

        var hashes = items.ToDictionary(i => i.Id, i => i.ContentHash, StringComparer.Ordinal);
        var seen = new HashSet<(string, string)>();
        foreach (var pair in nearPairs)
        {
            if (pair.Score < minScore || pair.A == pair.B) continue;
            if (!hashes.TryGetValue(pair.A, out var ha) || !hashes.TryGetValue(pair.B, out var hb)) continue;
            if (string.Equals(ha, hb, StringComparison.OrdinalIgnoreCase)) continue; // already an exact pair
            var p = DuplicatePair.Of(pair.A, pair.B, pair.Score, DuplicateKind.Near);
            if (seen.Add((p.A, p.B))) edges.Add(p);
        }

        var sets = new ConstrainedUnionFind(items.Count);
        if (separated is not null)
            foreach (var (a, b) in separated)
                if (slot.TryGetValue(a, out var sa) && slot.TryGetValue(b, out var sb)) sets.CannotLink(sa, sb);

        // Exact pairs first, then the strongest near pairs: a weak link never blocks a strong one.
        edges.Sort(static (x, y) =>
        {
            var c = x.Kind.CompareTo(y.Kind);
            if (c != 0) return c;
            c = y.Score.CompareTo(x.Score);
            if (c != 0) return c;
            c = string.CompareOrdinal(x.A, y.A);
            return c != 0 ? c : string.CompareOrdinal(x.B, y.B);
        });
        var neighbours = new List<int>?[items.Count];
        var groupOf = new Dictionary<int, List<int>>();
        if (linkage > 0)
        {
            foreach (var edge in edges)
            {
                int a = slot[edge.A], b = slot[edge.B];
                (neighbours[a] ??= []).Add(b);
                (neighbours[b] ??= []).Add(a);
            }
        }

        var taken = new List<DuplicatePair>();
        foreach (var edge in edges)
        {
            int a = slot[edge.A], b = slot[edge.B];
            int ra = sets.Find(a), rb = sets.Find(b);
            if (ra == rb) continue;
            var membersA = linkage > 0 ? Members(groupOf, ra) : null;
            var membersB = linkage > 0 ? Members(groupOf, rb) : null;
            if (linkage > 0 && edge.Kind == DuplicateKind.Near
                && (Linked(membersA!, rb) < linkage * membersA!.Count || Linked(membersB!, ra) < linkage * membersB!.Count))
                continue;
            if (!sets.Union(a, b)) continue;
            taken.Add(edge);
            if (linkage > 0)
            {
                var root = sets.Find(a);
                groupOf.Remove(ra);
                groupOf.Remove(rb);
                groupOf[root] = [.. membersA!, .. membersB!];
            }
        }

        // How many of the members have a pair into the group whose root is otherRoot.
        int Linked(List<int> members, int otherRoot) =>
            members.Count(m => neighbours[m] is { } list && list.Exists(n => sets.Find(n) == otherRoot));

        var members = new Dictionary<int, List<string>>();
        for (var i = 0; i < items.Count; i++)
        {
            if (slot[items[i].Id] != i) continue;
            var root = sets.Find(i);
            if (!members.TryGetValue(root, out var list)) members[root] = list = [];
            list.Add(items[i].Id);
        }

        var pairsByRoot = taken.GroupBy(p => sets.Find(slot[p.A])).ToDictionary(g => g.Key, g => g.ToList());
        return members
            .Where(m => m.Value.Count > 1)
            .Select(m =>
            {
                var pairs = pairsByRoot[m.Key];
                var kind = pairs.TrueForAll(p => p.Kind == DuplicateKind.Exact) ? DuplicateKind.Exact : DuplicateKind.Near;
                return new DuplicateGroup(kind, [.. m.Value.Order(StringComparer.Ordinal)], pairs);
            })
            .OrderByDescending(g => g.Items.Count)
            .ThenByDescending(g => g.Pairs.Max(p => p.Score))
            .ThenBy(g => g.Items[0], StringComparer.Ordinal)
            .ToList();
    }

    private static List<int> Members(Dictionary<int, List<int>> groupOf, int root) =>
        groupOf.TryGetValue(root, out var list) ? list : [root];
}
