using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace VisualSearch.Diagnostics;

/// <summary>
/// Meter and ActivitySource of the engine (OpenTelemetry-compatible names under "VisualSearch").
/// Hosts export them (Application Insights on Azure, any OTel exporter locally).
/// </summary>
public sealed class VisualSearchMetrics : IDisposable
{
    public const string MeterName = "VisualSearch";
    public static readonly ActivitySource ActivitySource = new("VisualSearch");

    private readonly Meter _meter;
    private readonly Histogram<double> _stage;
    private readonly Counter<long> _ingested;
    private readonly Counter<long> _rejected;
    private readonly Histogram<double> _modelLoad;
    private readonly Histogram<double> _firstInference;

    public VisualSearchMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _stage = _meter.CreateHistogram<double>("visualsearch.stage.duration", "ms", "Duration of one pipeline stage (decode, embed, index.write, index.query, ...).");
        _ingested = _meter.CreateCounter<long>("visualsearch.ingest.count", "{image}", "Ingest outcomes by result.");
        _rejected = _meter.CreateCounter<long>("visualsearch.ingest.rejected", "{image}", "Rejected images by reason.");
        _modelLoad = _meter.CreateHistogram<double>("visualsearch.model.load.duration", "ms", "Time to load the encoder model.");
        _firstInference = _meter.CreateHistogram<double>("visualsearch.model.first_inference.duration", "ms", "Time of the first (warm-up) inference.");
    }

    public void RecordStage(string stage, double milliseconds) =>
        _stage.Record(milliseconds, new KeyValuePair<string, object?>("stage", stage));

    public void RecordIngest(string outcome) =>
        _ingested.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void RecordRejected(string reason) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void RecordModelLoad(double milliseconds) => _modelLoad.Record(milliseconds);

    public void RecordFirstInference(double milliseconds) => _firstInference.Record(milliseconds);

    /// <summary>Times a stage: <c>using (metrics.Time("decode")) { ... }</c>.</summary>
    public StageTimer Time(string stage) => new(this, stage);

    public void Dispose() => _meter.Dispose();

    public readonly struct StageTimer(VisualSearchMetrics metrics, string stage) : IDisposable
    {
        private readonly long _start = Stopwatch.GetTimestamp();

        public double ElapsedMilliseconds => Stopwatch.GetElapsedTime(_start).TotalMilliseconds;

        public void Dispose() => metrics.RecordStage(stage, ElapsedMilliseconds);
    }
}
