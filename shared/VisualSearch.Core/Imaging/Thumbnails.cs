using Microsoft.Extensions.Options;
using SkiaSharp;

namespace VisualSearch.Imaging;

/// <summary>
/// Display thumbnails: a pure function from encoded bytes to a JPEG whose longer side is at most the asked
/// size, upright (EXIF orientation applied), flattened on white, never enlarged. Decoding is the decoder's
/// (<see cref="ImageDecoder"/>): its limits are checked on the header before any pixel is decoded, and bad input
/// is one <see cref="ImageRejectedException"/>.
/// </summary>
public static class Thumbnails
{
    public const int DefaultQuality = 80;

    public static byte[] Create(ReadOnlySpan<byte> encoded, int maxSide, ImagingOptions limits, int quality = DefaultQuality)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSide, 1);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        // JPEG: decode at the smallest k/8 scale whose longer side still covers the thumbnail.
        var decoder = new ImageDecoder(Options.Create(limits));
        using var decoded = decoder.Decode(encoded,
            (scaled, full) => Math.Max(scaled.Width, scaled.Height) >= Math.Min(maxSide, Math.Max(full.Width, full.Height)));
        return Encode(decoded.Bitmap, decoded.Origin, maxSide, quality);
    }

    /// <summary>Orients, scales the longer side down to <paramref name="maxSide"/> (never up), flattens on white, encodes JPEG.</summary>
    private static byte[] Encode(SKBitmap source, SKEncodedOrigin origin, int maxSide, int quality)
    {
        var swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        float w = source.Width, h = source.Height;
        var (uprightW, uprightH) = swap ? (h, w) : (w, h);
        var scale = Math.Min(1f, maxSide / Math.Max(uprightW, uprightH));
        var outW = Math.Max(1, (int)MathF.Round(uprightW * scale));
        var outH = Math.Max(1, (int)MathF.Round(uprightH * scale));

        var matrix = SKMatrix.CreateScale(outW / uprightW, outH / uprightH).PreConcat(ImageDecoder.OrientationMatrix(origin, w, h));
        var info = new SKImageInfo(outW, outH, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var surface = SKSurface.Create(info) ?? throw new InvalidOperationException($"Could not allocate a {outW}x{outH} surface.");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        canvas.SetMatrix(matrix);
        using (var image = SKImage.FromBitmap(source))
            canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        canvas.Flush();

        using var snapshot = surface.Snapshot();
        using var jpeg = snapshot.Encode(SKEncodedImageFormat.Jpeg, quality) ?? throw new InvalidOperationException("JPEG encoding failed.");
        return jpeg.ToArray();
    }
}
