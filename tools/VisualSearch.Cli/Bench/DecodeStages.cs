using System.Diagnostics;
using SkiaSharp;
using VisualSearch.Embedding;
using VisualSearch.Imaging;

namespace VisualSearch.Cli.Bench;

/// <summary>
/// Where a 12 MP JPEG's decode + preprocess time goes, stage by stage, with the calls ImageDecoder makes:
/// header and codec creation; entropy decoding, IDCT and YCbCr to RGBA at the k/8 scale (libjpeg-turbo does these
/// together); the resize and centre crop onto 224 x 224 into RGB bytes as ImageDecoder.Render makes them (linear + mipmaps,
/// computed by MipmapResampler since issue 13's eighth session); beside it, for comparison, the same pixels by Skia's own draw
/// and RGBA to RGB (what Render ran before; the same bytes); and the preprocessing (B, G, R planes minus the mean image).
/// Medians over <c>reps</c>.
/// </summary>
internal static class DecodeStages
{
    public static DecodeStagesResult Measure(byte[] jpeg, Preprocessor preprocessor, int reps)
    {
        var size = preprocessor.Size;
        var create = new List<double>();
        var decode = new List<double>();
        var resize = new List<double>();
        var skiaResize = new List<double>();
        var preprocess = new List<double>();
        var tensor = new float[preprocessor.TensorLength];
        var decodedWidth = 0;
        var decodedHeight = 0;
        for (var r = 0; r <= reps; r++)
        {
            var t = Stopwatch.GetTimestamp();
            using var data = SKData.CreateCopy(jpeg);
            using var codec = SKCodec.Create(new SKMemoryStream(data)) ?? throw new InvalidOperationException("not a JPEG");
            var scaled = new SKSizeI(codec.Info.Width, codec.Info.Height);
            for (var k = 1; k <= 8; k++)
            {
                var s = codec.GetScaledDimensions(k / 8f);
                if (Math.Min(s.Width, s.Height) >= size) { scaled = s; break; }
            }

            var t1 = Stopwatch.GetTimestamp();
            var info = new SKImageInfo(scaled.Width, scaled.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
            using var bitmap = new SKBitmap(info);
            if (codec.GetPixels(info, bitmap.GetPixels()) != SKCodecResult.Success) throw new InvalidOperationException("decode failed");
            var t2 = Stopwatch.GetTimestamp();

            var rgb = ImageDecoder.Render(bitmap, SKEncodedOrigin.TopLeft, ImageFormat.Jpeg, scaled.Width, scaled.Height, size).Rgb;
            var t3 = Stopwatch.GetTimestamp();

            var scale = size / (float)Math.Min(scaled.Width, scaled.Height);
            using var target = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            using (var canvas = new SKCanvas(target))
            using (var image = SKImage.FromBitmap(bitmap))
            {
                canvas.Clear(SKColors.White);
                canvas.SetMatrix(SKMatrix.CreateTranslation(-(scaled.Width * scale - size) / 2f, -(scaled.Height * scale - size) / 2f).PreConcat(SKMatrix.CreateScale(scale, scale)));
                canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
            }

            var skiaRgb = new byte[size * size * 3];
            ImageDecoder.RgbaToRgb(target.GetPixelSpan(), skiaRgb);
            var t4 = Stopwatch.GetTimestamp();
            if (!skiaRgb.AsSpan().SequenceEqual(rgb)) throw new InvalidOperationException("The decoder's resize and Skia's draw gave different pixels.");

            preprocessor.Fill(rgb, tensor);
            var t5 = Stopwatch.GetTimestamp();
            if (r == 0) continue; // warm-up
            create.Add(Stopwatch.GetElapsedTime(t, t1).TotalMilliseconds);
            decode.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
            resize.Add(Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds);
            skiaResize.Add(Stopwatch.GetElapsedTime(t3, t4).TotalMilliseconds);
            preprocess.Add(Stopwatch.GetElapsedTime(t4, t5).TotalMilliseconds);
            decodedWidth = scaled.Width;
            decodedHeight = scaled.Height;
        }

        return new DecodeStagesResult(decodedWidth, decodedHeight, Latency.Of(create).P50, Latency.Of(decode).P50, Latency.Of(resize).P50, Latency.Of(skiaResize).P50, Latency.Of(preprocess).P50);
    }
}

internal sealed record DecodeStagesResult(int DecodedWidth, int DecodedHeight, double CodecMs, double DecodeAtScaleMs, double ResizeCropMs, double SkiaResizeCropMs, double PreprocessMs);
