namespace VisualSearch.Imaging;

/// <summary>
/// An image decoded, upright (EXIF orientation applied), composited on white, resized so that its
/// shorter side is <see cref="Size"/> and centre-cropped to Size x Size (or, for a whole-image input, resized
/// with its aspect ratio kept to <see cref="PixelWidth"/> x <see cref="PixelHeight"/>); pixels are interleaved RGB bytes.
/// </summary>
public sealed class PreparedImage
{
    public PreparedImage(byte[] rgb, int size, ImageFormat format, int width, int height)
        : this(rgb, size, size, format, width, height)
    {
    }

    /// <summary>A whole image of <paramref name="pixelWidth"/> x <paramref name="pixelHeight"/> pixels.</summary>
    public PreparedImage(byte[] rgb, int pixelWidth, int pixelHeight, ImageFormat format, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        ArgumentOutOfRangeException.ThrowIfLessThan(pixelWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(pixelHeight, 1);
        if (rgb.Length != pixelWidth * pixelHeight * 3) throw new ArgumentException("RGB buffer does not match the size.", nameof(rgb));
        Rgb = rgb;
        PixelWidth = pixelWidth;
        PixelHeight = pixelHeight;
        Size = Math.Min(pixelWidth, pixelHeight);
        Format = format;
        Width = width;
        Height = height;
    }

    /// <summary>PixelWidth * PixelHeight * 3 bytes, row-major, R G B.</summary>
    public byte[] Rgb { get; }

    /// <summary>The square side (a centre crop), or the shorter side of a whole image.</summary>
    public int Size { get; }

    /// <summary>Width of <see cref="Rgb"/> in pixels (<see cref="Size"/> for a centre crop).</summary>
    public int PixelWidth { get; }

    /// <summary>Height of <see cref="Rgb"/> in pixels (<see cref="Size"/> for a centre crop).</summary>
    public int PixelHeight { get; }

    /// <summary>The encoded format.</summary>
    public ImageFormat Format { get; }

    /// <summary>Upright width of the original image, in pixels.</summary>
    public int Width { get; }

    /// <summary>Upright height of the original image, in pixels.</summary>
    public int Height { get; }
}
