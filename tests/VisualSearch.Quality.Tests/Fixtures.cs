using SkiaSharp;

namespace VisualSearch.Quality.Tests;

/// <summary>Tiny labelled image sets drawn with SkiaSharp: each class a shape and colour, each image a variation.</summary>
public static class TinySets
{
    public static readonly string[] Classes = ["circles", "squares", "stripes", "triangles"];

    /// <summary>Writes <paramref name="perClass"/> PNGs into a sub-folder per class; returns the folder.</summary>
    public static string WriteClassFolders(string root, int classes, int perClass, int seed = 7)
    {
        for (var c = 0; c < classes; c++)
        {
            var folder = Path.Combine(root, Classes[c]);
            Directory.CreateDirectory(folder);
            for (var i = 0; i < perClass; i++)
                File.WriteAllBytes(Path.Combine(folder, $"{i:D2}.png"), Draw(c, seed * 1000 + c * 100 + i));
        }

        return root;
    }

    /// <summary>Distinct reference "photos": gradients and a dozen random shapes each.</summary>
    public static string WriteReferences(string root, int count, int seed = 11)
    {
        Directory.CreateDirectory(root);
        for (var i = 0; i < count; i++)
        {
            var random = new Random(seed * 1000 + i);
            using var bitmap = new SKBitmap(new SKImageInfo(320, 240, SKColorType.Rgba8888, SKAlphaType.Premul));
            using (var canvas = new SKCanvas(bitmap))
            using (var paint = new SKPaint { IsAntialias = true })
            {
                paint.Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(320, 240), [RandomColour(random), RandomColour(random)], SKShaderTileMode.Clamp);
                canvas.DrawRect(0, 0, 320, 240, paint);
                paint.Shader = null;
                for (var s = 0; s < 12; s++)
                {
                    paint.Color = RandomColour(random);
                    var x = random.Next(320);
                    var y = random.Next(240);
                    var r = 10 + random.Next(50);
                    if (random.Next(2) == 0) canvas.DrawCircle(x, y, r, paint);
                    else canvas.DrawRect(x - r, y - r / 2, 2 * r, r, paint);
                }
            }

            File.WriteAllBytes(Path.Combine(root, $"ref{i:D2}.png"), Encode(bitmap));
        }

        return root;
    }

    /// <summary>One image of a class: its shape in its colour, at a varied place and size, on a varied light background.</summary>
    public static byte[] Draw(int classIndex, int seed)
    {
        var random = new Random(seed);
        using var bitmap = new SKBitmap(new SKImageInfo(256, 256, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        using (var paint = new SKPaint { IsAntialias = true })
        {
            var tint = (byte)(220 + random.Next(36));
            canvas.Clear(new SKColor(tint, tint, (byte)(tint - random.Next(20))));
            var size = 60 + random.Next(40);
            var cx = 128 + random.Next(-30, 31);
            var cy = 128 + random.Next(-30, 31);
            switch (classIndex)
            {
                case 0:
                    paint.Color = new SKColor(220, 30, 30);
                    canvas.DrawCircle(cx, cy, size, paint);
                    break;
                case 1:
                    paint.Color = new SKColor(30, 60, 220);
                    canvas.DrawRect(cx - size, cy - size, 2 * size, 2 * size, paint);
                    break;
                case 2:
                    paint.Color = new SKColor(20, 150, 40);
                    for (var x = -256; x < 512; x += 40) canvas.DrawRect(x + random.Next(10), 0, 16, 256, paint);
                    break;
                default:
                    paint.Color = new SKColor(230, 180, 20);
                    TestImages.DrawTriangle(canvas, cx, cy, size, paint);
                    break;
            }
        }

        return Encode(bitmap);
    }

    private static byte[] Encode(SKBitmap bitmap)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static SKColor RandomColour(Random random) => new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
}
