using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Indexing;

public sealed class OwnerScopeTests
{
    [Theory]
    [InlineData("users/6f1c2a94-0d1e-4b8a-9c55-a1b2c3d4e5f6/2026/05/01/x.jpg", "6f1c2a94-0d1e-4b8a-9c55-a1b2c3d4e5f6")]
    [InlineData("users/ben|4411/2026/05/01/x.jpg", "ben|4411")]
    [InlineData("users/auth0:abc@x.y/a.png", "auth0:abc@x.y")]
    [InlineData("2026/05/01/x.jpg", null)]               // no prefix: no owner (the single-user host's uploads)
    [InlineData("users/x.jpg", null)]                    // no owner segment
    [InlineData("users//2026/x.jpg", null)]
    [InlineData("users/../2026/x.jpg", null)]
    [InlineData("users/a b/2026/x.jpg", null)]
    [InlineData("Users/ana/2026/x.jpg", null)]           // the prefix is exact
    [InlineData("other/users/ana/x.jpg", null)]
    public void The_owner_of_a_blob_comes_from_its_users_prefix_only(string blobName, string? owner) =>
        Assert.Equal(owner, OwnerIds.FromBlobName(blobName));

    [Theory]
    [InlineData("", false)]
    [InlineData(".", false)]
    [InlineData("..", false)]
    [InlineData("a/b", false)]
    [InlineData("a\\b", false)]
    [InlineData("caf\u00e9", false)]
    [InlineData("x y", false)]
    [InlineData("a'b", false)]
    [InlineData("6f1c2a94-0d1e-4b8a-9c55-a1b2c3d4e5f6", true)]
    [InlineData("auth0|5f7c8ec7c33c6c004bbafe82", true)]
    public void Owner_ids_are_safe_in_a_path_segment_and_a_filter(string owner, bool valid)
    {
        Assert.Equal(valid, OwnerIds.IsValid(owner));
        Assert.False(OwnerIds.IsValid(new string('a', OwnerIds.MaxLength + 1)));
        if (!valid) Assert.Throws<ArgumentException>(() => OwnerScope.Of(owner));
    }

    [Fact]
    public void The_scope_is_anded_under_the_client_filter()
    {
        var client = SearchFilter.Parse("owner eq 'bob' and album eq 'trip'");

        var restricted = OwnerScope.Of("ann").Restrict(client)!;

        Assert.Equal("owner eq 'bob' and album eq 'trip' and owner eq 'ann'", restricted.ToString());
        Assert.Equal("owner eq 'ann'", OwnerScope.Of("ann").Restrict(null)!.ToString());
        Assert.Same(client, OwnerScope.Everyone.Restrict(client));
        Assert.Null(OwnerScope.Everyone.Restrict(new SearchFilter()));
        Assert.Throws<InvalidOperationException>(() => OwnerScope.Of("ann", [new SharedAlbum("bob", "trip")]).Restrict(client));
    }

    [Fact]
    public void A_query_admits_what_the_scope_allows_and_the_client_filter_matches()
    {
        var scope = OwnerScope.Of("ann", [new SharedAlbum("bob", "trip"), new SharedAlbum("ann", "own"), new SharedAlbum("bob", "trip")]);
        Assert.Equal([new SharedAlbum("bob", "trip")], scope.SharedAlbums); // duplicates and the owner's own albums dropped
        var query = new VectorQuery(5, Filter: SearchFilter.Parse("album eq 'trip'")) { Scope = scope };

        Assert.True(query.HasConditions);
        Assert.True(query.Admits(Item("ann", "trip")));
        Assert.False(query.Admits(Item("ann", "home")));               // the client filter
        Assert.True(query.Admits(Item("bob", "trip")));                // the shared album
        Assert.False(query.Admits(Item("bob", "other")));              // bob's other albums
        Assert.False(query.Admits(Item("bob", null)));
        Assert.False(query.Admits(Item("carol", "trip")));             // another owner's album of the same name
        Assert.False(query.Admits(Item(null, "trip")));                // a record of no one
        Assert.True(scope.Owns(Item("ann", null)));
        Assert.False(scope.Owns(Item("bob", "trip")));
        Assert.False(scope.OwnedOnly.Allows(Item("bob", "trip")));
        Assert.False(new VectorQuery(5).HasConditions);
        Assert.True(new VectorQuery(5).Admits(Item(null, null)));
    }

    private static ItemMetadata Item(string? owner, string? album)
    {
        var tags = new Dictionary<string, string>();
        if (owner is not null) tags["owner"] = owner;
        if (album is not null) tags["album"] = album;
        return new ItemMetadata { Source = "file", Name = "x.jpg", ContentHash = "h", ContentType = "image/jpeg", ModelId = "m", Tags = tags };
    }
}
