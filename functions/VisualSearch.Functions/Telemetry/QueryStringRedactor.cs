using Microsoft.ApplicationInsights.Channel;
using Microsoft.ApplicationInsights.DataContracts;
using Microsoft.ApplicationInsights.Extensibility;
using Microsoft.AspNetCore.Http;
using VisualSearch.Api;

namespace VisualSearch.Functions.Telemetry;

/// <summary>
/// Redacts the query values of request and HTTP dependency URLs before telemetry leaves the worker: a function key
/// sent as <c>?code=</c>, or a SAS signature, never reaches Application Insights from this process.
/// </summary>
public sealed class QueryStringRedactor : ITelemetryInitializer
{
    public void Initialize(ITelemetry telemetry)
    {
        switch (telemetry)
        {
            case RequestTelemetry { Url: { Query.Length: > 1 } url } request:
                request.Url = new Uri(url.GetLeftPart(UriPartial.Path) + VisualSearchApiExtensions.RedactQuery(new QueryString(url.Query)));
                break;
            case DependencyTelemetry { Data: { } data } dependency when Uri.TryCreate(data, UriKind.Absolute, out var target) && target.Query.Length > 1:
                dependency.Data = target.GetLeftPart(UriPartial.Path) + VisualSearchApiExtensions.RedactQuery(new QueryString(target.Query));
                break;
        }
    }
}
