using Microsoft.Extensions.Logging;

namespace VisualSearch.Cli.Bench;

/// <summary>
/// The index's log lines about a graph build (where its time went, what its reachability check re-inserted, a check
/// that fell back), kept for the bench's report and written to its progress log; every other line is dropped, as the
/// bench's indexes log nothing otherwise.
/// </summary>
internal sealed class GraphBuildLog(TextWriter log) : ILoggerFactory, ILogger
{
    /// <summary>The [LoggerMessage] methods of the embedded index whose lines are kept (their event names).</summary>
    private static readonly HashSet<string> Kept = ["GraphBuildParts", "GraphRepaired", "GraphLinkCheckFellBack"];

    private readonly List<string> _lines = [];

    /// <summary>The lines kept so far, in order.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines) return [.. _lines];
        }
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        if (!IsEnabled(logLevel) || eventId.Name is null || !Kept.Contains(eventId.Name)) return;
        var line = formatter(state, exception);
        lock (_lines)
        {
            _lines.Add(line);
            log.WriteLine($"  {line}");
        }
    }

    public void Dispose()
    {
    }
}
