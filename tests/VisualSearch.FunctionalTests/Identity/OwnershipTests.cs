using System.Net;
using System.Text.Json;
using VisualSearch.FunctionalTests.Infrastructure;
using static VisualSearch.FunctionalTests.Identity.SignedInHostFixture;

namespace VisualSearch.FunctionalTests.Identity;

/// <summary>
/// Every photo private to its owner, through vsearch serve's host with real signed tokens: search by image and by id,
/// items, images, thumbnails and deletes show only the caller's records; another owner's id reads like an unknown one;
/// no filter the API accepts widens the owner condition.
/// </summary>
public sealed class OwnershipTests(SignedInHostFixture fixture) : IClassFixture<SignedInHostFixture>
{
    [Fact]
    public async Task B_searching_with_As_exact_photo_gets_only_Bs_items()
    {
        foreach (var photo in PhotosOfA)
        {
            using var response = await fixture.SearchByImageAsync(Repo.PhotoBytes(photo), TestUser.B);
            var ids = Http.ResultIds(await Http.JsonAsync(response));

            Assert.Equal(PhotosOfB.Select(p => IdOf(TestUser.B, p)).Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
            foreach (var result in (await ResultsAsync(fixture.SearchByImageAsync(Repo.PhotoBytes(photo), TestUser.B))))
                Assert.Equal(TestUser.B.Owner, result.GetProperty("metadata").GetProperty("tags").GetProperty("owner").GetString());
        }
    }

    [Fact]
    public async Task A_finds_her_own_photo_first_and_nothing_of_B()
    {
        using var response = await fixture.SearchByImageAsync(File.ReadAllBytes(Path.Combine(Repo.Root, "samples", "queries", "chelsea-edited.jpg")), TestUser.A);
        var ids = Http.ResultIds(await Http.JsonAsync(response));

        Assert.Equal(IdOf(TestUser.A, "chelsea.png"), ids[0]);
        Assert.Equal(PhotosOfA.Length, ids.Count);
        Assert.All(ids, id => Assert.StartsWith(TestUser.A.Owner + "/", id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_admin_role_sees_every_record_including_those_of_no_one()
    {
        using var response = await fixture.SearchByImageAsync(Repo.PhotoBytes("chelsea.png"), TestUser.Admin);
        var ids = Http.ResultIds(await Http.JsonAsync(response));

        Assert.Equal(PhotosOfA.Length + PhotosOfB.Length + 1, ids.Count);
        Assert.Equal(IdOf(TestUser.A, "chelsea.png"), ids[0]);
        using var item = await fixture.GetAsync($"/api/items/{IdOf(TestUser.B, "retina.jpg")}", TestUser.Admin);
        await Http.JsonAsync(item);
    }

    [Fact]
    public async Task A_record_of_no_one_is_hidden_from_signed_in_users()
    {
        using var item = await fixture.GetAsync($"/api/items/nobody/{PhotoOfNoOne}", TestUser.A);
        await Http.ProblemAsync(item, HttpStatusCode.NotFound);
        using var search = await fixture.SearchByImageAsync(Repo.PhotoBytes(PhotoOfNoOne), TestUser.A);
        Assert.DoesNotContain($"nobody/{PhotoOfNoOne}", Http.ResultIds(await Http.JsonAsync(search)));
    }

    [Theory]
    [InlineData("GET", "/api/items/{0}")]
    [InlineData("GET", "/api/search?id={0}")]
    [InlineData("GET", "/api/images/{0}")]
    [InlineData("GET", "/api/thumbnails/{0}?size=128")]
    [InlineData("DELETE", "/api/items/{0}")]
    public async Task Another_owners_id_answers_exactly_like_an_id_that_does_not_exist(string method, string route)
    {
        var theirs = IdOf(TestUser.A, "chelsea.png");
        var missing = IdOf(TestUser.A, "no-such-photo.png");

        using var forTheirs = await fixture.SendAsync(new HttpMethod(method), string.Format(System.Globalization.CultureInfo.InvariantCulture, route, theirs), fixture.Issuer.Token(TestUser.B));
        using var forMissing = await fixture.SendAsync(new HttpMethod(method), string.Format(System.Globalization.CultureInfo.InvariantCulture, route, missing), fixture.Issuer.Token(TestUser.B));
        var a = await Http.ProblemAsync(forTheirs, HttpStatusCode.NotFound);
        var b = await Http.ProblemAsync(forMissing, HttpStatusCode.NotFound);

        // Same status, title and wording; only the id the caller sent differs.
        Assert.Equal(b.GetProperty("title").GetString(), a.GetProperty("title").GetString());
        Assert.Equal(b.GetProperty("detail").GetString()!.Replace(missing, "<id>", StringComparison.Ordinal), a.GetProperty("detail").GetString()!.Replace(theirs, "<id>", StringComparison.Ordinal));
        Assert.Equal(forMissing.Headers.ETag, forTheirs.Headers.ETag);
        // And A's item is untouched (the DELETE did nothing).
        using var own = await fixture.GetAsync($"/api/items/{theirs}", TestUser.A);
        await Http.JsonAsync(own);
    }

    [Theory]
    [InlineData("owner eq '{A}'")]
    [InlineData("owner eq '{A}' or owner eq '{B}'")]
    [InlineData("owner eq '{B}' or owner eq '{A}'")]
    [InlineData("owner eq '{B}'' or owner eq ''{A}'")]
    [InlineData("owner eq '{B}') or (owner eq '{A}'")]
    [InlineData("(owner eq '{A}')")]
    [InlineData("owner eq '{A}' and (tag eq 'x' or true)")]
    [InlineData("contentType eq 'image/png' or contentType ne 'x'")]
    [InlineData("not (owner eq '{B}')")]
    [InlineData("owner ne '{B}'")]
    [InlineData("owner eq '{A}")]
    [InlineData("owner eq \"{A}\"")]
    [InlineData("source eq 'file' and owner eq '{A}'")]
    [InlineData("album eq '' or 1 eq 1 or ''")]
    public async Task B_cannot_widen_the_owner_filter(string template)
    {
        var filter = template.Replace("{A}", TestUser.A.Owner, StringComparison.Ordinal).Replace("{B}", TestUser.B.Owner, StringComparison.Ordinal);
        var query = $"?k=50&filter={Uri.EscapeDataString(filter)}";

        foreach (var response in new[]
                 {
                     await fixture.SearchByImageAsync(Repo.PhotoBytes("chelsea.png"), TestUser.B, query),
                     await fixture.GetAsync($"/api/search{query}&id={Uri.EscapeDataString(IdOf(TestUser.B, "retina.jpg"))}", TestUser.B),
                 })
        {
            using (response)
            {
                // Either the filter is refused as malformed (400), or it narrows B's own records: never one of A's.
                Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"{filter}: {(int)response.StatusCode}");
                if (response.StatusCode == HttpStatusCode.OK)
                    Assert.All(Http.ResultIds(await Http.JsonAsync(response)), id => Assert.StartsWith(TestUser.B.Owner + "/", id, StringComparison.Ordinal));
                else
                    await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
            }
        }
    }

    [Fact]
    public async Task Images_added_through_the_api_belong_to_the_caller_and_only_the_owner_deletes_them()
    {
        using var added = await fixture.SendAsync(HttpMethod.Post, "/api/images?name=mine&tag=del", fixture.Issuer.Token(TestUser.A), Image(Repo.PhotoBytes("clock_motion.png")));
        var item = await Http.JsonAsync(added, HttpStatusCode.Created);
        var id = item.GetProperty("id").GetString()!;
        Assert.Equal(TestUser.A.Owner, item.GetProperty("metadata").GetProperty("tags").GetProperty("owner").GetString());

        // Nobody names another owner, not even their own image's.
        using (var forged = await fixture.SendAsync(HttpMethod.Post, $"/api/images?owner={Uri.EscapeDataString(TestUser.B.Owner)}", fixture.Issuer.Token(TestUser.A), Image(Repo.PhotoBytes("clock_motion.png"))))
            await Http.ProblemAsync(forged, HttpStatusCode.BadRequest);

        using (var byB = await fixture.SendAsync(HttpMethod.Delete, $"/api/items/{id}", fixture.Issuer.Token(TestUser.B)))
            await Http.ProblemAsync(byB, HttpStatusCode.NotFound);
        using (var stillThere = await fixture.GetAsync($"/api/images/{id}", TestUser.A))
            Assert.Equal(HttpStatusCode.OK, stillThere.StatusCode);
        using (var thumbnailForB = await fixture.GetAsync($"/api/thumbnails/{id}?size=64", TestUser.B))
            await Http.ProblemAsync(thumbnailForB, HttpStatusCode.NotFound);

        // A's own thumbnail: private to caches (a shared cache must never hand it to B), varying by Authorization.
        using (var thumbnail = await fixture.GetAsync($"/api/thumbnails/{id}?size=64", TestUser.A))
        {
            Assert.Equal(HttpStatusCode.OK, thumbnail.StatusCode);
            Assert.True(thumbnail.Headers.CacheControl?.Private, thumbnail.Headers.CacheControl?.ToString());
            Assert.False(thumbnail.Headers.CacheControl?.Public);
            Assert.Contains("Authorization", thumbnail.Headers.Vary);
        }

        using (var byA = await fixture.SendAsync(HttpMethod.Delete, $"/api/items/{id}", fixture.Issuer.Token(TestUser.A)))
            Assert.Equal(HttpStatusCode.NoContent, byA.StatusCode);
        using (var gone = await fixture.GetAsync($"/api/items/{id}", TestUser.A))
            await Http.ProblemAsync(gone, HttpStatusCode.NotFound);
        Assert.False(File.Exists(Path.Combine(fixture.Host.IndexPath, "uploads", id["uploads/".Length..])));
    }

    private static async Task<List<JsonElement>> ResultsAsync(Task<HttpResponseMessage> request)
    {
        using var response = await request;
        return (await Http.JsonAsync(response)).GetProperty("results").EnumerateArray().ToList();
    }
}
