using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;
using VisualSearch.Api;
using VisualSearch.Imaging;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Functions;

/// <summary>
/// Client uploads: a short-lived user-delegation SAS URL for a direct PUT into the images container (the bytes
/// never pass through the app), then the upload's status. Ingestion follows from Event Grid (IngestImage).
/// </summary>
public sealed class UploadFunctions(IUploadStore uploads, SearchService search, IOptions<ImagingOptions> imaging)
{
    [Function("CreateUpload")]
    public async Task<IActionResult> CreateUpload(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "uploads")] HttpRequest request, CancellationToken cancellationToken) =>
        new ResultActionResult(await ClientUploadsApi.CreateAsync(request, uploads, imaging, cancellationToken).ConfigureAwait(false));

    [Function("GetUpload")]
    public async Task<IActionResult> GetUpload(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "uploads/{*id}")] HttpRequest request, string id, CancellationToken cancellationToken) =>
        new ResultActionResult(await ClientUploadsApi.GetStatusAsync(id, request.HttpContext, uploads, search, cancellationToken).ConfigureAwait(false));
}
