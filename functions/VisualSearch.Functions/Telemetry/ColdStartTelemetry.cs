using Microsoft.ApplicationInsights;
using Microsoft.ApplicationInsights.DataContracts;
using VisualSearch.Diagnostics;

namespace VisualSearch.Functions.Telemetry;

/// <summary>The "ColdStart" custom event: sent once per process, after its first invocation.</summary>
public static class ColdStartTelemetry
{
    public const string EventName = "ColdStart";

    public static void Report(TelemetryClient telemetry, ColdStart coldStart, string functionName, ColdStart.Invocation invocation, double invocationMs)
    {
        ArgumentNullException.ThrowIfNull(telemetry);
        ArgumentNullException.ThrowIfNull(coldStart);
        if (!invocation.IsCold) return;
        var e = new EventTelemetry(EventName);
        e.Properties["instanceId"] = coldStart.InstanceId;
        e.Properties["functionName"] = functionName;
        e.Properties["processStart"] = coldStart.ProcessStart.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        if (invocation.SinceProcessStartMs is { } since) e.Metrics["processStartToFirstInvocationMs"] = since;
        e.Metrics["firstInvocationMs"] = invocationMs;
        if (coldStart.ModelLoadMilliseconds is { } load) e.Metrics["modelLoadMs"] = load;
        if (coldStart.FirstInferenceMilliseconds is { } first) e.Metrics["firstInferenceMs"] = first;
        telemetry.TrackEvent(e);
    }
}
