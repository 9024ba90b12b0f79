using VisualSearch.Indexing;

namespace VisualSearch.Albums;

/// <summary>One owner's album (the <c>album</c> tag on their records) and the users it is shared with, read-only.</summary>
public sealed record AlbumShare(string Owner, string Album, IReadOnlyList<string> Members);

/// <summary>Every share, and the version it was read at (for an optimistic write).</summary>
public sealed record AlbumShareSnapshot(IReadOnlyList<AlbumShare> Shares, string? Version);

/// <summary>
/// Where album shares are kept: one small document of every share, read whole and written whole under optimistic
/// concurrency. The embedded host keeps it in a file beside the index (<see cref="FileAlbumShareStore"/>); the
/// Functions host in a blob of its storage account (VisualSearch.Blobs).
/// </summary>
public interface IAlbumShareStore
{
    /// <summary>The shares and their version (null when none were ever written).</summary>
    Task<AlbumShareSnapshot> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="shares"/> if the stored version is still <paramref name="expectedVersion"/>; false (nothing
    /// written) when someone else wrote in between. Durable before it returns true.
    /// </summary>
    Task<bool> TrySaveAsync(IReadOnlyList<AlbumShare> shares, string? expectedVersion, CancellationToken cancellationToken = default);
}

/// <summary>Album names and member lists: the rules <see cref="AlbumService"/> checks before anything is stored.</summary>
public static class AlbumNames
{
    /// <summary>Longest album name (the ingestion's longest kept tag value).</summary>
    public const int MaxLength = Ingestion.IngestionService.MaxTagLength;

    /// <summary>Most members of one album.</summary>
    public const int MaxMembers = 100;

    /// <summary>1-128 characters, no control characters, no leading or trailing spaces: a value ingestion keeps as an album tag.</summary>
    public static bool IsValid(string? album) =>
        !string.IsNullOrWhiteSpace(album) && album.Length <= MaxLength && album.Trim() == album && !album.Any(char.IsControl);

    /// <summary>Null when the members are valid owner ids, not the owner, at most <see cref="MaxMembers"/> (duplicates allowed); else why not.</summary>
    public static string? CheckMembers(string owner, IReadOnlyList<string?> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count > MaxMembers) return $"An album is shared with at most {MaxMembers} users.";
        foreach (var member in members)
        {
            if (!OwnerIds.IsValid(member)) return "A member is a user's object id: 1-128 characters of ASCII letters, digits and - _ . @ | :.";
            if (member == owner) return "An album is shared with other users; its owner already sees it.";
        }

        return null;
    }
}
