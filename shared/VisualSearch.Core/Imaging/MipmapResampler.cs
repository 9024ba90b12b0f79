using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SkiaSharp;

namespace VisualSearch.Imaging;

/// <summary>
/// The resize <see cref="ImageDecoder"/> asks Skia for (linear sampling with linear mipmaps, a premultiplied RGBA8888 image
/// drawn through a scale-and-translate matrix onto white, kept unpremultiplied), computed here with Skia's own arithmetic
/// step for step, so the bytes are the same; about four times faster than Skia's raster pipeline, whose mipmap path samples
/// through its generic four-gather stages (3.7 ms for 504x378 onto 224 x 224, issue 13). What it reproduces, from Skia m119
/// as SkiaSharp 3.119 runs it on x64 (the SSE stages: no fused multiply-add):
/// <list type="bullet">
/// <item>the mip chain of SkMipmap::Build: each level half the size (rounded down), 2-tap box or 1-2-1 triangle filters in
/// integers, truncated;</item>
/// <item>the level of SkMipmapAccessor: the inverse matrix's scale, <c>max(-log2(scale) - 0.5, 0)</c>, its integer part the
/// upper level and its fraction the lower level's weight;</item>
/// <item>per output pixel, the pixel centre through the inverse matrix, then per level four samples at +-0.5 (clamped to the
/// level), each weighted by the product of its x and y weights and summed in Skia's order, the lower level at the upper
/// level's coordinates times the size ratio, the two levels blended by the weight;</item>
/// <item>source-over onto opaque white, unpremultiply, and the store's rounding (to nearest even) of each channel times 255.</item>
/// </list>
/// Anything else (another colour or alpha type, a rotation or mirror, an upscale, an image that does not cover the output,
/// a source larger than <see cref="MaxSourcePixels"/>) is left to Skia: <see cref="TryRender"/> answers false. A test pins the output against Skia's draw, bit for bit (a SkiaSharp
/// upgrade that changes Skia's arithmetic fails it, and then this class must follow or go). The loops are
/// compiled optimised from their first call (AggressiveOptimization): a <c>vsearch index</c> process is too short for tiered
/// compilation to lift vector code out of its unoptimised first tier in time.
/// </summary>
internal static class MipmapResampler
{
    private const float Inv255 = 1 / 255.0f;

    /// <summary>
    /// The largest source (in pixels) this class resamples: 4 MP, which a camera JPEG decoded at its DCT scale (504x378 for
    /// 12 MP) is far below. Its mip levels are managed arrays (a third of the source's bytes) that outlive the decode until a
    /// collection, where Skia's own are native and freed at once; for a 100 MP PNG (no scaled decode) that is 130 MB a decode,
    /// which concurrent decodes would hold at once (issue 20's one-bitmap bound, BombMemoryTests). Larger sources are left to Skia.
    /// </summary>
    internal const long MaxSourcePixels = 4L * 1024 * 1024;

    /// <summary>Tests only: the scalar path on a machine with AVX2 (the two give the same bytes).</summary>
    internal static bool ForceScalar { get; set; }

    /// <summary>
    /// Writes the <paramref name="outW"/> x <paramref name="outH"/> RGB bytes Skia's draw of <paramref name="source"/> through
    /// <paramref name="matrix"/> gives (see the class comment), or returns false (nothing written) where this is not that draw.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe bool TryRender(SKBitmap source, SKMatrix matrix, int outW, int outH, Span<byte> rgb)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.ColorType != SKColorType.Rgba8888 || source.AlphaType != SKAlphaType.Premul) return false;
        if (matrix.SkewX != 0 || matrix.SkewY != 0 || matrix.Persp0 != 0 || matrix.Persp1 != 0 || matrix.Persp2 != 1) return false;
        int w = source.Width, h = source.Height;
        if ((long)w * h > MaxSourcePixels) return false;
        float sx = matrix.ScaleX, sy = matrix.ScaleY, tx = matrix.TransX, ty = matrix.TransY;
        if (!(sx > 0 && sy > 0 && Math.Min(sx, sy) < 1) || w < 2 || h < 2 || source.RowBytes != w * 4) return false;
        // The image must cover every output pixel (Skia leaves uncovered ones white); a margin keeps clear of its edge rounding.
        if (tx > 0.25f || ty > 0.25f || w * sx + tx < outW - 0.25f || h * sy + ty < outH - 0.25f) return false;
        if (rgb.Length != outW * outH * 3) throw new ArgumentException("The RGB buffer does not match the output size.", nameof(rgb));

        // SkMatrix::invert of a scale and translate, then SkMipmapAccessor's level (decomposeScale, SkMipmap::ComputeLevel).
        float isx = 1.0f / sx, isy = 1.0f / sy;
        float itx = -tx * isx, ity = -ty * isy;
        var scale = Math.Min(1 / MathF.Sqrt(isx * isx), 1 / MathF.Sqrt(isy * isy));
        var level = scale >= 1 ? 0f : MathF.Max(-MathF.Log2(scale) - 0.5f, 0f);
        if (!float.IsFinite(level)) return false;
        var levelNum = (int)MathF.Floor(level);
        var lowerWeight = level - levelNum;
        // SkMipmap has floor(log2(longer side)) levels below the base; beyond them Skia would sample differently.
        if (levelNum + 1 > (int)Math.Log2(Math.Max(w, h))) return false;

        // The mip levels are rented (190 KB for a 504x378 decode: a large-object array per photo otherwise) and given back below.
        uint[]? upperLevel = null, lowerLevel = null;
        try
        {
            var upper = new ReadOnlySpan<uint>((void*)source.GetPixels(), w * h);
            int uw = w, uh = h;
            for (var i = 0; i < levelNum; i++)
            {
                var (next, nw, nh) = Downsample(upper, uw, uh, ArrayPool<uint>.Shared);
                if (upperLevel is not null) ArrayPool<uint>.Shared.Return(upperLevel);
                upperLevel = next;
                upper = next.AsSpan(0, nw * nh);
                (uw, uh) = (nw, nh);
            }

            var lower = ReadOnlySpan<uint>.Empty;
            int lw = 0, lh = 0;
            if (lowerWeight > 0)
            {
                (lowerLevel, lw, lh) = Downsample(upper, uw, uh, ArrayPool<uint>.Shared);
                lower = lowerLevel.AsSpan(0, lw * lh);
            }

            // The inverse matrix for the upper level (SkMatrix::Scale(level / base) * inverse), and the lower level's coordinate ratio.
            float ux = isx, uy = isy, utx = itx, uty = ity;
            if (levelNum > 0)
            {
                float lsx = (float)uw / w, lsy = (float)uh / h;
                (ux, uy, utx, uty) = (lsx * isx, lsy * isy, lsx * itx, lsy * ity);
            }

            var upperX = Taps.Make(outW, uw, c => (c + 0.5f) * ux + utx);
            var upperY = Taps.Make(outH, uh, c => (c + 0.5f) * uy + uty);
            Taps? lowerX = null, lowerY = null;
            if (lowerWeight > 0)
            {
                float rx = (float)lw / uw, ry = (float)lh / uh;
                lowerX = Taps.Make(outW, lw, c => ((c + 0.5f) * ux + utx) * rx);
                lowerY = Taps.Make(outH, lh, c => ((c + 0.5f) * uy + uty) * ry);
            }

            fixed (uint* up = upper)
            fixed (uint* lp = lower)
            fixed (byte* output = rgb)
            {
                var vector = Avx2.IsSupported && !ForceScalar;
                for (var y = 0; y < outH; y++)
                {
                    var x = 0;
                    if (vector) x = RowAvx2(up, uw, upperX, upperY, lp, lw, lowerX, lowerY, lowerWeight, y, outW, output + y * outW * 3);
                    for (; x < outW; x++)
                    {
                        var c = Sample(up, uw, upperX, upperY, x, y);
                        if (lowerX is not null) c = Lerp(c, Sample(lp, lw, lowerX, lowerY!, x, y), lowerWeight);
                        Store(c, output + (y * outW + x) * 3);
                    }
                }
            }

            return true;
        }
        finally
        {
            if (upperLevel is not null) ArrayPool<uint>.Shared.Return(upperLevel);
            if (lowerLevel is not null) ArrayPool<uint>.Shared.Return(lowerLevel);
        }
    }

    /// <summary>
    /// One mip level from the one above: SkMipmap's downsample_N_M filters for 8888 (a 2-tap box on an even side, a 1-2-1
    /// triangle on an odd one, 1 tap on a side of 1), summed per channel in integers and truncated. Two channels are summed
    /// at once, each in its own 16 bits (at most 16 x 255 per sum). With <paramref name="pool"/> the level is written into an
    /// array rented from it (its first Width x Height pixels; the caller gives it back), else into a new array of that size.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static (uint[] Pixels, int Width, int Height) Downsample(ReadOnlySpan<uint> src, int w, int h, ArrayPool<uint>? pool = null)
    {
        int dw = Math.Max(1, w >> 1), dh = Math.Max(1, h >> 1);
        int tapsX = w == 1 ? 1 : (w & 1) == 1 ? 3 : 2, tapsY = h == 1 ? 1 : (h & 1) == 1 ? 3 : 2;
        var shift = Shift(tapsX) + Shift(tapsY);
        Span<uint> weights = stackalloc uint[9];
        for (var j = 0; j < tapsY; j++)
            for (var i = 0; i < tapsX; i++) weights[j * tapsX + i] = Weight(tapsX, i) * Weight(tapsY, j);
        var dst = pool?.Rent(dw * dh) ?? new uint[dw * dh];
        for (var y = 0; y < dh; y++)
        {
            for (var x = 0; x < dw; x++)
            {
                uint redBlue = 0, greenAlpha = 0;
                for (var j = 0; j < tapsY; j++)
                {
                    var row = src.Slice((2 * y + j) * w + 2 * x, tapsX);
                    for (var i = 0; i < row.Length; i++)
                    {
                        var weight = weights[j * tapsX + i];
                        redBlue += weight * (row[i] & 0x00FF00FF);
                        greenAlpha += weight * ((row[i] >> 8) & 0x00FF00FF);
                    }
                }

                dst[y * dw + x] = ((redBlue >> shift) & 0x00FF00FF) | (((greenAlpha >> shift) & 0x00FF00FF) << 8);
            }
        }

        return (dst, dw, dh);

        static int Shift(int taps) => taps switch { 1 => 0, 2 => 1, _ => 2 };
        static uint Weight(int taps, int i) => taps == 3 && i == 1 ? 2u : 1u;
    }

    /// <summary>Per output column (or row): the two source positions a bilinear sample reads, clamped, and their weights.</summary>
    private sealed class Taps
    {
        public required int[] Near { get; init; }
        public required int[] Far { get; init; }
        public required float[] NearWeight { get; init; }
        public required float[] FarWeight { get; init; }

        /// <summary>Skia's bilinear_setup, bilinear_nx/px and the gather's clamp to [0, size) for each of <paramref name="count"/> outputs.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Taps Make(int count, int size, Func<int, float> coordinate)
        {
            var limit = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(size) - 1);
            var taps = new Taps { Near = new int[count], Far = new int[count], NearWeight = new float[count], FarWeight = new float[count] };
            for (var i = 0; i < count; i++)
            {
                var c = coordinate(i);
                var f = c + 0.5f;
                f -= MathF.Floor(f);
                taps.Near[i] = (int)MathF.Min(MathF.Max(0, c + -0.5f), limit);
                taps.Far[i] = (int)MathF.Min(MathF.Max(0, c + 0.5f), limit);
                taps.NearWeight[i] = 1.0f - f;
                taps.FarWeight[i] = f;
            }

            return taps;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe Vector128<float> Sample(uint* pixels, int stride, Taps xs, Taps ys, int x, int y)
    {
        uint* row0 = pixels + ys.Near[y] * stride, row1 = pixels + ys.Far[y] * stride;
        float wy0 = ys.NearWeight[y], wy1 = ys.FarWeight[y], wx0 = xs.NearWeight[x], wx1 = xs.FarWeight[x];
        // Skia's accumulate, in its order: (near, near), (far, near), (near, far), (far, far); no fused multiply-add.
        var sum = Channels(row0[xs.Near[x]]) * (wx0 * wy0);
        sum += Channels(row0[xs.Far[x]]) * (wx1 * wy0);
        sum += Channels(row1[xs.Near[x]]) * (wx0 * wy1);
        sum += Channels(row1[xs.Far[x]]) * (wx1 * wy1);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Channels(uint p) =>
        Vector128.ConvertToSingle(Vector128.Create(p & 0xFF, (p >> 8) & 0xFF, (p >> 16) & 0xFF, p >> 24).AsInt32()) * Inv255;

    /// <summary>Skia's mipmap_linear_finish: upper + (lower - upper) * weight.</summary>
    private static Vector128<float> Lerp(Vector128<float> upper, Vector128<float> lower, float weight) => ((lower - upper) * weight) + upper;

    /// <summary>Source-over onto opaque white, unpremultiply, and the 8-bit store (rounding to nearest even) of R, G, B.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Store(Vector128<float> c, byte* rgb)
    {
        var inverseAlpha = 1.0f - c.GetElement(3);
        var over = c + Vector128.Create(inverseAlpha);
        var alpha = over.GetElement(3);
        var unpremul = 1.0f / alpha;
        var factor = unpremul < float.PositiveInfinity ? unpremul : 0f;
        rgb[0] = ToByte(over.GetElement(0) * factor);
        rgb[1] = ToByte(over.GetElement(1) * factor);
        rgb[2] = ToByte(over.GetElement(2) * factor);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte ToByte(float v) => (byte)(int)MathF.Round(MathF.Min(MathF.Max(0, v), 1f) * 255f, MidpointRounding.ToEven);

    /// <summary>As the scalar loop, eight pixels at a time (the same operations in each lane); returns the first column not done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe int RowAvx2(uint* up, int uw, Taps upperX, Taps upperY, uint* lp, int lw, Taps? lowerX, Taps? lowerY, float lowerWeight, int y, int outW, byte* output)
    {
        var x = 0;
        for (; x + 8 <= outW; x += 8)
        {
            var (r, g, b, a) = SampleAvx2(up, uw, upperX, upperY, x, y);
            if (lowerX is not null)
            {
                var (lr, lg, lb, la) = SampleAvx2(lp, lw, lowerX, lowerY!, x, y);
                var weight = Vector256.Create(lowerWeight);
                r = ((lr - r) * weight) + r;
                g = ((lg - g) * weight) + g;
                b = ((lb - b) * weight) + b;
                a = ((la - a) * weight) + a;
            }

            var inverseAlpha = Vector256<float>.One - a;
            r += inverseAlpha;
            g += inverseAlpha;
            b += inverseAlpha;
            a += inverseAlpha;
            var unpremul = Vector256<float>.One / a;
            var factor = Vector256.ConditionalSelect(Vector256.LessThan(unpremul, Vector256.Create(float.PositiveInfinity)), unpremul, Vector256<float>.Zero);
            var rr = ToBytes(r * factor);
            var gg = ToBytes(g * factor);
            var bb = ToBytes(b * factor);
            var o = output + x * 3;
            for (var i = 0; i < 8; i++)
            {
                o[i * 3] = (byte)rr.GetElement(i);
                o[i * 3 + 1] = (byte)gg.GetElement(i);
                o[i * 3 + 2] = (byte)bb.GetElement(i);
            }
        }

        return x;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ToBytes(Vector256<float> v) =>
        Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(Vector256.Min(Vector256.Max(Vector256<float>.Zero, v), Vector256<float>.One) * 255f));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe (Vector256<float> R, Vector256<float> G, Vector256<float> B, Vector256<float> A) SampleAvx2(uint* pixels, int stride, Taps xs, Taps ys, int x, int y)
    {
        var row0 = Vector256.Create(ys.Near[y] * stride);
        var row1 = Vector256.Create(ys.Far[y] * stride);
        var wy0 = Vector256.Create(ys.NearWeight[y]);
        var wy1 = Vector256.Create(ys.FarWeight[y]);
        var near = Vector256.Create(xs.Near, x);
        var far = Vector256.Create(xs.Far, x);
        var wx0 = Vector256.Create(xs.NearWeight, x);
        var wx1 = Vector256.Create(xs.FarWeight, x);
        var p = (int*)pixels;
        var (r, g, b, a) = Weighted(Avx2.GatherVector256(p, row0 + near, 4), wx0 * wy0);
        Add(ref r, ref g, ref b, ref a, Avx2.GatherVector256(p, row0 + far, 4), wx1 * wy0);
        Add(ref r, ref g, ref b, ref a, Avx2.GatherVector256(p, row1 + near, 4), wx0 * wy1);
        Add(ref r, ref g, ref b, ref a, Avx2.GatherVector256(p, row1 + far, 4), wx1 * wy1);
        return (r, g, b, a);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Weighted(Vector256<int> px, Vector256<float> w)
        {
            var mask = Vector256.Create(0xFF);
            return (Vector256.ConvertToSingle(px & mask) * Inv255 * w,
                Vector256.ConvertToSingle((px >>> 8) & mask) * Inv255 * w,
                Vector256.ConvertToSingle((px >>> 16) & mask) * Inv255 * w,
                Vector256.ConvertToSingle(px >>> 24) * Inv255 * w);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Add(ref Vector256<float> r, ref Vector256<float> g, ref Vector256<float> b, ref Vector256<float> a, Vector256<int> px, Vector256<float> w)
        {
            var (pr, pg, pb, pa) = Weighted(px, w);
            r += pr;
            g += pg;
            b += pb;
            a += pa;
        }
    }
}
