using Microsoft.Extensions.Logging;
using VisualSearch.Embedding;

namespace VisualSearch.Diagnostics;

/// <summary>Structured, source-generated log messages of the engine.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Loaded encoder {ModelId} from {Path} in {Milliseconds:F0} ms")]
    public static partial void ModelLoaded(ILogger logger, string modelId, string path, double milliseconds);

    [LoggerMessage(2, LogLevel.Information, "Encoder {ModelId} warmed up in {Milliseconds:F0} ms")]
    public static partial void WarmedUp(ILogger logger, string modelId, double milliseconds);

    [LoggerMessage(3, LogLevel.Information, "Quantised the encoder to int8 at {Path} (calibrated on {Photos} photos and their augmentations) in {Milliseconds:F0} ms")]
    public static partial void Int8ModelBuilt(ILogger logger, string path, int photos, double milliseconds);

    [LoggerMessage(8, LogLevel.Information, "Derived the feature-map model (the graph cut before its pool, input size dynamic) at {Path} in {Milliseconds:F0} ms")]
    public static partial void FeatureMapModelBuilt(ILogger logger, string path, double milliseconds);

    [LoggerMessage(9, LogLevel.Warning, "Encoder:Descriptor is {Descriptor}, but the int8 model computes the centre-crop descriptor only: running CentreCrop (model id {ModelId})")]
    public static partial void Int8RunsCentreCrop(ILogger logger, DescriptorMode descriptor, string modelId);

    [LoggerMessage(10, LogLevel.Information, "Indexed {ItemId} ({Width}x{Height}, {Bytes} bytes) in {Milliseconds:F1} ms")]
    public static partial void Indexed(ILogger logger, string itemId, int width, int height, long bytes, double milliseconds);

    [LoggerMessage(11, LogLevel.Debug, "Skipped {ItemId}: unchanged")]
    public static partial void Unchanged(ILogger logger, string itemId);

    [LoggerMessage(12, LogLevel.Warning, "Rejected {ItemId}: {Reason}: {Detail}")]
    public static partial void Rejected(ILogger logger, string itemId, string reason, string detail);

    [LoggerMessage(13, LogLevel.Information, "Removed {ItemId} (found: {Found})")]
    public static partial void Removed(ILogger logger, string itemId, bool found);

    [LoggerMessage(14, LogLevel.Information, "Skipped {ItemId}: its version of {UploadedAt:o} is older than the indexed one of {StoredUploadedAt:o}")]
    public static partial void Stale(ILogger logger, string itemId, DateTimeOffset uploadedAt, DateTimeOffset storedUploadedAt);

    [LoggerMessage(15, LogLevel.Warning, "Kept {ItemId}: it came from {StoredSource}, not from {EventSource}, which the removal was about")]
    public static partial void KeptOtherSource(ILogger logger, string itemId, string storedSource, string eventSource);

    [LoggerMessage(20, LogLevel.Debug, "Search returned {Count} results in {Milliseconds:F1} ms")]
    public static partial void Searched(ILogger logger, int count, double milliseconds);

    [LoggerMessage(1401, LogLevel.Debug, "The search embedded {Views} query views, combined by {Combination}")]
    public static partial void SearchedWithViews(ILogger logger, int views, Search.QueryViewCombination combination);

    [LoggerMessage(1402, LogLevel.Debug, "The best whole-image score {BestOwn:F3} is below {Threshold:F3}: asked the detail regions ({Hits} items)")]
    public static partial void AskedRegions(ILogger logger, float bestOwn, float threshold, int hits);
}
