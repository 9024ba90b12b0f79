using Azure;

namespace VisualSearch.Blobs;

/// <summary>
/// Tells a storage outage (no connection, a timeout, throttling, a 5xx, or the SDK's retries giving up on those)
/// from a refusal, and turns the outage into <see cref="ServiceUnavailableException"/>: hosts answer 503 with
/// Retry-After instead of 500, and a blob trigger retries.
/// </summary>
internal static class StorageFailures
{
    /// <summary>What a client is asked to wait after a storage outage.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    public static bool IsUnavailable(Exception exception) => exception switch
    {
        RequestFailedException failed => failed.Status is 0 or 408 or 429 or >= 500,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsUnavailable),
        HttpRequestException or IOException or TimeoutException => true,
        _ => false,
    };

    /// <summary>Runs a storage call; an outage (not the caller's cancellation) becomes <see cref="ServiceUnavailableException"/>.</summary>
    public static async Task<T> GuardAsync<T>(Func<Task<T>> call, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (IsUnavailable(ex) || ex is OperationCanceledException))
        {
            throw new ServiceUnavailableException($"Blob storage could not be reached to {what}; try again later.", RetryAfter, ex);
        }
    }

    public static Task GuardAsync(Func<Task> call, string what, CancellationToken cancellationToken) =>
        GuardAsync(async () =>
        {
            await call().ConfigureAwait(false);
            return true;
        }, what, cancellationToken);
}
