using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using SkiaSharp;

namespace VisualSearch.Imaging;

/// <summary>TIFF, which Skia cannot read, through ImageSharp 2.1 (Apache-2.0), with the same header-first limits.</summary>
internal static class TiffDecoder
{
    private static readonly Configuration TiffOnly = new(new TiffConfigurationModule());

    /// <summary>Checks the header against the limits, decodes, applies the orientation; the caller disposes the bitmap.</summary>
    public static SKBitmap DecodeUpright(byte[] bytes, ImageDecoder limits)
    {
        IImageInfo? info;
        try
        {
            info = Image.Identify(TiffOnly, new MemoryStream(bytes, writable: false));
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            throw new ImageRejectedException(ImageRejectionReason.Corrupt, "The TIFF header could not be read.", ex);
        }

        if (info is null) throw new ImageRejectedException(ImageRejectionReason.Corrupt, "The TIFF header could not be read.");
        limits.CheckDimensions(info.Width, info.Height);

        Image<Rgba32> image;
        try
        {
            image = Image.Load<Rgba32>(TiffOnly, new MemoryStream(bytes, writable: false));
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            throw new ImageRejectedException(ImageRejectionReason.Corrupt, "The TIFF pixel data could not be decoded.", ex);
        }

        using (image)
        {
            image.Mutate(x => x.AutoOrient());
            var pixels = new byte[image.Width * image.Height * 4];
            image.CopyPixelDataTo(pixels);
            var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
            return bitmap;
        }
    }

    /// <summary>
    /// What ImageSharp 2.1 throws on malformed TIFF input: besides its own types, plain runtime exceptions
    /// from its parser (e.g. InvalidOperationException "Sequence contains no elements" for an IFD-less file).
    /// </summary>
    private static bool IsDecodeFailure(Exception ex) =>
        ex is ImageFormatException or InvalidImageContentException or NotSupportedException or UnknownImageFormatException
            or InvalidOperationException or IndexOutOfRangeException or ArgumentException or EndOfStreamException or OverflowException;
}
