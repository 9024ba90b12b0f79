namespace VisualSearch;

/// <summary>
/// The call cannot be served now but may succeed later: a dependency (blob storage) is unreachable or overloaded,
/// or every decode slot of this process is busy and its queue is full. Hosts answer 503 with a Retry-After of
/// <see cref="RetryAfter"/>; a blob trigger lets its retries run.
/// </summary>
public sealed class ServiceUnavailableException(string message, TimeSpan retryAfter, Exception? innerException = null)
    : Exception(message, innerException)
{
    /// <summary>How long a client should wait before trying again (at least one second).</summary>
    public TimeSpan RetryAfter { get; } = retryAfter < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : retryAfter;
}
