using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VisualSearch.Diagnostics;

namespace VisualSearch.Api;

public static partial class VisualSearchApiExtensions
{
    /// <summary>
    /// Registers what the mapped API needs from its host: problem details, 503 with Retry-After for "try again later"
    /// failures (<see cref="ServiceUnavailable"/>), and request logging without query strings: ASP.NET Core's own
    /// request lines (which carry the full URL, and so a <c>?code=</c> key) are turned down to warnings, and
    /// <see cref="UseVisualSearchTelemetry"/> logs each request with its query values redacted.
    /// </summary>
    public static IHostApplicationBuilder AddVisualSearchApi(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ServiceUnavailableExceptionHandler>();
        builder.Logging.AddFilter(HostingDiagnosticsCategory, LogLevel.Warning);
        return builder;
    }

    /// <summary>
    /// Counts every API request as an invocation (the first of the process is the cold one) and tags the
    /// current activity with it, so the local host reports cold starts like the Functions host.
    /// </summary>
    public static IApplicationBuilder UseVisualSearchTelemetry(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var metrics = app.ApplicationServices.GetRequiredService<VisualSearchMetrics>();
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(RequestsCategory);
        return app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
            {
                var invocation = metrics.BeginInvocation(context.Request.Path.Value ?? "");
                System.Diagnostics.Activity.Current?.SetTag("visualsearch.cold", invocation.IsCold);
            }

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                await next(context).ConfigureAwait(false);
            }
            finally
            {
                if (logger.IsEnabled(LogLevel.Information))
                {
                    LogRequest(logger, context.Request.Method, context.Request.Path.Value ?? "", RedactQuery(context.Request.QueryString),
                        context.Response.StatusCode, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }
        });
    }

    /// <summary>The query string with every value replaced by "***": keys (<c>?code=</c>), SAS signatures and ids stay out of logs.</summary>
    public static string RedactQuery(QueryString query)
    {
        if (!query.HasValue) return "";
        var parts = query.Value!.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries);
        return "?" + string.Join('&', parts.Select(p => p.Split('=', 2)[0] + "=***"));
    }

    private const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";
    private const string RequestsCategory = "VisualSearch.Api.Requests";

    [LoggerMessage(210, LogLevel.Information, "HTTP {Method} {Path}{Query} answered {Status} in {Milliseconds:F1} ms")]
    private static partial void LogRequest(ILogger logger, string method, string path, string query, int status, double milliseconds);

}
