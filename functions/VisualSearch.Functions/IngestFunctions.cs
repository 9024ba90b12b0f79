using Azure.Storage.Blobs;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using VisualSearch.Api;
using VisualSearch.Blobs;
using VisualSearch.Ingestion;

namespace VisualSearch.Functions;

/// <summary>Ingestion: uploads through the Event Grid blob trigger, deletions through an Event Grid webhook.</summary>
public sealed class IngestFunctions(BlobIngestor ingestor, ILogger<IngestFunctions> logger)
{
    /// <summary>
    /// A new or changed blob. A bad image is logged with its reason and returns normally (no retry);
    /// a transient failure throws, and the blob extension retries it up to poisonBlobThreshold (host.json).
    /// </summary>
    [Function("IngestImage")]
    public Task IngestImage(
        [BlobTrigger("images/{name}", Source = BlobTriggerSource.EventGrid, Connection = "ImagesStorage")] BlobClient blob,
        CancellationToken cancellationToken) =>
        ingestor.IngestAsync(blob, cancellationToken);

    /// <summary>
    /// Event Grid webhook for Microsoft.Storage.BlobDeleted (and the validation handshake). Machine to machine: the
    /// function key (in the Event Grid subscription's URL, never in a person's app) is its authorization; App Service
    /// authentication leaves this path to it (infra/modules/functionapp.bicep, excludedPaths).
    /// </summary>
    [Function("BlobEvents")]
    public async Task<IActionResult> BlobEvents(
        [HttpTrigger(AuthorizationLevel.Function, "post", "options", Route = "events/blobs")] HttpRequest request,
        CancellationToken cancellationToken) =>
        new ResultActionResult(await BlobEventsApi.HandleAsync(request, ingestor, logger, cancellationToken).ConfigureAwait(false));
}
