using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using VisualSearch.Diagnostics;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Api;

public static class VisualSearchApiExtensions
{
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
        app.MapGet("/api/health", (SearchService search, CancellationToken ct) => SearchApi.HealthAsync(search, ct));

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

    private static Task<IResult> HandleEvents(HttpRequest request, IBlobEventHandler handler, ILoggerFactory loggers, CancellationToken ct) =>
        BlobEventsApi.HandleAsync(request, handler, loggers.CreateLogger("VisualSearch.Api.BlobEvents"), ct);
}
