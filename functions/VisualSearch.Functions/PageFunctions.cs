using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;
using VisualSearch.Api;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Functions;

/// <summary>
/// The search page and the item images it shows. The page is anonymous and lives at /api/app/ (host.json's
/// routePrefix is "api"); with Auth__ClientId set it signs people in (MSAL.js) and sends their access token with its
/// API calls, which need a signed-in caller like any person's app (no function key).
/// Uploading to the index is the local host's; here uploads go to the blob container.
/// </summary>
public sealed class PageFunctions(SearchService search, ItemImageService images, IngestionService ingestion, IOptions<PageSignInOptions> signIn)
{

    [AllowAnonymous]
    [Function("Page")]
    public IActionResult Page(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "app/{*path}")] HttpRequest request, string? path)
    {
        ArgumentNullException.ThrowIfNull(request);
        // The page's files are relative to it: /api/app must become /api/app/.
        if (string.IsNullOrEmpty(path) && request.Path.Value is { } value && !value.EndsWith('/'))
            return new RedirectResult(value + "/" + request.QueryString, permanent: false);
        return new ResultActionResult(PageApi.Serve(path, request, new PageSettings(Upload: false, signIn.Value.ForPage())));
    }

    [Function("GetImage")]
    public async Task<IActionResult> GetImage(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "images/{*id}")] HttpRequest request, string id, CancellationToken cancellationToken) =>
        new ResultActionResult(await ImagesApi.GetImageAsync(id, request, search, images, cancellationToken).ConfigureAwait(false));

    [Function("GetThumbnail")]
    public async Task<IActionResult> GetThumbnail(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "thumbnails/{*id}")] HttpRequest request, string id, CancellationToken cancellationToken) =>
        new ResultActionResult(await ImagesApi.GetThumbnailAsync(id, request, search, images, cancellationToken).ConfigureAwait(false));

    /// <summary>Deletes the caller's item: the blob, then the record (BlobDeleted then finds it gone).</summary>
    [Function("DeleteItem")]
    public async Task<IActionResult> DeleteItem(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "items/{*id}")] HttpRequest request, string id, CancellationToken cancellationToken) =>
        new ResultActionResult(await ImagesApi.DeleteItemAsync(id, request.HttpContext, search, images, ingestion, cancellationToken).ConfigureAwait(false));
}
