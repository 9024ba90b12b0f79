namespace VisualSearch.Imaging;

/// <summary>Encoded formats, recognised by their magic bytes (never by file name or declared type).</summary>
public enum ImageFormat
{
    Unknown,
    Jpeg,
    Png,
    Gif,
    WebP,
    Bmp,
    Tiff,
}

public static class ImageFormats
{
    /// <summary>Every format the decoder reads, in the order messages list them.</summary>
    public static readonly IReadOnlyList<ImageFormat> Supported =
        [ImageFormat.Jpeg, ImageFormat.Png, ImageFormat.Gif, ImageFormat.WebP, ImageFormat.Bmp, ImageFormat.Tiff];

    /// <summary>
    /// The file extensions (with the dot, any case) of the supported formats: the one list of which files in a
    /// folder or which upload names are images. Content is still judged by its first bytes.
    /// </summary>
    public static readonly IReadOnlySet<string> FileExtensions =
        new HashSet<string>(Supported.SelectMany(AllExtensions), StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether a file name has the extension of a supported format.</summary>
    public static bool HasImageExtension(string path) => FileExtensions.Contains(Path.GetExtension(path));

    /// <summary>The format's usual file extension, with the dot (".jpg", ".tif", ...); "" for Unknown.</summary>
    public static string Extension(this ImageFormat format) => AllExtensions(format).FirstOrDefault() ?? "";

    /// <summary>The format a file extension (with the dot, any case) names; Unknown if none.</summary>
    public static ImageFormat FromExtension(string? extension) =>
        Supported.FirstOrDefault(f => AllExtensions(f).Contains(extension ?? "", StringComparer.OrdinalIgnoreCase));

    /// <summary>The format a media type names (<see cref="ContentType"/>'s inverse); Unknown if none.</summary>
    public static ImageFormat FromContentType(string? mediaType) =>
        Supported.FirstOrDefault(f => string.Equals(f.ContentType(), mediaType, StringComparison.OrdinalIgnoreCase));

    private static string[] AllExtensions(ImageFormat format) => format switch
    {
        ImageFormat.Jpeg => [".jpg", ".jpeg", ".jpe"],
        ImageFormat.Png => [".png"],
        ImageFormat.Gif => [".gif"],
        ImageFormat.WebP => [".webp"],
        ImageFormat.Bmp => [".bmp"],
        ImageFormat.Tiff => [".tif", ".tiff"],
        _ => [],
    };

    /// <summary>Identifies the format from the first bytes of the file.</summary>
    public static ImageFormat Detect(ReadOnlySpan<byte> header)
    {
        if (header.Length >= 3 && header[0] == 0xFF && header[1] == 0xD8 && header[2] == 0xFF) return ImageFormat.Jpeg;
        if (header.Length >= 8 && header[..8].SequenceEqual((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])) return ImageFormat.Png;
        if (header.Length >= 6 && (header[..6].SequenceEqual("GIF87a"u8) || header[..6].SequenceEqual("GIF89a"u8))) return ImageFormat.Gif;
        if (header.Length >= 12 && header[..4].SequenceEqual("RIFF"u8) && header[8..12].SequenceEqual("WEBP"u8)) return ImageFormat.WebP;
        if (header.Length >= 2 && header[0] == (byte)'B' && header[1] == (byte)'M') return ImageFormat.Bmp;
        if (header.Length >= 4 && (header[..4].SequenceEqual("II*\0"u8) || header[..4].SequenceEqual("MM\0*"u8))) return ImageFormat.Tiff;
        return ImageFormat.Unknown;
    }

    /// <summary>The media type of a format, for stored metadata and served images.</summary>
    public static string ContentType(this ImageFormat format) => format switch
    {
        ImageFormat.Jpeg => "image/jpeg",
        ImageFormat.Png => "image/png",
        ImageFormat.Gif => "image/gif",
        ImageFormat.WebP => "image/webp",
        ImageFormat.Bmp => "image/bmp",
        ImageFormat.Tiff => "image/tiff",
        _ => "application/octet-stream",
    };
}
