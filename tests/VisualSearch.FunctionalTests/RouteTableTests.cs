using System.Reflection;
using Microsoft.AspNetCore.Routing;
using Microsoft.Azure.Functions.Worker;
using VisualSearch.Functions;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests;

/// <summary>
/// The route table is declared twice, as the Functions host's HttpTrigger attributes and as the local host's
/// map (VisualSearchRoutes): this reads both and fails when they differ in method or route, or when a route's access
/// differs. Local only by design: POST /api/images, the Functions runtime's own /runtime/webhooks/blobs, and the page
/// (at "/" locally, at /api/app/ on Functions).
/// </summary>
public sealed class RouteTableTests
{
    private const string Key = "route-table-test-key-0123456789";

    [Fact]
    public async Task The_Functions_attributes_and_the_local_map_declare_the_same_routes_with_the_same_access()
    {
        var functions = FunctionRoutes().Where(r => !r.Route.StartsWith("/api/app/", StringComparison.Ordinal)).ToList();
        Assert.Contains(functions, r => r.Route == "/api/search" && r.Method == "POST");

        await using var host = await LocalHost.StartAsync(overrides: new Dictionary<string, string?> { ["Api:ApiKey"] = Key });
        var local = ((IEndpointRouteBuilder)host.App).DataSources
            .SelectMany(d => d.Endpoints)
            .OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (Method: m.ToUpperInvariant(), Route: e.RoutePattern.RawText!)))
            .Where(r => r.Route.StartsWith("/api/", StringComparison.Ordinal))
            .Where(r => !(r.Method == "POST" && r.Route == "/api/images"))
            .ToHashSet();

        Assert.Equal(
            functions.Select(r => (r.Method, r.Route)).Order().ToList(),
            local.Order().ToList());

        // A function key is for machines only: the Event Grid webhook. No route a person's app calls is Function level.
        Assert.Equal([("OPTIONS", "/api/events/blobs"), ("POST", "/api/events/blobs")],
            functions.Where(r => r.Level != AuthorizationLevel.Anonymous).Select(r => (r.Method, r.Route)).Order().ToList());

        // Access on the local host: a key-protected (machine) function needs Api__ApiKey there; a person-facing one
        // (SignedInCallerMiddleware on Functions) needs a bearer token when sign-in is configured (401, WWW-Authenticate:
        // Bearer); an [AllowAnonymous] one (health) needs neither.
        await using var issuer = await TestIssuer.StartAsync();
        await using var signedIn = await LocalHost.StartAsync(overrides: issuer.HostSettings());
        foreach (var (method, route, level, person) in functions)
        {
            if (method == "OPTIONS") continue;
            var withoutKey = await SendAsync(host, method, route);
            var withoutToken = await SendAsync(signedIn, method, route);
            var open = level == AuthorizationLevel.Anonymous && !person;
            if (level == AuthorizationLevel.Function) Assert.True(withoutKey.Status == 401, $"{method} {route}: Function level on Functions, {withoutKey.Status} locally without the key");
            if (person) Assert.True(withoutToken is { Status: 401, Challenge: "Bearer" }, $"{method} {route}: a person's route on Functions, {withoutToken} locally without a token");
            if (open) Assert.True(withoutKey.Status != 401 && withoutToken.Status != 401, $"{method} {route}: anonymous on Functions, {withoutKey.Status} without the key and {withoutToken.Status} without a token locally");
        }
    }

    private static async Task<(int Status, string Challenge)> SendAsync(LocalHost host, string method, string route)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), route.Replace("{**id}", "samples/coffee.png", StringComparison.Ordinal));
        if (method == "POST") request.Content = new ByteArrayContent([]);
        using var response = await host.Client.SendAsync(request);
        return ((int)response.StatusCode, response.Headers.WwwAuthenticate.ToString());
    }

    /// <summary>
    /// Every HttpTrigger of the Functions assembly as (method, "/api/" + route in ASP.NET Core's syntax, auth level,
    /// whether it needs a signed-in person: <see cref="FunctionAccess.NeedsSignedInCaller(MethodInfo)"/>).
    /// </summary>
    private static List<(string Method, string Route, AuthorizationLevel Level, bool Person)> FunctionRoutes() =>
        typeof(SearchFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static))
            .Where(m => m.GetCustomAttribute<FunctionAttribute>() is not null)
            .SelectMany(m => m.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).OfType<HttpTriggerAttribute>()
                .SelectMany(t => (t.Methods ?? []).Select(verb => (
                    Method: verb.ToUpperInvariant(),
                    Route: "/api/" + t.Route!.Replace("{*", "{**", StringComparison.Ordinal),
                    t.AuthLevel,
                    Person: FunctionAccess.NeedsSignedInCaller(m)))))
            .ToList();
}
