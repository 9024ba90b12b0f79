using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace VisualSearch.ReliabilityTests.Infrastructure;

/// <summary>One log line as the engine wrote it.</summary>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);

/// <summary>A logger provider that keeps every entry, so tests can assert what was logged and how often.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    /// <summary>Entries with this event id (the ids of the [LoggerMessage] methods).</summary>
    public IReadOnlyList<LogEntry> WithEventId(int id) => Entries.Where(e => e.EventId.Id == id).ToList();

    public void Clear() => _entries.Clear();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception));
    }
}
