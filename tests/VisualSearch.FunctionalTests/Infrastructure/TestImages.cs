using SkiaSharp;

namespace VisualSearch.FunctionalTests.Infrastructure;

/// <summary>Image bytes for the tests, made with SkiaSharp.</summary>
internal static class TestImages
{
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
                    using (var path = new SKPath())
                    {
                        path.MoveTo(x, y - r);
                        path.LineTo(x + r, y + r);
                        path.LineTo(x - r, y + r);
                        path.Close();
                        canvas.DrawPath(path, paint);
                    }

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
}
