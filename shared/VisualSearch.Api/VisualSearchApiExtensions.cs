using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Diagnostics;

namespace VisualSearch.Api;

public static class VisualSearchApiExtensions
{
    /// <summary>
    /// Counts every API request as an invocation (the first of the process is the cold one) and tags the
    /// current activity with it, so the local host reports cold starts like the Functions host.
    /// </summary>
    public static IApplicationBuilder UseVisualSearchTelemetry(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var metrics = app.ApplicationServices.GetRequiredService<VisualSearchMetrics>();
        return app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
            {
                var invocation = metrics.BeginInvocation(context.Request.Path.Value ?? "");
                System.Diagnostics.Activity.Current?.SetTag("visualsearch.cold", invocation.IsCold);
            }

            await next(context).ConfigureAwait(false);
        });
    }
}
