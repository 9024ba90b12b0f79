using Microsoft.Extensions.Options;
using SkiaSharp;

namespace VisualSearch.Imaging;

/// <summary>Turns encoded bytes into the fixed-size RGB input of an encoder.</summary>
public interface IImageDecoder
{
    /// <summary>
    /// Checks the limits on the header, then decodes, orients, resizes (shorter side to
    /// <paramref name="size"/>) and centre-crops. Throws <see cref="ImageRejectedException"/> for any bad input.
    /// </summary>
    PreparedImage Prepare(ReadOnlySpan<byte> encoded, int size);

    /// <summary>
    /// The input an encoder asks for (<see cref="ImageInput"/>): a centre crop as <see cref="Prepare(ReadOnlySpan{byte}, int)"/>,
    /// or the whole image with its aspect ratio kept. A decoder without whole-image support refuses the latter.
    /// </summary>
    PreparedImage Prepare(ReadOnlySpan<byte> encoded, ImageInput input) =>
        input.WholeImage
            ? throw new NotSupportedException($"{GetType().Name} prepares only centre crops.")
            : Prepare(encoded, input.Size);

    /// <summary>
    /// The inputs of several encoders (issue 14's category and copy encoders), in the order given, each exactly the pixels
    /// <see cref="Prepare(ReadOnlySpan{byte}, ImageInput)"/> gives it: from one decode where that is the decode each
    /// input's own Prepare would make (the common case), from another decode otherwise. A decoder without that support
    /// prepares each on its own.
    /// </summary>
    IReadOnlyList<PreparedImage> PrepareInputs(ReadOnlySpan<byte> encoded, IReadOnlyList<ImageInput> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var prepared = new PreparedImage[inputs.Count];
        for (var i = 0; i < inputs.Count; i++) prepared[i] = Prepare(encoded, inputs[i]);
        return prepared;
    }

    /// <summary>
    /// Several views of one image (<see cref="ImageView"/>, in the order given), decoded once where one decode serves
    /// them all. The <see cref="ImageViewKind.Input"/> view is always the pixels <see cref="Prepare(ReadOnlySpan{byte}, ImageInput)"/>
    /// gives. A decoder without view support prepares only Input and Mirror views.
    /// </summary>
    IReadOnlyList<PreparedImage> PrepareViews(ReadOnlySpan<byte> encoded, ImageInput input, IReadOnlyList<ImageView> views)
    {
        ArgumentNullException.ThrowIfNull(views);
        if (views.Any(v => v.Kind is not (ImageViewKind.Input or ImageViewKind.Mirror)))
            throw new NotSupportedException($"{GetType().Name} prepares only the input view and its mirror.");
        var prepared = Prepare(encoded, input);
        return [.. views.Select(v => v.Kind == ImageViewKind.Mirror ? ImageDecoder.Mirror(prepared) : prepared)];
    }
}

/// <summary>What an encoder takes: a <see cref="Size"/> x Size centre crop, or the whole image with its shorter side
/// <see cref="Size"/> and its longer side at most <see cref="MaxLongerSide"/> (aspect ratio kept), each side rounded to
/// a multiple of <see cref="SideMultiple"/> (a network's stride: a CNTK export's fixed pads need it).</summary>
public readonly record struct ImageInput(int Size, bool WholeImage = false, int MaxLongerSide = 0, int SideMultiple = 1)
{
    /// <summary>
    /// The pixel size a whole <paramref name="width"/> x <paramref name="height"/> image is scaled to: its aspect ratio
    /// kept to within the rounding to <see cref="SideMultiple"/>, each side at least SideMultiple (and 32 px, or Size when smaller).
    /// </summary>
    public (int Width, int Height) ScaledSize(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (!WholeImage) return (Size, Size);
        var scale = (double)Size / Math.Min(width, height);
        if (MaxLongerSide > 0 && Math.Max(width, height) * scale > MaxLongerSide) scale = (double)MaxLongerSide / Math.Max(width, height);
        // A very long strip keeps a few pixels across, so that the network's strided layers still have something to work on.
        var multiple = Math.Max(1, SideMultiple);
        var least = Math.Max(multiple, Math.Min(Size, 32));
        int Side(double pixels) => Math.Max(least, (int)Math.Round(pixels / multiple, MidpointRounding.AwayFromZero) * multiple);
        return (Side(width * scale), Side(height * scale));
    }
}

/// <summary>
/// One decoding path per format: SkiaSharp (libjpeg-turbo, libpng, libwebp, giflib-like, bmp) for all but
/// TIFF, which Skia lacks and ImageSharp 2.1 reads. JPEG is decoded at the smallest k/8 scale that keeps
/// the shorter side at or above the target, which is what makes large photos cheap; a large WebP through libwebp's
/// scaler. Whole decodes of more than Imaging:LargeDecodePixels run one at a time (PNG, GIF and BMP bombs within the
/// limits cost one bitmap at a time, not one per request).
/// </summary>
public sealed class ImageDecoder(IOptions<ImagingOptions> options) : IImageDecoder
{
    /// <summary>Whole decodes over Imaging:LargeDecodePixels run one at a time in the process (their bitmap is what costs memory).</summary>
    private static readonly SemaphoreSlim LargeDecodes = new(1, 1);

    private readonly ImagingOptions _options = options.Value;

    public PreparedImage Prepare(ReadOnlySpan<byte> encoded, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        // Smallest decode size whose shorter side still covers the target (JPEG: DCT scaling; WebP: libwebp's scaler).
        using var decoded = Decode(encoded, (scaled, full) => Covers(new ImageInput(size), scaled, full));
        return Render(decoded.Bitmap, decoded.Origin, decoded.Format, decoded.Width, decoded.Height, size);
    }

    public PreparedImage Prepare(ReadOnlySpan<byte> encoded, ImageInput input)
    {
        if (!input.WholeImage) return Prepare(encoded, input.Size);
        ArgumentOutOfRangeException.ThrowIfLessThan(input.Size, 1);
        // The smallest decode that still covers the scaled whole image (the longer side's cap can make it smaller than Size).
        using var decoded = Decode(encoded, (scaled, full) => Covers(input, scaled, full));
        return Render(decoded.Bitmap, decoded.Origin, decoded.Format, decoded.Width, decoded.Height, input);
    }

    public IReadOnlyList<PreparedImage> PrepareInputs(ReadOnlySpan<byte> encoded, IReadOnlyList<ImageInput> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) throw new ArgumentException("At least one input.", nameof(inputs));
        foreach (var input in inputs) ArgumentOutOfRangeException.ThrowIfLessThan(input.Size, 1, nameof(inputs));
        var results = new PreparedImage?[inputs.Count];
        // The decode Prepare makes for the first input. While its scale is chosen (smallest first), note the scale each
        // other input would choose on its own: where that is the same scale, this decode gives it exactly Prepare's pixels.
        var own = new SKSizeI?[inputs.Count];
        SKSizeI? chosen = null;
        using (var decoded = Decode(encoded, (scaled, full) =>
        {
            for (var i = 1; i < inputs.Count; i++) own[i] ??= Covers(inputs[i], scaled, full) ? scaled : null;
            if (!Covers(inputs[0], scaled, full)) return false;
            chosen = scaled;
            return true;
        }))
        {
            for (var i = 0; i < inputs.Count; i++)
                if (i == 0 || own[i] == chosen) results[i] = Render(decoded.Bitmap, decoded.Origin, decoded.Format, decoded.Width, decoded.Height, inputs[i]);
        }

        // An input whose own decode is another scale (rare: a panorama's capped whole image) is decoded again.
        for (var i = 1; i < inputs.Count; i++) results[i] ??= Prepare(encoded, inputs[i]);
        return [.. results.Select(r => r!)];
    }

    /// <summary>Whether a decode of <paramref name="scaled"/> pixels (of an image of <paramref name="full"/>) has enough for <paramref name="input"/>.</summary>
    private static bool Covers(ImageInput input, SKSizeI scaled, SKSizeI full)
    {
        if (!input.WholeImage) return Math.Min(scaled.Width, scaled.Height) >= input.Size;
        var (w, h) = input.ScaledSize(full.Width, full.Height);
        return scaled.Width >= w && scaled.Height >= h;
    }

    public IReadOnlyList<PreparedImage> PrepareViews(ReadOnlySpan<byte> encoded, ImageInput input, IReadOnlyList<ImageView> views)
    {
        ArgumentNullException.ThrowIfNull(views);
        if (views.Count == 0) throw new ArgumentException("At least one view.", nameof(views));
        foreach (var view in views) view.Validate();
        var results = new PreparedImage?[views.Count];
        // The input view (and its mirror) from exactly the decode Prepare makes, so it is the pixels a search without views embeds.
        if (views.Any(v => v.Kind is ImageViewKind.Input or ImageViewKind.Mirror))
        {
            var prepared = Prepare(encoded, input);
            for (var i = 0; i < views.Count; i++)
                if (views[i].Kind is ImageViewKind.Input or ImageViewKind.Mirror) results[i] = views[i].Kind == ImageViewKind.Mirror ? Mirror(prepared) : prepared;
        }

        // The other views from one decode that covers them all (a second decode of the file when the input view had one).
        var rest = views.Where(v => v.Kind is ImageViewKind.Squash or ImageViewKind.Zoom).ToList();
        if (rest.Count > 0)
        {
            using var decoded = Decode(encoded, (scaled, full) => rest.All(v => v.IsCoveredBy(input, (scaled.Width, scaled.Height), (full.Width, full.Height))));
            for (var i = 0; i < views.Count; i++)
                if (views[i].Kind is ImageViewKind.Squash or ImageViewKind.Zoom) results[i] = Render(decoded.Bitmap, decoded.Origin, decoded.Format, decoded.Width, decoded.Height, input, views[i]);
        }

        return [.. results.Select(r => r!)];
    }

    /// <summary>The image mirrored left to right (each row's pixels in reverse order).</summary>
    public static PreparedImage Mirror(PreparedImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var rgb = new byte[image.Rgb.Length];
        var row = image.PixelWidth * 3;
        for (var y = 0; y < image.PixelHeight; y++)
        {
            var offset = y * row;
            for (var x = 0; x < image.PixelWidth; x++)
                image.Rgb.AsSpan(offset + x * 3, 3).CopyTo(rgb.AsSpan(offset + (image.PixelWidth - 1 - x) * 3, 3));
        }

        return new PreparedImage(rgb, image.PixelWidth, image.PixelHeight, image.Format, image.Width, image.Height);
    }

    internal void CheckDimensions(int width, int height)
    {
        if (width <= 0 || height <= 0)
            throw new ImageRejectedException(ImageRejectionReason.Corrupt, $"The header declares an empty image ({width}x{height}).");
        if (width > _options.MaxSide || height > _options.MaxSide || (long)width * height > _options.MaxPixels)
            throw new ImageRejectedException(ImageRejectionReason.TooManyPixels,
                $"The image declares {width}x{height} pixels; the limits are {_options.MaxPixels} pixels and {_options.MaxSide} per side.");
    }

    /// <summary>
    /// The one decoding path (the encoder's input and the thumbnails): empty and size checks, the format from
    /// the first bytes, the header's dimensions against the limits before any pixel is decoded, a JPEG without
    /// its end marker refused, then the pixels. A JPEG (Imaging:ScaledJpegDecode) is decoded at the smallest k/8 scale
    /// that <paramref name="covers"/> accepts (scaled size, full size), a WebP (Imaging:SampledDecode) at the smallest
    /// k/8 of at most 1/2 whose half still covers; null decodes whole. A whole decode over Imaging:LargeDecodePixels
    /// waits its turn, held until the result is disposed. The bitmap is immutable. TIFF comes back upright; the
    /// others with their EXIF origin. The caller disposes the result.
    /// </summary>
    internal DecodedImage Decode(ReadOnlySpan<byte> encoded, Func<SKSizeI, SKSizeI, bool>? covers)
    {
        if (encoded.IsEmpty) throw new ImageRejectedException(ImageRejectionReason.Empty, "The image has no bytes.");
        if (encoded.Length > _options.MaxBytes)
            throw new ImageRejectedException(ImageRejectionReason.TooLarge, $"The image is {encoded.Length} bytes; the limit is {_options.MaxBytes}.");

        var format = ImageFormats.Detect(encoded);
        switch (format)
        {
            case ImageFormat.Unknown:
                throw new ImageRejectedException(ImageRejectionReason.UnsupportedFormat,
                    "Not a supported image (JPEG, PNG, WebP, GIF, BMP or TIFF), judged by its first bytes.");
            case ImageFormat.Tiff:
                var upright = TiffDecoder.DecodeUpright(encoded.ToArray(), this);
                upright.SetImmutable();
                return new DecodedImage(upright, SKEncodedOrigin.TopLeft, format, upright.Width, upright.Height);
            default:
                return DecodeWithSkia(encoded, format, covers);
        }
    }

    private unsafe DecodedImage DecodeWithSkia(ReadOnlySpan<byte> encoded, ImageFormat format, Func<SKSizeI, SKSizeI, bool>? covers)
    {
        // Skia reads the caller's bytes where they are (pinned until the pixels are decoded) instead of a copy of the
        // file in native memory (2.7 MB for a 12 MP photo: a copy and its page faults per image).
        fixed (byte* bytes = encoded)
        {
            using var data = SKData.Create((IntPtr)bytes, encoded.Length);
            return DecodeWithSkia(data, encoded, format, covers);
        }
    }

    private DecodedImage DecodeWithSkia(SKData data, ReadOnlySpan<byte> encoded, ImageFormat format, Func<SKSizeI, SKSizeI, bool>? covers)
    {
        using var codec = SKCodec.Create(new SKMemoryStream(data), out var createResult);
        if (codec is null)
        {
            var reason = createResult == SKCodecResult.IncompleteInput ? ImageRejectionReason.Truncated : ImageRejectionReason.Corrupt;
            throw new ImageRejectedException(reason, $"The {format} header could not be read ({createResult}).");
        }

        var info = codec.Info;
        CheckDimensions(info.Width, info.Height);
        if (format == ImageFormat.Jpeg && !HasJpegEndMarker(encoded))
            throw new ImageRejectedException(ImageRejectionReason.Truncated, "The JPEG has no end-of-image marker: the file was cut short.");

        var full = new SKSizeI(info.Width, info.Height);
        var decodeSize = full;
        if (format == ImageFormat.Jpeg && _options.ScaledJpegDecode && covers is not null)
        {
            for (var k = 1; k <= 8; k++)
            {
                var scaled = codec.GetScaledDimensions(k / 8f);
                if (covers(scaled, full)) { decodeSize = scaled; break; }
            }
        }
        else if (format == ImageFormat.WebP && _options.SampledDecode && covers is not null)
        {
            // libwebp scales while it decodes, row by row: memory follows the output. Only a decode at half the size
            // or less, and still twice what covers the target, so the scaler's coarse sampling does not show.
            for (var k = 1; k <= 4; k++)
            {
                var scaled = codec.GetScaledDimensions(k / 8f);
                if (covers(new SKSizeI(scaled.Width / 2, scaled.Height / 2), full)) { decodeSize = scaled; break; }
            }
        }

        // PNG, GIF and BMP cannot be decoded scaled or row by row through SkiaSharp (StartScanlineDecode answers
        // Unimplemented for PNG in 3.119): a large one is decoded whole, one at a time in the process, and the
        // turn is held until the caller disposes the decoded image (its bitmap is what costs memory).
        var large = _options.LargeDecodePixels > 0 && (long)decodeSize.Width * decodeSize.Height > _options.LargeDecodePixels;
        if (large) LargeDecodes.Wait();
        SKBitmap? bitmap = null;
        try
        {
            var decodeInfo = new SKImageInfo(decodeSize.Width, decodeSize.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
            bitmap = new SKBitmap(decodeInfo);
            var result = codec.GetPixels(decodeInfo, bitmap.GetPixels());
            switch (result)
            {
                case SKCodecResult.Success:
                    // Immutable: an SKImage drawn from it shares the pixels instead of copying them (a 100 MP decode is 400 MB).
                    bitmap.SetImmutable();
                    return new DecodedImage(bitmap, codec.EncodedOrigin, format, info.Width, info.Height, large ? LargeDecodes : null);
                case SKCodecResult.IncompleteInput:
                    throw new ImageRejectedException(ImageRejectionReason.Truncated, $"The {format} data ends before the image does.");
                default:
                    throw new ImageRejectedException(ImageRejectionReason.Corrupt, $"The {format} pixel data could not be decoded ({result}).");
            }
        }
        catch
        {
            bitmap?.Dispose();
            if (large) LargeDecodes.Release();
            throw;
        }
    }

    /// <summary>A complete JPEG ends with FFD9 (allowing trailing padding some cameras add).</summary>
    internal static bool HasJpegEndMarker(ReadOnlySpan<byte> encoded)
    {
        var tail = encoded[Math.Max(0, encoded.Length - 4096)..];
        return tail.LastIndexOf((ReadOnlySpan<byte>)[0xFF, 0xD9]) >= 0;
    }

    /// <summary>Orients, scales the shorter side to <paramref name="size"/>, centre-crops, flattens on white.</summary>
    internal static PreparedImage Render(SKBitmap source, SKEncodedOrigin origin, ImageFormat format, int originalWidth, int originalHeight, int size) =>
        Render(source, origin, format, originalWidth, originalHeight, new ImageInput(size));

    /// <summary>Orients, scales (a centre crop of the shorter side, or the whole image to its scaled size), flattens on white.</summary>
    internal static PreparedImage Render(SKBitmap source, SKEncodedOrigin origin, ImageFormat format, int originalWidth, int originalHeight, ImageInput input) =>
        Render(source, origin, format, originalWidth, originalHeight, input, ImageView.Input);

    /// <summary>Orients, scales and crops as <paramref name="view"/>'s geometry says (<see cref="ImageView.Geometry"/>), flattens on white.</summary>
    internal static PreparedImage Render(SKBitmap source, SKEncodedOrigin origin, ImageFormat format, int originalWidth, int originalHeight, ImageInput input, ImageView view)
    {
        var swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        float w = source.Width, h = source.Height;
        var (uprightW, uprightH) = swap ? (h, w) : (w, h);
        var (outW, outH, scaleX, scaleY, cropX, cropY) = view.Geometry(input, uprightW, uprightH);
        var scale = Math.Min(scaleX, scaleY);
        var matrix = SKMatrix.CreateTranslation(-cropX, -cropY)
            .PreConcat(SKMatrix.CreateScale(scaleX, scaleY))
            .PreConcat(OrientationMatrix(origin, w, h));

        var (width, height) = swap ? (originalHeight, originalWidth) : (originalWidth, originalHeight);
        var rgb = new byte[outW * outH * 3];
        // The common downscale (an upright decode onto a crop it covers) with Skia's arithmetic in C#: the same bytes, faster.
        if (scale < 1f && MipmapResampler.TryRender(source, matrix, outW, outH, rgb))
            return new PreparedImage(rgb, outW, outH, format, width, height);

        var outInfo = new SKImageInfo(outW, outH, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var target = new SKBitmap(outInfo);
        // Immutable: the image shares the bitmap's pixels instead of copying them (a 100 MP decode is 400 MB).
        source.SetImmutable();
        using (var canvas = new SKCanvas(target))
        using (var image = SKImage.FromBitmap(source))
        {
            canvas.Clear(SKColors.White);
            canvas.SetMatrix(matrix);
            var sampling = scale < 1f
                ? new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)
                : new SKSamplingOptions(SKCubicResampler.Mitchell);
            canvas.DrawImage(image, 0, 0, sampling);
        }

        RgbaToRgb(target.GetPixelSpan(), rgb);
        return new PreparedImage(rgb, outW, outH, format, width, height);
    }

    /// <summary>A prepared whole image at another pixel size (linear, mipmapped: the second size of a multi-scale descriptor).</summary>
    public static PreparedImage Rescale(PreparedImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        using var source = new SKBitmap(new SKImageInfo(image.PixelWidth, image.PixelHeight, SKColorType.Rgba8888, SKAlphaType.Opaque));
        RgbToRgba(image.Rgb, source.GetPixelSpan());

        using var scaled = source.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidOperationException("Skia could not resize the image.");
        var rgb = new byte[width * height * 3];
        RgbaToRgb(scaled.GetPixelSpan(), rgb);
        return new PreparedImage(rgb, width, height, image.Format, image.Width, image.Height);
    }

    /// <summary>Adds an opaque alpha byte to every RGB pixel.</summary>
    public static void RgbToRgba(ReadOnlySpan<byte> rgb, Span<byte> rgba)
    {
        if (rgba.Length / 4 != rgb.Length / 3) throw new ArgumentException("The RGBA buffer does not hold as many pixels as the RGB one.", nameof(rgba));
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
        {
            rgba[i] = rgb[j];
            rgba[i + 1] = rgb[j + 1];
            rgba[i + 2] = rgb[j + 2];
            rgba[i + 3] = 255;
        }
    }

    /// <summary>Drops the alpha byte of every RGBA pixel (a per-pixel loop: compiled optimised from its first call).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void RgbaToRgb(ReadOnlySpan<byte> rgba, Span<byte> rgb)
    {
        if (rgba.Length / 4 != rgb.Length / 3) throw new ArgumentException("The RGB buffer does not hold as many pixels as the RGBA one.", nameof(rgb));
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i];
            rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
        }
    }

    /// <summary>Maps stored pixel coordinates to upright ones for each EXIF orientation.</summary>
    public static SKMatrix OrientationMatrix(SKEncodedOrigin origin, float w, float h) => origin switch
    {
        SKEncodedOrigin.TopRight => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1),
        SKEncodedOrigin.BottomRight => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1),
        SKEncodedOrigin.BottomLeft => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1),
        SKEncodedOrigin.LeftTop => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1),
        SKEncodedOrigin.RightTop => new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1),
        SKEncodedOrigin.RightBottom => new SKMatrix(0, -1, h, -1, 0, w, 0, 0, 1),
        SKEncodedOrigin.LeftBottom => new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1),
        _ => SKMatrix.Identity,
    };
}

/// <summary>Decoded pixels (owned: dispose), their EXIF origin, and the stored image's size.</summary>
internal readonly record struct DecodedImage(SKBitmap Bitmap, SKEncodedOrigin Origin, ImageFormat Format, int Width, int Height, SemaphoreSlim? LargeDecodeTurn = null) : IDisposable
{
    /// <summary>Frees the bitmap, then gives the large-decode turn (if this decode held it) to the next one.</summary>
    public void Dispose()
    {
        Bitmap.Dispose();
        LargeDecodeTurn?.Release();
    }
}
