using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace VisualSearch.Api;

/// <summary>
/// Sign-in on the search page (section "Auth", beside the API's own settings): the page signs people in with MSAL.js
/// (authorization code + PKCE, a redirect to <see cref="Authority"/>) when <see cref="ClientId"/> is set, and sends
/// the access token for <see cref="Scope"/> with every API call. Without a client id the page behaves as before.
/// </summary>
public sealed class PageSignInOptions
{
    /// <summary>The OpenID issuer people sign in with (the same Auth:Authority the local host validates tokens against). https only: MSAL.js refuses anything else.</summary>
    public string? Authority { get; set; }

    /// <summary>The page's own application (client) id: in Entra ID a "Single-page application" registration.</summary>
    public string? ClientId { get; set; }

    /// <summary>The API scope the page asks a token for, e.g. api://&lt;API client id&gt;/access_as_user (its token's aud is Auth:Audience).</summary>
    public string? Scope { get; set; }

    /// <summary>Where the issuer sends people back (registered on the SPA). Empty: the page's own URL (/ locally, /api/app/ on Functions).</summary>
    public string? RedirectUri { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(ClientId);

    /// <summary>The settings the page reads from config.json, or null when it does not sign people in.</summary>
    public PageSignIn? ForPage() => Enabled ? new PageSignIn(Authority!.TrimEnd('/'), ClientId!, Scope!, string.IsNullOrWhiteSpace(RedirectUri) ? null : RedirectUri) : null;

    internal static ValidateOptionsResult Check(PageSignInOptions o)
    {
        if (!o.Enabled)
            return string.IsNullOrWhiteSpace(o.Scope) && string.IsNullOrWhiteSpace(o.RedirectUri)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail("Auth:Scope or Auth:RedirectUri is set but Auth:ClientId is not: set Auth__ClientId (the page's SPA client id) too, or neither.");
        if (!PageApi.SignInBundled)
            return ValidateOptionsResult.Fail("Auth:ClientId is set but this build has no MSAL.js bundle: run `npm ci` at the repository root and build again (docs/security.md).");
        if (!Uri.TryCreate(o.Authority, UriKind.Absolute, out var authority) || authority.Scheme != Uri.UriSchemeHttps || !string.IsNullOrEmpty(authority.Query) || !string.IsNullOrEmpty(authority.Fragment))
            return ValidateOptionsResult.Fail($"Auth:ClientId is set, so the page signs people in at Auth:Authority, which must be an https URL of an OpenID issuer (MSAL.js accepts https only); it is '{o.Authority}'.");
        if (string.IsNullOrWhiteSpace(o.Scope) || o.Scope.Any(char.IsWhiteSpace))
            return ValidateOptionsResult.Fail("Auth:ClientId is set without one Auth:Scope: set Auth__Scope to the API scope the page asks for (e.g. api://<API client id>/access_as_user).");
        if (!string.IsNullOrWhiteSpace(o.RedirectUri)
            && (!Uri.TryCreate(o.RedirectUri, UriKind.Absolute, out var redirect) || (redirect.Scheme != Uri.UriSchemeHttps && !(redirect.Scheme == Uri.UriSchemeHttp && ApiOptions.IsLoopbackOnly(o.RedirectUri)))))
            return ValidateOptionsResult.Fail($"Auth:RedirectUri '{o.RedirectUri}' is not an absolute https URL (http for a loopback address only).");
        return ValidateOptionsResult.Success;
    }

    internal sealed class Validator : IValidateOptions<PageSignInOptions>
    {
        public ValidateOptionsResult Validate(string? name, PageSignInOptions options) => Check(options);
    }
}

/// <summary>What config.json tells the page about signing in.</summary>
/// <param name="RedirectUri">Null: the page's own URL.</param>
public sealed record PageSignIn(string Authority, string ClientId, string Scope, string? RedirectUri);

public static class PageSignInExtensions
{
    /// <summary>Registers <see cref="PageSignInOptions"/> (section "Auth"), validated at start; both hosts call it.</summary>
    public static IHostApplicationBuilder AddVisualSearchPageSignIn(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<PageSignInOptions>().Bind(builder.Configuration.GetSection(AuthOptions.SectionName)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PageSignInOptions>>(new PageSignInOptions.Validator());
        return builder;
    }
}
