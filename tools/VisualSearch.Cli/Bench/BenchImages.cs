using SkiaSharp;
using VisualSearch.Imaging;

namespace VisualSearch.Cli.Bench;

/// <summary>
/// The images <c>vsearch bench</c> measures, made on the spot: the bundled sample photos (samples/photos)
/// scaled up to camera sizes with a little sensor-like noise (so the JPEGs are as large as a phone's), or
/// drawn shapes when the samples are not there.
/// </summary>
internal static class BenchImages
{
    /// <summary>The single-image inputs: file name, width, height, format.</summary>
    public static readonly (string Name, int Width, int Height, SKEncodedImageFormat Format)[] Inputs =
    [
        ("jpeg-0.3mp.jpg", 640, 480, SKEncodedImageFormat.Jpeg),
        ("jpeg-2mp.jpg", 1632, 1224, SKEncodedImageFormat.Jpeg),
        ("jpeg-12mp.jpg", 4032, 3024, SKEncodedImageFormat.Jpeg),
        ("png-2mp.png", 1632, 1224, SKEncodedImageFormat.Png),
        ("webp-2mp.webp", 1632, 1224, SKEncodedImageFormat.Webp),
    ];

    /// <summary>Writes <see cref="Inputs"/> to <paramref name="directory"/> and <paramref name="ingestCount"/> 12 MP JPEGs to its ingest/ folder.</summary>
    public static IReadOnlyList<string> Generate(string directory, int ingestCount, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var sources = LoadSources();
        try
        {
            for (var i = 0; i < Inputs.Length; i++)
            {
                var (name, w, h, format) = Inputs[i];
                File.WriteAllBytes(Path.Combine(directory, name), Camera(sources[i % sources.Count], w, h, format, seed: i, offset: 0));
            }

            var ingest = Path.Combine(directory, "ingest");
            Directory.CreateDirectory(ingest);
            var files = new List<string>();
            for (var i = 0; i < ingestCount; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var path = Path.Combine(ingest, $"photo-{i:D3}.jpg");
                File.WriteAllBytes(path, Camera(sources[i % sources.Count], 4032, 3024, SKEncodedImageFormat.Jpeg, seed: 100 + i, offset: i / sources.Count));
                files.Add(path);
            }

            return files;
        }
        finally
        {
            foreach (var s in sources) s.Dispose();
        }
    }

    private static List<SKBitmap> LoadSources()
    {
        var folder = FindSamples();
        var list = new List<SKBitmap>();
        if (folder is not null)
        {
            foreach (var file in Directory.EnumerateFiles(folder).Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal))
            {
                if (SKBitmap.Decode(file) is { } bitmap) list.Add(bitmap);
            }
        }

        if (list.Count == 0) list.Add(Drawn());
        return list;
    }

    /// <summary>samples/photos above the current directory or the executable (a clone's layout).</summary>
    private static string? FindSamples()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "samples", "photos");
                if (Directory.Exists(candidate)) return candidate;
            }
        }

        return null;
    }

    private static SKBitmap Drawn()
    {
        var bitmap = new SKBitmap(800, 600);
        using var canvas = new SKCanvas(bitmap);
        using var shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(800, 600), [SKColors.SkyBlue, SKColors.DarkGreen], SKShaderTileMode.Clamp);
        using var paint = new SKPaint { Shader = shader };
        canvas.DrawRect(0, 0, 800, 600, paint);
        using var red = new SKPaint { Color = SKColors.OrangeRed, IsAntialias = true };
        canvas.DrawCircle(300, 250, 120, red);
        return bitmap;
    }

    /// <summary>The source scaled to cover width x height (shifted by <paramref name="offset"/>), with noise, encoded.</summary>
    private static byte[] Camera(SKBitmap source, int width, int height, SKEncodedImageFormat format, int seed, int offset)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        using (var image = SKImage.FromBitmap(source))
        {
            var scale = Math.Max(width / (float)source.Width, height / (float)source.Height) * (1f + 0.1f * (offset % 3));
            canvas.Translate((width - source.Width * scale) / 2f - offset * 37, (height - source.Height * scale) / 2f);
            canvas.Scale(scale);
            if (offset % 2 == 1)
            {
                canvas.Scale(-1, 1);
                canvas.Translate(-source.Width, 0);
            }

            canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKCubicResampler.Mitchell));
        }

        // Sensor-like noise (+-12 levels): without it an upscaled photo compresses to a fraction of a real one
        // (a 12 MP phone JPEG is 3-5 MB; the Huffman decoding that k/8 scaling cannot skip grows with the bytes).
        var pixels = bitmap.GetPixelSpan();
        var state = (uint)(seed * 2654435761u) | 1u;
        for (var i = 0; i < pixels.Length; i += 4)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            for (var c = 0; c < 3; c++)
            {
                var noise = (int)((state >> (c * 8)) & 0x1F) - 16;
                pixels[i + c] = (byte)Math.Clamp(pixels[i + c] + noise * 3 / 4, 0, 255);
            }
        }

        using var data = bitmap.Encode(format, format == SKEncodedImageFormat.Png ? 100 : 90);
        return data.ToArray();
    }
}
