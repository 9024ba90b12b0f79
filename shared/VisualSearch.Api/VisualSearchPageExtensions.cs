using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.Api;

/// <summary>The web page and what it needs beyond the search API: item images, thumbnails and (local host) uploads.</summary>
public static class VisualSearchPageExtensions
{
    /// <summary>
    /// Registers <see cref="ItemImageService"/> (section "Images"). The host registers the <see cref="IImageStore"/>s
    /// that hold its originals (a blob container, local folders).
    /// </summary>
    public static IHostApplicationBuilder AddVisualSearchImages(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<ImageServingOptions>()
            .Bind(builder.Configuration.GetSection(ImageServingOptions.SectionName))
            .Validate(o => o.MaxAge >= TimeSpan.Zero && o.MaxAge <= TimeSpan.FromDays(365), "Images:MaxAge is from 00:00:00 to 365.00:00:00.")
            .ValidateOnStart();
        builder.Services.TryAddSingleton<ItemImageService>();
        return builder;
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

    /// <summary>The search page under <paramref name="basePath"/> (ending in '/'): index.html at the base, its files beside it.</summary>
    public static IEndpointRouteBuilder MapVisualSearchPage(this IEndpointRouteBuilder app, string basePath, PageSettings settings)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(settings);
        if (!basePath.StartsWith('/') || !basePath.EndsWith('/')) throw new ArgumentException("The base path starts and ends with '/'.", nameof(basePath));
        app.MapGet(basePath, (HttpRequest request) => PageApi.Serve(PageApi.IndexFile, request, settings));
        foreach (var name in PageApi.Files.Append(PageApi.ConfigFile))
            app.MapGet(basePath + name, (HttpRequest request) => PageApi.Serve(name, request, settings));
        return app;
    }
}
