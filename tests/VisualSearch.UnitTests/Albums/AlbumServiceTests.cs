using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Albums;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Albums;

/// <summary>Album shares through the service over the real file store: scopes, lists, rules, durability, concurrent writers.</summary>
public sealed class AlbumServiceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string SharesPath => Path.Combine(_dir.Path, "albums", "shares.json");

    private AlbumService Service(TimeSpan? cacheFor = null) =>
        new(new FileAlbumShareStore(SharesPath), Options.Create(new AlbumOptions { CacheFor = cacheFor ?? TimeSpan.Zero }), TimeProvider.System, NullLogger<AlbumService>.Instance);

    [Fact]
    public async Task A_share_puts_the_album_in_its_members_scopes_only_and_survives_a_restart()
    {
        var service = Service();
        await service.SetMembersAsync("ann", "trip", ["bob", "cy", "bob"]);
        await service.SetMembersAsync("dan", "trip", ["cy"]);

        var bob = await service.ScopeForAsync("bob");
        Assert.Equal([new SharedAlbum("ann", "trip")], bob.SharedAlbums);
        Assert.Equal([new SharedAlbum("ann", "trip"), new SharedAlbum("dan", "trip")], (await service.ScopeForAsync("cy")).SharedAlbums);
        Assert.Empty((await service.ScopeForAsync("ann")).SharedAlbums);
        Assert.Empty((await service.ScopeForAsync("eve")).SharedAlbums);

        var restarted = Service();
        var ofAnn = await restarted.ListAsync("ann");
        var share = Assert.Single(ofAnn.Shared);
        Assert.Equal("trip", share.Album);
        Assert.Equal(["bob", "cy"], share.Members);
        Assert.Empty(ofAnn.SharedWithMe);
        Assert.Equal([new SharedAlbum("ann", "trip"), new SharedAlbum("dan", "trip")], (await restarted.ListAsync("cy")).SharedWithMe);
    }

    [Fact]
    public async Task Setting_the_members_replaces_them_and_an_empty_list_unshares()
    {
        var service = Service(TimeSpan.FromMinutes(5)); // the cache never hides this process's own writes
        await service.SetMembersAsync("ann", "trip", ["bob"]);
        Assert.Single((await service.ScopeForAsync("bob")).SharedAlbums);

        await service.SetMembersAsync("ann", "trip", ["cy"]);
        Assert.Empty((await service.ScopeForAsync("bob")).SharedAlbums);
        Assert.Single((await service.ScopeForAsync("cy")).SharedAlbums);

        await service.SetMembersAsync("ann", "trip", []);
        Assert.Empty((await service.ScopeForAsync("cy")).SharedAlbums);
        Assert.Empty((await service.ListAsync("ann")).Shared);
    }

    [Fact]
    public async Task Two_writers_over_the_same_file_keep_both_changes()
    {
        var one = Service();
        var two = Service();
        await Task.WhenAll(Enumerable.Range(0, 12).Select(i => (i % 2 == 0 ? one : two).SetMembersAsync($"owner-{i}", "album", ["bob"])));

        Assert.Equal(12, (await Service().ScopeForAsync("bob")).SharedAlbums.Count);
    }

    [Fact]
    public async Task Bad_names_and_members_are_refused_and_nothing_is_written()
    {
        var service = Service();
        await Assert.ThrowsAsync<ArgumentException>(() => service.SetMembersAsync("ann", "", ["bob"]));
        await Assert.ThrowsAsync<ArgumentException>(() => service.SetMembersAsync("ann", " trip", ["bob"]));
        await Assert.ThrowsAsync<ArgumentException>(() => service.SetMembersAsync("ann", "a\nb", ["bob"]));
        await Assert.ThrowsAsync<ArgumentException>(() => service.SetMembersAsync("ann", new string('x', AlbumNames.MaxLength + 1), ["bob"]));
        await Assert.ThrowsAsync<ArgumentException>(() => service.SetMembersAsync("ann", "trip", ["ann"]));
        await Assert.ThrowsAsync<ArgumentException>(() => service.SetMembersAsync("ann", "trip", ["a/b"]));
        await Assert.ThrowsAsync<ArgumentException>(() => service.SetMembersAsync("ann", "trip", [.. Enumerable.Range(0, AlbumNames.MaxMembers + 1).Select(i => $"u{i}")]));
        await Assert.ThrowsAsync<ArgumentException>(() => service.SetMembersAsync("a b", "trip", ["bob"]));
        Assert.False(File.Exists(SharesPath));
    }

    [Fact]
    public async Task A_stale_version_is_refused_by_the_store()
    {
        var store = new FileAlbumShareStore(SharesPath);
        var first = await store.LoadAsync();
        Assert.Null(first.Version);
        Assert.True(await store.TrySaveAsync([new AlbumShare("ann", "trip", ["bob"])], first.Version));
        Assert.False(await store.TrySaveAsync([], first.Version));
        var second = await store.LoadAsync();
        Assert.Equal("1", second.Version);
        Assert.Equal("trip", Assert.Single(second.Shares).Album);
        Assert.False(File.Exists(SharesPath + ".tmp"));
    }
}
