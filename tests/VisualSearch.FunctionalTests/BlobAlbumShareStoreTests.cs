using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Albums;
using VisualSearch.Blobs;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests;

/// <summary>The Functions host's album shares in a blob, against the shared Azurite: created on first write, ETag-guarded writes.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class BlobAlbumShareStoreTests(AzuriteFixture azurite)
{
    private BlobAlbumShareStore Store(string container) =>
        new(azurite.Service, Options.Create(new BlobAlbumShareOptions { Container = container }));

    [Fact]
    public async Task The_first_write_creates_the_container_and_a_stale_etag_is_refused()
    {
        var container = "albums-" + Guid.NewGuid().ToString("N")[..12];
        var store = Store(container);
        try
        {
            var empty = await store.LoadAsync();
            Assert.Empty(empty.Shares);
            Assert.Null(empty.Version);

            // The container does not exist yet: the first attempt creates it and asks for a retry; the retry writes.
            Assert.False(await store.TrySaveAsync([new AlbumShare("ann", "trip", ["bob"])], null));
            Assert.True(await store.TrySaveAsync([new AlbumShare("ann", "trip", ["bob"])], null));
            var first = await store.LoadAsync();
            Assert.Equal("trip", Assert.Single(first.Shares).Album);

            Assert.False(await store.TrySaveAsync([], null));           // "create" when it exists
            Assert.True(await Store(container).TrySaveAsync([], first.Version));
            Assert.False(await store.TrySaveAsync([new AlbumShare("ann", "x", ["bob"])], first.Version)); // stale ETag
            Assert.Empty((await store.LoadAsync()).Shares);
        }
        finally
        {
            await azurite.Service.GetBlobContainerClient(container).DeleteIfExistsAsync();
        }
    }

    [Fact]
    public async Task Two_hosts_sharing_albums_at_once_through_the_service_keep_every_change()
    {
        var container = (await azurite.NewContainerAsync()).Name;
        try
        {
            AlbumService Service() => new(Store(container), Options.Create(new AlbumOptions()), TimeProvider.System, NullLogger<AlbumService>.Instance);
            var one = Service();
            var two = Service();

            await Task.WhenAll(Enumerable.Range(0, 6).Select(i => (i % 2 == 0 ? one : two).SetMembersAsync($"owner-{i}", "trip", ["bob"])));

            Assert.Equal(6, (await Service().ScopeForAsync("bob")).SharedAlbums.Count);
        }
        finally
        {
            await azurite.Service.GetBlobContainerClient(container).DeleteIfExistsAsync();
        }
    }
}
