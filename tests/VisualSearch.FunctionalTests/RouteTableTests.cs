using System.Reflection;
using Microsoft.AspNetCore.Routing;
using Microsoft.Azure.Functions.Worker;
using VisualSearch.Functions;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests;

/// <summary>
/// The route table is declared twice, as the Functions host's HttpTrigger attributes and as the local host's
/// map (VisualSearchRoutes): this reads both and fails when they differ in method, route or auth level.
/// Local only by design: POST /api/images, the Functions runtime's own /runtime/webhooks/blobs, and the page
/// (at "/" locally, at /api/app/ on Functions).
/// </summary>
public sealed class RouteTableTests
{
    private const string Key = "route-table-test-key-0123456789";

    [Fact]
    public async Task The_Functions_attributes_and_the_local_map_declare_the_same_routes_with_the_same_auth_level()
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

        // Auth level: a Function-level route needs the key on the local host too; an anonymous one does not.
        foreach (var (method, route, level) in functions)
        {
            if (method == "OPTIONS") continue;
            var path = route.Replace("{**id}", "samples/coffee.png", StringComparison.Ordinal);
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method == "POST") request.Content = new ByteArrayContent([]);
            using var response = await host.Client.SendAsync(request);
            var refused = response.StatusCode == System.Net.HttpStatusCode.Unauthorized;
            Assert.True(refused == (level == AuthorizationLevel.Function), $"{method} {route}: {level} on Functions, {(int)response.StatusCode} locally without the key");
        }
    }

    /// <summary>Every HttpTrigger of the Functions assembly as (method, "/api/" + route in ASP.NET Core's syntax, auth level).</summary>
    private static List<(string Method, string Route, AuthorizationLevel Level)> FunctionRoutes() =>
        typeof(SearchFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static))
            .Where(m => m.GetCustomAttribute<FunctionAttribute>() is not null)
            .SelectMany(m => m.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).OfType<HttpTriggerAttribute>())
            .SelectMany(t => (t.Methods ?? []).Select(m => (
                Method: m.ToUpperInvariant(),
                Route: "/api/" + t.Route!.Replace("{*", "{**", StringComparison.Ordinal),
                t.AuthLevel)))
            .ToList();
}
