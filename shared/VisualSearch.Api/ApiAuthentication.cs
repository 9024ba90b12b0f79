using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace VisualSearch.Api;

/// <summary>
/// Sign-in for the local host and any self-hosted ASP.NET Core host (section "Auth"): OAuth 2.0 bearer access
/// tokens (JWT) from an OpenID Connect issuer. Without <see cref="Authority"/> the host has one user who sees
/// everything and stays on loopback (<see cref="ApiOptions.RequireKeyOffLoopback"/>).
/// </summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>
    /// The issuer, e.g. https://login.microsoftonline.com/&lt;tenant&gt;/v2.0; it must serve
    /// /.well-known/openid-configuration and a JWKS. https, or http for a loopback address only.
    /// </summary>
    public string? Authority { get; set; }

    /// <summary>The API's audience: the <c>aud</c> every token must carry (Entra: the API's application id URI or client id).</summary>
    public string? Audience { get; set; }

    /// <summary>Tolerated clock difference for exp and nbf.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(1);

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority);

    internal static readonly string[] Algorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    /// <summary>Cross-field rules: an audience with an authority, an absolute authority, https unless loopback.</summary>
    internal static ValidateOptionsResult Check(AuthOptions o)
    {
        if (!o.Enabled)
            return string.IsNullOrWhiteSpace(o.Audience)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail("Auth:Audience is set but Auth:Authority is not: set Auth__Authority (the OpenID issuer) too, or neither.");
        if (!Uri.TryCreate(o.Authority, UriKind.Absolute, out var authority) || (authority.Scheme != Uri.UriSchemeHttps && authority.Scheme != Uri.UriSchemeHttp))
            return ValidateOptionsResult.Fail($"Auth:Authority '{o.Authority}' is not an absolute http(s) URL of an OpenID issuer.");
        if (authority.Scheme == Uri.UriSchemeHttp && !ApiOptions.IsLoopbackOnly(o.Authority!))
            return ValidateOptionsResult.Fail($"Auth:Authority '{o.Authority}' uses plain http off loopback: an issuer's keys must come over https (http is accepted for a loopback address only).");
        if (string.IsNullOrWhiteSpace(o.Audience))
            return ValidateOptionsResult.Fail("Auth:Authority is set without Auth:Audience: set Auth__Audience to the API's audience (the aud its tokens carry).");
        return ValidateOptionsResult.Success;
    }
}

public static partial class ApiAuthenticationExtensions
{
    /// <summary>
    /// Registers JWT bearer validation against <see cref="AuthOptions.Authority"/> (OIDC discovery, JWKS refreshed on
    /// an unknown <c>kid</c>, a <c>kid</c> still unknown refused even if another key would verify, signed tokens only,
    /// issuer, audience, exp and nbf checked) with options from "Auth" validated at start.
    /// </summary>
    public static IHostApplicationBuilder AddVisualSearchAuth(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<AuthOptions>()
            .Bind(builder.Configuration.GetSection(AuthOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AuthOptions>>(new ValidateAuthOptions());
        builder.Services.AddHostedService<AuthStartupReport>();

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<IOptions<AuthOptions>>((jwt, auth) =>
        {
            var o = auth.Value;
            if (!o.Enabled) return;
            jwt.Authority = o.Authority;
            jwt.Audience = o.Audience;
            jwt.RequireHttpsMetadata = !ApiOptions.IsLoopbackOnly(o.Authority!);
            jwt.MapInboundClaims = false; // read oid, sub and roles by the token's own names
            jwt.IncludeErrorDetails = false;
            jwt.RefreshOnIssuerKeyNotFound = true;
            jwt.SaveToken = false;
            jwt.TokenValidationParameters = new TokenValidationParameters
            {
                ValidateIssuer = true, // the issuer from the discovery document
                ValidateAudience = true,
                ValidAudience = o.Audience,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true, // alg "none" is refused
                ValidateIssuerSigningKey = true,
                TryAllIssuerSigningKeys = false, // a kid not in the JWKS is refused, whatever key would verify it
                ValidAlgorithms = AuthOptions.Algorithms,
                ClockSkew = o.ClockSkew,
                NameClaimType = "name",
                RoleClaimType = "roles",
            };
            jwt.Events = new JwtBearerEvents
            {
                // Any failure while validating (the issuer unreachable, a token the parser chokes on) is a refused
                // token, never an exception that becomes a 500.
                OnAuthenticationFailed = context =>
                {
                    if (context.Result is null) context.Fail(context.Exception);
                    return Task.CompletedTask;
                },
            };
        });
        return builder;
    }

    /// <summary>
    /// Establishes the <see cref="Caller"/> of every /api and /runtime request but GET /api/health: with sign-in
    /// configured, from a valid bearer token (else 401 with <c>WWW-Authenticate: Bearer</c>, and
    /// <c>error="invalid_token"</c> when a token was sent but refused; nothing more about why); without it, the
    /// single user. Call after the rate limiter and before the API is mapped.
    /// </summary>
    public static IApplicationBuilder UseVisualSearchAuth(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var services = app.ApplicationServices;
        var enabled = new Lazy<bool>(() => services.GetRequiredService<IOptions<AuthOptions>>().Value.Enabled);
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("VisualSearch.Api.Auth");
        return app.Use(async (context, next) =>
        {
            if (!ApiProtectionExtensions.IsProtectedPath(context.Request.Path) || ApiProtectionExtensions.IsHealth(context.Request))
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            if (!enabled.Value)
            {
                Caller.Set(context, Caller.SingleUser);
                await next(context).ConfigureAwait(false);
                return;
            }

            var result = await context.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme).ConfigureAwait(false);
            if (result.Succeeded && Caller.FromPrincipal(result.Principal) is { } caller)
            {
                context.User = result.Principal!;
                Caller.Set(context, caller);
                await next(context).ConfigureAwait(false);
                return;
            }

            var tokenSent = result.Failure is not null || result.Succeeded;
            if (tokenSent) LogRefused(logger, result.Failure?.GetType().Name ?? "no usable oid or sub claim");
            await ChallengeAsync(context, tokenSent).ConfigureAwait(false);
        });
    }

    /// <summary>
    /// Answers 401 for a request without a signed-in caller, as RFC 6750 section 3.1 asks: <c>WWW-Authenticate: Bearer</c>
    /// when no token was sent, <c>Bearer error="invalid_token"</c> when one was refused, and a problem body that says
    /// nothing more about why. Both hosts refuse this way (the Functions host when no validated principal is there).
    /// </summary>
    public static Task ChallengeAsync(HttpContext context, bool tokenRefused)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.Headers.WWWAuthenticate = tokenRefused ? "Bearer error=\"invalid_token\"" : "Bearer";
        return ApiHttp.Problem(StatusCodes.Status401Unauthorized, "Unauthorized",
                tokenRefused ? "The bearer token was refused." : "Sign in: send an access token as Authorization: Bearer <token>.")
            .ExecuteAsync(context);
    }

    [LoggerMessage(600, LogLevel.Information, "Refused a bearer token: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    private sealed class ValidateAuthOptions : IValidateOptions<AuthOptions>
    {
        public ValidateOptionsResult Validate(string? name, AuthOptions options) => AuthOptions.Check(options);
    }

    /// <summary>Says at start whether people sign in, and with which issuer.</summary>
    private sealed partial class AuthStartupReport(IOptions<AuthOptions> options, ILogger<AuthStartupReport> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            var o = options.Value;
            if (o.Enabled) LogSignIn(logger, o.Authority!, o.Audience!);
            else LogSingleUser(logger);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(601, LogLevel.Information, "Sign-in required: bearer tokens from {Authority} for audience {Audience}; each person sees their own records")]
        private static partial void LogSignIn(ILogger logger, string authority, string audience);

        [LoggerMessage(602, LogLevel.Warning, "Sign-in is not configured (Auth__Authority): single-user mode, every request sees every record; keep this host on loopback")]
        private static partial void LogSingleUser(ILogger logger);
    }
}
