using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace VisualSearch.Testing;

/// <summary>
/// A test-only OpenID Connect issuer on loopback HTTP: <c>/.well-known/openid-configuration</c> and a JWKS of RSA
/// keys generated for this run, and real RS256-signed JWTs (written by hand, so that the tests can also write the
/// broken ones an attacker would send: alg none, HS256 with the public key, a swapped kid, a tampered payload).
/// Started with <c>https: true</c> it also signs a browser in (TestIssuer.SignIn.cs: authorization code + PKCE).
/// </summary>
public sealed partial class TestIssuer : IAsyncDisposable
{
    public const string Audience = "api://visualsearch-tests";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, RSA> _published = new(StringComparer.Ordinal);
    private int _jwksRequests;

    private TestIssuer(WebApplication app, string authority, X509Certificate2? certificate)
    {
        _app = app;
        Authority = authority;
        Certificate = certificate;
    }

    /// <summary>The issuer URL (also the <c>iss</c> of its tokens): http://127.0.0.1:port, or https:// when started so.</summary>
    public string Authority { get; }

    /// <summary>The key tokens are signed with unless a test says otherwise (published from the start).</summary>
    public SigningKey Current { get; private set; } = null!;

    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    /// <param name="https">
    /// Serve https on 127.0.0.1 with a self-signed certificate made for this run (<see cref="Certificate"/>), as MSAL.js
    /// accepts https authorities only; clients trust exactly that certificate (<see cref="TrustingHandler"/>).
    /// </param>
    public static async Task<TestIssuer> StartAsync(bool https = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var certificate = https ? LoopbackCertificate() : null;
        if (certificate is null) builder.WebHost.UseUrls("http://127.0.0.1:0");
        else builder.WebHost.UseKestrelHttpsConfiguration().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(certificate)));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        TestIssuer? issuer = null;
        app.Use(AllowCrossOrigin);
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = issuer!.Authority,
            ["jwks_uri"] = issuer.Authority + "/keys",
            ["authorization_endpoint"] = issuer.Authority + "/authorize",
            ["token_endpoint"] = issuer.Authority + "/token",
            ["end_session_endpoint"] = issuer.Authority + "/logout",
            ["response_types_supported"] = new[] { "code" },
            ["response_modes_supported"] = new[] { "query", "fragment" },
            ["grant_types_supported"] = new[] { "authorization_code", "refresh_token" },
            ["code_challenge_methods_supported"] = new[] { "S256" },
            ["scopes_supported"] = new[] { "openid", "profile", "offline_access", Scope },
            ["subject_types_supported"] = new[] { "public" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        app.MapGet("/keys", () =>
        {
            Interlocked.Increment(ref issuer!._jwksRequests);
            var keys = issuer._published.Select(p =>
            {
                var parameters = p.Value.ExportParameters(includePrivateParameters: false);
                return new Dictionary<string, string>
                {
                    ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = p.Key,
                    ["n"] = Base64Url(parameters.Modulus!), ["e"] = Base64Url(parameters.Exponent!),
                };
            }).ToList();
            return Results.Json(new { keys });
        });
        MapSignIn(app, () => issuer!);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        issuer = new TestIssuer(app, address.TrimEnd('/'), certificate);
        issuer.Current = issuer.Publish();
        return issuer;
    }

    /// <summary>A new RSA key, published in the JWKS from now on.</summary>
    public SigningKey Publish()
    {
        var key = NewKey();
        _published[key.Kid] = key.Rsa;
        return key;
    }

    /// <summary>A new RSA key that the JWKS never shows.</summary>
    public static SigningKey NewKey() => new("k-" + Guid.NewGuid().ToString("N")[..12], RSA.Create(2048));

    /// <summary>The host's settings that trust this issuer.</summary>
    public Dictionary<string, string?> HostSettings() => new()
    {
        ["Auth:Authority"] = Authority,
        ["Auth:Audience"] = Audience,
    };

    /// <summary>The claims of a valid access token for <paramref name="user"/>, valid from a minute ago for an hour.</summary>
    public JsonObject Claims(TestUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var now = DateTimeOffset.UtcNow;
        var claims = new JsonObject
        {
            ["iss"] = Authority,
            ["aud"] = Audience,
            ["sub"] = user.Subject,
            ["iat"] = now.AddMinutes(-1).ToUnixTimeSeconds(),
            ["nbf"] = now.AddMinutes(-1).ToUnixTimeSeconds(),
            ["exp"] = now.AddHours(1).ToUnixTimeSeconds(),
            ["name"] = user.Name,
        };
        if (user.ObjectId is not null) claims["oid"] = user.ObjectId;
        if (user.Roles.Count > 0) claims["roles"] = new JsonArray(user.Roles.Select(r => (JsonNode)JsonValue.Create(r)!).ToArray());
        return claims;
    }

    /// <summary>A valid access token for <paramref name="user"/>, signed with <see cref="Current"/>.</summary>
    public string Token(TestUser user) => Sign(Claims(user), Current);

    /// <summary>An RS256 JWT of <paramref name="claims"/> signed with <paramref name="key"/>; the header names <paramref name="kid"/> (default the key's).</summary>
    public static string Sign(JsonObject claims, SigningKey key, string? kid = null)
    {
        ArgumentNullException.ThrowIfNull(claims);
        ArgumentNullException.ThrowIfNull(key);
        var signingInput = Encode(new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT", ["kid"] = kid ?? key.Kid }) + "." + Encode(claims);
        var signature = key.Rsa.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url(signature);
    }

    /// <summary>An unsigned token (<c>alg: none</c>).</summary>
    public static string Unsigned(JsonObject claims) =>
        Encode(new JsonObject { ["alg"] = "none", ["typ"] = "JWT" }) + "." + Encode(claims) + ".";

    /// <summary>HS256 with the issuer's public key as the HMAC secret: the algorithm-confusion attack.</summary>
    public static string HmacWithPublicKey(JsonObject claims, SigningKey key)
    {
        var signingInput = Encode(new JsonObject { ["alg"] = "HS256", ["typ"] = "JWT", ["kid"] = key.Kid }) + "." + Encode(claims);
        var secret = Encoding.ASCII.GetBytes(key.Rsa.ExportSubjectPublicKeyInfoPem());
        return signingInput + "." + Base64Url(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(signingInput)));
    }

    /// <summary>A valid token's signature over other claims: the payload swapped after signing.</summary>
    public static string Tampered(string token, JsonObject claims)
    {
        var parts = token.Split('.');
        return parts[0] + "." + Encode(claims) + "." + parts[2];
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        foreach (var rsa in _published.Values) rsa.Dispose();
        Certificate?.Dispose();
    }

    private static string Encode(JsonObject json) => Base64Url(Encoding.UTF8.GetBytes(json.ToJsonString()));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

public sealed record SigningKey(string Kid, RSA Rsa);

/// <summary>A person of the tests: <paramref name="ObjectId"/> is Entra's oid (null: the owner falls back to sub).</summary>
public sealed record TestUser(string Name, string Subject, string? ObjectId, IReadOnlyList<string> Roles)
{
    public string Owner => ObjectId ?? Subject;

    public static readonly TestUser A = new("Ana", "sub-ana-7Qx", "6f1c2a94-0d1e-4b8a-9c55-a1b2c3d4e5f6", []);

    /// <summary>B has no oid (a non-Entra issuer): the owner is the sub.</summary>
    public static readonly TestUser B = new("Ben", "ben|4411", null, []);

    public static readonly TestUser Admin = new("Ops", "sub-ops-1", "0b7e2d11-5c3a-4f6e-8d90-112233445566", ["VisualSearch.Admin"]);
}
