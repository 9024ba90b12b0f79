using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Indexing;

namespace VisualSearch.Albums;

/// <summary>What one user sees of albums: those they share (with their members) and those shared with them.</summary>
public sealed record AlbumList(IReadOnlyList<AlbumShare> Shared, IReadOnlyList<SharedAlbum> SharedWithMe);

/// <summary>
/// Shared albums: an owner shares an album (the <c>album</c> tag of their records) with other users by object id;
/// the members then see that album's records in searches and reads, read-only. The owner of a share is always the
/// caller (the server's, never the client's choice), so no one can change another owner's album. The server builds
/// every caller's <see cref="OwnerScope"/> here (<see cref="ScopeForAsync"/>): their own records OR the albums shared
/// with them.
/// </summary>
public sealed partial class AlbumService(IAlbumShareStore store, IOptions<AlbumOptions> options, TimeProvider time, ILogger<AlbumService> logger)
{
    private const int MaxAttempts = 8;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile Cached? _cached; // one reference: never torn between threads

    /// <summary>The scope of a signed-in owner: their records and the albums others shared with them.</summary>
    public async Task<OwnerScope> ScopeForAsync(string owner, CancellationToken cancellationToken = default)
    {
        OwnerIds.Validate(owner);
        var shares = (await ReadAsync(fresh: false, cancellationToken).ConfigureAwait(false)).Shares;
        return OwnerScope.Of(owner, SharedWith(shares, owner));
    }

    /// <summary>The albums <paramref name="owner"/> shares, and those shared with them.</summary>
    public async Task<AlbumList> ListAsync(string owner, CancellationToken cancellationToken = default)
    {
        OwnerIds.Validate(owner);
        var shares = (await ReadAsync(fresh: false, cancellationToken).ConfigureAwait(false)).Shares;
        return new AlbumList(
            [.. shares.Where(s => s.Owner == owner).OrderBy(s => s.Album, StringComparer.Ordinal)],
            SharedWith(shares, owner));
    }

    /// <summary>
    /// Sets who <paramref name="owner"/>'s album is shared with (the whole list; empty: shared with no one). Throws
    /// <see cref="ArgumentException"/> for an invalid name or member. Returns the share as stored.
    /// </summary>
    public async Task<AlbumShare> SetMembersAsync(string owner, string album, IReadOnlyList<string> members, CancellationToken cancellationToken = default)
    {
        OwnerIds.Validate(owner);
        if (!AlbumNames.IsValid(album)) throw new ArgumentException($"An album name is 1-{AlbumNames.MaxLength} characters without control characters or surrounding spaces.", nameof(album));
        ArgumentNullException.ThrowIfNull(members);
        if (AlbumNames.CheckMembers(owner, members) is { } problem) throw new ArgumentException(problem, nameof(members));
        var share = new AlbumShare(owner, album, [.. members.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]);

        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var snapshot = await ReadAsync(fresh: true, cancellationToken).ConfigureAwait(false);
            var next = snapshot.Shares.Where(s => !(s.Owner == owner && s.Album == album)).ToList();
            if (share.Members.Count > 0) next.Add(share);
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (await store.TrySaveAsync(next, snapshot.Version, cancellationToken).ConfigureAwait(false))
                {
                    _cached = null; // the next read sees this write
                    LogShared(logger, owner, album, share.Members.Count);
                    return share;
                }
            }
            finally
            {
                _gate.Release();
            }

            LogConflict(logger, attempt);
        }

        throw new InvalidOperationException($"The album shares changed {MaxAttempts} times while this change was written; try again.");
    }

    private static List<SharedAlbum> SharedWith(IReadOnlyList<AlbumShare> shares, string member) =>
        [.. shares.Where(s => s.Owner != member && s.Members.Contains(member, StringComparer.Ordinal))
            .Select(s => new SharedAlbum(s.Owner, s.Album))
            .OrderBy(a => a.Owner, StringComparer.Ordinal).ThenBy(a => a.Album, StringComparer.Ordinal)];

    private async Task<AlbumShareSnapshot> ReadAsync(bool fresh, CancellationToken cancellationToken)
    {
        var cacheFor = options.Value.CacheFor;
        if (!fresh && _cached is { } cached && time.GetUtcNow() - cached.ReadAt < cacheFor) return cached.Snapshot;
        var snapshot = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
        if (cacheFor > TimeSpan.Zero) _cached = new Cached(snapshot, time.GetUtcNow());
        return snapshot;
    }

    private sealed record Cached(AlbumShareSnapshot Snapshot, DateTimeOffset ReadAt);

    [LoggerMessage(1800, LogLevel.Information, "Album '{Album}' of {Owner} is now shared with {Members} users")]
    private static partial void LogShared(ILogger logger, string owner, string album, int members);

    [LoggerMessage(1801, LogLevel.Information, "Album shares changed meanwhile (attempt {Attempt}); reading them again")]
    private static partial void LogConflict(ILogger logger, int attempt);
}
