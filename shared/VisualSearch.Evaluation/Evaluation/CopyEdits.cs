using SkiaSharp;
using VisualSearch.Imaging;

namespace VisualSearch.Evaluation;

/// <summary>The edits a copy-detection query is made with (the Copydays / DISC21 kinds).</summary>
public enum CopyEdit
{
    /// <summary>The central 71% x 71% (half the area).</summary>
    Crop50,

    /// <summary>Each side to 25%.</summary>
    Downscale25,

    /// <summary>Re-encoded as JPEG at quality 10.</summary>
    Jpeg10,

    /// <summary>Rotated 15 degrees about the centre; the canvas grows to hold it, corners black.</summary>
    Rotate15,

    /// <summary>Brightness x1.15, saturation x1.6, hue +14.4 degrees, gamma 1.3.</summary>
    ColourShift,

    /// <summary>A rectangle of a random colour at 60% opacity over about a fifth of the image, at a random place.</summary>
    Overlay,

    /// <summary>The top-left 80% x 80%, each side to 50%, the colour shift, JPEG quality 30.</summary>
    Combined,

    /// <summary>
    /// A partial copy (issue 14): a square detail of 3-10% of the image's area (the share drawn at random) at a random
    /// place, at its own resolution. Not part of the overall row: it asks for a part, not the whole.
    /// </summary>
    PartialSquare,

    /// <summary>As <see cref="PartialSquare"/>, through a circular mask: the detail's corners are white.</summary>
    PartialCircle,
}

/// <summary>
/// Makes the edited copies of a reference, deterministically: the same bytes, edit and seed give the same
/// pixels (SkiaSharp; the random parts are drawn from a <see cref="Random"/> seeded by the seed and the
/// reference's key). Every edit but <see cref="CopyEdit.Jpeg10"/> and <see cref="CopyEdit.Combined"/> is saved as
/// JPEG quality 95, so the edit itself is what changes.
/// </summary>
public static class CopyEdits
{
    public static IReadOnlyList<CopyEdit> All { get; } = Enum.GetValues<CopyEdit>();

    /// <summary>Short name used in reports and JSON.</summary>
    public static string Name(CopyEdit edit) => edit switch
    {
        CopyEdit.Crop50 => "crop50",
        CopyEdit.Downscale25 => "downscale25",
        CopyEdit.Jpeg10 => "jpeg10",
        CopyEdit.Rotate15 => "rotate15",
        CopyEdit.ColourShift => "colour",
        CopyEdit.Overlay => "overlay",
        CopyEdit.Combined => "combined",
        CopyEdit.PartialSquare => "partial-sq",
        CopyEdit.PartialCircle => "partial-circ",
        _ => throw new ArgumentOutOfRangeException(nameof(edit), edit, null),
    };

    /// <summary>True for the partial-copy edits (a detail of the image), which the overall row leaves out.</summary>
    public static bool IsPartial(CopyEdit edit) => edit is CopyEdit.PartialSquare or CopyEdit.PartialCircle;

    /// <summary>The detail a partial edit cuts: a square of 3-10% of the area (at most the shorter side), at a random place.</summary>
    public static SKRectI PartialDetail(int width, int height, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var share = 0.03 + 0.07 * random.NextDouble();
        var side = Math.Clamp((int)Math.Round(Math.Sqrt(share * width * height)), 1, Math.Min(width, height));
        var x = random.Next(width - side + 1);
        var y = random.Next(height - side + 1);
        return new SKRectI(x, y, x + side, y + side);
    }

    /// <summary>Decodes a reference (upright, flattened on white), edits it and encodes the copy as JPEG.</summary>
    /// <param name="key">Names the reference; with <paramref name="seed"/> it seeds the random parts.</param>
    /// <exception cref="InvalidDataException">Skia cannot decode the reference.</exception>
    public static byte[] Apply(ReadOnlySpan<byte> encoded, CopyEdit edit, int seed, string key)
    {
        using var source = DecodeUpright(encoded);
        return Apply(source, edit, seed, key);
    }

    /// <summary>Edits an upright, opaque bitmap and encodes the copy as JPEG.</summary>
    public static byte[] Apply(SKBitmap source, CopyEdit edit, int seed, string key)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(key);
        var random = new Random(StableSeed(seed, key, edit));
        switch (edit)
        {
            case CopyEdit.Crop50:
            {
                using var cropped = Crop(source, 0.71, centre: true);
                return Encode(cropped, 95);
            }

            case CopyEdit.Downscale25:
            {
                using var small = Scale(source, 0.25);
                return Encode(small, 95);
            }

            case CopyEdit.Jpeg10:
                return Encode(source, 10);
            case CopyEdit.Rotate15:
            {
                using var rotated = Rotate(source, 15);
                return Encode(rotated, 95);
            }

            case CopyEdit.ColourShift:
            {
                using var shifted = ShiftColour(source);
                return Encode(shifted, 95);
            }

            case CopyEdit.Overlay:
            {
                using var covered = Overlay(source, random);
                return Encode(covered, 95);
            }

            case CopyEdit.Combined:
            {
                using var cropped = Crop(source, 0.8, centre: false);
                using var small = Scale(cropped, 0.5);
                using var shifted = ShiftColour(small);
                return Encode(shifted, 30);
            }

            case CopyEdit.PartialSquare:
            case CopyEdit.PartialCircle:
            {
                using var detail = Detail(source, PartialDetail(source.Width, source.Height, random), circle: edit == CopyEdit.PartialCircle);
                return Encode(detail, 95);
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(edit), edit, null);
        }
    }

    private static SKBitmap Detail(SKBitmap source, SKRectI rect, bool circle)
    {
        var result = NewBitmap(rect.Width, rect.Height);
        using var canvas = new SKCanvas(result);
        canvas.Clear(SKColors.White);
        if (circle)
        {
            using var path = new SKPath();
            path.AddCircle(rect.Width / 2f, rect.Height / 2f, rect.Width / 2f);
            canvas.ClipPath(path, antialias: true);
        }

        canvas.DrawBitmap(source, rect, new SKRect(0, 0, rect.Width, rect.Height));
        return result;
    }

    /// <summary>Decodes with Skia, applies the EXIF orientation and flattens transparency on white (as the product's decoder does).</summary>
    public static SKBitmap DecodeUpright(ReadOnlySpan<byte> encoded)
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data) ?? throw new InvalidDataException("Skia cannot decode the reference.");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var raw = new SKBitmap(info);
        var result = codec.GetPixels(info, raw.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new InvalidDataException($"Skia cannot decode the reference ({result}).");

        var origin = codec.EncodedOrigin;
        var swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var (w, h) = swap ? (raw.Height, raw.Width) : (raw.Width, raw.Height);
        var upright = NewBitmap(w, h);
        using var canvas = new SKCanvas(upright);
        canvas.Clear(SKColors.White);
        canvas.SetMatrix(ImageDecoder.OrientationMatrix(origin, raw.Width, raw.Height));
        canvas.DrawBitmap(raw, 0, 0);
        return upright;
    }

    private static SKBitmap Crop(SKBitmap source, double fraction, bool centre)
    {
        var w = Math.Max(1, (int)Math.Round(source.Width * fraction));
        var h = Math.Max(1, (int)Math.Round(source.Height * fraction));
        var x = centre ? (source.Width - w) / 2 : 0;
        var y = centre ? (source.Height - h) / 2 : 0;
        var result = NewBitmap(w, h);
        using var canvas = new SKCanvas(result);
        canvas.DrawBitmap(source, new SKRect(x, y, x + w, y + h), new SKRect(0, 0, w, h));
        return result;
    }

    private static SKBitmap Scale(SKBitmap source, double factor)
    {
        var w = Math.Max(1, (int)Math.Round(source.Width * factor));
        var h = Math.Max(1, (int)Math.Round(source.Height * factor));
        return source.Resize(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidOperationException("Skia could not resize the image.");
    }

    private static SKBitmap Rotate(SKBitmap source, float degrees)
    {
        var radians = degrees * MathF.PI / 180f;
        var cos = MathF.Abs(MathF.Cos(radians));
        var sin = MathF.Abs(MathF.Sin(radians));
        var w = (int)MathF.Ceiling(source.Width * cos + source.Height * sin);
        var h = (int)MathF.Ceiling(source.Width * sin + source.Height * cos);
        var result = NewBitmap(w, h);
        using var canvas = new SKCanvas(result);
        using var paint = new SKPaint { IsAntialias = true };
        canvas.Clear(SKColors.Black);
        canvas.Translate(w / 2f, h / 2f);
        canvas.RotateDegrees(degrees);
        canvas.Translate(-source.Width / 2f, -source.Height / 2f);
        using var image = SKImage.FromBitmap(source);
        canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None), paint);
        return result;
    }

    /// <summary>Brightness x1.15, saturation x1.6, hue +14.4 degrees (ImageMagick -modulate 115,160,108), then gamma 1.3.</summary>
    private static SKBitmap ShiftColour(SKBitmap source)
    {
        var matrix = Multiply(Multiply(Brightness(1.15f), Saturation(1.6f)), HueRotation(14.4f));
        var table = new byte[256];
        var identity = new byte[256];
        for (var i = 0; i < 256; i++)
        {
            table[i] = (byte)Math.Clamp(Math.Round(255 * Math.Pow(i / 255.0, 1 / 1.3)), 0, 255);
            identity[i] = (byte)i;
        }

        using var colour = SKColorFilter.CreateColorMatrix(matrix);
        using var gamma = SKColorFilter.CreateTable(identity, table, table, table);
        using var filter = SKColorFilter.CreateCompose(gamma, colour);
        using var paint = new SKPaint { ColorFilter = filter };
        var result = NewBitmap(source.Width, source.Height);
        using var canvas = new SKCanvas(result);
        canvas.DrawBitmap(source, 0, 0, paint);
        return result;
    }

    private static SKBitmap Overlay(SKBitmap source, Random random)
    {
        var result = NewBitmap(source.Width, source.Height);
        using var canvas = new SKCanvas(result);
        canvas.DrawBitmap(source, 0, 0);
        var w = source.Width * (0.45f + 0.2f * random.NextSingle());
        var h = source.Height * (0.3f + 0.2f * random.NextSingle());
        var x = (source.Width - w) * random.NextSingle();
        var y = (source.Height - h) * random.NextSingle();
        var colour = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), 153);
        using var paint = new SKPaint { Color = colour, IsAntialias = true };
        canvas.DrawRect(x, y, w, h, paint);
        return result;
    }

    private static byte[] Encode(SKBitmap bitmap, int quality)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, quality) ?? throw new InvalidOperationException("Skia could not encode the JPEG.");
        return data.ToArray();
    }

    private static SKBitmap NewBitmap(int width, int height) => new(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));

    /// <summary>A seed that does not depend on the process (string.GetHashCode does): FNV-1a over the key, mixed with seed and edit.</summary>
    internal static int StableSeed(int seed, string key, CopyEdit edit)
    {
        var hash = 2166136261u;
        foreach (var ch in key)
        {
            hash = (hash ^ ch) * 16777619u;
        }

        hash = (hash ^ (uint)seed) * 16777619u;
        hash = (hash ^ (uint)edit) * 16777619u;
        return (int)(hash & 0x7FFFFFFF);
    }

    private static float[] Brightness(float f) =>
    [
        f, 0, 0, 0, 0,
        0, f, 0, 0, 0,
        0, 0, f, 0, 0,
        0, 0, 0, 1, 0,
    ];

    /// <summary>The standard luminance-preserving saturation matrix (Rec. 709 weights).</summary>
    private static float[] Saturation(float s)
    {
        const float r = 0.2126f, g = 0.7152f, b = 0.0722f;
        return
        [
            r * (1 - s) + s, g * (1 - s), b * (1 - s), 0, 0,
            r * (1 - s), g * (1 - s) + s, b * (1 - s), 0, 0,
            r * (1 - s), g * (1 - s), b * (1 - s) + s, 0, 0,
            0, 0, 0, 1, 0,
        ];
    }

    /// <summary>Hue rotation about the grey axis (the matrix of the SVG feColorMatrix hueRotate).</summary>
    private static float[] HueRotation(float degrees)
    {
        var a = degrees * MathF.PI / 180f;
        var c = MathF.Cos(a);
        var s = MathF.Sin(a);
        return
        [
            0.213f + c * 0.787f - s * 0.213f, 0.715f - c * 0.715f - s * 0.715f, 0.072f - c * 0.072f + s * 0.928f, 0, 0,
            0.213f - c * 0.213f + s * 0.143f, 0.715f + c * 0.285f + s * 0.140f, 0.072f - c * 0.072f - s * 0.283f, 0, 0,
            0.213f - c * 0.213f - s * 0.787f, 0.715f - c * 0.715f + s * 0.715f, 0.072f + c * 0.928f + s * 0.072f, 0, 0,
            0, 0, 0, 1, 0,
        ];
    }

    /// <summary>a after b, for 4x5 colour matrices (the result applies b first).</summary>
    private static float[] Multiply(float[] a, float[] b)
    {
        var result = new float[20];
        for (var row = 0; row < 4; row++)
        {
            for (var col = 0; col < 5; col++)
            {
                float sum = col == 4 ? a[row * 5 + 4] : 0;
                for (var k = 0; k < 4; k++) sum += a[row * 5 + k] * b[k * 5 + col];
                result[row * 5 + col] = sum;
            }
        }

        return result;
    }
}
