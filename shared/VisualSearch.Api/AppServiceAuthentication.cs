using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace VisualSearch.Api;

/// <summary>Finds the <see cref="Caller"/> of a request whose host set none itself (see <see cref="Caller.Of"/>).</summary>
public interface ICallerResolver
{
    /// <summary>The caller, or null when the request carries no usable identity.</summary>
    Caller? Resolve(HttpContext context);
}

/// <summary>Settings of App Service authentication ("Easy Auth") on the Functions host (section "Auth").</summary>
public sealed class AppServiceAuthOptions
{
    /// <summary>
    /// True where App Service authentication validates tokens in front of the app (infra/main.bicep sets
    /// Auth__AppService with the auth settings): the caller is then the principal the platform passes, and a request
    /// without one is refused (401). False (the default; a deployment without App Service authentication, the GPU
    /// container app, a local <c>func start</c>): no principal is trusted, so every person-facing function answers 401
    /// and only the anonymous health probe, the page's files and the key-protected webhooks serve anyone.
    /// </summary>
    public bool AppService { get; set; }
}

/// <summary>
/// Reads the principal App Service authentication validated: the ClaimsPrincipal the ASP.NET Core integration
/// gives, else the <c>X-MS-CLIENT-PRINCIPAL</c> header (base64 JSON: <c>auth_typ</c>, <c>claims</c> [{typ, val}],
/// <c>name_typ</c>, <c>role_typ</c>). The platform removes that header from client requests and sets it only after
/// validating a token, so it is trusted only when <see cref="AppServiceAuthOptions.AppService"/> says the platform is there;
/// otherwise there is no caller at all (never a single user who sees everything).
/// </summary>
public sealed class AppServiceCallerResolver(IOptions<AppServiceAuthOptions> options) : ICallerResolver
{
    public const string PrincipalHeader = "X-MS-CLIENT-PRINCIPAL";

    /// <summary>Largest principal header read (Entra tokens with many groups stay far below it).</summary>
    public const int MaxPrincipalLength = 32 * 1024;

    public Caller? Resolve(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!options.Value.AppService) return null;
        return Caller.FromPrincipal(context.User) ?? Caller.FromPrincipal(ReadPrincipal(context.Request.Headers[PrincipalHeader].ToString()));
    }

    /// <summary>The principal of an <c>X-MS-CLIENT-PRINCIPAL</c> value, or null when it is absent or not the platform's format.</summary>
    public static ClaimsPrincipal? ReadPrincipal(string? header)
    {
        if (string.IsNullOrEmpty(header) || header.Length > MaxPrincipalLength) return null;
        try
        {
            using var document = JsonDocument.Parse(Convert.FromBase64String(header));
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("claims", out var claims) || claims.ValueKind != JsonValueKind.Array) return null;
            var authType = root.TryGetProperty("auth_typ", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
            if (string.IsNullOrEmpty(authType)) return null;
            var list = new List<Claim>();
            foreach (var claim in claims.EnumerateArray())
            {
                if (claim.ValueKind == JsonValueKind.Object
                    && claim.TryGetProperty("typ", out var typ) && typ.ValueKind == JsonValueKind.String
                    && claim.TryGetProperty("val", out var val) && val.ValueKind == JsonValueKind.String)
                    list.Add(new Claim(typ.GetString()!, val.GetString()!));
            }

            var nameType = root.TryGetProperty("name_typ", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : ClaimTypes.Name;
            var roleType = root.TryGetProperty("role_typ", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : ClaimTypes.Role;
            return new ClaimsPrincipal(new ClaimsIdentity(list, authType, nameType, roleType));
        }
        catch (Exception ex) when (ex is FormatException or JsonException or DecoderFallbackException)
        {
            return null;
        }
    }
}

public static partial class AppServiceAuthenticationExtensions
{
    /// <summary>
    /// The Functions host's callers: App Service authentication's principal when Auth:AppService says the platform
    /// validates tokens in front of the app, else none (person-facing functions then answer 401). Says at start which.
    /// </summary>
    public static IHostApplicationBuilder AddVisualSearchAppServiceAuth(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<AppServiceAuthOptions>().Bind(builder.Configuration.GetSection(AuthOptions.SectionName)).ValidateOnStart();
        builder.Services.AddSingleton<ICallerResolver, AppServiceCallerResolver>();
        builder.Services.AddHostedService<AppServiceAuthStartupReport>();
        return builder;
    }

    /// <summary>Says at start whether people are served (App Service authentication in front) or refused.</summary>
    private sealed partial class AppServiceAuthStartupReport(IOptions<AppServiceAuthOptions> options, ILogger<AppServiceAuthStartupReport> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (options.Value.AppService) LogAppService(logger);
            else LogNoAppService(logger);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(603, LogLevel.Information, "App Service authentication validates callers (Auth__AppService): each person sees their own records")]
        private static partial void LogAppService(ILogger logger);

        [LoggerMessage(604, LogLevel.Warning, "App Service authentication is not in front of this app (Auth__AppService is off): every person-facing function answers 401; only /api/health, the page's files and the key-protected webhooks serve requests")]
        private static partial void LogNoAppService(ILogger logger);
    }
}
