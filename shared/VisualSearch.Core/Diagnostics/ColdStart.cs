using System.Diagnostics;

namespace VisualSearch.Diagnostics;

/// <summary>
/// Cold-start facts of this process: when it started, which instance it is, whether an invocation is the
/// first, and how long the model load and the first inference took. Hosts report them as telemetry.
/// </summary>
public sealed class ColdStart
{
    private readonly Lock _gate = new();
    private int _invocations;
    private double? _modelLoadMs;
    private double? _firstInferenceMs;

    public ColdStart(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        Time = time;
        ProcessStart = GetProcessStart(time);
        InstanceId = Environment.GetEnvironmentVariable("WEBSITE_INSTANCE_ID")
            ?? Environment.GetEnvironmentVariable("CONTAINER_APP_REPLICA_NAME")
            ?? $"{Environment.MachineName}-{Environment.ProcessId}";
    }

    public TimeProvider Time { get; }

    public DateTimeOffset ProcessStart { get; }

    public string InstanceId { get; }

    public double? ModelLoadMilliseconds
    {
        get { lock (_gate) return _modelLoadMs; }
    }

    public double? FirstInferenceMilliseconds
    {
        get { lock (_gate) return _firstInferenceMs; }
    }

    /// <summary>Invocations counted so far.</summary>
    public int Invocations => Volatile.Read(ref _invocations);

    /// <summary>Counts an invocation; the first of the process gets <c>IsCold</c> and the time since process start.</summary>
    public Invocation BeginInvocation()
    {
        var n = Interlocked.Increment(ref _invocations);
        return new Invocation(n == 1, n == 1 ? (Time.GetUtcNow() - ProcessStart).TotalMilliseconds : null);
    }

    internal void RecordModelLoad(double milliseconds)
    {
        lock (_gate) _modelLoadMs ??= milliseconds;
    }

    internal void RecordFirstInference(double milliseconds)
    {
        lock (_gate) _firstInferenceMs ??= milliseconds;
    }

    private static DateTimeOffset GetProcessStart(TimeProvider time)
    {
        try
        {
            using var process = Process.GetCurrentProcess();
            return new DateTimeOffset(process.StartTime.ToUniversalTime(), TimeSpan.Zero);
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception)
        {
            return time.GetUtcNow();
        }
    }

    /// <param name="IsCold">The first invocation of this process.</param>
    /// <param name="SinceProcessStartMs">Process start to this invocation (first invocation only).</param>
    public readonly record struct Invocation(bool IsCold, double? SinceProcessStartMs);
}
