using System.Net;
using System.Text;
using System.Text.Json;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests.Identity;

/// <summary>
/// Duplicate groups and decisions with real tokens through vsearch serve's host: each user's groups hold only their
/// own items (A's and B's copies of the same photo never meet), an administrator sees everyone's or one owner's, and B
/// can neither decide about nor delete A's items: every such request answers 404 exactly like unknown ids, and
/// A's items and groups stay as they were. Uploads go through POST /api/images as each user, into the host's own
/// uploads folder (the only files a keep deletes here).
/// </summary>
public sealed class DuplicatesOwnershipTests(SignedInHostFixture fixture) : IClassFixture<SignedInHostFixture>
{
    // An edit of these photos can score under the default threshold (see DuplicatesApiTests).
    private const string Threshold = "?minScore=0.6&limit=500";

    [Fact]
    public async Task Each_user_groups_and_decides_about_their_own_items_only_and_the_admin_sees_everyones_or_one_owners()
    {
        var uploads = await UploadCopiesAsync();

        var ofA = await GroupsAsync(TestUser.A);
        var ofB = await GroupsAsync(TestUser.B);
        Assert.Contains(ofA, g => g.Ids.Contains(uploads.AClock) && g.Ids.Contains(uploads.AClockEdited));
        Assert.Contains(ofB, g => g.Ids.Contains(uploads.BChelsea) && g.Ids.Contains(uploads.BChelseaEdited));
        Assert.All(ofA.SelectMany(g => g.Owners), owner => Assert.Equal(TestUser.A.Owner, owner));
        Assert.All(ofB.SelectMany(g => g.Owners), owner => Assert.Equal(TestUser.B.Owner, owner));
        // A's chelsea (indexed from a file) and B's upload of it are the same bytes: exact copies, but in no user's groups together.
        Assert.DoesNotContain(ofA, g => g.Ids.Contains(uploads.BChelsea));
        Assert.DoesNotContain(ofB, g => g.Ids.Contains(uploads.AChelsea));

        var all = await GroupsAsync(TestUser.Admin);
        Assert.Contains(all, g => g.Ids.Contains(uploads.AChelsea) && g.Ids.Contains(uploads.BChelsea));
        var adminOfA = await GroupsAsync(TestUser.Admin, "&owner=" + Uri.EscapeDataString(TestUser.A.Owner));
        Assert.Equal(ofA.Select(g => string.Join(',', g.Ids)), adminOfA.Select(g => string.Join(',', g.Ids)));

        // Only the admin role chooses another owner's groups; naming oneself is allowed.
        using (var widened = await fixture.GetAsync("/api/duplicates" + Threshold + "&owner=" + Uri.EscapeDataString(TestUser.A.Owner), TestUser.B))
            await Http.ProblemAsync(widened, HttpStatusCode.Forbidden);
        using (var own = await fixture.GetAsync("/api/duplicates" + Threshold + "&owner=" + Uri.EscapeDataString(TestUser.B.Owner), TestUser.B))
            await Http.JsonAsync(own);

        // Decisions are the owner's own, and a keep deletes only the caller's copies.
        // B keeps his chelsea and deletes his edited copy: A's chelsea (the same bytes) is untouched.
        using (var keep = await DecideAsync(TestUser.B, new { items = new[] { uploads.BChelsea, uploads.BChelseaEdited }, decision = "keep", keep = uploads.BChelsea, delete = true }))
        {
            var other = Assert.Single((await Http.JsonAsync(keep)).GetProperty("others").EnumerateArray());
            Assert.Equal(uploads.BChelseaEdited, other.GetProperty("id").GetString());
            Assert.True(other.GetProperty("sourceDeleted").GetBoolean());
            Assert.True(other.GetProperty("recordRemoved").GetBoolean());
        }

        Assert.False(File.Exists(Path.Combine(fixture.Host.IndexPath, uploads.BChelseaEdited)));
        using (var theirs = await fixture.GetAsync("/api/items/" + uploads.AChelsea, TestUser.A))
            await Http.JsonAsync(theirs);

        // A's not-duplicates decision splits her group for her; it is stored with her as its owner.
        using (var separate = await DecideAsync(TestUser.A, new { items = new[] { uploads.AClockEdited, uploads.AClock }, decision = "not-duplicates" }))
            Assert.True((await Http.JsonAsync(separate)).GetProperty("recorded").GetBoolean());
        Assert.DoesNotContain(await GroupsAsync(TestUser.A), g => g.Ids.Contains(uploads.AClock) && g.Ids.Contains(uploads.AClockEdited));
        var lines = await File.ReadAllLinesAsync(Path.Combine(fixture.Host.IndexPath, "duplicates", "decisions.jsonl"));
        Assert.Contains(lines, l => l.Contains(uploads.AClock, StringComparison.Ordinal) && OwnerOf(l) == TestUser.A.Owner);
    }

    [Fact]
    public async Task B_cannot_decide_about_or_delete_As_items_and_is_answered_like_for_unknown_ids()
    {
        var uploads = await UploadCopiesAsync();
        var missing = "uploads/00000000000000000000000000000000/no-such.png";
        var before = await GroupsAsync(TestUser.A);

        object[] attacks =
        [
            new { items = new[] { uploads.AClock, uploads.AClockEdited }, decision = "not-duplicates" },
            new { items = new[] { uploads.BChelsea, uploads.AChelsea }, decision = "not-duplicates" },
            new { items = new[] { uploads.AClock, uploads.AClockEdited }, decision = "keep", keep = uploads.AClock, delete = true },
            // B's own item kept, A's named among the others to delete.
            new { items = new[] { uploads.BChelsea, uploads.AChelsea, uploads.BChelseaEdited }, decision = "keep", keep = uploads.BChelsea, delete = true },
        ];
        object[] unknown =
        [
            new { items = new[] { missing, missing + "2" }, decision = "not-duplicates" },
            new { items = new[] { uploads.BChelsea, missing }, decision = "not-duplicates" },
            new { items = new[] { missing, missing + "2" }, decision = "keep", keep = missing, delete = true },
            new { items = new[] { uploads.BChelsea, missing, uploads.BChelseaEdited }, decision = "keep", keep = uploads.BChelsea, delete = true },
        ];
        for (var i = 0; i < attacks.Length; i++)
        {
            using var attack = await DecideAsync(TestUser.B, attacks[i]);
            using var control = await DecideAsync(TestUser.B, unknown[i]);
            var a = await Http.ProblemAsync(attack, HttpStatusCode.NotFound);
            var b = await Http.ProblemAsync(control, HttpStatusCode.NotFound);
            Assert.Equal(b.GetProperty("title").GetString(), a.GetProperty("title").GetString());
            Assert.Equal(b.GetProperty("detail").GetString(), a.GetProperty("detail").GetString());
        }

        // Nothing of A's was deleted or separated, and B's own items were not deleted by the refused keep either.
        foreach (var id in new[] { uploads.AClock, uploads.AClockEdited, uploads.AChelsea })
        {
            using var item = await fixture.GetAsync("/api/items/" + id, TestUser.A);
            await Http.JsonAsync(item);
            if (id.StartsWith("uploads/", StringComparison.Ordinal)) Assert.True(File.Exists(Path.Combine(fixture.Host.IndexPath, id)), id);
        }

        using (var item = await fixture.GetAsync("/api/items/" + uploads.BChelseaEdited, TestUser.B))
            await Http.JsonAsync(item);
        Assert.Equal(before.Select(g => string.Join(',', g.Ids)), (await GroupsAsync(TestUser.A)).Select(g => string.Join(',', g.Ids)));
    }

    [Fact]
    public async Task Health_details_are_for_the_admin_role_and_plain_health_stays_anonymous()
    {
        using (var anonymous = await fixture.SendAsync(HttpMethod.Get, "/api/health", token: null))
        {
            var body = await Http.JsonAsync(anonymous);
            Assert.Equal("ok", body.GetProperty("status").GetString());
            Assert.False(body.TryGetProperty("count", out _));
        }

        using (var user = await fixture.GetAsync("/api/health/details", TestUser.A))
            await Http.ProblemAsync(user, HttpStatusCode.Forbidden);
        using (var nobody = await fixture.SendAsync(HttpMethod.Get, "/api/health/details", token: null))
            Assert.Equal(HttpStatusCode.Unauthorized, nobody.StatusCode);
        using var admin = await fixture.GetAsync("/api/health/details", TestUser.Admin);
        Assert.True((await Http.JsonAsync(admin)).GetProperty("count").GetInt64() >= 7);
    }

    private static string? OwnerOf(string decisionLine)
    {
        using var line = JsonDocument.Parse(decisionLine);
        return line.RootElement.TryGetProperty("owner", out var owner) ? owner.GetString() : null;
    }

    private sealed record Group(IReadOnlyList<string> Ids, IReadOnlyList<string?> Owners);

    private sealed record Uploads(string AClock, string AClockEdited, string AChelsea, string BChelsea, string BChelseaEdited);

    /// <summary>
    /// A: the clock photo and an edited clock (her chelsea is the fixture's file item). B: the same chelsea bytes and an
    /// edited chelsea (which groups at the default threshold, the one a keep deletes at). A user's repeat is kept once (200).
    /// </summary>
    private async Task<Uploads> UploadCopiesAsync()
    {
        // Not among the fixture's own photos of A, so A's clock group holds exactly these two uploads.
        var clock = Repo.PhotoBytes("clock_motion.png");
        var chelsea = Repo.PhotoBytes("chelsea.png");
        return new Uploads(
            await UploadAsync(TestUser.A, clock, "clock.png", "image/png"),
            await UploadAsync(TestUser.A, TestImages.EditedCopy(clock), "clock-edited.jpg", "image/jpeg"),
            SignedInHostFixture.IdOf(TestUser.A, "chelsea.png"),
            await UploadAsync(TestUser.B, chelsea, "chelsea.png", "image/png"),
            await UploadAsync(TestUser.B, TestImages.EditedCopy(chelsea), "chelsea-edited.jpg", "image/jpeg"));
    }

    private async Task<string> UploadAsync(TestUser user, byte[] bytes, string name, string contentType)
    {
        using var response = await fixture.SendAsync(HttpMethod.Post, "/api/images?name=" + Uri.EscapeDataString(name), fixture.Issuer.Token(user),
            SignedInHostFixture.Image(bytes, contentType));
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"{name} for {user.Name}: {(int)response.StatusCode}");
        var item = await Http.JsonAsync(response, response.StatusCode);
        Assert.Equal(user.Owner, item.GetProperty("metadata").GetProperty("tags").GetProperty("owner").GetString());
        return item.GetProperty("id").GetString()!;
    }

    private async Task<IReadOnlyList<Group>> GroupsAsync(TestUser user, string extra = "")
    {
        using var response = await fixture.GetAsync("/api/duplicates" + Threshold + extra, user);
        var body = await Http.JsonAsync(response);
        return [.. body.GetProperty("groups").EnumerateArray().Select(g => new Group(
            [.. g.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!)],
            [.. g.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("metadata").GetProperty("tags").TryGetProperty("owner", out var o) ? o.GetString() : null)]))];
    }

    private Task<HttpResponseMessage> DecideAsync(TestUser user, object body) =>
        fixture.SendAsync(HttpMethod.Post, "/api/duplicates/decisions", fixture.Issuer.Token(user),
            new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
}
