using System.Diagnostics.Metrics;
using Microsoft.ApplicationInsights;
using Microsoft.ApplicationInsights.Metrics;
using Microsoft.Extensions.Hosting;
using VisualSearch.Diagnostics;

namespace VisualSearch.Functions.Telemetry;

/// <summary>
/// Forwards the engine's System.Diagnostics.Metrics instruments (meter "VisualSearch": stage durations,
/// ingest outcomes, rejections by reason, cold start, model load) to Application Insights as pre-aggregated
/// metrics, with every tag of a measurement as a metric dimension (in tag-name order, at most 10, the SDK's
/// limit). Application Insights 2.x does not collect Meter instruments by itself.
/// </summary>
public sealed class ApplicationInsightsMetricsBridge(TelemetryClient telemetry) : IHostedService, IDisposable
{
    private static readonly TimeSpan ObservePeriod = TimeSpan.FromMinutes(1);
    private MeterListener? _listener;
    private Timer? _timer;

    /// <summary>Reads the gauges now (tests; also done once a minute).</summary>
    public void RecordObservableInstruments() => _listener?.RecordObservableInstruments();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == VisualSearchMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
            },
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Track(instrument, value, tags));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Track(instrument, value, tags));
        _listener.Start();
        // Gauges (embedding norm, dead share, drift) are read once a minute.
        _timer = new Timer(static s => ((MeterListener)s!).RecordObservableInstruments(), _listener, ObservePeriod, ObservePeriod);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Dispose();
        _listener?.Dispose();
        _listener = null;
        telemetry.Flush();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _listener?.Dispose();
    }

    private void Track(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            telemetry.GetMetric(instrument.Name).TrackValue(value);
            return;
        }

        var ordered = tags.ToArray().OrderBy(t => t.Key, StringComparer.Ordinal).Take(MetricIdentifier.MaxDimensionsCount).ToArray();
        var metric = telemetry.GetMetric(new MetricIdentifier(MetricIdentifier.DefaultMetricNamespace, instrument.Name, ordered.Select(t => t.Key).ToList()));
        var values = ordered.Select(t => Convert.ToString(t.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToArray();
        if (metric.TryGetDataSeries(out var series, createIfNotExists: true, values)) series.TrackValue(value);
    }
}
