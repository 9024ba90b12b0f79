namespace VisualSearch.Duplicates;

/// <summary>
/// Union-find (path halving, union by size) over items 0..n-1 with cannot-link constraints: two sets are never
/// joined while any constrained pair would then share a set. Fed edges best first, this is single-linkage
/// clustering that respects "not duplicates" decisions even when a third item links both.
/// </summary>
public sealed class ConstrainedUnionFind
{
    private readonly int[] _parent;
    private readonly int[] _size;
    private readonly Dictionary<int, List<int>> _cannotLink = [];

    public ConstrainedUnionFind(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _parent = new int[count];
        _size = new int[count];
        for (var i = 0; i < count; i++)
        {
            _parent[i] = i;
            _size[i] = 1;
        }
    }

    /// <summary>Forbids <paramref name="a"/> and <paramref name="b"/> from ever sharing a set (call before any union).</summary>
    public void CannotLink(int a, int b)
    {
        if (a == b) return;
        Add(Find(a), b);
        Add(Find(b), a);
    }

    public int Find(int x)
    {
        while (_parent[x] != x)
        {
            _parent[x] = _parent[_parent[x]];
            x = _parent[x];
        }

        return x;
    }

    /// <summary>Joins the sets of a and b; false when they already share one or a constraint forbids it.</summary>
    public bool Union(int a, int b)
    {
        var ra = Find(a);
        var rb = Find(b);
        if (ra == rb) return false;
        if (Conflicts(ra, rb) || Conflicts(rb, ra)) return false;
        if (_size[ra] < _size[rb]) (ra, rb) = (rb, ra);
        _parent[rb] = ra;
        _size[ra] += _size[rb];
        if (_cannotLink.Remove(rb, out var moved))
            foreach (var other in moved) Add(ra, other);
        return true;
    }

    private bool Conflicts(int root, int otherRoot) =>
        _cannotLink.TryGetValue(root, out var forbidden) && forbidden.Exists(item => Find(item) == otherRoot);

    private void Add(int root, int item)
    {
        if (!_cannotLink.TryGetValue(root, out var list)) _cannotLink[root] = list = [];
        list.Add(item);
    }
}
