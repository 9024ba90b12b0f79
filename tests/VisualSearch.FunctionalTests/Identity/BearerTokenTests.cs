using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using VisualSearch.Cli;
using VisualSearch.FunctionalTests.Infrastructure;
using static VisualSearch.FunctionalTests.Identity.SignedInHostFixture;

namespace VisualSearch.FunctionalTests.Identity;

/// <summary>
/// Tokens as an attacker would send them, against every route of vsearch serve's host: each bad kind is a 401 with
/// <c>WWW-Authenticate: Bearer error="invalid_token"</c> and no reason beyond it; a missing token is a plain
/// <c>Bearer</c> challenge (RFC 6750 3.1); never a 5xx. GET /api/health and the page need no token.
/// </summary>
public sealed class BearerTokenTests(SignedInHostFixture fixture) : IClassFixture<SignedInHostFixture>
{
    /// <summary>Every route of the host but health and the page, with a body where it takes one.</summary>
    public static TheoryData<string, string> Routes() => new()
    {
        { "POST", "/api/search" },
        { "GET", "/api/search?id=x/chelsea.png" },
        { "GET", "/api/items/x/chelsea.png" },
        { "DELETE", "/api/items/x/chelsea.png" },
        { "GET", "/api/images/x/chelsea.png" },
        { "GET", "/api/thumbnails/x/chelsea.png" },
        { "POST", "/api/images?name=x" },
        { "POST", "/api/uploads" },
        { "GET", "/api/uploads/images/users/x/2026/01/01/a.jpg" },
        { "POST", "/api/events/blobs" },
        { "POST", "/runtime/webhooks/blobs" },
        { "GET", "/api/no-such-route" },
    };

    public static TheoryData<string> BadTokenKinds() =>
    [
        "expired", "not-yet-valid", "wrong-issuer", "wrong-audience", "no-audience", "no-expiry", "bad-signature", "alg-none",
        "hs256-with-public-key", "unknown-kid", "published-key-under-unknown-kid", "no-kid", "no-owner-claim", "invalid-owner-claim",
        "malformed-garbage", "malformed-two-parts", "malformed-bad-base64", "malformed-json",
    ];

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Every_route_without_a_token_is_401_with_a_Bearer_challenge(string method, string route)
    {
        using var response = await fixture.SendAsync(new HttpMethod(method), route, token: null, Body(method));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Theory]
    [MemberData(nameof(BadTokenKinds))]
    public async Task Every_bad_token_kind_is_401_invalid_token_on_every_route_and_never_5xx(string kind)
    {
        var token = BadToken(kind);
        foreach (var route in Routes())
        {
            var (method, path) = ((string)route[0], (string)route[1]);
            using var response = await fixture.SendAsync(new HttpMethod(method), path, token, Body(method));
            var body = await response.Content.ReadAsStringAsync();

            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{kind} on {method} {path}: {(int)response.StatusCode} {body}");
            Assert.Equal("Bearer error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString());
            // Nothing about why beyond the standard code.
            Assert.DoesNotContain("IDX", body, StringComparison.Ordinal);
            Assert.DoesNotContain("expired", body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("signature", body, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task A_valid_token_passes_and_health_and_the_page_need_none()
    {
        using (var item = await fixture.GetAsync($"/api/items/{IdOf(TestUser.A, "coffee.png")}", TestUser.A))
            await Http.JsonAsync(item);
        using (var health = await fixture.SendAsync(HttpMethod.Get, "/api/health", token: null))
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using (var page = await fixture.SendAsync(HttpMethod.Get, "/", token: null))
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        using (var asApiKey = await fixture.SendAsync(HttpMethod.Get, "/api/items/x/y.png", token: null, content: null))
            Assert.Equal(HttpStatusCode.Unauthorized, asApiKey.StatusCode);
    }

    [Fact]
    public async Task The_owner_is_oid_else_sub()
    {
        // A has an oid (and a different sub): her items are under the oid. B has only a sub.
        using (var a = await fixture.GetAsync($"/api/items/{IdOf(TestUser.A, "coffee.png")}", TestUser.A))
            Assert.Equal(TestUser.A.ObjectId, (await Http.JsonAsync(a)).GetProperty("metadata").GetProperty("tags").GetProperty("owner").GetString());
        var aBySub = TestUser.A with { ObjectId = null };
        using (var bySub = await fixture.GetAsync($"/api/items/{IdOf(TestUser.A, "coffee.png")}", aBySub))
            await Http.ProblemAsync(bySub, HttpStatusCode.NotFound);
        using (var b = await fixture.GetAsync($"/api/items/{Uri.EscapeDataString(TestUser.B.Owner)}/retina.jpg", TestUser.B))
            Assert.Equal(TestUser.B.Subject, (await Http.JsonAsync(b)).GetProperty("metadata").GetProperty("tags").GetProperty("owner").GetString());
    }

    private string BadToken(string kind)
    {
        var issuer = fixture.Issuer;
        var claims = issuer.Claims(TestUser.A);
        var now = DateTimeOffset.UtcNow;
        JsonObject With(Action<JsonObject> change)
        {
            var copy = (JsonObject)claims.DeepClone();
            change(copy);
            return copy;
        }

        return kind switch
        {
            "expired" => TestIssuer.Sign(With(c => { c["nbf"] = now.AddHours(-3).ToUnixTimeSeconds(); c["exp"] = now.AddHours(-2).ToUnixTimeSeconds(); }), issuer.Current),
            "not-yet-valid" => TestIssuer.Sign(With(c => { c["nbf"] = now.AddHours(1).ToUnixTimeSeconds(); c["exp"] = now.AddHours(2).ToUnixTimeSeconds(); }), issuer.Current),
            "wrong-issuer" => TestIssuer.Sign(With(c => c["iss"] = "https://login.example.invalid/other/v2.0"), issuer.Current),
            "wrong-audience" => TestIssuer.Sign(With(c => c["aud"] = "api://another-api"), issuer.Current),
            "no-audience" => TestIssuer.Sign(With(c => c.Remove("aud")), issuer.Current),
            "no-expiry" => TestIssuer.Sign(With(c => c.Remove("exp")), issuer.Current),
            // B takes A's valid token and makes it say B's oid: the signature no longer matches.
            "bad-signature" => TestIssuer.Tampered(issuer.Token(TestUser.A), With(c => c["oid"] = "ffffffff-0000-0000-0000-000000000000")),
            "alg-none" => TestIssuer.Unsigned(claims),
            "hs256-with-public-key" => TestIssuer.HmacWithPublicKey(claims, issuer.Current),
            "unknown-kid" => TestIssuer.Sign(claims, TestIssuer.NewKey()),
            // Signed by the issuer's published key, but naming a kid the JWKS lacks: refused, not tried against every key.
            "published-key-under-unknown-kid" => TestIssuer.Sign(claims, issuer.Current, kid: "k-not-in-the-jwks"),
            "no-kid" => TestIssuer.Sign(claims, issuer.Current, kid: ""),
            "no-owner-claim" => TestIssuer.Sign(With(c => { c.Remove("oid"); c.Remove("sub"); }), issuer.Current),
            "invalid-owner-claim" => TestIssuer.Sign(With(c => c["oid"] = "../../etc/passwd"), issuer.Current),
            "malformed-garbage" => "not-a-token",
            "malformed-two-parts" => "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0",
            "malformed-bad-base64" => "eyJhbGciOiJSUzI1NiJ9.%%%%.abc",
            "malformed-json" => "eyJhbGciOiJSUzI1NiIs.eyJzdWIiOiJ4.c2ln",
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
    }

    private static ByteArrayContent? Body(string method) =>
        method == "POST" ? Image(Repo.PhotoBytes("coffee.png")) : null;
}

/// <summary>Signing keys: refreshed from the JWKS on an unknown kid (key rotation), and settings checked at start.</summary>
public sealed class SigningKeyTests
{
    [Fact]
    public async Task A_key_published_after_start_is_fetched_on_its_unknown_kid_and_an_unpublished_kid_stays_refused()
    {
        await using var issuer = await TestIssuer.StartAsync();
        await using var host = await LocalHost.StartAsync(watch: false, issuer.HostSettings());
        var item = $"/api/items/{TestUser.A.Owner}/nothing.png";

        // The first request loads the discovery document and the JWKS.
        using (var first = await SendAsync(host, item, issuer.Token(TestUser.A)))
            Assert.Equal(HttpStatusCode.NotFound, first.StatusCode);
        var fetched = issuer.JwksRequests;
        Assert.True(fetched >= 1);

        // The issuer rotates: a token signed with the new key names a kid the host has not seen.
        var rotated = issuer.Publish();
        var token = TestIssuer.Sign(issuer.Claims(TestUser.A), rotated);
        // The unknown kid asks for a refresh of the JWKS (at most one per 5 minutes; it may complete in the background).
        await Http.EventuallyAsync(async () =>
        {
            using var response = await SendAsync(host, item, token);
            Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Unauthorized, $"{(int)response.StatusCode}");
            return response.StatusCode == HttpStatusCode.NotFound; // accepted: an unknown id, not an unknown caller
        }, "the rotated key to be accepted", TimeSpan.FromSeconds(20));
        Assert.True(issuer.JwksRequests > fetched, "the JWKS was not fetched again for the new kid");

        // A kid the JWKS never holds is refused however often it is sent, even when a published key signed it.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            using var response = await SendAsync(host, item, TestIssuer.Sign(issuer.Claims(TestUser.A), rotated, kid: "k-never-published"));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Theory]
    [InlineData("http://login.example.com/tenant/v2.0", "api://x", "plain http off loopback")]
    [InlineData("https://login.example.com/tenant/v2.0", null, "without Auth:Audience")]
    [InlineData(null, "api://x", "Auth:Audience is set but Auth:Authority is not")]
    [InlineData("login.example.com", "api://x", "not an absolute http(s) URL")]
    public async Task Inconsistent_settings_stop_the_host_at_start_with_a_message(string? authority, string? audience, string message)
    {
        var settings = new Dictionary<string, string?> { ["Auth:Authority"] = authority, ["Auth:Audience"] = audience };

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => LocalHost.StartAsync(watch: false, settings));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Off_loopback_the_host_needs_sign_in_or_an_api_key()
    {
        await using var issuer = await TestIssuer.StartAsync();
        using var index = new TempDirectory("vs-ft-auth-");
        var args = CliArgs.Parse(["--index", index.Path, "--urls", "http://0.0.0.0:7071", "--no-watch"], "no-watch", "verbose");

        // The start-up validation alone (nothing is bound): refused without either, accepted with sign-in.
        await using (var open = ServeCommand.Build(args, new Dictionary<string, string?>()))
        {
            var ex = Assert.Throws<OptionsValidationException>(() => open.Services.GetRequiredService<IStartupValidator>().Validate());
            Assert.Contains("without sign-in or an API key", ex.Message, StringComparison.Ordinal);
        }

        await using var signedIn = ServeCommand.Build(args, issuer.HostSettings());
        signedIn.Services.GetRequiredService<IStartupValidator>().Validate();
    }

    private static async Task<HttpResponseMessage> SendAsync(LocalHost host, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return await host.Client.SendAsync(request);
    }
}
