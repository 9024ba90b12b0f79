using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Embedding;
using VisualSearch.Indexing;

namespace VisualSearch.Hosting;

/// <summary>
/// A serving host opens the index at start (in the background, beside the encoder warm-up). If the index
/// holds another model's vectors (or was made with region vectors on and the encoder has them off, or the other
/// way round), the host logs the fix as a critical error and stops: it could answer
/// nothing. A backend that is merely unreachable is logged and retried by the first request. Skipped when
/// Encoder:WarmUpOnStart is off (the one-shot commands, which open the index themselves and report the same error).
/// </summary>
internal sealed partial class IndexModelStartupCheck(
    VectorIndexAccessor index,
    IOptions<EncoderOptions> encoder,
    IHostApplicationLifetime lifetime,
    ILogger<IndexModelStartupCheck> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!encoder.Value.WarmUpOnStart) return;
        try
        {
            await Task.Yield();
            await index.GetAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IndexModelMismatchException or IndexRegionsMismatchException)
        {
            ModelMismatch(logger, ex.Message);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Unavailable(logger, index.Kind, ex);
        }
    }

    [LoggerMessage(600, LogLevel.Critical, "Stopping: {Message}")]
    private static partial void ModelMismatch(ILogger logger, string message);

    [LoggerMessage(601, LogLevel.Warning, "The {Kind} index could not be opened at start; the first request tries again")]
    private static partial void Unavailable(ILogger logger, string kind, Exception exception);
}
