using System.Text;
using System.Text.Json;

namespace VisualSearch.Testing;

/// <summary>
/// What App Service authentication ("Easy Auth") passes to the app after validating a person's Entra access token:
/// the <c>X-MS-CLIENT-PRINCIPAL</c> header (base64 JSON with Entra's long claim names). Tests that play the platform
/// in front of the Functions code put it on a request; tests that play an attacker forge it.
/// </summary>
public static class AppServicePrincipal
{
    /// <summary>The header the platform sets (and strips from client requests).</summary>
    public const string Header = "X-MS-CLIENT-PRINCIPAL";

    private const string ObjectIdClaim = "http://schemas.microsoft.com/identity/claims/objectidentifier";
    private const string NameIdentifierClaim = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier";

    /// <summary>The header's value for <paramref name="user"/>, as App Service writes it for an Entra access token.</summary>
    public static string For(TestUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var claims = new List<object> { new { typ = NameIdentifierClaim, val = user.Subject }, new { typ = "name", val = user.Name } };
        if (user.ObjectId is not null) claims.Add(new { typ = ObjectIdClaim, val = user.ObjectId });
        claims.AddRange(user.Roles.Select(r => new { typ = "roles", val = r }));
        var json = JsonSerializer.Serialize(new { auth_typ = "aad", claims, name_typ = "name", role_typ = "roles" });
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>Adds the principal of <paramref name="user"/> to <paramref name="request"/> and returns it.</summary>
    public static HttpRequestMessage SignedIn(this HttpRequestMessage request, TestUser user)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Headers.Add(Header, For(user));
        return request;
    }
}
