using System.Diagnostics;
using Microsoft.ApplicationInsights;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;
using VisualSearch.Diagnostics;

namespace VisualSearch.Functions.Telemetry;

/// <summary>Counts invocations, marks the first of the process as cold, and reports it to Application Insights.</summary>
public sealed class ColdStartMiddleware(VisualSearchMetrics metrics, TelemetryClient telemetry) : IFunctionsWorkerMiddleware
{
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var invocation = metrics.BeginInvocation(context.FunctionDefinition.Name);
        Activity.Current?.SetTag("visualsearch.cold", invocation.IsCold);
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            ColdStartTelemetry.Report(telemetry, metrics.ColdStart, context.FunctionDefinition.Name, invocation, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }
}
