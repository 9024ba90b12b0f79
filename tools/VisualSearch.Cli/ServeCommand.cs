using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using VisualSearch.Api;
using VisualSearch.Blobs;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch serve [--index DIR] [--urls URL] [--no-watch]</c>: the HTTP API of the Functions host on
/// Kestrel, plus ingestion from a Blob Storage container (Azurite by default) by polling and by Event Grid webhooks.
/// </summary>
public static class ServeCommand
{
    public const string DefaultUrls = "http://127.0.0.1:7071";

    public static async Task<int> RunAsync(CliArgs args, CancellationToken cancellationToken)
    {
        await using var app = Build(args);
        await app.RunAsync(cancellationToken).ConfigureAwait(false);
        return 0;
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
        builder.WebHost.UseUrls(args.Get("urls") ?? builder.Configuration["Urls"] ?? DefaultUrls);

        var maxBytes = builder.Configuration.GetValue<long?>($"{ImagingOptions.SectionName}:MaxBytes") ?? new ImagingOptions().MaxBytes;
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = maxBytes + 64 * 1024);

        builder.AddVisualSearchEngine();
        builder.AddLocalVectorIndex();
        builder.AddBlobIngestion(watch: !args.Has("no-watch"));
        builder.Services.AddProblemDetails();

        var app = builder.Build();
        app.UseVisualSearchTelemetry();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapVisualSearchApi();
        return app;
    }
}
