using Azure;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Ingestion;

namespace VisualSearch.Blobs;

/// <summary>
/// Local host: polls the images container (Azurite has no Event Grid) and ingests new and changed blobs,
/// removing the records of blobs that disappeared. Unchanged blobs cost one metadata lookup (ETag).
/// </summary>
public sealed partial class ContainerWatcher(
    BlobServiceClient blobs,
    BlobIngestor ingestor,
    IngestionService ingestion,
    IOptions<BlobSourceOptions> options,
    ILogger<ContainerWatcher> logger) : BackgroundService
{
    private readonly Dictionary<string, string> _seen = new(StringComparer.Ordinal);

    /// <summary>Completed passes over the container (for tests and health).</summary>
    public long Passes { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var container = blobs.GetBlobContainerClient(options.Value.Container);
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await container.CreateIfNotExistsAsync(cancellationToken: stoppingToken).ConfigureAwait(false);
                await PassAsync(container, stoppingToken).ConfigureAwait(false);
                if (failures > 0) LogRecovered(logger, container.Name);
                failures = 0;
                Passes++;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is RequestFailedException or AggregateException or HttpRequestException or IOException)
            {
                failures++;
                if (failures == 1 || failures % 30 == 0) LogUnavailable(logger, container.Uri.ToString(), ex.Message);
            }

            var delay = failures == 0 ? options.Value.PollInterval : TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, failures)));
            try
            {
                await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task PassAsync(BlobContainerClient container, CancellationToken cancellationToken)
    {
        var current = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var item in container.GetBlobsAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var etag = item.Properties.ETag?.ToString() ?? "";
            current[item.Name] = etag;
            if (_seen.TryGetValue(item.Name, out var previous) && previous == etag) continue;
            await ingestor.IngestAsync(container.GetBlobClient(item.Name), cancellationToken).ConfigureAwait(false);
        }

        foreach (var name in _seen.Keys.Where(n => !current.ContainsKey(n)).ToList())
            await ingestion.RemoveAsync(ItemIds.ForBlob(container.Name, name), cancellationToken).ConfigureAwait(false);

        _seen.Clear();
        foreach (var (name, etag) in current) _seen[name] = etag;
    }

    [LoggerMessage(310, LogLevel.Warning, "Blob storage at {Uri} is not reachable ({Message}); retrying. Locally, start Azurite (npm run azurite) or set BlobSource__Watch=false")]
    private static partial void LogUnavailable(ILogger logger, string uri, string message);

    [LoggerMessage(311, LogLevel.Information, "Watching container {Container} again")]
    private static partial void LogRecovered(ILogger logger, string container);
}
