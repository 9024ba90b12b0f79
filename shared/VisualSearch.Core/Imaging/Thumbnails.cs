using Microsoft.Extensions.Options;
using SkiaSharp;

namespace VisualSearch.Imaging;

/// <summary>
/// Display thumbnails: a pure function from encoded bytes to a JPEG whose longer side is at most the asked
/// size, upright (EXIF orientation applied), flattened on white, never enlarged. The decoder's limits are
/// checked on the header before any pixel is decoded, and bad input is one <see cref="ImageRejectedException"/>.
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
        if (encoded.IsEmpty) throw new ImageRejectedException(ImageRejectionReason.Empty, "The image has no bytes.");
        if (encoded.Length > limits.MaxBytes)
            throw new ImageRejectedException(ImageRejectionReason.TooLarge, $"The image is {encoded.Length} bytes; the limit is {limits.MaxBytes}.");

        var checker = new ImageDecoder(Options.Create(limits));
        var format = ImageFormats.Detect(encoded);
        switch (format)
        {
            case ImageFormat.Unknown:
                throw new ImageRejectedException(ImageRejectionReason.UnsupportedFormat,
                    "Not a supported image (JPEG, PNG, WebP, GIF, BMP or TIFF), judged by its first bytes.");
            case ImageFormat.Tiff:
                using (var upright = TiffDecoder.DecodeUpright(encoded.ToArray(), checker))
                    return Encode(upright, SKEncodedOrigin.TopLeft, maxSide, quality);
            default:
                return FromSkia(encoded, format, maxSide, quality, checker);
        }
    }

    private static byte[] FromSkia(ReadOnlySpan<byte> encoded, ImageFormat format, int maxSide, int quality, ImageDecoder checker)
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(new SKMemoryStream(data), out var createResult);
        if (codec is null)
        {
            var reason = createResult == SKCodecResult.IncompleteInput ? ImageRejectionReason.Truncated : ImageRejectionReason.Corrupt;
            throw new ImageRejectedException(reason, $"The {format} header could not be read ({createResult}).");
        }

        var info = codec.Info;
        checker.CheckDimensions(info.Width, info.Height);
        if (format == ImageFormat.Jpeg && !ImageDecoder.HasJpegEndMarker(encoded))
            throw new ImageRejectedException(ImageRejectionReason.Truncated, "The JPEG has no end-of-image marker: the file was cut short.");

        // JPEG: decode at the smallest k/8 scale whose longer side still covers the thumbnail.
        var decodeSize = new SKSizeI(info.Width, info.Height);
        if (format == ImageFormat.Jpeg)
        {
            for (var k = 1; k <= 8; k++)
            {
                var scaled = codec.GetScaledDimensions(k / 8f);
                if (Math.Max(scaled.Width, scaled.Height) >= Math.Min(maxSide, Math.Max(info.Width, info.Height))) { decodeSize = scaled; break; }
            }
        }

        var decodeInfo = new SKImageInfo(decodeSize.Width, decodeSize.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap(decodeInfo);
        var result = codec.GetPixels(decodeInfo, bitmap.GetPixels());
        switch (result)
        {
            case SKCodecResult.Success:
                break;
            case SKCodecResult.IncompleteInput:
                throw new ImageRejectedException(ImageRejectionReason.Truncated, $"The {format} data ends before the image does.");
            default:
                throw new ImageRejectedException(ImageRejectionReason.Corrupt, $"The {format} pixel data could not be decoded ({result}).");
        }

        return Encode(bitmap, codec.EncodedOrigin, maxSide, quality);
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
