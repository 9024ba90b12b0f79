using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Albums;
using VisualSearch.Indexing;

namespace VisualSearch.Api;

/// <summary>
/// Who is asking, as the server established it: the owner id of a signed-in person (the token's <c>oid</c>, else
/// <c>sub</c>) and whether they hold the <see cref="AdminRole"/> app role. Both hosts put one on every API request
/// (<see cref="Set"/>) before a handler runs: the local host from a validated JWT, the Functions host from the
/// App Service authentication principal; without sign-in configured, the local host's one user
/// (<see cref="SingleUser"/>). Handlers read it with <see cref="Of"/> and pass <see cref="Scope"/> to every read.
/// </summary>
public sealed record Caller
{
    /// <summary>The app role (in the token's <c>roles</c>) that may see every record.</summary>
    public const string AdminRole = "VisualSearch.Admin";

    private Caller(string? owner, bool isAdmin)
    {
        Owner = owner;
        IsAdmin = isAdmin;
    }

    /// <summary>The local host without sign-in: one person on a loopback address, who sees every record (today's behaviour). Never on the Functions host.</summary>
    public static Caller SingleUser { get; } = new(null, isAdmin: true);

    /// <summary>The signed-in person's owner id; null only for <see cref="SingleUser"/>.</summary>
    public string? Owner { get; }

    /// <summary>Holds <see cref="AdminRole"/> (or is the single user): sees every record.</summary>
    public bool IsAdmin { get; }

    /// <summary>
    /// The records this caller may change or decide about (delete, duplicate decisions, upload status): their own; an
    /// administrator's or the single user's, every record. Reads and searches use <see cref="ReadScopeAsync"/>.
    /// </summary>
    public OwnerScope OwnedScope => IsAdmin || Owner is null ? OwnerScope.Everyone : OwnerScope.Of(Owner);

    /// <summary>
    /// What the caller of this request may read and search: their own records OR the albums other owners shared with
    /// them (<see cref="AlbumService.ScopeForAsync"/>, when the host registers albums); every record for an
    /// administrator or the single user. Built by the server once per request, never from client input.
    /// </summary>
    public static async Task<OwnerScope> ReadScopeAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var caller = Of(context);
        if (caller.IsAdmin || caller.Owner is null) return OwnerScope.Everyone;
        if (context.Features.Get<ReadScope>() is { } known) return known.Scope;
        var albums = context.RequestServices?.GetService<AlbumService>();
        var scope = albums is null ? OwnerScope.Of(caller.Owner) : await albums.ScopeForAsync(caller.Owner, cancellationToken).ConfigureAwait(false);
        context.Features.Set(new ReadScope(scope));
        return scope;
    }

    private sealed record ReadScope(OwnerScope Scope);

    /// <summary>A signed-in person with this owner id.</summary>
    public static Caller SignedIn(string owner, bool isAdmin = false)
    {
        OwnerIds.Validate(owner);
        return new Caller(owner, isAdmin);
    }

    /// <summary>
    /// The caller a validated principal names: owner from <c>oid</c> (Entra's stable object id), else <c>sub</c>; admin when
    /// <c>roles</c> holds <see cref="AdminRole"/>. Null when the principal has neither claim or the id is not a valid owner id.
    /// Claim types are the token's own names (no inbound mapping), as both JwtBearer (MapInboundClaims off) and the
    /// App Service principal deliver them; the long WS-Federation names are accepted too.
    /// </summary>
    public static Caller? FromPrincipal(ClaimsPrincipal? principal)
    {
        if (principal?.Identity?.IsAuthenticated != true) return null;
        var owner = principal.FindFirst("oid")?.Value
            ?? principal.FindFirst("http://schemas.microsoft.com/identity/claims/objectidentifier")?.Value
            ?? principal.FindFirst("sub")?.Value
            ?? principal.FindFirst(ClaimTypes.NameIdentifier)?.Value;
        if (!OwnerIds.IsValid(owner)) return null;
        var isAdmin = principal.Claims.Any(c => c.Type is "roles" or ClaimTypes.Role && string.Equals(c.Value, AdminRole, StringComparison.Ordinal));
        return new Caller(owner, isAdmin);
    }

    /// <summary>Records the caller of this request (done by the host's sign-in step, never from client input).</summary>
    public static void Set(HttpContext context, Caller caller)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(caller);
        context.Features.Set(caller);
    }

    /// <summary>
    /// The caller of this request: the one the host's sign-in step set, else the one the registered
    /// <see cref="ICallerResolver"/> finds. Both hosts refuse a request without a caller (401) before a person-facing
    /// handler runs (the local host's UseVisualSearchAuth, the Functions host's SignedInCallerMiddleware); if a handler
    /// is still reached without one (a host wired without that step), this throws, so it fails closed (500) instead of
    /// showing every record.
    /// </summary>
    public static Caller Of(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Features.Get<Caller>() is { } known) return known;
        var resolved = context.RequestServices?.GetService<ICallerResolver>()?.Resolve(context)
            ?? throw new InvalidOperationException("No caller was established for this request: the host must run its sign-in step (UseVisualSearchAuth, or AddVisualSearchAppServiceAuth with App Service authentication in front) before the API handlers.");
        context.Features.Set(resolved);
        return resolved;
    }
}
