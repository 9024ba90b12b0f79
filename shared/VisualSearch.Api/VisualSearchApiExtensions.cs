using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VisualSearch.Diagnostics;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Search;

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

    /// <summary>Maps the API onto an ASP.NET Core host with the routes the Functions host exposes.</summary>
    public static IEndpointRouteBuilder MapVisualSearchApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost("/api/search", (HttpRequest request, SearchService search, IOptions<ImagingOptions> imaging, CancellationToken ct) =>
            SearchApi.SearchByImageAsync(request, search, imaging, ct));
        app.MapGet("/api/search", (HttpRequest request, SearchService search, CancellationToken ct) =>
            SearchApi.SearchByIdAsync(request, search, ct));
        app.MapGet("/api/items/{**id}", (string id, SearchService search, CancellationToken ct) =>
            SearchApi.GetItemAsync(id, search, ct));
        // Anonymous callers get the status only; the details need the key (or no key configured: see ApiProtection).
        app.MapGet("/api/health", (HttpContext context, SearchService search, CancellationToken ct) =>
            SearchApi.HealthAsync(search, ApiProtectionExtensions.IsAuthorized(context), ct));
        app.MapGet("/api/health/details", (SearchService search, CancellationToken ct) => SearchApi.HealthAsync(search, detailed: true, ct));

        // Client uploads (direct PUT to Blob Storage with a signed URL); the host registers an IUploadStore (AddBlobUploads).
        app.MapPost("/api/uploads", (HttpRequest request, [FromServices] IUploadStore uploads, IOptions<ImagingOptions> imaging, CancellationToken ct) =>
            ClientUploadsApi.CreateAsync(request, uploads, imaging, ct));
        app.MapGet("/api/uploads/{**id}", (string id, [FromServices] IUploadStore uploads, SearchService search, CancellationToken ct) =>
            ClientUploadsApi.GetStatusAsync(id, uploads, search, ct));

        // Event Grid: the Functions blob extension's webhook path (BlobCreated) and the BlobEvents function's route.
        app.MapMethods("/runtime/webhooks/blobs", ["POST", "OPTIONS"], HandleEvents);
        app.MapMethods("/api/events/blobs", ["POST", "OPTIONS"], HandleEvents);
        return app;
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

    private static Task<IResult> HandleEvents(HttpRequest request, IBlobEventHandler handler, ILoggerFactory loggers, CancellationToken ct) =>
        BlobEventsApi.HandleAsync(request, handler, loggers.CreateLogger("VisualSearch.Api.BlobEvents"), ct);
}
