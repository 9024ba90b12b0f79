using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace VisualSearch.Testing;

/// <summary>
/// What a single-page app needs from the test issuer to sign a person in with MSAL.js (authorization code + PKCE):
/// <c>/authorize</c> consents at once as <see cref="SignInAs"/> and sends the browser back to a registered redirect URI
/// with a one-time code bound to the S256 <c>code_challenge</c>; <c>/token</c> redeems it only with the matching
/// <c>code_verifier</c> (and a refresh token), answering a real signed access token for <see cref="Audience"/> and an
/// id token with the request's nonce; <c>/logout</c> goes back to a registered URI. Cross-origin reads are allowed, as
/// a real issuer's discovery and token endpoints allow them for SPAs.
/// </summary>
public sealed partial class TestIssuer
{
    /// <summary>The page's (SPA's) client id the issuer knows.</summary>
    public const string PageClientId = "visualsearch-page-tests";

    /// <summary>The API scope the page asks for; its tokens' aud is <see cref="Audience"/>.</summary>
    public const string Scope = Audience + "/access_as_user";

    private static readonly TimeSpan CodeLifetime = TimeSpan.FromMinutes(2);

    private readonly ConcurrentDictionary<string, PendingCode> _codes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TestUser> _refreshTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<string> _redirectUris = [];
    private int _codesIssued;
    private int _codesRedeemed;
    private int _verifiersRefused;
    private int _logouts;

    /// <summary>The https certificate (started with https), null on http.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>The person /authorize signs in (no login form: it consents at once).</summary>
    public TestUser SignInAs { get; set; } = TestUser.A;

    public int CodesIssued => Volatile.Read(ref _codesIssued);

    /// <summary>Codes exchanged for tokens after their code_verifier matched the code_challenge.</summary>
    public int CodesRedeemed => Volatile.Read(ref _codesRedeemed);

    /// <summary>Token requests refused because the code_verifier did not match the code_challenge (or was missing).</summary>
    public int VerifiersRefused => Volatile.Read(ref _verifiersRefused);

    public int Logouts => Volatile.Read(ref _logouts);

    /// <summary>Registers a redirect URI (exact match, as Entra ID does) for <see cref="PageClientId"/>.</summary>
    public void AllowRedirect(string uri) => _redirectUris.Add(uri);

    /// <summary>A handler that trusts this issuer's certificate only (for a host's JWKS and discovery requests).</summary>
    public HttpClientHandler TrustingHandler()
    {
        var pinned = Certificate?.GetCertHash(HashAlgorithmName.SHA256) ?? throw new InvalidOperationException("The issuer runs on http.");
        return new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
                certificate is not null && CryptographicOperations.FixedTimeEquals(certificate.GetCertHash(HashAlgorithmName.SHA256), pinned),
        };
    }

    /// <summary>The S256 code_challenge of a PKCE code_verifier (RFC 7636 section 4.2).</summary>
    public static string Challenge(string verifier) => Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    private static void MapSignIn(WebApplication app, Func<TestIssuer> issuer)
    {
        app.MapGet("/authorize", (HttpRequest request) => issuer().Authorize(request));
        app.MapPost("/token", async (HttpRequest request) => issuer().Redeem(await request.ReadFormAsync().ConfigureAwait(false)));
        app.MapGet("/logout", (HttpRequest request) => issuer().Logout(request));
    }

    private IResult Authorize(HttpRequest request)
    {
        var q = request.Query;
        string redirect = q["redirect_uri"].ToString();
        if (q["client_id"] != PageClientId) return Results.BadRequest("unknown client_id");
        if (!_redirectUris.Contains(redirect)) return Results.BadRequest("redirect_uri is not registered");
        if (q["response_type"] != "code") return Results.BadRequest("response_type must be code");
        if (q["code_challenge_method"] != "S256" || string.IsNullOrEmpty(q["code_challenge"])) return Results.BadRequest("PKCE (S256) is required");
        var scopes = q["scope"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (!scopes.Contains("openid")) return Results.BadRequest("scope must include openid");

        var code = Base64Url(RandomNumberGenerator.GetBytes(32));
        _codes[code] = new PendingCode(SignInAs, redirect, q["code_challenge"]!, q["nonce"], string.Join(' ', scopes), DateTimeOffset.UtcNow + CodeLifetime);
        Interlocked.Increment(ref _codesIssued);
        var parameters = $"code={Uri.EscapeDataString(code)}&state={Uri.EscapeDataString(q["state"].ToString())}";
        return Results.Redirect(redirect + (q["response_mode"] == "query" ? "?" : "#") + parameters);
    }

    private IResult Redeem(IFormCollection form)
    {
        if (form["client_id"] != PageClientId) return TokenError("invalid_client");
        if (form["grant_type"] == "refresh_token")
        {
            return _refreshTokens.TryRemove(form["refresh_token"].ToString(), out var refreshed)
                ? Tokens(refreshed, nonce: null, form["scope"].ToString())
                : TokenError("invalid_grant");
        }

        if (form["grant_type"] != "authorization_code") return TokenError("unsupported_grant_type");
        // A code is redeemed once, whether or not the attempt succeeds.
        if (!_codes.TryRemove(form["code"].ToString(), out var pending) || pending.Expires < DateTimeOffset.UtcNow || pending.RedirectUri != form["redirect_uri"])
            return TokenError("invalid_grant");
        var verifier = form["code_verifier"].ToString();
        if (verifier.Length is < 43 or > 128
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Challenge(verifier)), Encoding.ASCII.GetBytes(pending.Challenge)))
        {
            Interlocked.Increment(ref _verifiersRefused);
            return TokenError("invalid_grant");
        }

        Interlocked.Increment(ref _codesRedeemed);
        return Tokens(pending.User, pending.Nonce, pending.Scope);
    }

    private IResult Tokens(TestUser user, string? nonce, string scope)
    {
        var access = Claims(user);
        access["scp"] = "access_as_user";
        access["azp"] = PageClientId;
        var now = DateTimeOffset.UtcNow;
        var id = new JsonObject
        {
            ["iss"] = Authority,
            ["aud"] = PageClientId,
            ["sub"] = user.Subject,
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["exp"] = now.AddHours(1).ToUnixTimeSeconds(),
            ["name"] = user.Name,
            ["preferred_username"] = user.Name.ToLowerInvariant() + "@visualsearch.test",
        };
        if (user.ObjectId is not null) id["oid"] = user.ObjectId;
        if (nonce is not null) id["nonce"] = nonce;
        var refresh = Base64Url(RandomNumberGenerator.GetBytes(32));
        _refreshTokens[refresh] = user;
        return Results.Json(new Dictionary<string, object>
        {
            ["token_type"] = "Bearer",
            ["scope"] = scope,
            ["expires_in"] = 3600,
            ["access_token"] = Sign(access, Current),
            ["id_token"] = Sign(id, Current),
            ["refresh_token"] = refresh,
        });
    }

    private IResult Logout(HttpRequest request)
    {
        Interlocked.Increment(ref _logouts);
        var back = request.Query["post_logout_redirect_uri"].ToString();
        return _redirectUris.Contains(back) ? Results.Redirect(back) : Results.Text("Signed out.");
    }

    private static IResult TokenError(string error) => Results.Json(new { error }, statusCode: StatusCodes.Status400BadRequest);

    private static async Task AllowCrossOrigin(HttpContext context, Func<Task> next)
    {
        context.Response.Headers.AccessControlAllowOrigin = "*";
        if (HttpMethods.IsOptions(context.Request.Method))
        {
            context.Response.Headers.AccessControlAllowMethods = "GET, POST";
            context.Response.Headers.AccessControlAllowHeaders = context.Request.Headers.AccessControlRequestHeaders.ToString() is { Length: > 0 } asked ? asked : "content-type";
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        await next().ConfigureAwait(false);
    }

    /// <summary>A self-signed certificate for https://127.0.0.1, valid for a day.</summary>
    private static X509Certificate2 LoopbackCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), password: null);
    }

    private sealed record PendingCode(TestUser User, string RedirectUri, string Challenge, string? Nonce, string Scope, DateTimeOffset Expires);
}
