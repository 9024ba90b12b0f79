namespace VisualSearch.Imaging;

/// <summary>Why an image was refused. Stable names: they appear in logs, metrics and API errors.</summary>
public enum ImageRejectionReason
{
    /// <summary>The input has no bytes.</summary>
    Empty,
    /// <summary>The bytes are not an image format this system decodes.</summary>
    UnsupportedFormat,
    /// <summary>The encoded size is over the configured byte limit.</summary>
    TooLarge,
    /// <summary>The header declares more pixels (or a longer side) than the configured limit.</summary>
    TooManyPixels,
    /// <summary>The header or the pixel data is malformed.</summary>
    Corrupt,
    /// <summary>The file ends before the image does (an upload cut short).</summary>
    Truncated,
}

/// <summary>The one error type for an image that cannot be indexed or searched with.</summary>
public sealed class ImageRejectedException : Exception
{
    public ImageRejectedException(ImageRejectionReason reason, string message, Exception? inner = null)
        : base(message, inner) => Reason = reason;

    public ImageRejectionReason Reason { get; }
}
