using VisualSearch.Indexing;

namespace VisualSearch.Duplicates;

/// <summary>Why two items are in one group.</summary>
public enum DuplicateKind
{
    /// <summary>The same bytes: equal <see cref="ItemMetadata.ContentHash"/>.</summary>
    Exact,

    /// <summary>Different bytes whose vectors score at least the threshold (a re-save, resize, crop...).</summary>
    Near,
}

/// <summary>Two items that joined a group, ids in ordinal order, with the cosine similarity of their vectors.</summary>
public sealed record DuplicatePair(string A, string B, float Score, DuplicateKind Kind)
{
    /// <summary>The pair with its ids in ordinal order (the form every pair is kept in).</summary>
    public static DuplicatePair Of(string a, string b, float score, DuplicateKind kind) =>
        string.CompareOrdinal(a, b) <= 0 ? new(a, b, score, kind) : new(b, a, score, kind);
}

/// <summary>
/// Items that are copies of each other: joined through <see cref="Pairs"/> (the edges union-find took, so a
/// chain A–B–C shows both links). <see cref="Kind"/> is <see cref="DuplicateKind.Exact"/> only when every pair is.
/// </summary>
public sealed record DuplicateGroup(DuplicateKind Kind, IReadOnlyList<string> Items, IReadOnlyList<DuplicatePair> Pairs);

/// <summary>A page of groups, largest first; <see cref="NextCursor"/> is null on the last page.</summary>
public sealed record DuplicateGroupsPage(float MinScore, int Total, IReadOnlyList<DuplicateGroup> Groups, string? NextCursor);

/// <summary>
/// What to group. <paramref name="Scope"/> restricts the items considered (both sides of every pair): the server
/// passes the caller's own records (<see cref="OwnerScope.Of"/>), an administrator everyone's or one owner's; null
/// is <see cref="OwnerScope.Everyone"/> (the single-user host and the CLI).
/// </summary>
public sealed record DuplicateQuery(float? MinScore = null, int Limit = DuplicateQuery.DefaultLimit, int Offset = 0, OwnerScope? Scope = null)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;
}

/// <summary>
/// Where the last grouping's time went: listing the items, the self-join queries (<paramref name="Queried"/> of
/// <paramref name="Items"/>), and union-find with the decisions. For logs and the bench, not for requests.
/// </summary>
public sealed record DuplicateGroupingTimings(int Items, int Queried, int Groups, TimeSpan Scan, TimeSpan Join, TimeSpan Group);

/// <summary>A user's decision about items the grouping showed together.</summary>
public enum DuplicateDecisionKind
{
    /// <summary>The two items are not copies: they never group again.</summary>
    NotDuplicates,

    /// <summary>Keep one item of a group; optionally delete the others at their source.</summary>
    Keep,
}

/// <summary>What a keep did to each of the other items.</summary>
public sealed record KeepOutcome(string Kept, IReadOnlyList<RemovedItem> Others);

/// <summary>One of the items a keep was asked to delete: whether its source and its record are gone.</summary>
public sealed record RemovedItem(string Id, bool SourceDeleted, bool RecordRemoved, string? Detail = null);
