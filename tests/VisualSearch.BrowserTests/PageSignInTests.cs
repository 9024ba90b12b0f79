using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VisualSearch.Api;
using VisualSearch.BrowserTests.Infrastructure;

namespace VisualSearch.BrowserTests;

/// <summary>
/// The page signs people in by itself (issue 15): MSAL.js bundled from npm and served by our host, authorization code +
/// PKCE against the test OpenID issuer on https://127.0.0.1 (TestIssuer started with https), the access token on every
/// API call. The browser part is browser/sign-in.spec.mjs in Debian's chromium.
/// </summary>
public sealed class PageSignInTests
{
    private static readonly string[] PhotosOfA = ["chelsea.png", "coffee.png", "astronaut.png", "camera.png"];
    private static readonly string[] PhotosOfB = ["brick.png", "clock_motion.png", "hubble_deep_field.jpg", "retina.jpg"];

    [Fact]
    public async Task A_signs_in_on_the_page_sees_her_name_and_only_her_photos_and_signs_out()
    {
        Assert.True(File.Exists("/usr/bin/chromium"), "/usr/bin/chromium is missing: the browser test needs Debian's chromium.");
        await using var issuer = await TestIssuer.StartAsync(https: true);
        issuer.SignInAs = TestUser.A;
        await using var host = await PageHost.StartAsync(Repo.Photos, [], SignInSettings(issuer), issuer.TrustingHandler());
        issuer.AllowRedirect(host.BaseAddress.ToString());
        await host.IngestAsync(Repo.Photos, PhotosOfA, TestUser.A.Owner);
        await host.IngestAsync(Repo.Photos, PhotosOfB, TestUser.B.Owner);

        var script = Path.Combine(Repo.Root, "tests", "VisualSearch.BrowserTests", "browser", "sign-in.spec.mjs");
        var (exitCode, output) = await NodeScript.RunAsync(script,
            [host.BaseAddress.ToString(), issuer.Authority, Repo.Query("chelsea-edited.jpg"), string.Join(',', PhotosOfA), string.Join(',', PhotosOfB), TestUser.A.Name],
            TimeSpan.FromMinutes(3));

        Assert.True(exitCode == 0, $"sign-in.spec.mjs failed (exit code {exitCode}):\n{output}");
        // What the issuer saw: one code issued and redeemed with its verifier, none refused, one sign-out.
        Assert.Equal((1, 1, 0, 1), (issuer.CodesIssued, issuer.CodesRedeemed, issuer.VerifiersRefused, issuer.Logouts));
    }

    [Fact]
    public async Task The_test_issuer_redeems_a_code_only_with_the_verifier_of_its_challenge()
    {
        await using var issuer = await TestIssuer.StartAsync(https: true);
        const string redirect = "http://127.0.0.1:1/";
        issuer.AllowRedirect(redirect);
        var handler = issuer.TrustingHandler();
        handler.AllowAutoRedirect = false;
        using var client = new HttpClient(handler) { BaseAddress = new Uri(issuer.Authority) };
        var verifier = "v-" + Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N");

        // Without a challenge there is no code at all: PKCE is required.
        using (var noPkce = await client.GetAsync(AuthorizePath(redirect, challenge: null)))
            Assert.Equal(HttpStatusCode.BadRequest, noPkce.StatusCode);

        var wrong = await RedeemAsync(client, await CodeAsync(client, redirect, TestIssuer.Challenge(verifier)), redirect, verifier + "x");
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_grant"), (wrong.Status, wrong.Body.GetProperty("error").GetString()));
        var missing = await RedeemAsync(client, await CodeAsync(client, redirect, TestIssuer.Challenge(verifier)), redirect, verifier: null);
        Assert.Equal(HttpStatusCode.BadRequest, missing.Status);
        Assert.Equal(2, issuer.VerifiersRefused);

        var code = await CodeAsync(client, redirect, TestIssuer.Challenge(verifier));
        var right = await RedeemAsync(client, code, redirect, verifier);
        Assert.Equal(HttpStatusCode.OK, right.Status);
        Assert.Equal(3, right.Body.GetProperty("access_token").GetString()!.Split('.').Length);
        // A code is good once.
        Assert.Equal(HttpStatusCode.BadRequest, (await RedeemAsync(client, code, redirect, verifier)).Status);
        Assert.Equal(1, issuer.CodesRedeemed);
    }

    [Fact]
    public async Task Config_json_tells_the_page_how_to_sign_in_and_the_policy_lets_it_reach_the_issuer_only()
    {
        await using var issuer = await TestIssuer.StartAsync(https: true);
        await using var host = await PageHost.StartAsync(Repo.Photos, [], SignInSettings(issuer), issuer.TrustingHandler());

        using var config = JsonDocument.Parse(await host.Client.GetStringAsync("/config.json"));
        var signIn = config.RootElement.GetProperty("signIn");
        Assert.Equal(issuer.Authority, signIn.GetProperty("authority").GetString());
        Assert.Equal(TestIssuer.PageClientId, signIn.GetProperty("clientId").GetString());
        Assert.Equal(TestIssuer.Scope, signIn.GetProperty("scope").GetString());

        using var page = await host.Client.GetAsync("/");
        var csp = string.Join(" ", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains($"connect-src 'self' {issuer.Authority};", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);

        using var msal = await host.Client.GetAsync("/" + PageApi.MsalFile);
        Assert.Equal(HttpStatusCode.OK, msal.StatusCode);
        Assert.Equal("text/javascript", msal.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith(Repo.MsalBanner(), await msal.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The page's sign-in does not open the API: without a token it is still 401.
        using var search = await host.Client.GetAsync("/api/search?id=chelsea.png");
        Assert.Equal(HttpStatusCode.Unauthorized, search.StatusCode);
    }

    [Fact]
    public async Task Without_a_client_id_the_page_does_not_sign_in_and_the_policy_is_unchanged()
    {
        await using var host = await PageHost.StartAsync(Repo.Photos, []);
        using var config = JsonDocument.Parse(await host.Client.GetStringAsync("/config.json"));
        Assert.Equal(JsonValueKind.Null, config.RootElement.GetProperty("signIn").ValueKind);
        using var page = await host.Client.GetAsync("/");
        Assert.Contains("connect-src 'self';", string.Join(" ", page.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://issuer.example/v2.0", "page", null, "Auth__Scope")]
    [InlineData("http://127.0.0.1:5000", "page", "api://x/access_as_user", "https URL")]
    [InlineData(null, "page", "api://x/access_as_user", "https URL")]
    [InlineData("https://issuer.example/v2.0", "page", "api://x/a api://x/b", "Auth__Scope")]
    [InlineData("https://issuer.example/v2.0", null, "api://x/access_as_user", "Auth__ClientId")]
    public void Sign_in_settings_are_checked_at_start(string? authority, string? clientId, string? scope, string expected)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Auth:Authority"] = authority, ["Auth:ClientId"] = clientId, ["Auth:Scope"] = scope });
        builder.AddVisualSearchPageSignIn();
        using var built = builder.Build();
        var error = Assert.Throws<OptionsValidationException>(() => built.Services.GetRequiredService<IOptions<PageSignInOptions>>().Value);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> SignInSettings(TestIssuer issuer)
    {
        var settings = issuer.HostSettings();
        settings["Auth:ClientId"] = TestIssuer.PageClientId;
        settings["Auth:Scope"] = TestIssuer.Scope;
        return settings;
    }

    private static string AuthorizePath(string redirect, string? challenge) =>
        $"/authorize?client_id={TestIssuer.PageClientId}&response_type=code&scope=openid%20{Uri.EscapeDataString(TestIssuer.Scope)}"
        + $"&redirect_uri={Uri.EscapeDataString(redirect)}&state=s1&nonce=n1"
        + (challenge is null ? "" : $"&code_challenge={challenge}&code_challenge_method=S256");

    private static async Task<string> CodeAsync(HttpClient client, string redirect, string challenge)
    {
        using var response = await client.GetAsync(AuthorizePath(redirect, challenge));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        Assert.StartsWith(redirect + "#code=", location, StringComparison.Ordinal);
        return Uri.UnescapeDataString(location[(redirect.Length + "#code=".Length)..].Split('&')[0]);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> RedeemAsync(HttpClient client, string code, string redirect, string? verifier)
    {
        var form = new Dictionary<string, string>
        {
            ["client_id"] = TestIssuer.PageClientId, ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = redirect,
        };
        if (verifier is not null) form["code_verifier"] = verifier;
        using var response = await client.PostAsync("/token", new FormUrlEncodedContent(form));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, body.RootElement.Clone());
    }
}
