using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;
using VisualSearch.Api;

namespace VisualSearch.Functions;

/// <summary>
/// HTTP functions answer "try again later" failures (storage unreachable, every decode slot busy, a retriable index
/// error) with 503 and Retry-After, as the local host does, instead of the runtime's 500. Other triggers rethrow, so
/// the blob extension's retries still run.
/// </summary>
public sealed class ServiceUnavailableMiddleware : IFunctionsWorkerMiddleware
{
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ServiceUnavailable.TryGetRetryAfter(ex, out var retryAfter) && context.GetHttpContext() is { } http && !http.Response.HasStarted)
        {
            await ServiceUnavailable.Problem(ex.Message, retryAfter).ExecuteAsync(http).ConfigureAwait(false);
        }
    }
}
