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
}
