using Microsoft.Extensions.Logging;

namespace VisualSearch.Index.Local;

/// <summary>
/// The embedded index's log messages, in one place so their EventIds stay unique. They are written with the
/// <see cref="LocalVectorIndex"/> logger, whichever of its parts (log, graph) reports.
/// </summary>
internal static partial class LocalIndexLog
{
    [LoggerMessage(100, LogLevel.Warning, "Index {Directory}: cut a torn or corrupt tail of {Bytes} bytes at offset {Offset} (a write interrupted by a crash); every entry before it is intact")]
    public static partial void Recovered(ILogger logger, string directory, long bytes, long offset);

    [LoggerMessage(101, LogLevel.Information, "Index {Directory}: compacted the log from {Before} to {After} entries")]
    public static partial void Compacted(ILogger logger, string directory, long before, long after);

    [LoggerMessage(102, LogLevel.Information, "Index {Directory}: built the search graph of {Count} vectors in {Milliseconds:F0} ms")]
    public static partial void GraphBuilt(ILogger logger, string directory, int count, double milliseconds);

    [LoggerMessage(103, LogLevel.Information, "Index {Directory}: loaded the saved search graph of {Count} vectors in {Milliseconds:F0} ms")]
    public static partial void GraphLoaded(ILogger logger, string directory, int count, double milliseconds);

    [LoggerMessage(104, LogLevel.Information, "Index {Directory}: the saved search graph does not match the log (a crash, a compaction or other settings); rebuilding it")]
    public static partial void GraphStale(ILogger logger, string directory);

    [LoggerMessage(105, LogLevel.Warning, "Index {Directory}: the saved search graph could not be read; rebuilding it")]
    public static partial void GraphUnreadable(ILogger logger, string directory, Exception exception);

    [LoggerMessage(106, LogLevel.Warning, "Index {Directory}: the search graph could not be saved; the next open rebuilds it from the log")]
    public static partial void GraphNotSaved(ILogger logger, string directory, Exception exception);

    [LoggerMessage(107, LogLevel.Warning, "Index {Directory}: graph search is unavailable on this machine (USearch's native library, which needs libgomp1, could not be loaded); searching exactly")]
    public static partial void GraphUnavailable(ILogger logger, string directory, Exception exception);

    [LoggerMessage(108, LogLevel.Error, "Index {Directory}: a failed append could not be cut back to offset {Length}; writes are refused until it can")]
    public static partial void AppendNotUndone(ILogger logger, string directory, long length, Exception exception);

    [LoggerMessage(109, LogLevel.Information, "Index {Directory}: saved the snapshot of {Count} records at log length {LogLength} in {Milliseconds:F0} ms")]
    public static partial void SnapshotSaved(ILogger logger, string directory, int count, long logLength, double milliseconds);

    [LoggerMessage(110, LogLevel.Information, "Index {Directory}: loaded the snapshot of {Count} records at log length {LogLength} in {Milliseconds:F0} ms; replaying the log past it")]
    public static partial void SnapshotLoaded(ILogger logger, string directory, int count, long logLength, double milliseconds);

    [LoggerMessage(111, LogLevel.Warning, "Index {Directory}: the snapshot is ignored ({Reason}); replaying the whole log")]
    public static partial void SnapshotIgnored(ILogger logger, string directory, string reason);

    [LoggerMessage(112, LogLevel.Warning, "Index {Directory}: the snapshot could not be saved; the next open replays the log from the last one")]
    public static partial void SnapshotNotSaved(ILogger logger, string directory, Exception exception);

    [LoggerMessage(113, LogLevel.Information, "Index {Directory}: re-inserted {Count} of {Total} vectors the parallel graph build had left unreachable")]
    public static partial void GraphRepaired(ILogger logger, string directory, int count, int total);

    [LoggerMessage(114, LogLevel.Information, "Index {Directory}: graph build on {Threads} thread(s): inserts {InsertSeconds:F1} s ({InsertCpuSeconds:F1} CPU s), reachability check ({Check}) and re-inserts {CheckSeconds:F1} s ({CheckCpuSeconds:F1} CPU s)")]
    public static partial void GraphBuildParts(ILogger logger, string directory, int threads, double insertSeconds, double insertCpuSeconds, string check, double checkSeconds, double checkCpuSeconds);

    [LoggerMessage(115, LogLevel.Warning, "Index {Directory}: the graph's links could not be checked ({Reason}); every vector was searched for instead")]
    public static partial void GraphLinkCheckFellBack(ILogger logger, string directory, string reason);
}
