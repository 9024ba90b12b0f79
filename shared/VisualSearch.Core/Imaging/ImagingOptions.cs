using System.ComponentModel.DataAnnotations;

namespace VisualSearch.Imaging;

/// <summary>Limits enforced before any pixel is decoded. Section "Imaging".</summary>
public sealed class ImagingOptions
{
    public const string SectionName = "Imaging";

    /// <summary>Largest accepted encoded image, in bytes (default 50 MB).</summary>
    [Range(1, long.MaxValue)]
    public long MaxBytes { get; set; } = 50L * 1024 * 1024;

    /// <summary>Largest accepted image, in pixels (width x height, default 100 megapixels).</summary>
    [Range(1, long.MaxValue)]
    public long MaxPixels { get; set; } = 100_000_000;

    /// <summary>Longest accepted side, in pixels (default 30,000): a 10000x10 strip passes, a 50,000-wide bomb does not.</summary>
    [Range(1, int.MaxValue)]
    public int MaxSide { get; set; } = 30_000;

    /// <summary>
    /// Decode JPEGs at the smallest k/8 scale whose shorter side still covers the model's input (libjpeg-turbo's
    /// DCT scaling; default true: a 12 MP photo in about 33 ms instead of 170). False decodes every pixel and
    /// scales down with mipmaps: the reference the scaled decode is measured against (docs/performance.md).
    /// </summary>
    public bool ScaledJpegDecode { get; set; } = true;

    /// <summary>
    /// Decode a large WebP scaled by libwebp while it decodes (default true), to at least twice the model's input, so
    /// its memory follows the output, not the declared pixels. False decodes every pixel (the reference).
    /// </summary>
    public bool SampledDecode { get; set; } = true;

    /// <summary>
    /// Decodes whose bitmap has more pixels than this run one at a time in the process (default 16 MP, 64 MB of
    /// RGBA; 0 = no such limit). PNG, GIF and BMP cannot be decoded scaled through SkiaSharp, so a 100 MP PNG of 97 KB
    /// costs about 450 MB while it is decoded: this keeps that to one such bitmap, however many arrive.
    /// </summary>
    [Range(0, long.MaxValue)]
    public long LargeDecodePixels { get; set; } = 16_000_000;

    /// <summary>Images decoded and embedded at once in this process (0, the default: the number of cores).</summary>
    [Range(0, 1024)]
    public int MaxConcurrentDecodes { get; set; }

    /// <summary>Images that may wait for a decode slot; past that a request gets 503 with Retry-After (default 64).</summary>
    [Range(0, 100_000)]
    public int MaxQueuedDecodes { get; set; } = 64;
}
