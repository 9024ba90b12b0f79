using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VisualSearch;
using VisualSearch.Api;
using VisualSearch.Blobs;
using VisualSearch.Functions.Telemetry;
using VisualSearch.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.UseMiddleware<ColdStartMiddleware>();

// Application Insights (a no-op without APPLICATIONINSIGHTS_CONNECTION_STRING). Remove the SDK's default
// rule that keeps only Warning and above, so the engine's Information logs flow.
builder.Services.AddApplicationInsightsTelemetryWorkerService().ConfigureFunctionsApplicationInsights();
builder.Logging.Services.Configure<LoggerFilterOptions>(options =>
{
    var defaultRule = options.Rules.FirstOrDefault(rule =>
        rule.ProviderName == "Microsoft.Extensions.Logging.ApplicationInsights.ApplicationInsightsLoggerProvider");
    if (defaultRule is not null) options.Rules.Remove(defaultRule);
});

builder.Services.AddHostedService<ApplicationInsightsMetricsBridge>();

builder.AddVisualSearchEngine();
builder.AddVectorIndex();
builder.AddBlobIngestion(watch: false);
builder.AddBlobUploads(allowAccountKeySigning: false); // upload URLs: user-delegation SAS only
builder.AddVisualSearchImages();

builder.Build().Run();
