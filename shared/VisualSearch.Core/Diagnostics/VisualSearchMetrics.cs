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
    private readonly Counter<long> _invocations;
    private readonly Histogram<double> _coldStart;

    public VisualSearchMetrics(IMeterFactory meterFactory, ColdStart? coldStart = null, EmbeddingHealth? embeddingHealth = null)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ColdStart = coldStart ?? new ColdStart(TimeProvider.System);
        EmbeddingHealth = embeddingHealth ?? new EmbeddingHealth();
        _meter = meterFactory.Create(MeterName);
        _stage = _meter.CreateHistogram<double>("visualsearch.stage.duration", "ms", "Duration of one pipeline stage (decode, embed, index.write, index.query, ...).");
        _ingested = _meter.CreateCounter<long>("visualsearch.ingest.count", "{image}", "Ingest outcomes by result.");
        _rejected = _meter.CreateCounter<long>("visualsearch.ingest.rejected", "{image}", "Rejected images by reason.");
        _modelLoad = _meter.CreateHistogram<double>("visualsearch.model.load.duration", "ms", "Time to load the encoder model.");
        _firstInference = _meter.CreateHistogram<double>("visualsearch.model.first_inference.duration", "ms", "Time of the first (warm-up) inference.");
        _invocations = _meter.CreateCounter<long>("visualsearch.invocations", "{invocation}", "Host invocations, tagged cold=true for the first of the process.");
        _coldStart = _meter.CreateHistogram<double>("visualsearch.coldstart.duration", "ms", "Process start to the first invocation.");
        _meter.CreateObservableGauge("visualsearch.embedding.norm", () => Gauge(s => s.MeanRawNorm), description: "Mean embedding norm before normalisation.");
        _meter.CreateObservableGauge("visualsearch.embedding.dead_share", () => Gauge(s => s.DeadDimensionShare), description: "Share of near-dead embedding dimensions.");
        _meter.CreateObservableGauge("visualsearch.embedding.drift", () => Gauge(s => s.Drift), description: "Shift of the mean embedding from the baseline, in units of the baseline spread.");
    }

    /// <summary>Cold-start facts of this process.</summary>
    public ColdStart ColdStart { get; }

    /// <summary>Rolling embedding statistics and drift.</summary>
    public EmbeddingHealth EmbeddingHealth { get; }

    /// <summary>Counts a host invocation; returns whether it is the cold one.</summary>
    public ColdStart.Invocation BeginInvocation(string operation)
    {
        var invocation = ColdStart.BeginInvocation();
        _invocations.Add(1, new KeyValuePair<string, object?>("cold", invocation.IsCold), new KeyValuePair<string, object?>("operation", operation));
        if (invocation.SinceProcessStartMs is { } ms) _coldStart.Record(ms, new KeyValuePair<string, object?>("operation", operation));
        return invocation;
    }

    /// <summary>Feeds the embedding health statistics.</summary>
    public void ObserveEmbedding(string model, ReadOnlySpan<float> vector, float rawNorm) => EmbeddingHealth.Observe(model, vector, rawNorm);

    private IEnumerable<Measurement<double>> Gauge(Func<EmbeddingHealthSnapshot, double?> value)
    {
        if (EmbeddingHealth.Snapshot() is { } snapshot && value(snapshot) is { } v)
            yield return new Measurement<double>(v, new KeyValuePair<string, object?>("model", snapshot.Model));
    }

    public void RecordStage(string stage, double milliseconds) =>
        _stage.Record(milliseconds, new KeyValuePair<string, object?>("stage", stage));

    public void RecordIngest(string outcome) =>
        _ingested.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void RecordRejected(string reason) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void RecordModelLoad(double milliseconds)
    {
        ColdStart.RecordModelLoad(milliseconds);
        _modelLoad.Record(milliseconds);
    }

    public void RecordFirstInference(double milliseconds)
    {
        ColdStart.RecordFirstInference(milliseconds);
        _firstInference.Record(milliseconds);
    }

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
