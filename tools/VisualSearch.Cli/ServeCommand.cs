using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using VisualSearch.Api;
using VisualSearch.Blobs;
using VisualSearch.Imaging;
using VisualSearch.Hosting;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch serve [--index DIR] [--urls URL] [--no-watch]</c>: the HTTP API of the Functions host on
/// Kestrel, plus ingestion from a Blob Storage container (Azurite by default) by polling and by Event Grid webhooks,
/// and the search page at / (with item images, thumbnails and adding images to the index).
/// </summary>
public static class ServeCommand
{
    public const string DefaultUrls = "http://127.0.0.1:7071";

    public static async Task<int> RunAsync(CliArgs args, CancellationToken cancellationToken)
    {
        await using var app = Build(args);
        await app.RunAsync(cancellationToken).ConfigureAwait(false);
        // Non-zero when the host stopped itself (an index of another model: see IndexModelStartupCheck).
        return Environment.ExitCode;
    }

    /// <summary>Builds the local host (also used by the functional tests).</summary>
    public static WebApplication Build(CliArgs args, IDictionary<string, string?>? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        args.RejectUnknown("index", "urls", "no-watch", "verbose");
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        var settings = EngineHost.Overrides(args, overrides);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            // Defaults that environment variables may override: Azurite's well-known development account.
            [$"{BlobSourceOptions.SectionName}:ConnectionString"] = builder.Configuration[$"{BlobSourceOptions.SectionName}:ConnectionString"] ?? "UseDevelopmentStorage=true",
        });
        builder.Configuration.AddInMemoryCollection(settings);
        var urls = args.Get("urls") ?? builder.Configuration["Urls"] ?? DefaultUrls;
        builder.WebHost.UseUrls(urls);

        var maxBytes = builder.Configuration.GetValue<long?>($"{ImagingOptions.SectionName}:MaxBytes") ?? new ImagingOptions().MaxBytes;
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = maxBytes + 64 * 1024);

        builder.AddVisualSearchEngine();
        builder.AddVectorIndex();
        builder.AddBlobIngestion(watch: !args.Has("no-watch"));
        builder.AddBlobUploads(allowAccountKeySigning: true); // Azurite: the development account key signs upload URLs
        builder.AddVisualSearchImages();
        builder.AddLocalImages();
        builder.AddVisualSearchApi();
        builder.AddVisualSearchApiProtection(urls);
        builder.AddVisualSearchAuth();
        builder.AddVisualSearchPageSignIn();

        var app = builder.Build();
        app.UseVisualSearchTelemetry();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseVisualSearchApiProtection();
        app.UseVisualSearchAuth();
        app.MapVisualSearchApi();
        app.MapVisualSearchImages();
        app.MapVisualSearchUploads();
        app.MapVisualSearchPage("/", new PageSettings(Upload: true));
        return app;
    }
}
