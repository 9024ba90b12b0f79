using Microsoft.AspNetCore.Http;

namespace VisualSearch.Api;

/// <summary>
/// The check every write route makes against cross-site requests: a browser names the page that sent a request in
/// its Origin header, and only this host's own page (scheme://host of the request) may write. Clients that are not
/// browsers (Event Grid, curl, the SDKs) send no Origin and are not affected.
/// </summary>
internal static class RequestOrigin
{
    /// <summary>True if the request carries an Origin other than this host's own; <paramref name="origin"/> is that Origin.</summary>
    public static bool IsForeign(HttpRequest request, out string origin)
    {
        origin = request.Headers.Origin.ToString();
        return origin.Length > 0 && !string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);
    }
}
