using System.Text;
using VisualSearch.Functions.HostTests.Infrastructure;

namespace VisualSearch.Functions.HostTests;

/// <summary>The real worker deployed without App Service authentication in front (Auth__AppService off), over one indexed photo.</summary>
public sealed class NoAppServiceWorkerFixture : WorkerFixture
{
    public string Blob { get; private set; } = null!;

    public string Id => "images/" + Blob;

    protected override IReadOnlyDictionary<string, string?> AppSettings { get; } = new Dictionary<string, string?> { ["Auth:AppService"] = "false" };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Blob = await UploadAsync("coffee.png", Repo.PhotoBytes("coffee.png"), TestUser.A.Owner);
        await IngestOrThrowAsync(Blob);
    }
}

/// <summary>The real worker behind App Service authentication (the harness passes the validated principal), with photos of A and of B.</summary>
public sealed class TwoOwnersWorkerFixture : WorkerFixture
{
    public string ACoffee { get; private set; } = null!;

    public string AAstronaut { get; private set; } = null!;

    public string BRetina { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        ACoffee = await IndexAsync("coffee.png", TestUser.A);
        AAstronaut = await IndexAsync("astronaut.png", TestUser.A);
        BRetina = await IndexAsync("retina.jpg", TestUser.B);
    }

    private async Task<string> IndexAsync(string name, TestUser owner)
    {
        var blob = await UploadAsync(name, Repo.PhotoBytes(name), owner.Owner);
        await IngestOrThrowAsync(blob);
        return "images/" + blob;
    }
}

/// <summary>
/// Person-facing functions are Anonymous to the Functions host, so the code must refuse requests without a validated
/// principal: on a worker without App Service authentication (Auth__AppService off) every person route answers 401
/// (WWW-Authenticate: Bearer, a problem body) without running, with no principal and with a forged
/// X-MS-CLIENT-PRINCIPAL alike (an attacker can send that header when no platform strips it); the anonymous health
/// probe and the key-protected webhook still answer.
/// </summary>
public sealed class SignInWithoutAppServiceTests(NoAppServiceWorkerFixture fixture) : IClassFixture<NoAppServiceWorkerFixture>
{
    /// <summary>One request per person-facing function: (function, method, url, JSON body or null; an image body for POST /api/search).</summary>
    private IEnumerable<(string Function, HttpMethod Method, string Url, string? Json)> PersonRequests() =>
    [
        ("SearchByImage", HttpMethod.Post, "/api/search?k=10", null),
        ("SearchById", HttpMethod.Get, "/api/search?id=" + fixture.Id, null),
        ("GetItem", HttpMethod.Get, "/api/items/" + fixture.Id, null),
        ("DeleteItem", HttpMethod.Delete, "/api/items/" + fixture.Id, null),
        ("HealthDetails", HttpMethod.Get, "/api/health/details", null),
        ("CreateUpload", HttpMethod.Post, "/api/uploads", """{"contentType":"image/jpeg"}"""),
        ("GetUpload", HttpMethod.Get, "/api/uploads/" + fixture.Id, null),
        ("GetImage", HttpMethod.Get, "/api/images/" + fixture.Id, null),
        ("GetThumbnail", HttpMethod.Get, "/api/thumbnails/" + fixture.Id + "?size=64", null),
        ("GetDuplicates", HttpMethod.Get, "/api/duplicates", null),
        ("DuplicateDecisions", HttpMethod.Post, "/api/duplicates/decisions", $$"""{"items":["{{fixture.Id}}","images/other.png"],"decision":"not-duplicates"}"""),
        ("GetAlbums", HttpMethod.Get, "/api/albums", null),
        ("SetAlbumMembers", HttpMethod.Put, "/api/albums/trip/members", $$"""{"members":["{{TestUser.B.Owner}}"]}"""),
    ];

    [Fact]
    public async Task Every_person_route_is_401_without_a_principal_and_with_a_forged_one_and_gives_no_data()
    {
        // The requests cover every Anonymous function the worker declares except the health probe and the page.
        var anonymous = fixture.Worker.Functions.Values
            .Where(f => f.IsHttp && f.Trigger.Get("authLevel") == "Anonymous" && f.Name is not ("Health" or "Page"))
            .Select(f => f.Name).Order(StringComparer.Ordinal);
        Assert.Equal(anonymous, PersonRequests().Select(r => r.Function).Order(StringComparer.Ordinal));

        foreach (var forged in new TestUser?[] { null, TestUser.A, TestUser.Admin })
        {
            foreach (var (function, method, url, json) in PersonRequests())
            {
                var (body, contentType) = json is not null ? (Encoding.UTF8.GetBytes(json), "application/json")
                    : method == HttpMethod.Post ? (Repo.PhotoBytes("coffee.png"), "image/png") : (null, null);
                using var response = await fixture.SendAsAsync(forged, method, url, body, contentType);
                var who = forged is null ? "no principal" : $"a forged principal of {forged.Name}";
                Assert.True(response.Function?.Name == function, $"{method} {url} reached {response.Function?.Name}");
                var problem = await response.ProblemAsync(401);
                Assert.True(new[] { "Bearer" }.SequenceEqual(response.Response.Headers.WwwAuthenticate.Select(h => h.ToString())), $"{function} with {who}: WWW-Authenticate {response.Response.Headers.WwwAuthenticate}");
                Assert.Equal("Unauthorized", problem.GetProperty("title").GetString());
                var text = problem.GetRawText();
                Assert.DoesNotContain("coffee", text, StringComparison.Ordinal);
                Assert.DoesNotContain(TestUser.A.Owner, text, StringComparison.Ordinal);
            }
        }

        // The DELETE never ran: A's photo is still in storage.
        Assert.True((await fixture.Images.GetBlobClient(fixture.Blob).ExistsAsync()).Value);
    }

    [Fact]
    public async Task Health_and_the_key_protected_webhook_answer_without_a_person()
    {
        using (var health = await fixture.SendAsAsync(null, HttpMethod.Get, "/api/health"))
            Assert.Equal("ok", (await health.JsonAsync()).GetProperty("status").GetString());

        // The Event Grid handshake on the BlobDeleted webhook (Function level: the host checks Event Grid's key).
        const string Validation = """[{"id":"1","topic":"/subscriptions/x","subject":"","data":{"validationCode":"CODE-7"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-01-01T00:00:00Z","metadataVersion":"1","dataVersion":"2"}]""";
        using var events = await fixture.SendAsAsync(null, HttpMethod.Post, "/api/events/blobs", Encoding.UTF8.GetBytes(Validation), "application/json");
        Assert.Equal("CODE-7", (await events.JsonAsync()).GetProperty("validationResponse").GetString());
    }
}

/// <summary>
/// Behind App Service authentication (the harness passes the principal the platform validated): each person sees their
/// own photos only, another owner's id answers 404 like one that does not exist, and a request that reaches the code
/// without a principal is still refused (401).
/// </summary>
public sealed class SignInBehindAppServiceTests(TwoOwnersWorkerFixture fixture) : IClassFixture<TwoOwnersWorkerFixture>
{
    [Fact]
    public async Task B_searching_with_As_exact_photo_gets_only_Bs_items()
    {
        using var asB = await fixture.SendAsAsync(TestUser.B, HttpMethod.Post, "/api/search?k=10", Repo.PhotoBytes("coffee.png"), "image/png");
        Assert.Equal([fixture.BRetina], HttpInvocationAssertions.ResultIds(await asB.JsonAsync()));

        using var asA = await fixture.SendAsAsync(TestUser.A, HttpMethod.Post, "/api/search?k=10", Repo.PhotoBytes("coffee.png"), "image/png");
        Assert.Equal([fixture.ACoffee, fixture.AAstronaut], HttpInvocationAssertions.ResultIds(await asA.JsonAsync()));

        using var byId = await fixture.SendAsAsync(TestUser.B, HttpMethod.Get, "/api/search?id=" + fixture.BRetina + "&k=10");
        Assert.Empty(HttpInvocationAssertions.ResultIds(await byId.JsonAsync()));
    }

    [Fact]
    public async Task As_ids_answer_B_404_like_ids_that_do_not_exist_and_B_cannot_delete_them()
    {
        var unknown = fixture.ACoffee.Replace("coffee.png", "nothing.png", StringComparison.Ordinal);
        foreach (var (route, suffix) in new[] { ("/api/items/", ""), ("/api/images/", ""), ("/api/thumbnails/", "?size=64"), ("/api/search?id=", "") })
        {
            using var others = await fixture.SendAsAsync(TestUser.B, HttpMethod.Get, route + fixture.ACoffee + suffix);
            using var missing = await fixture.SendAsAsync(TestUser.B, HttpMethod.Get, route + unknown + suffix);
            var (a, b) = (await others.ProblemAsync(404), await missing.ProblemAsync(404));
            Assert.Equal(b.GetProperty("title").GetString(), a.GetProperty("title").GetString());
        }

        using (var upload = await fixture.SendAsAsync(TestUser.B, HttpMethod.Get, "/api/uploads/" + fixture.ACoffee)) await upload.ProblemAsync(404);
        using (var delete = await fixture.SendAsAsync(TestUser.B, HttpMethod.Delete, "/api/items/" + fixture.ACoffee)) await delete.ProblemAsync(404);
        using (var still = await fixture.SendAsAsync(TestUser.A, HttpMethod.Get, "/api/items/" + fixture.ACoffee)) await still.JsonAsync();
        Assert.True((await fixture.Images.GetBlobClient(fixture.ACoffee["images/".Length..]).ExistsAsync()).Value);

        // Operations stay the admin role's: B gets 403 for the health details and for A's duplicate groups.
        using (var details = await fixture.SendAsAsync(TestUser.B, HttpMethod.Get, "/api/health/details")) await details.ProblemAsync(403);
        using (var groups = await fixture.SendAsAsync(TestUser.B, HttpMethod.Get, "/api/duplicates?owner=" + Uri.EscapeDataString(TestUser.A.Owner))) await groups.ProblemAsync(403);
        using var admin = await fixture.SendAsAsync(TestUser.Admin, HttpMethod.Get, "/api/health/details");
        Assert.Equal(3, (await admin.JsonAsync()).GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task A_request_that_reaches_the_code_without_a_principal_is_401()
    {
        using var response = await fixture.SendAsAsync(null, HttpMethod.Get, "/api/items/" + fixture.ACoffee);
        await response.ProblemAsync(401);
        Assert.Equal("Bearer", response.Response.Headers.WwwAuthenticate.ToString());
    }
}
