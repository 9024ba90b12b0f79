using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using VisualSearch.Indexing;

namespace VisualSearch.Api;

/// <summary>
/// "Try again later" failures as 503 with Retry-After, never 500: <see cref="ServiceUnavailableException"/> (storage
/// unreachable, every decode slot busy) and a retriable <see cref="VectorIndexException"/>. The local host maps them
/// with <see cref="ServiceUnavailableExceptionHandler"/>, the Functions host with a worker middleware.
/// </summary>
public static class ServiceUnavailable
{
    private static readonly TimeSpan IndexRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>True if <paramref name="exception"/> (or what it wraps) means "try again later", with how long to wait.</summary>
    public static bool TryGetRetryAfter(Exception? exception, out TimeSpan retryAfter)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case ServiceUnavailableException unavailable:
                    retryAfter = unavailable.RetryAfter;
                    return true;
                case VectorIndexException { Retriable: true }:
                    retryAfter = IndexRetryAfter;
                    return true;
            }
        }

        retryAfter = default;
        return false;
    }

    /// <summary>A 503 problem whose Retry-After header is <paramref name="retryAfter"/> in whole seconds (at least 1).</summary>
    public static IResult Problem(string detail, TimeSpan retryAfter) =>
        new RetryAfterResult(ApiHttp.Problem(StatusCodes.Status503ServiceUnavailable, "Service unavailable", detail), retryAfter);

    private sealed class RetryAfterResult(IResult problem, TimeSpan retryAfter) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return problem.ExecuteAsync(httpContext);
        }
    }
}

/// <summary>The local host's mapping of <see cref="ServiceUnavailable"/> failures (UseExceptionHandler calls it).</summary>
public sealed class ServiceUnavailableExceptionHandler : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        if (!ServiceUnavailable.TryGetRetryAfter(exception, out var retryAfter)) return false;
        await ServiceUnavailable.Problem(exception.Message, retryAfter).ExecuteAsync(httpContext).ConfigureAwait(false);
        return true;
    }
}
