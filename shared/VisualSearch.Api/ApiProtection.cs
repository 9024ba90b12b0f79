using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace VisualSearch.Api;

/// <summary>
/// The local host's protection (section "Api"): an optional API key and a per-client rate limit. On Azure the
/// Functions runtime does both (AuthorizationLevel.Function keys, the platform's own limits), so only
/// <c>vsearch serve</c> uses this.
/// </summary>
public sealed class ApiOptions
{
    public const string SectionName = "Api";

    /// <summary>
    /// When set, every /api and /runtime request except GET /api/health needs it, as the <c>x-api-key</c> or
    /// <c>x-functions-key</c> header or the <c>code</c> query parameter (as a Functions key). Empty: no key.
    /// </summary>
    [MinLength(16)]
    public string? ApiKey { get; set; }

    /// <summary>Refuse to start on a non-loopback address without an <see cref="ApiKey"/> (default true).</summary>
    public bool RequireKeyOffLoopback { get; set; } = true;

    /// <summary>Requests per second per client address on /api and /runtime (token bucket; 0 = no limit).</summary>
    [Range(0, 1_000_000)]
    public int PermitsPerSecond { get; set; } = 100;

    /// <summary>Requests a client may send at once above the steady rate (the bucket's size).</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 200;

    /// <summary>Requests over the limit that wait for a token instead of getting 429 at once.</summary>
    [Range(0, 100_000)]
    public int QueueLimit { get; set; } = 100;

    /// <summary>True if every URL of a <c>--urls</c> list (';'-separated) binds a loopback address only.</summary>
    public static bool IsLoopbackOnly(string urls)
    {
        ArgumentNullException.ThrowIfNull(urls);
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Kestrel's wildcards (http://*:80, http://+:80) are not valid URIs; they bind every interface.
            if (!Uri.TryCreate(url.Replace("://*", "://wildcard.invalid", StringComparison.Ordinal).Replace("://+", "://wildcard.invalid", StringComparison.Ordinal), UriKind.Absolute, out var uri))
                return false;
            var host = uri.Host;
            if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) continue;
            if (!IPAddress.TryParse(host.Trim('[', ']'), out var address) || !IPAddress.IsLoopback(address)) return false;
        }

        return true;
    }
}

public static class ApiProtectionExtensions
{
    private const string RetryAfterSeconds = "1";
    private static readonly object AuthorizedKey = new();

    /// <summary>The host names a key-less local host answers to (HostFiltering's AllowedHosts).</summary>
    public static readonly IReadOnlyList<string> LoopbackHostNames = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>
    /// Registers the API key check and the rate limiter of the local host, with options from "Api" validated at
    /// start. <paramref name="urls"/> are the addresses the host binds: off loopback an API key is required.
    /// </summary>
    public static IHostApplicationBuilder AddVisualSearchApiProtection(this IHostApplicationBuilder builder, string urls)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(urls);
        builder.Services.AddOptions<ApiOptions>()
            .Bind(builder.Configuration.GetSection(ApiOptions.SectionName))
            .ValidateDataAnnotations()
            // Signed-in people (Auth:Authority) or a key protect a host off loopback; without either it stays on loopback.
            .Validate(o => !o.RequireKeyOffLoopback || !string.IsNullOrEmpty(o.ApiKey) || ApiOptions.IsLoopbackOnly(urls)
                    || !string.IsNullOrWhiteSpace(builder.Configuration[$"{AuthOptions.SectionName}:Authority"]),
                $"The host would listen on '{urls}', which is not loopback only, without sign-in or an API key: set Auth:Authority and Auth:Audience (Auth__Authority, Auth__Audience), or Api:ApiKey (Api__ApiKey, at least 16 characters), or bind 127.0.0.1.")
            .ValidateOnStart();

        // DNS rebinding: a page whose own name resolves to 127.0.0.1 reaches a key-less local host with its own Host
        // header. Without a key only loopback names are served (400 otherwise), unless AllowedHosts says otherwise.
        if (string.IsNullOrWhiteSpace(builder.Configuration["AllowedHosts"]))
        {
            builder.Services.AddOptions<HostFilteringOptions>().Configure<IOptions<ApiOptions>>((hosts, api) =>
            {
                if (string.IsNullOrEmpty(api.Value.ApiKey) && hosts.AllowedHosts.Count == 0)
                    foreach (var name in LoopbackHostNames) hosts.AllowedHosts.Add(name);
            });
        }

        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<ApiOptions>>((limiter, api) =>
        {
            var o = api.Value;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                if (o.PermitsPerSecond == 0 || !IsProtectedPath(context.Request.Path) || IsHealth(context.Request))
                    return RateLimitPartition.GetNoLimiter("unlimited");
                var client = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
                // Refill ten times a second (one token per 1/rate s under 10 per second), so the rate holds over short spans.
                var (period, tokens) = o.PermitsPerSecond >= 10
                    ? (TimeSpan.FromMilliseconds(100), (int)Math.Round(o.PermitsPerSecond / 10.0))
                    : (TimeSpan.FromSeconds(1.0 / o.PermitsPerSecond), 1);
                return RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = o.Burst,
                    TokensPerPeriod = tokens,
                    ReplenishmentPeriod = period,
                    QueueLimit = o.QueueLimit,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var response = rejected.HttpContext.Response;
                response.Headers.RetryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)
                    ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture)
                    : RetryAfterSeconds;
                await ApiHttp.Problem(StatusCodes.Status429TooManyRequests, "Too many requests",
                        $"Over {o.PermitsPerSecond} requests per second from this client; retry after the Retry-After header's seconds.")
                    .ExecuteAsync(rejected.HttpContext).ConfigureAwait(false);
            };
        });
        return builder;
    }

    /// <summary>Applies the rate limit, then the API key check, to /api and /runtime (GET /api/health stays anonymous).</summary>
    public static IApplicationBuilder UseVisualSearchApiProtection(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseRateLimiter();
        // Options are read on the first request (they are validated at start, not while the pipeline is built).
        var expected = new Lazy<byte[]?>(() => app.ApplicationServices.GetRequiredService<IOptions<ApiOptions>>().Value.ApiKey is { Length: > 0 } key
            ? SHA256.HashData(Encoding.UTF8.GetBytes(key))
            : null);
        return app.Use(async (context, next) =>
        {
            var request = context.Request;
            var authorized = expected.Value is not { } digest || HasKey(request, digest);
            if (authorized) context.Items[AuthorizedKey] = expected.Value is not null; // true: the key was sent
            if (!authorized && IsProtectedPath(request.Path) && !IsHealth(request))
            {
                context.Response.Headers.WWWAuthenticate = "ApiKey header=\"x-api-key\"";
                await ApiHttp.Problem(StatusCodes.Status401Unauthorized, "Missing or wrong API key",
                        "Send the API key as the x-api-key (or x-functions-key) header, or as ?code=.")
                    .ExecuteAsync(context).ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });
    }

    /// <summary>
    /// True if the request passed the API key check: it carries the key, or no key is configured (then the host
    /// listens on loopback only and serves loopback host names only). False where the check does not run.
    /// </summary>
    public static bool IsAuthorized(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Items.ContainsKey(AuthorizedKey);
    }

    /// <summary>True if the request carried the configured API key (not merely passed because no key is configured).</summary>
    public static bool SentApiKey(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Items.TryGetValue(AuthorizedKey, out var sent) && sent is true;
    }

    internal static bool IsProtectedPath(PathString path) =>
        path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/runtime", StringComparison.OrdinalIgnoreCase);

    internal static bool IsHealth(HttpRequest request) =>
        HttpMethods.IsGet(request.Method) && request.Path.Equals("/api/health", StringComparison.OrdinalIgnoreCase);

    /// <summary>Compares SHA-256 digests in constant time, so neither the key's content nor its length leaks through timing.</summary>
    private static bool HasKey(HttpRequest request, byte[] expected)
    {
        foreach (var candidate in (string?[])[request.Headers["x-api-key"], request.Headers["x-functions-key"], request.Query["code"]])
        {
            if (string.IsNullOrEmpty(candidate)) continue;
            if (CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(candidate)), expected)) return true;
        }

        return false;
    }
}
