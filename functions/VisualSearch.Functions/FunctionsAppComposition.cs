using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VisualSearch.Api;
using VisualSearch.Blobs;
using VisualSearch.Functions.Telemetry;
using VisualSearch.Hosting;

namespace VisualSearch.Functions;

/// <summary>
/// The Functions app's one composition. Program.cs runs <see cref="AddVisualSearchFunctions"/>; the tests run
/// the same Program.cs as the real worker process (tests/VisualSearch.Functions.HostTests), and the in-process
/// test hosts that call the function classes directly build from <see cref="AddVisualSearchFunctionServices"/>,
/// so no test composes the app by hand.
/// </summary>
public static class FunctionsAppComposition
{
    /// <summary>
    /// The whole worker: the ASP.NET Core HTTP integration, the cold-start middleware, 503 with Retry-After for
    /// "try again later" failures (<see cref="ServiceUnavailableMiddleware"/>), 401 before any person-facing function
    /// runs without a validated principal (<see cref="SignedInCallerMiddleware"/>) and
    /// <see cref="AddVisualSearchFunctionServices"/>.
    /// </summary>
    public static FunctionsApplicationBuilder AddVisualSearchFunctions(this FunctionsApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.ConfigureFunctionsWebApplication();
        builder.UseMiddleware<ColdStartMiddleware>();
        builder.UseMiddleware<ServiceUnavailableMiddleware>();
        builder.UseMiddleware<SignedInCallerMiddleware>();
        builder.AddVisualSearchFunctionServices();
        return builder;
    }

    /// <summary>
    /// The services the functions are made of: Application Insights with the metrics bridge, the engine, the
    /// configured index backend, blob ingestion (Event Grid, no watcher), upload URLs (user-delegation SAS only)
    /// and the item images. Everything but the worker's pipeline, which needs the Functions host.
    /// </summary>
    public static IHostApplicationBuilder AddVisualSearchFunctionServices(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // Application Insights (a no-op without APPLICATIONINSIGHTS_CONNECTION_STRING). Remove the SDK's default
        // rule that keeps only Warning and above, so the engine's Information logs flow.
        builder.Services.AddApplicationInsightsTelemetryWorkerService().ConfigureFunctionsApplicationInsights();
        builder.Logging.Services.Configure<LoggerFilterOptions>(options =>
        {
            var defaultRule = options.Rules.FirstOrDefault(rule =>
                rule.ProviderName == "Microsoft.Extensions.Logging.ApplicationInsights.ApplicationInsightsLoggerProvider");
            if (defaultRule is not null) options.Rules.Remove(defaultRule);
        });
        builder.Services.AddSingleton<Microsoft.ApplicationInsights.Extensibility.ITelemetryInitializer, QueryStringRedactor>();
        builder.Services.AddHostedService<ApplicationInsightsMetricsBridge>();

        builder.AddVisualSearchEngine();
        builder.AddVectorIndex();
        builder.AddBlobIngestion(watch: false);
        builder.AddBlobUploads(allowAccountKeySigning: false); // upload URLs: user-delegation SAS only
        builder.AddBlobAlbumShares(); // album shares in a blob, seen by every instance
        builder.AddVisualSearchImages();
        builder.AddVisualSearchPageSignIn(); // the page's sign-in (Auth__Authority, Auth__ClientId, Auth__Scope)
        builder.AddVisualSearchAppServiceAuth(); // callers: App Service authentication's principal (Auth__AppService), see docs/security.md
        return builder;
    }
}
