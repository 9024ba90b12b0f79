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
}
