using System.Diagnostics.Metrics;
using Microsoft.ApplicationInsights;
using Microsoft.Extensions.Hosting;
using VisualSearch.Diagnostics;

namespace VisualSearch.Functions.Telemetry;

/// <summary>
/// Forwards the engine's System.Diagnostics.Metrics instruments (meter "VisualSearch": stage durations,
/// ingest outcomes, rejections by reason, cold start, model load) to Application Insights as pre-aggregated
/// metrics, with the measurement's first tag as the metric dimension. Application Insights 2.x does not
/// collect Meter instruments by itself.
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

        var (name, dimension) = tags[0];
        telemetry.GetMetric(instrument.Name, name).TrackValue(value, Convert.ToString(dimension, System.Globalization.CultureInfo.InvariantCulture) ?? "");
    }
}
