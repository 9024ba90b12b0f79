using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Albums;
using VisualSearch.Duplicates;
using VisualSearch.Imaging;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Api;

/// <summary>
/// The local host's route table, in one file: the same routes, methods and handlers as the Functions host's
/// attributes (functions/VisualSearch.Functions), which RouteTableTests compares with this map. Local only:
/// POST /api/images, the Functions runtime's own /runtime/webhooks/blobs, and the page at "/" (the Functions
/// host serves it under /api/app/).
/// </summary>
public static class VisualSearchRoutes
{
    /// <summary>Maps the API onto an ASP.NET Core host with the routes the Functions host exposes.</summary>
    public static IEndpointRouteBuilder MapVisualSearchApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost("/api/search", (HttpRequest request, SearchService search, IOptions<ImagingOptions> imaging, CancellationToken ct) =>
            SearchApi.SearchByImageAsync(request, search, imaging, ct));
        app.MapGet("/api/search", (HttpRequest request, SearchService search, CancellationToken ct) =>
            SearchApi.SearchByIdAsync(request, search, ct));
        app.MapGet("/api/items/{**id}", (string id, HttpContext context, SearchService search, CancellationToken ct) =>
            SearchApi.GetItemAsync(id, context, search, ct));
        // Anonymous callers get the status only; the details need the key, or no key and no sign-in configured (see
        // ApiProtection): with sign-in, GET /api/health stays anonymous and the details are GET /api/health/details (admins).
        app.MapGet("/api/health", (HttpContext context, SearchService search, IOptions<AuthOptions> auth, CancellationToken ct) =>
            SearchApi.HealthAsync(search, ApiProtectionExtensions.SentApiKey(context) || (ApiProtectionExtensions.IsAuthorized(context) && !auth.Value.Enabled), ct));
        app.MapGet("/api/health/details", (HttpContext context, SearchService search, CancellationToken ct) => SearchApi.HealthDetailsAsync(context, search, ct));
        app.MapGet("/api/duplicates", (HttpRequest request, DuplicateService duplicates, SearchService search, CancellationToken ct) =>
            DuplicatesApi.GetGroupsAsync(request, duplicates, search, ct));
        app.MapPost("/api/duplicates/decisions", (HttpRequest request, DuplicateService duplicates, CancellationToken ct) =>
            DuplicatesApi.DecideAsync(request, duplicates, ct));

        app.MapGet("/api/albums", (HttpContext context, AlbumService albums, CancellationToken ct) => AlbumsApi.ListAsync(context, albums, ct));
        app.MapPut("/api/albums/{name}/members", (string name, HttpRequest request, AlbumService albums, CancellationToken ct) =>
            AlbumsApi.SetMembersAsync(name, request, albums, ct));

        // Client uploads (direct PUT to Blob Storage with a signed URL); the host registers an IUploadStore (AddBlobUploads).
        app.MapPost("/api/uploads", (HttpRequest request, [FromServices] IUploadStore uploads, IOptions<ImagingOptions> imaging, CancellationToken ct) =>
            ClientUploadsApi.CreateAsync(request, uploads, imaging, ct));
        app.MapGet("/api/uploads/{**id}", (string id, HttpContext context, [FromServices] IUploadStore uploads, SearchService search, CancellationToken ct) =>
            ClientUploadsApi.GetStatusAsync(id, context, uploads, search, ct));

        // Event Grid: the Functions blob extension's webhook path (BlobCreated) and the BlobEvents function's route.
        app.MapMethods("/runtime/webhooks/blobs", ["POST", "OPTIONS"], HandleEvents);
        app.MapMethods("/api/events/blobs", ["POST", "OPTIONS"], HandleEvents);
        return app;
    }

    /// <summary>GET /api/images/{id} (original), GET /api/thumbnails/{id}?size= (JPEG) and DELETE /api/items/{id}, as on the Functions host.</summary>
    public static IEndpointRouteBuilder MapVisualSearchImages(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/api/images/{**id}", (string id, HttpRequest request, SearchService search, [FromServices] ItemImageService images, CancellationToken ct) =>
            ImagesApi.GetImageAsync(id, request, search, images, ct));
        app.MapGet("/api/thumbnails/{**id}", (string id, HttpRequest request, SearchService search, [FromServices] ItemImageService images, CancellationToken ct) =>
            ImagesApi.GetThumbnailAsync(id, request, search, images, ct));
        app.MapDelete("/api/items/{**id}", (string id, HttpContext context, SearchService search, [FromServices] ItemImageService images, IngestionService ingestion, CancellationToken ct) =>
            ImagesApi.DeleteItemAsync(id, context, search, images, ingestion, ct));
        return app;
    }

    /// <summary>POST /api/images: add an image to the index (local host only; needs a <see cref="LocalUploads"/> service).</summary>
    public static IEndpointRouteBuilder MapVisualSearchUploads(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost("/api/images", (HttpRequest request, IngestionService ingestion, SearchService search, [FromServices] LocalUploads uploads,
                IOptions<ImagingOptions> imaging, TimeProvider time, CancellationToken ct) =>
            LocalUploadsApi.UploadAsync(request, ingestion, search, uploads, imaging, time, ct));
        return app;
    }

    /// <summary>
    /// The search page under <paramref name="basePath"/> (ending in '/'): index.html at the base, its files beside it
    /// (MSAL.js among them when the build has it), and config.json with <paramref name="settings"/> and the page's
    /// sign-in (<see cref="PageSignInOptions"/>, AddVisualSearchPageSignIn).
    /// </summary>
    public static IEndpointRouteBuilder MapVisualSearchPage(this IEndpointRouteBuilder app, string basePath, PageSettings settings)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(settings);
        if (!basePath.StartsWith('/') || !basePath.EndsWith('/')) throw new ArgumentException("The base path starts and ends with '/'.", nameof(basePath));
        app.MapGet(basePath, (HttpRequest request, IOptions<PageSignInOptions> signIn) =>
            PageApi.Serve(PageApi.IndexFile, request, settings with { SignIn = signIn.Value.ForPage() }));
        foreach (var name in PageApi.Files.Append(PageApi.ConfigFile))
            app.MapGet(basePath + name, (HttpRequest request, IOptions<PageSignInOptions> signIn) =>
                PageApi.Serve(name, request, settings with { SignIn = signIn.Value.ForPage() }));
        return app;
    }

    private static Task<IResult> HandleEvents(HttpRequest request, IBlobEventHandler handler, ILoggerFactory loggers, CancellationToken ct) =>
        BlobEventsApi.HandleAsync(request, handler, loggers.CreateLogger("VisualSearch.Api.BlobEvents"), ct);
}
