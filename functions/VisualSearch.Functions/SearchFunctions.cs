using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;
using VisualSearch.Api;
using VisualSearch.Imaging;
using VisualSearch.Search;

namespace VisualSearch.Functions;

/// <summary>
/// The HTTP API. Each function binds the request and calls the shared handler. Person-facing functions are
/// Anonymous to the Functions host (no function key in a person's app): App Service authentication validates the
/// token in front, <see cref="SignedInCallerMiddleware"/> refuses a request without its principal (401).
/// </summary>
public sealed class SearchFunctions(SearchService search, IOptions<ImagingOptions> imaging)
{
    [Function("SearchByImage")]
    public async Task<IActionResult> SearchByImage(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "search")] HttpRequest request, CancellationToken cancellationToken) =>
        new ResultActionResult(await SearchApi.SearchByImageAsync(request, search, imaging, cancellationToken).ConfigureAwait(false));

    [Function("SearchById")]
    public async Task<IActionResult> SearchById(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "search")] HttpRequest request, CancellationToken cancellationToken) =>
        new ResultActionResult(await SearchApi.SearchByIdAsync(request, search, cancellationToken).ConfigureAwait(false));

    [Function("GetItem")]
    public async Task<IActionResult> GetItem(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "items/{*id}")] HttpRequest request, string id, CancellationToken cancellationToken) =>
        new ResultActionResult(await SearchApi.GetItemAsync(id, request.HttpContext, search, cancellationToken).ConfigureAwait(false));

    /// <summary>Anonymous, for the platform's health probe: <c>{"status":"ok"}</c> once the index opens, nothing else.</summary>
    [AllowAnonymous]
    [Function("Health")]
    public async Task<IActionResult> Health(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest request, CancellationToken cancellationToken) =>
        new ResultActionResult(await SearchApi.HealthAsync(search, detailed: false, cancellationToken).ConfigureAwait(false));

    /// <summary>For a signed-in person with the admin role (403 for others): model id, index kind, count, cold start and embedding health.</summary>
    [Function("HealthDetails")]
    public async Task<IActionResult> HealthDetails(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health/details")] HttpRequest request, CancellationToken cancellationToken) =>
        new ResultActionResult(await SearchApi.HealthDetailsAsync(request.HttpContext, search, cancellationToken).ConfigureAwait(false));
}
