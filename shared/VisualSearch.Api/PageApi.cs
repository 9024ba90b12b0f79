using System.Collections.Frozen;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace VisualSearch.Api;

/// <summary>What the page may offer on this host, served to it as config.json.</summary>
/// <param name="Upload">The host accepts POST /api/images (the local host).</param>
/// <param name="SignIn">How the page signs people in (MSAL.js), or null: it does not (the host has no Auth:ClientId).</param>
public sealed record PageSettings(bool Upload, PageSignIn? SignIn = null);

/// <summary>
/// The search page: plain HTML/CSS/JS embedded in this assembly (wwwroot/), served by both hosts (the local host
/// at /, the Functions host at /api/app/). Everything it loads comes from the same origin; the Content-Security-Policy
/// says so. Files are revalidated on every load (ETag), so a new build is picked up at once.
/// </summary>
public static class PageApi
{
    public const string IndexFile = "index.html";
    public const string ConfigFile = "config.json";

    private const string ResourcePrefix = "VisualSearch.Api.wwwroot.";

    /// <summary>The MSAL.js bundle (from node_modules at build time), loaded by the page only when it signs people in.</summary>
    public const string MsalFile = "msal-browser.min.js";

    // connect-src {0}: the issuer's origin when the page signs people in (MSAL reads its discovery document and
    // redeems the code at its token endpoint); the sign-in itself is a top-level navigation.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'{0}; " +
        "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly Lazy<FrozenDictionary<string, PageFile>> LazyFiles = new(Load);

    /// <summary>The file names served (besides <see cref="ConfigFile"/>).</summary>
    public static IEnumerable<string> Files => LazyFiles.Value.Keys;

    /// <summary>True if this build embeds <see cref="MsalFile"/> (node_modules was there when it was built: `npm ci`).</summary>
    public static bool SignInBundled =>
#if MSAL_BUNDLED
        true;
#else
        false;
#endif

    /// <summary>One file of the page; an empty name is index.html. 404 for anything else.</summary>
    public static IResult Serve(string? name, HttpRequest request, PageSettings settings)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(settings);
        name = string.IsNullOrEmpty(name) ? IndexFile : name;
        PageFile file;
        if (name == ConfigFile)
        {
            var json = JsonSerializer.SerializeToUtf8Bytes(settings, JsonSerializerOptions.Web);
            file = new PageFile(json, "application/json", Tag(json));
        }
        else if (!LazyFiles.Value.TryGetValue(name, out file!))
        {
            return ApiHttp.Problem(StatusCodes.Status404NotFound, "Not found", $"The page has no file '{name}'.");
        }

        var headers = request.HttpContext.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        if (file.ContentType.StartsWith("text/html", StringComparison.Ordinal))
            headers.ContentSecurityPolicy = string.Format(CultureInfo.InvariantCulture, ContentSecurityPolicy,
                settings.SignIn is { } signIn ? " " + new Uri(signIn.Authority).GetLeftPart(UriPartial.Authority) : "");
        return Results.Bytes(file.Bytes, file.ContentType, entityTag: EntityTagHeaderValue.Parse(file.ETag));
    }

    private static FrozenDictionary<string, PageFile> Load()
    {
        var assembly = typeof(PageApi).Assembly;
        var files = new Dictionary<string, PageFile>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var name = resource[ResourcePrefix.Length..];
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var bytes = buffer.ToArray();
            files[name] = new PageFile(bytes, ContentTypeOf(name), Tag(bytes));
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string Tag(byte[] bytes) => $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..24]}\"";

    private static string ContentTypeOf(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" or ".mjs" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".json" or ".webmanifest" => "application/json",
        ".txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };

    private sealed record PageFile(byte[] Bytes, string ContentType, string ETag);
}
