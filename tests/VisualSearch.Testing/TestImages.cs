using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SkiaSharp;
using VisualSearch.Imaging;

namespace VisualSearch.Testing;

/// <summary>
/// Deterministic synthetic "photos", edits of the sample photos and hand-built encoded files. Skia encodes PNG,
/// JPEG and WebP; ImageSharp (referenced by Core) encodes GIF, BMP and TIFF, which Skia cannot write.
/// </summary>
public static class TestImages
{
    /// <summary>The 8-byte PNG signature (not a u8 string: "\x89" there would be the two UTF-8 bytes C2 89).</summary>
    public static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>An opaque image from a seed: two gradients, a dozen coloured shapes and a little noise.</summary>
    public static SKBitmap Render(int seed, int width, int height)
    {
        var random = new Random(seed);
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);

        using (var background = new SKPaint())
        {
            background.Shader = SKShader.CreateLinearGradient(
                new SKPoint(0, 0),
                new SKPoint(width * (float)random.NextDouble(), height),
                [RandomColor(random), RandomColor(random), RandomColor(random)],
                SKShaderTileMode.Clamp);
            canvas.DrawRect(0, 0, width, height, background);
        }

        using (var glow = new SKPaint())
        {
            var centre = new SKPoint(width * (float)random.NextDouble(), height * (float)random.NextDouble());
            glow.Shader = SKShader.CreateRadialGradient(centre, Math.Max(width, height) / 2f,
                [RandomColor(random).WithAlpha(200), SKColors.Transparent], SKShaderTileMode.Clamp);
            canvas.DrawRect(0, 0, width, height, glow);
        }

        using var paint = new SKPaint { IsAntialias = true };
        for (var i = 0; i < 12; i++)
        {
            paint.Color = RandomColor(random);
            paint.Style = random.Next(4) == 0 ? SKPaintStyle.Stroke : SKPaintStyle.Fill;
            paint.StrokeWidth = 2 + random.Next(8);
            var x = width * (float)random.NextDouble();
            var y = height * (float)random.NextDouble();
            var r = Math.Min(width, height) * (0.05f + 0.2f * (float)random.NextDouble());
            switch (random.Next(3))
            {
                case 0:
                    canvas.DrawCircle(x, y, r, paint);
                    break;
                case 1:
                    canvas.DrawRect(x - r, y - r * 0.6f, 2 * r, 1.2f * r, paint);
                    break;
                default:
                    DrawTriangle(canvas, x, y, r, paint);
                    break;
            }
        }

        canvas.Flush();
        var pixels = bitmap.GetPixelSpan().ToArray();
        var noise = new byte[width * height];
        random.NextBytes(noise);
        for (var p = 0; p < noise.Length; p++)
        {
            var delta = (noise[p] % 13) - 6;
            for (var c = 0; c < 3; c++) pixels[p * 4 + c] = (byte)Math.Clamp(pixels[p * 4 + c] + delta, 0, 255);
        }

        Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        return bitmap;
    }

    /// <summary>A synthetic photo encoded in one format.</summary>
    public static byte[] Photo(int seed, int width, int height, ImageFormat format, int quality = 90)
    {
        using var bitmap = Render(seed, width, height);
        return Encode(bitmap, format, quality);
    }

    /// <summary>A PNG of <paramref name="background"/> with filled, axis-aligned rectangles drawn over it in order
    /// (geometry tests: which pixels a crop, view or scale keeps).</summary>
    public static byte[] Rectangles(int width, int height, SKColor background, params (SKRect Rect, SKColor Colour)[] rectangles)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(background);
            using var paint = new SKPaint();
            foreach (var (rect, colour) in rectangles)
            {
                paint.Color = colour;
                canvas.DrawRect(rect, paint);
            }
        }

        return Encode(bitmap, ImageFormat.Png);
    }

    /// <summary>
    /// The <paramref name="from"/> rectangle of <paramref name="source"/> scaled to a <paramref name="side"/> px square, through
    /// a circular mask on white (antialiased), encoded: a detail as eval-copies' <c>partial-circ</c> edit cuts it. With
    /// <paramref name="whiteFrom"/> below 1 the picture is white right of that share of the side (a detail of a cut-out on white).
    /// </summary>
    public static byte[] CircularDetail(SKBitmap source, SKRect from, int side, ImageFormat format = ImageFormat.Jpeg, int quality = 95, float whiteFrom = 1)
    {
        ArgumentNullException.ThrowIfNull(source);
        using var detail = new SKBitmap(new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(detail))
        {
            canvas.Clear(SKColors.White);
            using var path = new SKPath();
            path.AddCircle(side / 2f, side / 2f, side / 2f);
            canvas.ClipPath(path, antialias: true);
            canvas.DrawBitmap(source, from, new SKRect(0, 0, side, side));
            using var white = new SKPaint { Color = SKColors.White };
            canvas.DrawRect(side * whiteFrom, 0, side, side, white);
        }

        return Encode(detail, format, quality);
    }

    public static byte[] Encode(SKBitmap bitmap, ImageFormat format, int quality = 90)
    {
        switch (format)
        {
            case ImageFormat.Png:
                return EncodeSkia(bitmap, SKEncodedImageFormat.Png, 100);
            case ImageFormat.Jpeg:
                return EncodeSkia(bitmap, SKEncodedImageFormat.Jpeg, quality);
            case ImageFormat.WebP:
                return EncodeSkia(bitmap, SKEncodedImageFormat.Webp, quality);
            case ImageFormat.Gif or ImageFormat.Bmp or ImageFormat.Tiff:
                using (var image = ToImageSharp(bitmap))
                using (var stream = new MemoryStream())
                {
                    if (format == ImageFormat.Gif) image.SaveAsGif(stream);
                    else if (format == ImageFormat.Bmp) image.SaveAsBmp(stream);
                    else image.SaveAsTiff(stream);
                    return stream.ToArray();
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, "No encoder for this format.");
        }
    }

    /// <summary>Copies a bitmap into an unpremultiplied RGBA8888 ImageSharp image.</summary>
    public static Image<Rgba32> ToImageSharp(SKBitmap bitmap)
    {
        var info = new SKImageInfo(bitmap.Width, bitmap.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var copy = new SKBitmap(info);
        if (!bitmap.ScalePixels(copy, new SKSamplingOptions(SKFilterMode.Nearest)))
            throw new InvalidOperationException("Could not convert the bitmap to RGBA8888.");
        return Image.LoadPixelData<Rgba32>(copy.GetPixelSpan().ToArray(), bitmap.Width, bitmap.Height);
    }

    private static byte[] EncodeSkia(SKBitmap bitmap, SKEncodedImageFormat format, int quality)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality)
            ?? throw new InvalidOperationException($"Skia could not encode {format}.");
        return data.ToArray();
    }

    /// <summary>Decodes with Skia (for edits of the sample photos; not the code under test).</summary>
    public static SKBitmap DecodeBitmap(byte[] encoded) =>
        SKBitmap.Decode(encoded) ?? throw new InvalidOperationException("Skia could not decode a fixture.");

    /// <summary>The central <paramref name="fraction"/> of a bitmap.</summary>
    public static SKBitmap CropCentre(SKBitmap source, double fraction)
    {
        var w = (int)Math.Round(source.Width * fraction);
        var h = (int)Math.Round(source.Height * fraction);
        var x = (source.Width - w) / 2;
        var y = (source.Height - h) / 2;
        var result = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(result);
        canvas.DrawBitmap(source, new SKRect(x, y, x + w, y + h), new SKRect(0, 0, w, h));
        return result;
    }

    public static SKBitmap Resize(SKBitmap source, int width, int height) =>
        source.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
        ?? throw new InvalidOperationException("Skia could not resize a fixture.");

    /// <summary>
    /// The bitmap as a JPEG stores an upright image under EXIF orientation 6 (RightTop, "rotate 90° clockwise
    /// to display"): stored row r is upright column W-1-r, stored column c is upright row c.
    /// </summary>
    public static SKBitmap StoreForOrientation6(SKBitmap upright)
    {
        int w = upright.Width, h = upright.Height;
        var stored = new SKBitmap(new SKImageInfo(h, w, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (var r = 0; r < w; r++)
        {
            for (var c = 0; c < h; c++) stored.SetPixel(c, r, upright.GetPixel(w - 1 - r, c));
        }

        return stored;
    }

    /// <summary>Inserts, right after SOI, an APP1 Exif segment whose IFD0 holds one entry: Orientation (0x0112) = value.</summary>
    public static byte[] WithExifOrientation(byte[] jpeg, ushort orientation)
    {
        if (jpeg.Length < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) throw new ArgumentException("Not a JPEG.", nameof(jpeg));
        var tiff = new byte[8 + 2 + 12 + 4];
        "MM\0*"u8.CopyTo(tiff);                                        // big-endian TIFF header
        BinaryPrimitives.WriteUInt32BigEndian(tiff.AsSpan(4), 8);      // IFD0 right after the header
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(8), 1);      // one entry
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(10), 0x0112); // Orientation
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(12), 3);     // SHORT
        BinaryPrimitives.WriteUInt32BigEndian(tiff.AsSpan(14), 1);     // count
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(18), orientation); // value, left-justified in 4 bytes
        // next-IFD offset 0 (already zero)

        var exif = "Exif\0\0"u8;
        var segmentLength = 2 + exif.Length + tiff.Length;
        using var output = new MemoryStream();
        output.Write(jpeg, 0, 2);
        output.Write([0xFF, 0xE1, (byte)(segmentLength >> 8), (byte)segmentLength]);
        output.Write(exif);
        output.Write(tiff);
        output.Write(jpeg, 2, jpeg.Length - 2);
        return output.ToArray();
    }

    /// <summary>
    /// A well-formed PNG whose IHDR declares <paramref name="width"/> x <paramref name="height"/> (8-bit RGB),
    /// followed by a tiny IDAT (one compressed empty row) and IEND, all with valid CRCs.
    /// </summary>
    public static byte[] PngWithHeader(int width, int height)
    {
        using var output = new MemoryStream();
        output.Write(PngSignature);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type RGB
        WritePngChunk(output, "IHDR", ihdr);

        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
                zlib.Write(new byte[1 + Math.Min(width, 4096) * 3]);
            WritePngChunk(output, "IDAT", compressed.ToArray());
        }

        WritePngChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>Writes one PNG chunk: length, type, data and the CRC of type and data.</summary>
    /// <summary>A valid 8-bit RGB PNG of zeros, compressed row by row (never the whole raw image in memory).</summary>
    public static byte[] ZeroPng(int width, int height)
    {
        using var idat = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[1 + width * 3];
            for (var y = 0; y < height; y++) zlib.Write(row);
        }

        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = 2;
        using var png = new MemoryStream();
        png.Write(PngSignature);
        WritePngChunk(png, "IHDR", ihdr);
        WritePngChunk(png, "IDAT", idat.ToArray());
        WritePngChunk(png, "IEND", []);
        return png.ToArray();
    }

    public static void WritePngChunk(Stream output, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typeAndData = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type, typeAndData);
        data.CopyTo(typeAndData, 4);
        output.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, PngCrc(typeAndData));
        output.Write(word);
    }

    /// <summary>CRC-32 as PNG chunks use it (ISO 3309, the same as zlib's).</summary>
    public static uint PngCrc(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }

        return ~crc;
    }

    /// <summary>Mean absolute difference of two equal-length byte buffers.</summary>
    public static double MeanAbsDiff(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("Lengths differ.");
        long sum = 0;
        for (var i = 0; i < a.Length; i++) sum += Math.Abs(a[i] - b[i]);
        return (double)sum / a.Length;
    }

    /// <summary>
    /// A near-duplicate of a photo as a user would re-upload it: centre crop to 80% of each side, half
    /// the size, re-encoded as JPEG at quality 30.
    /// </summary>
    public static byte[] EditedCopy(byte[] original)
    {
        using var source = SKBitmap.Decode(original) ?? throw new InvalidOperationException("The fixture is not decodable.");
        var cropW = (int)(source.Width * 0.8);
        var cropH = (int)(source.Height * 0.8);
        var crop = SKRectI.Create((source.Width - cropW) / 2, (source.Height - cropH) / 2, cropW, cropH);
        var info = new SKImageInfo(Math.Max(1, cropW / 2), Math.Max(1, cropH / 2), SKColorType.Rgba8888, SKAlphaType.Premul);
        using var surface = SKSurface.Create(info);
        using (var image = SKImage.FromBitmap(source))
        {
            surface.Canvas.Clear(SKColors.White);
            surface.Canvas.DrawImage(image, crop, SKRect.Create(info.Width, info.Height), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear), null);
        }

        using var snapshot = surface.Snapshot();
        using var data = snapshot.Encode(SKEncodedImageFormat.Jpeg, 30);
        return data.ToArray();
    }

    /// <summary>Deterministic synthetic picture: a gradient background with coloured shapes, from a seed.</summary>
    public static byte[] Synthetic(int seed, int width = 320, int height = 240, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 90)
    {
        var random = new Random(seed);
        SKColor RandomColor() => new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var surface = SKSurface.Create(info);
        var canvas = surface.Canvas;
        using (var background = new SKPaint())
        {
            background.Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(width, height), [RandomColor(), RandomColor()], SKShaderTileMode.Clamp);
            canvas.DrawRect(0, 0, width, height, background);
        }

        using var paint = new SKPaint { IsAntialias = true };
        for (var i = 0; i < 6; i++)
        {
            paint.Color = RandomColor();
            float x = random.Next(width), y = random.Next(height), r = random.Next(10, Math.Max(11, Math.Min(width, height) / 3));
            switch (i % 3)
            {
                case 0: canvas.DrawCircle(x, y, r, paint); break;
                case 1: canvas.DrawRect(x - r, y - r / 2, 2 * r, r, paint); break;
                default:
                    DrawTriangle(canvas, x, y, r, paint);
                    break;
            }
        }

        using var snapshot = surface.Snapshot();
        using var data = snapshot.Encode(format, quality);
        return data.ToArray();
    }

    /// <summary>The first 60% of a JPEG: a valid header, no end-of-image marker.</summary>
    public static byte[] TruncatedJpeg()
    {
        var jpeg = Synthetic(7, 640, 480, SKEncodedImageFormat.Jpeg);
        return jpeg[..(jpeg.Length * 6 / 10)];
    }

    /// <summary>Deterministic bytes that are no image format.</summary>
    public static byte[] RandomBytes(int length, int seed = 42)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 0x00; // not a JPEG/PNG/GIF/BMP/TIFF/WebP signature
        return bytes;
    }

    /// <summary>Width and height of an encoded image, read from its header.</summary>
    public static (int Width, int Height) Size(byte[] encoded)
    {
        using var codec = SKCodec.Create(new SKMemoryStream(encoded)) ?? throw new InvalidOperationException("Not decodable.");
        return (codec.Info.Width, codec.Info.Height);
    }

    /// <summary>A filled isosceles triangle: apex at (x, y - r), base from (x - r, y + r) to (x + r, y + r).</summary>
    public static void DrawTriangle(SKCanvas canvas, float x, float y, float r, SKPaint paint)
    {
        using var path = new SKPath();
        path.MoveTo(x, y - r);
        path.LineTo(x + r, y + r);
        path.LineTo(x - r, y + r);
        path.Close();
        canvas.DrawPath(path, paint);
    }

    private static SKColor RandomColor(Random random) =>
        new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
}
