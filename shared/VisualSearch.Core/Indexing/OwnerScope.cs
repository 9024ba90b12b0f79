namespace VisualSearch.Indexing;

/// <summary>
/// Whose records a read or a query may return. The server sets it from the signed-in caller, never from client
/// input (the Azure AI Search "security filter" pattern): the caller's own records (<c>owner eq me</c>) OR the
/// albums other owners shared with the caller (<c>owner eq X and album eq Y</c> for each), and every backend
/// AND-s that condition with the client's filter, so a client filter can narrow the answer but never widen it.
/// </summary>
public sealed class OwnerScope
{
    /// <summary>Most albums one scope may hold (a bound on the size of the backends' filter).</summary>
    public const int MaxSharedAlbums = 200;

    private OwnerScope(string? owner, IReadOnlyList<SharedAlbum> shared)
    {
        Owner = owner;
        SharedAlbums = shared;
    }

    /// <summary>Every record: the single-user local host, an administrator, and the server's own work (ingestion, reindex).</summary>
    public static OwnerScope Everyone { get; } = new(null, []);

    /// <summary>The owner whose records are visible; null for <see cref="Everyone"/>.</summary>
    public string? Owner { get; }

    /// <summary>Albums of other owners shared with <see cref="Owner"/>: their records are visible too (read-only).</summary>
    public IReadOnlyList<SharedAlbum> SharedAlbums { get; }

    /// <summary>Only the records of <paramref name="owner"/> (an id from <see cref="OwnerIds"/>' rules).</summary>
    public static OwnerScope Of(string owner)
    {
        OwnerIds.Validate(owner);
        return new OwnerScope(owner, []);
    }

    /// <summary>The records of <paramref name="owner"/> and those of the albums shared with them (own albums are skipped).</summary>
    public static OwnerScope Of(string owner, IEnumerable<SharedAlbum> shared)
    {
        OwnerIds.Validate(owner);
        ArgumentNullException.ThrowIfNull(shared);
        var albums = shared.Where(a => a.Owner != owner).Distinct().OrderBy(a => a.Owner, StringComparer.Ordinal).ThenBy(a => a.Album, StringComparer.Ordinal).ToList();
        if (albums.Count > MaxSharedAlbums) albums = albums[..MaxSharedAlbums];
        return new OwnerScope(owner, albums);
    }

    /// <summary>This scope without the shared albums: what the caller owns, and so may change or delete.</summary>
    public OwnerScope OwnedOnly => SharedAlbums.Count == 0 ? this : new OwnerScope(Owner, []);

    /// <summary>True if a record with this metadata may be shown under the scope.</summary>
    public bool Allows(ItemMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (Owner is null) return true;
        var owner = OwnerIds.OwnerOf(metadata);
        if (owner is null) return false;
        if (string.Equals(owner, Owner, StringComparison.Ordinal)) return true;
        if (SharedAlbums.Count == 0 || !metadata.Tags.TryGetValue(SharedAlbum.Field, out var album)) return false;
        foreach (var shared in SharedAlbums)
        {
            if (string.Equals(shared.Owner, owner, StringComparison.Ordinal) && string.Equals(shared.Album, album, StringComparison.Ordinal)) return true;
        }

        return false;
    }

    /// <summary>True if a record with this metadata is the scope owner's own (or the scope is <see cref="Everyone"/>).</summary>
    public bool Owns(ItemMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return Owner is null || string.Equals(OwnerIds.OwnerOf(metadata), Owner, StringComparison.Ordinal);
    }

    /// <summary>
    /// <paramref name="filter"/> with the scope's owner condition added (AND), or the filter itself for
    /// <see cref="Everyone"/>; null when the result has no condition. Only for a scope without shared albums (an OR
    /// the filter language cannot say): backends match <see cref="VectorQuery.Admits"/> instead.
    /// </summary>
    public SearchFilter? Restrict(SearchFilter? filter)
    {
        if (SharedAlbums.Count > 0) throw new InvalidOperationException("A scope with shared albums is not a conjunction: use VectorQuery.Admits.");
        if (Owner is null) return filter is { IsEmpty: false } ? filter : null;
        var conditions = new List<FieldEquals>(filter?.Conditions ?? []) { new(OwnerIds.Field, Owner) };
        return (filter ?? new SearchFilter()) with { Conditions = conditions };
    }

    public override string ToString() => Owner is null ? "everyone" : SharedAlbums.Count == 0 ? $"owner {Owner}" : $"owner {Owner} and {SharedAlbums.Count} shared albums";
}

/// <summary>An album (the <c>album</c> tag of records) of <paramref name="Owner"/>, as shared with someone else.</summary>
public sealed record SharedAlbum(string Owner, string Album)
{
    /// <summary>The metadata field (a key of <see cref="ItemMetadata.Tags"/>) holding a record's album.</summary>
    public const string Field = "album";
}

/// <summary>
/// Owner ids: the <c>oid</c> (else <c>sub</c>) of the signed-in caller, stored in a record's <c>owner</c> field and
/// in upload blob names (<c>users/&lt;owner&gt;/...</c>), so their characters are kept to what is safe in a path segment.
/// </summary>
public static class OwnerIds
{
    /// <summary>The metadata field (a key of <see cref="ItemMetadata.Tags"/>) holding the owner; filterable in every backend.</summary>
    public const string Field = "owner";

    public const int MaxLength = 128;

    /// <summary>The owner of a record, or null for records stored without one (before sign-in was configured).</summary>
    public static string? OwnerOf(ItemMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.Tags.TryGetValue(Field, out var owner) ? owner : null;
    }

    /// <summary>1-128 characters of ASCII letters, digits and <c>- _ . @ | :</c>; not "." or "..".</summary>
    public static bool IsValid(string? owner)
    {
        if (string.IsNullOrEmpty(owner) || owner.Length > MaxLength || owner is "." or "..") return false;
        foreach (var c in owner)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.' or '@' or '|' or ':')) return false;
        }

        return true;
    }

    /// <summary>The prefix of upload blob names that carries the owner: <c>users/&lt;owner&gt;/yyyy/MM/dd/&lt;guid&gt;.&lt;ext&gt;</c>.</summary>
    public const string BlobPrefix = "users/";

    /// <summary>
    /// The owner a blob name encodes (<c>users/&lt;owner&gt;/...</c>), or null when it has no such prefix or the
    /// segment is not a valid owner id. Ingestion takes a blob's owner from here only: the name is the server's
    /// choice, signed into the upload URL, while blob metadata is whatever the client sent.
    /// </summary>
    public static string? FromBlobName(string? blobName)
    {
        if (blobName is null || !blobName.StartsWith(BlobPrefix, StringComparison.Ordinal)) return null;
        var end = blobName.IndexOf('/', BlobPrefix.Length);
        if (end < 0) return null;
        var owner = blobName[BlobPrefix.Length..end];
        return IsValid(owner) ? owner : null;
    }

    public static void Validate(string? owner)
    {
        if (!IsValid(owner))
            throw new ArgumentException("An owner id is 1-128 characters of ASCII letters, digits and - _ . @ | : (not '.' or '..').", nameof(owner));
    }
}
