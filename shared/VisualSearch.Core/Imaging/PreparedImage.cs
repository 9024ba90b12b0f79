namespace VisualSearch.Imaging;

/// <summary>
/// An image decoded, upright (EXIF orientation applied), composited on white, resized so that its
/// shorter side is <see cref="Size"/> and centre-cropped to Size x Size; pixels are interleaved RGB bytes.
/// </summary>
public sealed class PreparedImage
{
    public PreparedImage(byte[] rgb, int size, ImageFormat format, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (rgb.Length != size * size * 3) throw new ArgumentException("RGB buffer does not match the size.", nameof(rgb));
        Rgb = rgb;
        Size = size;
        Format = format;
        Width = width;
        Height = height;
    }

    /// <summary>Size * Size * 3 bytes, row-major, R G B.</summary>
    public byte[] Rgb { get; }

    public int Size { get; }

    /// <summary>The encoded format.</summary>
    public ImageFormat Format { get; }

    /// <summary>Upright width of the original image, in pixels.</summary>
    public int Width { get; }

    /// <summary>Upright height of the original image, in pixels.</summary>
    public int Height { get; }
}
