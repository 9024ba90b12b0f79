using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SkiaSharp;
using VisualSearch.Imaging;

namespace VisualSearch.ReliabilityTests.Infrastructure;

/// <summary>
/// One hostile file and what must happen to it: indexed (<see cref="Reason"/> null), or refused with exactly
/// <see cref="Reason"/>. <see cref="Bomb"/> marks headers that declare far more pixels than could be decoded.
/// </summary>
public sealed record HostileCase(string Name, byte[] Bytes, ImageRejectionReason? Reason, string What, bool Bomb = false)
{
    public bool Indexed => Reason is null;

    public override string ToString() => Name;
}

/// <summary>
/// The hostile corpus, generated here (nothing is downloaded): SkiaSharp and ImageSharp 2.1 for the ordinary
/// encodings, <see cref="JpegWriter"/> for CMYK, and hand-written bytes for bombs, oversized segments and
/// damage. Deterministic: the same bytes on every run.
/// </summary>
public static class HostileCorpus
{
    /// <summary>The upright picture that the orientation, CMYK, 16-bit and grey cases encode (asymmetric, opaque).</summary>
    public const int Seed = 4242;
    public const int Width = 320;
    public const int Height = 240;

    private static readonly Lazy<IReadOnlyList<HostileCase>> LazyAll = new(Build);

    public static IReadOnlyList<HostileCase> All => LazyAll.Value;

    public static HostileCase Get(string name) => All.Single(c => c.Name == name);

    public static SKBitmap Upright() => TestImages.Render(Seed, Width, Height);

    /// <summary>Ordinary photos to put around the hostile files: all must be indexed whatever comes between them.</summary>
    public static IReadOnlyList<(string Name, byte[] Bytes)> GoodFiles(int count) =>
        Enumerable.Range(0, count)
            .Select(i => ($"good-{i:D2}.{(i % 2 == 0 ? "png" : "jpg")}", TestImages.Photo(1000 + i, 200 + 8 * i, 150, i % 2 == 0 ? ImageFormat.Png : ImageFormat.Jpeg)))
            .ToList();

    private static List<HostileCase> Build()
    {
        using var upright = Upright();
        var jpeg = TestImages.Encode(upright, ImageFormat.Jpeg, 92);
        var png = TestImages.Encode(upright, ImageFormat.Png);
        var cases = new List<HostileCase>
        {
            new("zero-bytes.jpg", [], ImageRejectionReason.Empty, "zero-byte file"),
            new("notes.jpg", Encoding.UTF8.GetBytes("These are my holiday notes, not a photo.\n"), ImageRejectionReason.UnsupportedFormat, "text named .jpg"),
            new("page.png", Encoding.UTF8.GetBytes("<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"), ImageRejectionReason.UnsupportedFormat, "HTML named .png"),
        };

        // JPEG cut at several points, from inside the header tables to just before the end marker.
        foreach (var (label, length) in new[] { ("0.5pc", jpeg.Length / 200), ("10pc", jpeg.Length / 10), ("50pc", jpeg.Length / 2), ("90pc", jpeg.Length * 9 / 10), ("minus-eoi", jpeg.Length - 2) })
            cases.Add(new($"jpeg-cut-{label}.jpg", jpeg[..length], ImageRejectionReason.Truncated, $"JPEG cut after {length} of {jpeg.Length} bytes"));
        // Known gap: libjpeg-turbo takes the appended end marker for the end of the scan, fills the rest with the
        // last block colour and reports success; only a full entropy decode could tell (docs/reliability.md).
        cases.Add(new("jpeg-cut-50pc-fake-eoi.jpg", [.. jpeg[..(jpeg.Length / 2)], 0xFF, 0xD9], null, "JPEG cut in half, an end marker appended (indexed as viewers show it: known gap)"));

        cases.Add(new("png-cut-50pc.png", png[..(png.Length / 2)], ImageRejectionReason.Truncated, "PNG cut inside its image data"));
        cases.Add(new("png-cut-header.png", png[..20], ImageRejectionReason.Truncated, "PNG cut inside IHDR"));
        cases.Add(new("png-no-iend.png", png[..^12], null, "PNG without its IEND chunk (every pixel present)"));

        // Decompression bombs: headers that declare 2.5 gigapixels (10 GB of RGBA), a few hundred bytes each.
        cases.Add(new("bomb-50000x50000.png", TestImages.PngWithHeader(50_000, 50_000), ImageRejectionReason.TooManyPixels, "PNG header declaring 50,000 x 50,000", Bomb: true));
        cases.Add(new("bomb-50000x50000.gif", GifBomb(50_000, 50_000), ImageRejectionReason.TooManyPixels, "GIF header declaring 50,000 x 50,000", Bomb: true));
        cases.Add(new("bomb-50000x50000.jpg", JpegWithSize(TestImages.Encode(upright, ImageFormat.Jpeg, 80), 50_000, 50_000), ImageRejectionReason.TooManyPixels, "JPEG SOF declaring 50,000 x 50,000", Bomb: true));
        cases.Add(new("bomb-16384x16384.webp", WebpLosslessHeader(16_384, 16_384), ImageRejectionReason.TooManyPixels, "WebP (VP8L) header declaring 16,384 x 16,384, its maximum", Bomb: true));
        cases.Add(new("bomb-20000x20000.png", TestImages.PngWithHeader(20_000, 20_000), ImageRejectionReason.TooManyPixels, "PNG of 400 MP: each side under the limit, the area over it", Bomb: true));

        // Oversized metadata segments.
        cases.Add(new("exif-60kb.jpg", InsertAfterSoi(jpeg, ExifSegment(orientation: 1, padding: 60_000)), null, "JPEG with a 60 KB EXIF APP1 segment"));
        cases.Add(new("exif-ifd-overflow.jpg", InsertAfterSoi(jpeg, ExifSegment(orientation: 6, padding: 0, declaredEntries: 5000)), null, "EXIF IFD declaring 5,000 entries in a 40-byte segment"));
        cases.Add(new("icc-60kb.jpg", InsertAfterSoi(jpeg, IccSegments(60_000, chunks: 1)), null, "JPEG with a 60 KB malformed ICC profile"));
        cases.Add(new("icc-3x60kb.jpg", InsertAfterSoi(jpeg, IccSegments(60_000, chunks: 3)), null, "ICC profile of 180 KB split over three APP2 segments"));

        // Colour models and bit depths.
        cases.Add(new("cmyk-adobe.jpg", Cmyk(upright), null, "CMYK JPEG (Adobe APP14, inverted, as Photoshop writes it)"));
        cases.Add(new("rgb48.png", Png16(upright), null, "16-bit per channel PNG"));
        cases.Add(new("grey.png", Grey(upright, png: true), null, "greyscale PNG"));
        cases.Add(new("grey.jpg", Grey(upright, png: false), null, "greyscale JPEG"));
        cases.Add(new("alpha.png", Alpha(), null, "PNG with an alpha gradient"));
        cases.Add(new("animated.gif", AnimatedGif(upright), null, "animated GIF, 3 frames"));
        cases.Add(new("lossy.webp", Webp(upright, lossless: false), null, "lossy WebP"));
        cases.Add(new("lossless.webp", Webp(upright, lossless: true), null, "lossless WebP"));

        // Every EXIF orientation: stored turned, tagged so that the upright picture is what a viewer shows.
        for (ushort o = 1; o <= 8; o++)
        {
            using var stored = StoreForOrientation(upright, o);
            cases.Add(new($"orientation-{o}.jpg", TestImages.WithExifOrientation(TestImages.Encode(stored, ImageFormat.Jpeg, 95), o), null, $"EXIF orientation {o}"));
        }

        // Extreme shapes.
        cases.Add(new("1x1.png", TestImages.Photo(7, 1, 1, ImageFormat.Png), null, "1 x 1 pixel"));
        cases.Add(new("strip-10000x10.png", TestImages.Photo(8, 10_000, 10, ImageFormat.Png), null, "10,000 x 10 strip"));
        cases.Add(new("strip-10x10000.jpg", TestImages.Photo(9, 10, 10_000, ImageFormat.Jpeg), null, "10 x 10,000 strip (JPEG)"));
        return cases;
    }

    /// <summary>
    /// The stored pixels for an EXIF orientation: the picture as a camera would store it so that applying the
    /// orientation (EXIF 2.3, tag 0x0112) shows <paramref name="upright"/>. stored(x, y) = upright(T(x, y)).
    /// </summary>
    public static SKBitmap StoreForOrientation(SKBitmap upright, int orientation)
    {
        int uw = upright.Width, uh = upright.Height;
        var swap = orientation >= 5;
        int sw = swap ? uh : uw, sh = swap ? uw : uh;
        var src = upright.Copy(SKColorType.Rgba8888) ?? throw new InvalidOperationException("Could not copy the bitmap.");
        using (src)
        {
            var from = src.GetPixelSpan();
            var stored = new SKBitmap(new SKImageInfo(sw, sh, SKColorType.Rgba8888, SKAlphaType.Opaque));
            var to = new byte[sw * sh * 4];
            for (var y = 0; y < sh; y++)
            {
                for (var x = 0; x < sw; x++)
                {
                    var (ux, uy) = orientation switch
                    {
                        1 => (x, y),
                        2 => (sw - 1 - x, y),
                        3 => (sw - 1 - x, sh - 1 - y),
                        4 => (x, sh - 1 - y),
                        5 => (y, x),
                        6 => (sh - 1 - y, x),
                        7 => (sh - 1 - y, sw - 1 - x),
                        8 => (y, sw - 1 - x),
                        _ => throw new ArgumentOutOfRangeException(nameof(orientation)),
                    };
                    from.Slice((uy * uw + ux) * 4, 4).CopyTo(to.AsSpan((y * sw + x) * 4, 4));
                }
            }

            Marshal.Copy(to, 0, stored.GetPixels(), to.Length);
            return stored;
        }
    }

    /// <summary>
    /// CMYK as Photoshop stores it (inverted: 255 = no ink), with the black plane the darkest channel, so that the
    /// usual decode R = C' * K' / 255 gives the original colours back.
    /// </summary>
    public static byte[] Cmyk(SKBitmap upright)
    {
        var rgba = Rgba(upright);
        var n = upright.Width * upright.Height;
        var planes = new[] { new byte[n], new byte[n], new byte[n], new byte[n] };
        for (var i = 0; i < n; i++)
        {
            int r = rgba[i * 4], g = rgba[i * 4 + 1], b = rgba[i * 4 + 2];
            var max = Math.Max(r, Math.Max(g, b));
            planes[3][i] = (byte)max;
            if (max == 0) continue;
            planes[0][i] = (byte)Math.Round(r * 255.0 / max);
            planes[1][i] = (byte)Math.Round(g * 255.0 / max);
            planes[2][i] = (byte)Math.Round(b * 255.0 / max);
        }

        return JpegWriter.Encode(planes, upright.Width, upright.Height, adobe: true);
    }

    public static byte[] Rgba(SKBitmap bitmap)
    {
        using var copy = bitmap.Copy(SKColorType.Rgba8888) ?? throw new InvalidOperationException("Could not copy the bitmap.");
        return copy.GetPixelSpan().ToArray();
    }

    private static byte[] Png16(SKBitmap upright)
    {
        using var image = TestImages.ToImageSharp(upright).CloneAs<Rgb48>();
        using var output = new MemoryStream();
        image.SaveAsPng(output, new PngEncoder { BitDepth = PngBitDepth.Bit16, ColorType = PngColorType.Rgb });
        var bytes = output.ToArray();
        if (bytes[24] != 16) throw new InvalidOperationException("ImageSharp did not write a 16-bit PNG.");
        return bytes;
    }

    private static byte[] Grey(SKBitmap upright, bool png)
    {
        using var image = TestImages.ToImageSharp(upright).CloneAs<L8>();
        using var output = new MemoryStream();
        if (png) image.SaveAsPng(output, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
        else image.SaveAsJpeg(output, new JpegEncoder { ColorType = JpegColorType.Luminance, Quality = 90 });
        return output.ToArray();
    }

    private static byte[] Alpha()
    {
        using var bitmap = TestImages.Render(Seed + 1, 200, 160);
        var pixels = Rgba(bitmap);
        for (var y = 0; y < 160; y++)
        {
            for (var x = 0; x < 200; x++) pixels[(y * 200 + x) * 4 + 3] = (byte)(x * 255 / 199);
        }

        using var withAlpha = new SKBitmap(new SKImageInfo(200, 160, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        Marshal.Copy(pixels, 0, withAlpha.GetPixels(), pixels.Length);
        return TestImages.Encode(withAlpha, ImageFormat.Png);
    }

    /// <summary>A sample photo (a cat, a cup) at the corpus size: frames of the animated GIF unlike the first one.</summary>
    public static SKBitmap OtherFrame(string photo)
    {
        using var decoded = TestImages.DecodeBitmap(Repo.PhotoBytes(photo));
        return TestImages.Resize(decoded, Width, Height);
    }

    /// <summary>Three frames: the upright picture first, then two sample photos (only the first frame is indexed).</summary>
    public static byte[] AnimatedGif(SKBitmap first)
    {
        using var gif = TestImages.ToImageSharp(first);
        foreach (var photo in new[] { "chelsea.png", "coffee.png" })
        {
            using var other = OtherFrame(photo);
            using var frame = TestImages.ToImageSharp(other);
            gif.Frames.AddFrame(frame.Frames.RootFrame);
        }

        foreach (var frame in gif.Frames) frame.Metadata.GetGifMetadata().FrameDelay = 20;
        gif.Metadata.GetGifMetadata().RepeatCount = 0;
        using var output = new MemoryStream();
        gif.SaveAsGif(output);
        return output.ToArray();
    }

    private static byte[] Webp(SKBitmap bitmap, bool lossless)
    {
        using var pixmap = bitmap.PeekPixels();
        using var data = pixmap.Encode(new SKWebpEncoderOptions(lossless ? SKWebpEncoderCompression.Lossless : SKWebpEncoderCompression.Lossy, lossless ? 100 : 80))
            ?? throw new InvalidOperationException("Skia could not encode WebP.");
        return data.ToArray();
    }

    /// <summary>A valid JPEG whose SOF0 is patched to declare another size (the entropy data stays that of the small image).</summary>
    private static byte[] JpegWithSize(byte[] jpeg, int width, int height)
    {
        var bytes = (byte[])jpeg.Clone();
        for (var i = 2; i < bytes.Length - 9; i++)
        {
            if (bytes[i] != 0xFF || bytes[i + 1] is not (0xC0 or 0xC1 or 0xC2)) continue;
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(i + 5), (ushort)height);
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(i + 7), (ushort)width);
            return bytes;
        }

        throw new InvalidOperationException("No SOF marker.");
    }

    /// <summary>GIF89a whose screen and only frame declare <paramref name="width"/> x <paramref name="height"/>, with an LZW stream of just clear + end.</summary>
    private static byte[] GifBomb(int width, int height)
    {
        using var output = new MemoryStream();
        output.Write("GIF89a"u8);
        Span<byte> size = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(size, (ushort)width);
        BinaryPrimitives.WriteUInt16LittleEndian(size[2..], (ushort)height);
        output.Write(size);
        output.Write([0x80, 0x00, 0x00]);             // global colour table of 2 entries
        output.Write([0, 0, 0, 255, 255, 255]);
        output.WriteByte(0x2C);                       // image descriptor
        output.Write([0, 0, 0, 0]);
        output.Write(size);
        output.WriteByte(0x00);
        output.WriteByte(0x02);                       // LZW minimum code size
        output.Write([0x01, 0x2C, 0x00]);             // one sub-block: clear (4) and end (5) in 3-bit codes
        output.WriteByte(0x3B);
        return output.ToArray();
    }

    /// <summary>A simple-format lossless WebP (VP8L) header declaring the size, followed by a few zero bytes.</summary>
    private static byte[] WebpLosslessHeader(int width, int height)
    {
        var payload = new byte[26];
        payload[0] = 0x2F;
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(1), (uint)(width - 1) | ((uint)(height - 1) << 14));
        using var output = new MemoryStream();
        Span<byte> word = stackalloc byte[4];
        output.Write("RIFF"u8);
        BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)(4 + 8 + payload.Length));
        output.Write(word);
        output.Write("WEBPVP8L"u8);
        BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)payload.Length);
        output.Write(word);
        output.Write(payload);
        return output.ToArray();
    }

    private static byte[] InsertAfterSoi(byte[] jpeg, byte[] segments) => [.. jpeg[..2], .. segments, .. jpeg[2..]];

    /// <summary>APP1 Exif: a big-endian TIFF header, IFD0 with Orientation, and <paramref name="padding"/> unreferenced bytes.</summary>
    private static byte[] ExifSegment(ushort orientation, int padding, ushort declaredEntries = 1)
    {
        var tiff = new byte[8 + 2 + 12 + 4 + padding];
        "MM\0*"u8.CopyTo(tiff);
        BinaryPrimitives.WriteUInt32BigEndian(tiff.AsSpan(4), 8);
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(8), declaredEntries);
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(10), 0x0112);
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(12), 3);
        BinaryPrimitives.WriteUInt32BigEndian(tiff.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(18), orientation);
        new Random(1).NextBytes(tiff.AsSpan(26));
        return Segment(0xE1, [.. "Exif\0\0"u8, .. tiff]);
    }

    /// <summary>
    /// An ICC profile of <paramref name="size"/> bytes split over <paramref name="chunks"/> APP2 segments: a plausible
    /// header ('acsp', RGB, XYZ) whose tag table claims 2^32 - 1 tags, then random bytes.
    /// </summary>
    private static byte[] IccSegments(int size, int chunks)
    {
        var profile = new byte[size * chunks];
        new Random(2).NextBytes(profile);
        BinaryPrimitives.WriteUInt32BigEndian(profile, (uint)profile.Length);
        BinaryPrimitives.WriteUInt32BigEndian(profile.AsSpan(8), 0x04300000);
        "mntrRGB XYZ "u8.CopyTo(profile.AsSpan(12));
        "acsp"u8.CopyTo(profile.AsSpan(36));
        BinaryPrimitives.WriteUInt32BigEndian(profile.AsSpan(128), uint.MaxValue);
        var output = new List<byte>();
        for (var i = 0; i < chunks; i++)
            output.AddRange(Segment(0xE2, [.. "ICC_PROFILE\0"u8, (byte)(i + 1), (byte)chunks, .. profile.AsSpan(i * size, size)]));
        return [.. output];
    }

    private static byte[] Segment(byte marker, byte[] payload)
    {
        var length = payload.Length + 2;
        if (length > 0xFFFF) throw new ArgumentException("A JPEG segment holds at most 65,533 bytes.", nameof(payload));
        return [0xFF, marker, (byte)(length >> 8), (byte)length, .. payload];
    }
}
