using System.Net;
using System.Text;
using System.Text.Json;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests.Identity;

/// <summary>
/// Shared albums with real tokens through vsearch serve's host, as an attacker would try them. A has an album "trip"
/// (the clock photo) and an album "private" (the camera photo); C has an album also named "trip" (coffee). A shares
/// her "trip" with B: B then finds and reads exactly A's trip, read-only; nothing else of A's, nothing of C's; no
/// filter widens that; B's attempts to delete, decide about or re-share A's album change nothing; revoking is immediate.
/// </summary>
public sealed class AlbumSharingTests(SignedInHostFixture fixture) : IClassFixture<SignedInHostFixture>
{
    private static readonly TestUser C = new("Cy", "sub-cy-81", "9a8b7c6d-0000-4e1f-8a2b-3c4d5e6f7a8b", []);
    private const string Missing = "uploads/00000000000000000000000000000000/no-such.png";

    [Fact]
    public async Task B_sees_As_shared_album_and_only_that_album_read_only_until_A_revokes_it()
    {
        var (trip, secret, theirTrip) = await UploadAlbumsAsync();
        var clock = Repo.PhotoBytes("clock_motion.png");
        foreach (var user in new[] { TestUser.A, TestUser.B }) // whatever another test of this class left shared
        {
            using var unshare = await PutMembersAsync(user, "trip", []);
            await Http.JsonAsync(unshare);
        }

        // Before sharing B finds nothing of A's, and reading A's item is like reading an unknown one.
        Assert.DoesNotContain(trip, await SearchIdsAsync(TestUser.B, clock));
        await AssertLikeUnknownAsync(TestUser.B, "GET", "/api/items/{0}", trip);

        using (var share = await PutMembersAsync(TestUser.A, "trip", [TestUser.B.Owner]))
        {
            var body = await Http.JsonAsync(share);
            Assert.Equal("trip", body.GetProperty("name").GetString());
            Assert.Equal([TestUser.B.Owner], body.GetProperty("members").EnumerateArray().Select(m => m.GetString()));
        }

        // The lists: A's share with its members; for B exactly A's trip, not C's trip of the same name.
        var ofA = await AlbumsAsync(TestUser.A);
        var own = Assert.Single(ofA.GetProperty("shared").EnumerateArray());
        Assert.Equal(("trip", TestUser.B.Owner), (own.GetProperty("name").GetString(), Assert.Single(own.GetProperty("members").EnumerateArray()).GetString()));
        var ofB = await AlbumsAsync(TestUser.B);
        var shared = Assert.Single(ofB.GetProperty("sharedWithMe").EnumerateArray());
        Assert.Equal((TestUser.A.Owner, "trip"), (shared.GetProperty("owner").GetString(), shared.GetProperty("name").GetString()));
        Assert.Empty(ofB.GetProperty("shared").EnumerateArray());

        // B finds A's trip by image and reads it; A's private album and C's trip stay hidden, and B's own photos stay his.
        var found = await SearchIdsAsync(TestUser.B, clock);
        Assert.Equal(trip, found[0]);
        Assert.DoesNotContain(secret, found);
        Assert.DoesNotContain(theirTrip, found);
        Assert.All(found.Where(id => id != trip), id => Assert.StartsWith(TestUser.B.Owner + "/", id, StringComparison.Ordinal));
        foreach (var route in new[] { "/api/items/{0}", "/api/images/{0}", "/api/thumbnails/{0}?size=64", "/api/search?id={0}" })
        {
            using var read = await fixture.GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, route, trip), TestUser.B);
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        await AssertLikeUnknownAsync(TestUser.B, "GET", "/api/items/{0}", secret);
        await AssertLikeUnknownAsync(TestUser.B, "GET", "/api/thumbnails/{0}?size=64", theirTrip);

        // Read-only: B cannot delete it, nor decide about it as a duplicate; it is never in B's duplicate groups.
        await AssertLikeUnknownAsync(TestUser.B, "DELETE", "/api/items/{0}", trip);
        using (var decide = await fixture.SendAsync(HttpMethod.Post, "/api/duplicates/decisions", fixture.Issuer.Token(TestUser.B),
            Json(new { items = new[] { trip, SignedInHostFixture.IdOf(TestUser.B, "brick.png") }, decision = "keep", keep = SignedInHostFixture.IdOf(TestUser.B, "brick.png"), delete = true })))
            await Http.ProblemAsync(decide, HttpStatusCode.NotFound);
        using (var groups = await fixture.GetAsync("/api/duplicates?minScore=-1&limit=500", TestUser.B))
            Assert.DoesNotContain(trip, (await Http.JsonAsync(groups)).ToString());
        using (var item = await fixture.GetAsync("/api/items/" + trip, TestUser.A))
            await Http.JsonAsync(item);

        // Revoking is immediate: B reads A's trip like an unknown id again.
        using (var revoke = await PutMembersAsync(TestUser.A, "trip", []))
            Assert.Empty((await Http.JsonAsync(revoke)).GetProperty("members").EnumerateArray());
        await AssertLikeUnknownAsync(TestUser.B, "GET", "/api/items/{0}", trip);
        Assert.DoesNotContain(trip, await SearchIdsAsync(TestUser.B, clock));
        Assert.Empty((await AlbumsAsync(TestUser.B)).GetProperty("sharedWithMe").EnumerateArray());
    }

    [Theory]
    [InlineData("album eq 'private'")]
    [InlineData("album eq 'trip' and owner eq '{C}'")]
    [InlineData("owner eq '{A}' and album eq 'private'")]
    [InlineData("album eq 'trip'' or album eq ''private'")]
    [InlineData("album eq 'x'') or (owner eq ''{A}'")]
    public async Task No_filter_widens_a_shared_album_to_another_album_or_owner(string filter)
    {
        var (trip, secret, theirTrip) = await UploadAlbumsAsync();
        using (var share = await PutMembersAsync(TestUser.A, "trip", [TestUser.B.Owner]))
            await Http.JsonAsync(share);
        var text = filter.Replace("{A}", TestUser.A.Owner, StringComparison.Ordinal).Replace("{C}", C.Owner, StringComparison.Ordinal);

        var found = await SearchIdsAsync(TestUser.B, Repo.PhotoBytes("clock_motion.png"), "?k=50&filter=" + Uri.EscapeDataString(text));

        Assert.DoesNotContain(secret, found);
        Assert.DoesNotContain(theirTrip, found);
        Assert.DoesNotContain(trip, found);
        // The same filter narrows as expected when it names the shared album: A's trip and nothing else.
        var narrowed = await SearchIdsAsync(TestUser.B, Repo.PhotoBytes("clock_motion.png"), "?k=50&filter=" + Uri.EscapeDataString($"owner eq '{TestUser.A.Owner}'"));
        Assert.Equal([trip], narrowed);
    }

    [Fact]
    public async Task B_cannot_add_members_to_As_album_his_put_shares_only_his_own_album_of_that_name()
    {
        var (trip, _, _) = await UploadAlbumsAsync();
        using (var share = await PutMembersAsync(TestUser.A, "trip", [TestUser.B.Owner]))
            await Http.JsonAsync(share);

        // B names A's album: the owner is B himself (from his token), so this shares B's own "trip" with C.
        using (var attempt = await PutMembersAsync(TestUser.B, "trip", [C.Owner]))
            await Http.JsonAsync(attempt);

        var ofC = await AlbumsAsync(C);
        Assert.Equal([(TestUser.B.Owner, "trip")], ofC.GetProperty("sharedWithMe").EnumerateArray().Select(a => (a.GetProperty("owner").GetString(), a.GetProperty("name").GetString())));
        Assert.DoesNotContain(trip, await SearchIdsAsync(C, Repo.PhotoBytes("clock_motion.png")));
        await AssertLikeUnknownAsync(C, "GET", "/api/images/{0}", trip);
        var own = Assert.Single((await AlbumsAsync(TestUser.A)).GetProperty("shared").EnumerateArray());
        Assert.Equal([TestUser.B.Owner], own.GetProperty("members").EnumerateArray().Select(m => m.GetString()));
    }

    [Theory]
    [InlineData("""{"members":["a b"]}""")]
    [InlineData("""{"members":["../x"]}""")]
    [InlineData("""{"members":[null]}""")]
    [InlineData("""{"members":"bob"}""")]
    [InlineData("""{}""")]
    [InlineData("""not json""")]
    public async Task Bad_member_lists_are_400(string json)
    {
        using var response = await fixture.SendAsync(HttpMethod.Put, "/api/albums/trip/members", fixture.Issuer.Token(TestUser.A), new StringContent(json, Encoding.UTF8, "application/json"));
        await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Sharing_with_oneself_too_many_members_a_bad_name_or_no_token_is_refused()
    {
        using (var self = await PutMembersAsync(TestUser.A, "trip", [TestUser.A.Owner]))
            await Http.ProblemAsync(self, HttpStatusCode.BadRequest);
        using (var many = await PutMembersAsync(TestUser.A, "trip", [.. Enumerable.Range(0, 101).Select(i => $"user-{i}")]))
            await Http.ProblemAsync(many, HttpStatusCode.BadRequest);
        using (var name = await PutMembersAsync(TestUser.A, "%20trip", [TestUser.B.Owner]))
            await Http.ProblemAsync(name, HttpStatusCode.BadRequest);
        using (var anonymous = await fixture.SendAsync(HttpMethod.Put, "/api/albums/trip/members", token: null, Json(new { members = new[] { TestUser.B.Owner } })))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using (var list = await fixture.SendAsync(HttpMethod.Get, "/api/albums", token: null))
            Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
    }

    /// <summary>A's clock in "trip" and camera in "private"; C's coffee in "trip". A user's repeat upload is kept once.</summary>
    private async Task<(string Trip, string Secret, string TheirTrip)> UploadAlbumsAsync() => (
        await UploadAsync(TestUser.A, "clock_motion.png", "trip"),
        await UploadAsync(TestUser.A, "camera.png", "private"),
        await UploadAsync(C, "coffee.png", "trip"));

    private async Task<string> UploadAsync(TestUser user, string photo, string album)
    {
        using var response = await fixture.SendAsync(HttpMethod.Post, $"/api/images?name={Uri.EscapeDataString(photo)}&album={Uri.EscapeDataString(album)}",
            fixture.Issuer.Token(user), SignedInHostFixture.Image(Repo.PhotoBytes(photo)));
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"{photo} for {user.Name}: {(int)response.StatusCode}");
        var item = await Http.JsonAsync(response, response.StatusCode);
        Assert.Equal(album, item.GetProperty("metadata").GetProperty("tags").GetProperty("album").GetString());
        return item.GetProperty("id").GetString()!;
    }

    private async Task<IReadOnlyList<string>> SearchIdsAsync(TestUser user, byte[] image, string query = "?k=50")
    {
        using var response = await fixture.SendAsync(HttpMethod.Post, "/api/search" + query, fixture.Issuer.Token(user), SignedInHostFixture.Image(image));
        return Http.ResultIds(await Http.JsonAsync(response));
    }

    private async Task<JsonElement> AlbumsAsync(TestUser user)
    {
        using var response = await fixture.GetAsync("/api/albums", user);
        return (await Http.JsonAsync(response)).Clone();
    }

    private Task<HttpResponseMessage> PutMembersAsync(TestUser user, string album, string[] members) =>
        fixture.SendAsync(HttpMethod.Put, $"/api/albums/{album}/members", fixture.Issuer.Token(user), Json(new { members }));

    /// <summary>Another owner's id answers exactly like an id that does not exist: same status, title and wording.</summary>
    private async Task AssertLikeUnknownAsync(TestUser user, string method, string route, string id)
    {
        var token = fixture.Issuer.Token(user);
        using var forTheirs = await fixture.SendAsync(new HttpMethod(method), string.Format(System.Globalization.CultureInfo.InvariantCulture, route, id), token);
        using var forMissing = await fixture.SendAsync(new HttpMethod(method), string.Format(System.Globalization.CultureInfo.InvariantCulture, route, Missing), token);
        var a = await Http.ProblemAsync(forTheirs, HttpStatusCode.NotFound);
        var b = await Http.ProblemAsync(forMissing, HttpStatusCode.NotFound);
        Assert.Equal(b.GetProperty("title").GetString(), a.GetProperty("title").GetString());
        Assert.Equal(b.GetProperty("detail").GetString()!.Replace(Missing, "<id>", StringComparison.Ordinal), a.GetProperty("detail").GetString()!.Replace(id, "<id>", StringComparison.Ordinal));
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
}
